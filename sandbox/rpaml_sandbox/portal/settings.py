"""Typed settings of the claims portal (environment prefix ``RPAML_PORTAL_``)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from rpaml_sandbox.portal.switches import Layout, PortalSwitches


class PortalSettings(BaseSettings):
    """Everything the portal needs; built by the caller and passed to ``create_app``.

    Secrets have no defaults on purpose: a demo portal with a well-known password would be
    copied into real deployments sooner or later.
    """

    model_config = SettingsConfigDict(env_prefix="RPAML_PORTAL_", extra="ignore")

    db_path: Path = Field(description="SQLite file; generated on first start and kept.")
    seed: int = Field(default=7, description="Seed of the generated claims and display values.")
    open_claims: int = Field(default=120, ge=0, description="Open claims, late arrivals included.")
    closed_claims: int = Field(default=1500, ge=0, description="Closed (history) claims.")
    late_arrivals: int = Field(
        default=5, ge=0, description="Open claims hidden at start, revealed while paging."
    )
    daily_claims: int = Field(
        default=40, ge=0, description="New claims each business day the clock moves on."
    )
    fraud_ring_from: date | None = Field(
        default=None, description="First business day of the fraud ring (none: never)."
    )
    username: str = Field(default="clerk", min_length=1)
    password: SecretStr
    admin_token: SecretStr
    session_secret: SecretStr
    # Fault switches at start; /admin/switches changes them at run time.
    latency_ms: int = Field(default=0, ge=0, le=60_000, description="Delay added to each page.")
    error_rate: float = Field(
        default=0.0, ge=0.0, le=1.0, description="Share of page requests answered with 500."
    )
    session_expiry_requests: int = Field(
        default=0, ge=0, description="A session ends after this many pages (0: never)."
    )
    layout: Layout = Field(default="classic", description="Markup version of the pages.")
    fault_seed: int = Field(default=1, description="Seed of the fault generator.")

    def initial_switches(self) -> PortalSwitches:
        """The fault switches the portal starts with."""
        return PortalSwitches(
            latency_ms=self.latency_ms,
            error_rate=self.error_rate,
            session_expiry_requests=self.session_expiry_requests,
            layout=self.layout,
            fault_seed=self.fault_seed,
        )

    @model_validator(mode="after")
    def _late_arrivals_are_open_claims(self) -> Self:
        if self.late_arrivals > self.open_claims:
            raise ValueError(
                f"late_arrivals ({self.late_arrivals}) cannot exceed open_claims "
                f"({self.open_claims}): late arrivals are open claims"
            )
        return self
