"""Monitoring figures as Prometheus metrics, in a textfile for the node exporter.

After each scoring (and monitor) run, ``<data_dir>/metrics/rpaml.prom`` is rewritten from
the store: for each process, its latest scoring run's drift figures and alerts (and, once
outcomes have come back, the latest decision week's realised figures). The file is always
whole: :func:`prometheus_client.write_to_textfile` writes a temporary file and renames it,
so the node exporter's textfile collector never reads half a file. Point the collector at
the folder: ``node_exporter --collector.textfile.directory=data/metrics``.

Metric names (each carries ``process`` and, where it applies, ``model``, ``version`` and
``feature``; the score's figures have ``feature="score"``):

- ``rpaml_drift_psi``: population stability index of a feature or the score against the
  version's training reference, in the latest scoring run;
- ``rpaml_drift_score_ks``: binned Kolmogorov-Smirnov distance of the score distribution;
- ``rpaml_drift_rows``: rows the figures were computed on;
- ``rpaml_monitoring_alerts``: alerts of that run by ``level`` (``warn``, ``alert``) and
  ``kind`` (``drift``, ``performance``);
- ``rpaml_monitoring_run_timestamp_seconds``: when that run started;
- ``rpaml_outcome_cost_per_decision``, ``rpaml_outcome_ece``, ``rpaml_outcome_auc``,
  ``rpaml_outcome_labels``: the latest decision week with labels (see
  :mod:`rpaml_pipeline.monitoring.outcomes`), labelled by ``week``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Gauge, write_to_textfile

from rpaml_pipeline.store import Store

METRICS_FILE = Path("metrics") / "rpaml.prom"
"""The textfile, relative to the data folder."""
_RUNS_SCANNED = 200


def metrics_path(data_dir: Path) -> Path:
    """Where the textfile of ``data_dir`` is written."""
    return data_dir / METRICS_FILE


def latest_drift(store: Store) -> dict[str, tuple[float, Mapping[str, Any]]]:
    """Per process, the start time and ``drift`` summary of its latest scoring run with one."""
    found: dict[str, tuple[float, Mapping[str, Any]]] = {}
    for run in store.list_runs(kind="score", limit=_RUNS_SCANNED):
        drift = (run.summary or {}).get("drift")
        if run.process not in found and isinstance(drift, Mapping):
            found[run.process] = (run.started_at.timestamp(), drift)
    return found


def write_metrics(
    path: Path,
    drift: Mapping[str, tuple[float, Mapping[str, Any]]],
    outcomes: Mapping[str, Mapping[str, Any]] | None = None,
) -> Path:
    """Write the textfile at ``path`` (atomically) and return it.

    ``drift`` is :func:`latest_drift` (with the current run's figures put in), ``outcomes``
    each process's latest week's figures.
    """
    registry = CollectorRegistry()
    psi = Gauge("rpaml_drift_psi", "PSI against the training reference",
                ["process", "model", "version", "feature"], registry=registry)  # fmt: skip
    ks = Gauge("rpaml_drift_score_ks", "Binned KS distance of the score distribution",
               ["process", "model", "version"], registry=registry)  # fmt: skip
    rows = Gauge("rpaml_drift_rows", "Rows the drift figures were computed on",
                 ["process", "model", "version"], registry=registry)  # fmt: skip
    alerts = Gauge("rpaml_monitoring_alerts", "Alerts of the latest monitored run",
                   ["process", "level", "kind"], registry=registry)  # fmt: skip
    when = Gauge("rpaml_monitoring_run_timestamp_seconds", "Start of the latest scoring run",
                 ["process"], registry=registry)  # fmt: skip
    for process, (started, report) in sorted(drift.items()):
        model = str(report.get("model", ""))
        when.labels(process).set(started)
        for version, figures in (report.get("versions") or {}).items():
            rows.labels(process, model, version).set(figures.get("rows", 0))
            for feature, values in (figures.get("features") or {}).items():
                psi.labels(process, model, version, feature).set(values["psi"])
            score = figures.get("score") or {}
            if score.get("psi") is not None:
                psi.labels(process, model, version, "score").set(score["psi"])
            if score.get("ks") is not None:
                ks.labels(process, model, version).set(score["ks"])
        counts: dict[tuple[str, str], int] = {
            (level, kind): 0 for level in ("warn", "alert") for kind in ("drift", "performance")
        }
        for alert in [
            *report.get("alerts", []),
            *(outcomes or {}).get(process, {}).get("alerts", []),
        ]:
            key = (str(alert.get("level")), str(alert.get("kind", "drift")))
            counts[key] = counts.get(key, 0) + 1
        for (level, kind), count in counts.items():
            alerts.labels(process, level, kind).set(count)
    _outcome_gauges(registry, outcomes or {})
    path.parent.mkdir(parents=True, exist_ok=True)
    write_to_textfile(str(path), registry)
    return path


def _outcome_gauges(registry: CollectorRegistry, outcomes: Mapping[str, Mapping[str, Any]]) -> None:
    names = {
        "cost_per_decision": "Realised cost per labelled decision of the latest week",
        "ece": "Expected calibration error of the latest week's labelled decisions",
        "auc": "ROC AUC of the latest week's labelled decisions",
        "labels": "Labels received for the latest week's decisions",
    }
    gauges = {
        key: Gauge(f"rpaml_outcome_{key}", text, ["process", "week"], registry=registry)
        for key, text in names.items()
    }
    for process, figures in sorted(outcomes.items()):
        week = figures.get("week")
        if week is None:
            continue
        for key, gauge in gauges.items():
            value = figures.get(key)
            if value is not None:
                gauge.labels(process, str(week)).set(float(value))
