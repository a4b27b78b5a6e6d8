"""Admin JSON endpoints: the ground truth and the action log, for measuring the robots."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from rpaml_sandbox.portal.auth import admin_guard
from rpaml_sandbox.portal.clock import MAX_DAYS_PER_CALL, BusinessClock
from rpaml_sandbox.portal.database import PortalDatabase
from rpaml_sandbox.portal.settings import PortalSettings
from rpaml_sandbox.portal.switches import PortalSwitches, SwitchBoard, SwitchUpdate
from rpaml_sandbox.portal.truth import admin_claims


class ClockChange(BaseModel):
    """A change of the business clock's settings (``PUT /admin/clock``)."""

    model_config = ConfigDict(extra="forbid")

    daily_claims: int | None = Field(default=None, ge=0, le=100_000)
    fraud_ring_from: date | None = None
    clear_fraud_ring: bool = False


class ClockAdvance(BaseModel):
    """How far to move the business clock on (``POST /admin/clock/advance``)."""

    model_config = ConfigDict(extra="forbid")

    days: int = Field(default=1, ge=1, le=MAX_DAYS_PER_CALL)


def build_admin_router(
    database: PortalDatabase, settings: PortalSettings, board: SwitchBoard, clock: BusinessClock
) -> APIRouter:
    """Routes under /admin, every one guarded by the ``X-Admin-Token`` header."""
    router = APIRouter(prefix="/admin", dependencies=[Depends(admin_guard(settings))])

    @router.get("/actions")
    def list_actions() -> list[dict[str, Any]]:
        """Every decision taken in the portal: claim_id, action, receipt, decided_at, user."""
        return [asdict(action) for action in database.list_actions()]

    @router.get("/claims")
    def list_claims() -> list[dict[str, Any]]:
        """Every claim with clean values, fraud_probability, is_fraud, status and decision."""
        return admin_claims(database)

    @router.get("/switches")
    def get_switches() -> dict[str, Any]:
        """The fault switches in force and how many faults were injected since the last change."""
        return {**board.current.model_dump(), "faults_injected": board.faults_injected}

    @router.put("/switches")
    def put_switches(change: SwitchUpdate) -> PortalSwitches:
        """Change some switches (the others keep their values); restarts the fault generator."""
        return board.update(change)

    @router.get("/clock")
    def get_clock() -> dict[str, Any]:
        """The business date, the claims each new day brings and the fraud ring's first day."""
        return asdict(clock.state())

    @router.put("/clock")
    def put_clock(change: ClockChange) -> dict[str, Any]:
        """Change the claims per day or the fraud ring's first day; the date stays."""
        return asdict(
            clock.configure(
                daily_claims=change.daily_claims,
                fraud_ring_from=change.fraud_ring_from,
                clear_fraud_ring=change.clear_fraud_ring,
            )
        )

    @router.post("/clock/advance")
    def advance_clock(step: ClockAdvance) -> dict[str, Any]:
        """Move the clock on: each day's new claims arrive and the outcomes due close."""
        days = clock.advance(step.days)
        return {**asdict(clock.state()), "days": [asdict(day) for day in days]}

    return router
