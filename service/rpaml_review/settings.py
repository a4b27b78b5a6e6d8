"""Typed settings of the review app (pydantic-settings, env prefix ``RPAML_REVIEW_``).

Built once at the entry point (:func:`get_settings`, cached) and passed to
:func:`rpaml_review.app.create_app`; nothing below the factory reads the environment.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ReviewSettings(BaseSettings):
    """What the review app needs besides the store and the process (``RpamlSettings``)."""

    model_config = SettingsConfigDict(env_prefix="RPAML_REVIEW_", extra="ignore")

    accounts: list[str] = Field(
        default_factory=list,
        description="Accounts as 'name:role:argon2-hash' entries (role reviewer or admin).",
    )
    accounts_file: Path | None = Field(
        default=None,
        description="Secrets file with one 'name:role:argon2-hash' line per account.",
    )
    host: str = Field(default="127.0.0.1", description="Address to bind (loopback by default).")
    port: int = Field(default=0, ge=0, le=65535, description="Port; 0 takes a free one.")
    session_idle_minutes: float = Field(
        default=30.0, gt=0, description="A session unused this long has expired."
    )
    session_max_hours: float = Field(
        default=10.0, gt=0, description="A session expires this long after login, used or not."
    )
    cookie_secure: bool = Field(
        default=False, description="Send the session cookie only over HTTPS (behind a proxy)."
    )
    simulated_reviewers: list[str] = Field(
        default_factory=list,
        description="Accounts of simulated reviewers (robots): their labels are marked simulated.",
    )
    queue_page_size: int = Field(default=50, ge=1, le=1000, description="Items on the queue page.")


@lru_cache(maxsize=1)
def get_settings() -> ReviewSettings:
    """The settings from the environment, read once (the entry point calls this)."""
    return ReviewSettings()
