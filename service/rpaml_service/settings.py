"""Typed settings of the scoring service (pydantic-settings, env prefix ``RPAML_SERVICE_``).

API keys are mandatory: :func:`rpaml_service.app.create_app` raises
:class:`~rpaml_service.errors.ConfigurationError` when neither ``api_keys`` nor
``api_keys_file`` gives one (see :mod:`rpaml_service.auth`).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """What the scoring service needs to start.

    Built once at the entry point (``python -m rpaml_service`` or the project CLI) or by a
    test, and handed to :func:`rpaml_service.app.create_app`; nothing below the factory
    reads the environment.
    """

    model_config = SettingsConfigDict(env_prefix="RPAML_SERVICE_", extra="ignore")

    registry_dir: Path = Field(
        default=Path("models/registry"),
        description="Root folder of the model registry the service loads from.",
    )
    models: list[str] = Field(
        default_factory=list,
        description="Names of the models to serve (their champions); empty means every champion.",
    )
    max_batch: int = Field(
        default=10_000,
        ge=1,
        description="Most records one scoring request may carry.",
    )
    # Keys are only ever configured hashed. There is deliberately no plain-key setting:
    # RPAML_SERVICE_API_KEY is the pipeline client's key, and a service that read it from
    # a shared environment would grant that client every scope.
    api_keys: list[str] = Field(
        default_factory=list,
        description=(
            "Accepted keys as 'name:scope[,scope]:sha256-hex' entries. With api_keys_file "
            "they must give at least one key: the service does not start without one."
        ),
    )
    api_keys_file: Path | None = Field(
        default=None,
        description="Secrets file with one 'name:scopes:sha256' line per accepted key.",
    )
    max_body_bytes: int = Field(
        default=16 * 1024 * 1024,
        ge=1024,
        description="Largest request body accepted; larger ones get 413.",
    )
    batch_max_rows: int = Field(
        default=2048,
        ge=1,
        description="Most rows the micro-batcher scores in one call.",
    )
    batch_wait_ms: float = Field(
        default=0.0,
        ge=0.0,
        le=50.0,
        description=(
            "How long the micro-batcher waits for more requests after the first one; "
            "0 batches only what arrived while the previous batch was scored."
        ),
    )
    reload_interval: float = Field(
        default=2.0,
        ge=0.0,
        description="Seconds between checks for a newly promoted champion; 0 disables.",
    )


@lru_cache(maxsize=1)
def get_settings() -> ServiceSettings:
    """Settings read from the environment, built once per process.

    The app factory falls back to this when it is given no settings; tests pass their own
    settings to the factory instead of touching the environment.
    """
    return ServiceSettings()
