"""What the stages of a running worker need: the runtime and the engine's settings.

DBOS registers workflows and steps when their module is imported, before any settings
exist; the worker builds a :class:`WorkerRuntime` at start-up and installs it here, and
the steps read it back. Nothing is built at import.
"""

from __future__ import annotations

from dataclasses import dataclass

from rpaml_pipeline.orchestration.engine import EngineSettings
from rpaml_pipeline.orchestration.errors import OrchestrationError
from rpaml_pipeline.process import ProcessDefinition
from rpaml_pipeline.runtime import Runtime
from rpaml_pipeline.settings import RpamlSettings
from rpaml_pipeline.store import Store


@dataclass
class WorkerRuntime:
    """The runtime every stage of the worker runs with, and how the engine retries them."""

    runtime: Runtime
    engine: EngineSettings

    @classmethod
    def build(
        cls, settings: RpamlSettings, engine: EngineSettings, process: ProcessDefinition
    ) -> WorkerRuntime:
        """The worker's runtime (:meth:`Runtime.build`)."""
        return cls(Runtime.build(settings, process=process), engine)

    @property
    def process(self) -> ProcessDefinition:
        """The process the worker runs."""
        return self.runtime.process

    @property
    def store(self) -> Store:
        """The store the worker's stages share."""
        return self.runtime.store


_installed: WorkerRuntime | None = None


def install(runtime: WorkerRuntime | None) -> None:
    """Make ``runtime`` the one the steps of this process use (``None`` to clear)."""
    global _installed
    _installed = runtime


def current() -> WorkerRuntime:
    """The installed runtime; raises :class:`OrchestrationError` outside a worker."""
    if _installed is None:
        raise OrchestrationError("no worker runtime installed: jobs run inside `rpaml worker`")
    return _installed
