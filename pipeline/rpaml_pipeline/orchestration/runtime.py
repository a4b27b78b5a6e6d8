"""What the stages of a running worker need: settings, process, store and robot set-up.

DBOS registers workflows and steps when their module is imported, before any settings
exist; the worker builds a :class:`WorkerRuntime` at start-up and installs it here, and
the steps read it back. Nothing is built at import.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rpaml_pipeline.lineage.openlineage import OpenLineageEmitter
from rpaml_pipeline.orchestration.engine import EngineSettings
from rpaml_pipeline.orchestration.errors import OrchestrationError
from rpaml_pipeline.process import ProcessDefinition
from rpaml_pipeline.settings import RpamlSettings
from rpaml_pipeline.store import Store


@dataclass
class WorkerRuntime:
    """The collaborators of a worker's steps."""

    settings: RpamlSettings
    engine: EngineSettings
    process: ProcessDefinition
    store: Store
    robot_env: dict[str, str]
    emitter: OpenLineageEmitter
    service_api_key: str | None = field(default=None, repr=False)

    @classmethod
    def build(
        cls, settings: RpamlSettings, engine: EngineSettings, process: ProcessDefinition
    ) -> WorkerRuntime:
        """Connect the store and prepare the robots' environment (credentials come from
        the secrets file when there is one, else from the worker's environment)."""
        env = settings.robot_environment()
        key = settings.service_api_key
        return cls(
            settings=settings,
            engine=engine,
            process=process,
            store=Store.connect(settings.resolved_store_url),
            robot_env=env,
            emitter=OpenLineageEmitter(settings.lineage_file, http_url=settings.lineage_url),
            service_api_key=key.get_secret_value() if key is not None else None,
        )


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
