"""What a run of the monitored stages needs from the runtime: the training reference of
the version that scored, and where the metrics textfile goes."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from rpaml_models import ModelRegistry
from rpaml_models.drift import DriftReference
from rpaml_models.errors import RegistryError
from rpaml_pipeline.monitoring.drift_check import DriftMonitor
from rpaml_pipeline.monitoring.prometheus_export import latest_drift, metrics_path, write_metrics
from rpaml_pipeline.runtime import Runtime

# Enough runs for a day of quarter-hourly schedules.
_EARLIER_RUNS = 200


def drift_monitor(runtime: Runtime) -> DriftMonitor:
    """A monitor of ``runtime``'s process reading references from its registry.

    The service may score with a version this machine's registry does not hold (a
    service elsewhere): that version is reported as having no reference, never an error
    that would fail the scoring run.
    """
    registry = ModelRegistry(runtime.registry_dir)
    name = runtime.process.model.name

    def reference_of(version: str) -> DriftReference | None:
        try:
            return registry.metadata(name, version).reference
        except (RegistryError, OSError):
            return None

    spec = runtime.process.monitoring
    store = runtime.store

    def earlier(version: str) -> Iterator[Mapping[str, Any]]:
        since = store.now() - timedelta(hours=spec.window_hours)
        for run in store.list_runs(runtime.process.name, kind="score", limit=_EARLIER_RUNS):
            if run.started_at < since:
                return
            drift = (run.summary or {}).get("drift") or {}
            own = (drift.get("versions") or {}).get(version, {}).get("counts")
            if isinstance(own, Mapping):
                yield own

    return DriftMonitor(reference_of, spec, model=name, earlier=earlier)


def export_metrics(
    runtime: Runtime,
    *,
    current: tuple[str, Mapping[str, Any]] | None = None,
    outcomes: Mapping[str, Mapping[str, Any]] | None = None,
) -> Path:
    """Rewrite the Prometheus textfile from the store, with the running run's figures.

    ``current`` is ``(run_id, drift report)`` of a scoring run whose summary is not yet
    stored (the stage runner stores it when the stage returns).
    """
    drift = latest_drift(runtime.store)
    if current is not None:
        drift[runtime.process.name] = (runtime.store.now().timestamp(), current[1])
    return write_metrics(metrics_path(runtime.data_dir), drift, outcomes)
