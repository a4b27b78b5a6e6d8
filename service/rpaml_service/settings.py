"""Typed settings of the scoring service (pydantic-settings, env prefix ``RPAML_SERVICE_``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr
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
    api_key: SecretStr | None = Field(
        default=None,
        description=(
            "When set, the model routes require this value in the X-API-Key header; "
            "health stays open so probes need no secret."
        ),
    )


@lru_cache(maxsize=1)
def get_settings() -> ServiceSettings:
    """Settings read from the environment, built once per process.

    The app factory falls back to this when it is given no settings; tests pass their own
    settings to the factory instead of touching the environment.
    """
    return ServiceSettings()
