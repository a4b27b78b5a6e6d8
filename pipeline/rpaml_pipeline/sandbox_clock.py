"""Moving the sandbox's business clock on: the portal's days pass, and the policy
application learns the policies of the claims that arrived (``rpaml sandbox advance``).

Only a sandbox has a clock: a real application's days pass on their own. The portal's
admin endpoint does the work (:mod:`rpaml_sandbox.portal.clock`); this module calls it
with the admin token from the secrets file and then rewrites the desktop application's
data file from the portal's database, so the enrichment robot finds every new policy.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from rpaml_pipeline.errors import SandboxError

ADMIN_TOKEN = "RPAML_PORTAL_ADMIN_TOKEN"


@dataclass(frozen=True)
class Advanced:
    """Where the clock stands after a move, and what each day brought."""

    business_date: str
    days: list[dict[str, Any]]
    policies_synced: bool

    @property
    def arrived(self) -> int:
        """New claims over the days moved."""
        return sum(int(day["arrived"]) for day in self.days)

    @property
    def closed(self) -> int:
        """Claims closed with their outcome over the days moved."""
        return sum(int(day["closed"]) for day in self.days)


def advance_sandbox(
    portal_url: str,
    days: int,
    variables: Mapping[str, str],
    *,
    portal_db: Path | None = None,
    policy_data: Path | None = None,
    timeout: float = 120.0,
) -> Advanced:
    """Move the portal's clock on by ``days`` and, when both files exist, rewrite the policy
    application's ``policy_data`` from ``portal_db``. Raises :class:`SandboxError`."""
    token = variables.get(ADMIN_TOKEN)
    if not token:
        raise SandboxError(f"{ADMIN_TOKEN} is not set (the secrets file or the environment)")
    try:
        response = httpx.post(
            f"{portal_url.rstrip('/')}/admin/clock/advance",
            json={"days": days},
            headers={"X-Admin-Token": token},
            timeout=timeout,
        )
    except httpx.HTTPError as error:
        raise SandboxError(f"the portal at {portal_url} did not answer: {error}") from error
    if response.status_code != 200:
        raise SandboxError(
            f"the portal refused to move its clock on ({response.status_code}): {response.text}"
        )
    answer = response.json()
    synced = False
    if portal_db is not None and policy_data is not None and policy_data.is_file():
        sync_policies(portal_db, policy_data)
        synced = True
    return Advanced(answer["business_date"], list(answer["days"]), synced)


def sync_policies(portal_db: Path, policy_data: Path) -> None:
    """Rewrite the policy application's data file from the portal's claims (a child
    process: the sandbox is a separate application, not a library of the pipeline)."""
    command = [
        sys.executable, "-m", "rpaml_sandbox.desktop", "sync",
        "--out", str(policy_data), "--portal-db", str(portal_db),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SandboxError(f"cannot sync the policy data {policy_data}: {done.stderr.strip()}")
