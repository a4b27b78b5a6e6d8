"""Typed settings of rpaml (environment prefix ``RPAML_``).

Settings are built only at entry points (the CLI, a robot library's ``__init__``) and passed
down; nothing here builds them at import time.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from rpaml_pipeline.secrets_file import read_secrets


class RpamlSettings(BaseSettings):
    """Where rpaml keeps its data and how it reaches the other components.

    Relative paths are resolved against ``project_dir``; ``store_url`` defaults to the
    SQLite file ``<data_dir>/rpaml.db``.
    """

    model_config = SettingsConfigDict(env_prefix="RPAML_", extra="ignore")

    project_dir: Path = Field(default_factory=Path.cwd)
    data_dir: Path = Path("data")
    store_url: str | None = None
    registry_dir: Path = Path("models/registry")
    process_file: Path = Path("pipeline/processes/claims_triage.yaml")
    service_url: str = "http://127.0.0.1:8000"
    portal_url: str = "http://127.0.0.1:8010"
    service_api_key: SecretStr | None = None
    lineage_url: str | None = None
    """An OpenLineage HTTP endpoint that run events are also posted to (optional)."""

    @model_validator(mode="after")
    def _resolve_paths(self) -> RpamlSettings:
        # Resolve once here so every consumer sees absolute paths, whatever its cwd.
        project = self.project_dir.expanduser().resolve()
        self.project_dir = project
        self.data_dir = _under(project, self.data_dir)
        self.registry_dir = _under(project, self.registry_dir)
        self.process_file = _under(project, self.process_file)
        if self.store_url is None:
            self.store_url = f"sqlite:///{self.data_dir / 'rpaml.db'}"
        return self

    @property
    def resolved_store_url(self) -> str:
        """The store URL (never None once the settings are built)."""
        assert self.store_url is not None  # set by the validator above
        return self.store_url

    @property
    def lineage_file(self) -> Path:
        """The OpenLineage JSON lines file under ``data_dir``."""
        return self.data_dir / "lineage" / "events.jsonl"

    @property
    def secrets_file(self) -> Path:
        """The git-ignored ``KEY=value`` credentials file under ``data_dir``."""
        return self.data_dir / "secrets.env"

    def variables(self) -> dict[str, str]:
        """What ``${NAME}`` in a process file's URLs and headers can name: the secrets
        file's values, overridden by the environment (read now, at the entry point)."""
        found = read_secrets(self.secrets_file) if self.secrets_file.exists() else {}
        return {**found, **os.environ}

    def robot_environment(self) -> dict[str, str]:
        """The ``RPAML_*`` variables a robot subprocess needs.

        Credentials are never copied into it: the robot reads them from the secrets file
        (named here when it exists) or from the environment it inherits.
        """
        env: dict[str, Any] = {
            "RPAML_STORE_URL": self.resolved_store_url,
            "RPAML_PROCESS_FILE": str(self.process_file),
            "RPAML_PORTAL_URL": self.portal_url,
            "RPAML_DATA_DIR": str(self.data_dir),
        }
        if self.secrets_file.exists():
            env["RPAML_SECRETS_FILE"] = str(self.secrets_file)
        return {key: str(value) for key, value in env.items()}


def _under(root: Path, path: Path) -> Path:
    path = path.expanduser()
    return path if path.is_absolute() else root / path
