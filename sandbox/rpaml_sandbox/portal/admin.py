"""Admin JSON endpoints: the ground truth and the action log, for measuring the robots."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Depends

from rpaml_sandbox.portal.auth import admin_guard
from rpaml_sandbox.portal.database import PortalDatabase
from rpaml_sandbox.portal.settings import PortalSettings
from rpaml_sandbox.portal.switches import PortalSwitches, SwitchBoard, SwitchUpdate


def build_admin_router(
    database: PortalDatabase, settings: PortalSettings, board: SwitchBoard
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
        return database.admin_claims()

    @router.get("/switches")
    def get_switches() -> dict[str, Any]:
        """The fault switches in force and how many faults were injected since the last change."""
        return {**board.current.model_dump(), "faults_injected": board.faults_injected}

    @router.put("/switches")
    def put_switches(change: SwitchUpdate) -> PortalSwitches:
        """Change some switches (the others keep their values); restarts the fault generator."""
        return board.update(change)

    return router
