"""How a process talks to DBOS: system database, application name and version, executor.

Built at the entry points (``rpaml worker``, ``rpaml status``...) from the environment,
never at import.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from rpaml_pipeline.process import ProcessDefinition
from rpaml_pipeline.settings import RpamlSettings


class OrchestrationSettings(BaseSettings):
    """Worker settings (environment prefix ``RPAML_``).

    ``system_database_url`` defaults to the store's PostgreSQL database (DBOS keeps its
    tables in the ``dbos`` schema) or to ``<data_dir>/dbos.sqlite`` next to a SQLite store.
    ``executor_id`` must be stable across restarts of one worker (its workflows are
    recovered under it) and distinct between workers: the host name by default.
    """

    model_config = SettingsConfigDict(env_prefix="RPAML_", extra="ignore")

    system_database_url: str | None = None
    executor_id: str = Field(default_factory=socket.gethostname)
    worker_browsers: int = Field(default=1, ge=1)
    """Robot jobs one worker runs at once: one browser each."""
    worker_pipeline_jobs: int = Field(default=2, ge=1)
    step_attempts: int = Field(default=3, ge=1)
    step_retry_seconds: float = Field(default=10.0, gt=0)
    """First wait before retrying a failed stage; doubled at each further attempt."""


@dataclass(frozen=True)
class EngineSettings:
    """Everything needed to configure DBOS for one process."""

    app_name: str
    app_version: str
    system_database_url: str
    executor_id: str
    worker_browsers: int
    worker_pipeline_jobs: int
    step_attempts: int
    step_retry_seconds: float

    def dbos_config(self) -> dict[str, Any]:
        """The ``DBOSConfig`` mapping for ``DBOS(config=...)``."""
        return {
            "name": self.app_name,
            "system_database_url": self.system_database_url,
            # Pinned so every worker of one release recovers the others' workflows
            # (DBOS would otherwise derive the version from a hash of the source).
            "application_version": self.app_version,
            "executor_id": self.executor_id,
            "log_level": "WARNING",
            "scheduler_polling_interval_sec": 5.0,
        }


def system_database_url(settings: RpamlSettings, explicit: str | None = None) -> str:
    """DBOS's system database: ``explicit``, else beside the store (see the class docs)."""
    if explicit:
        return explicit
    store_url = settings.resolved_store_url
    if store_url.startswith("postgresql"):
        return store_url
    return f"sqlite:///{settings.data_dir / 'dbos.sqlite'}"


def engine_settings(
    settings: RpamlSettings,
    process: ProcessDefinition,
    orchestration: OrchestrationSettings | None = None,
) -> EngineSettings:
    """Combine the rpaml and worker settings for ``process``."""
    worker = orchestration or OrchestrationSettings()
    return EngineSettings(
        app_name=f"rpaml-{process.name}",
        app_version=f"rpaml-{_rpaml_version()}",
        system_database_url=system_database_url(settings, worker.system_database_url),
        executor_id=worker.executor_id,
        worker_browsers=worker.worker_browsers,
        worker_pipeline_jobs=worker.worker_pipeline_jobs,
        step_attempts=worker.step_attempts,
        step_retry_seconds=worker.step_retry_seconds,
    )


def _rpaml_version() -> str:
    try:
        return version("rpaml")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0"
