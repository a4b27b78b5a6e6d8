"""Where a scoring run finds the training reference of the version that scored it."""

from __future__ import annotations

from rpaml_models import ModelRegistry
from rpaml_models.drift import DriftReference
from rpaml_models.errors import RegistryError
from rpaml_pipeline.monitoring.drift_check import DriftMonitor
from rpaml_pipeline.runtime import Runtime


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

    return DriftMonitor(reference_of, runtime.process.monitoring)
