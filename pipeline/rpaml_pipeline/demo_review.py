"""The demo's review step: escalated claims decided in the review app by a simulated
reviewer, a robot that works the real queue through the browser.

Runs when the process file has a ``review:`` section. The review app is started as its
own process (by module name: the pipeline imports no part of it) with one account, the
simulated reviewer's, whose password is the secrets file's ``RPAML_REVIEW_PASSWORD``
(the app is handed only its Argon2 hash, made by ``python -m rpaml_review.accounts``).
The robot (``robots/tasks/review_escalations.robot``) answers each claim from the
sandbox's investigation result, wrong on purpose at ``error_rate``; its labels are marked
simulated. The summary says how many were reviewed and how long they waited.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from collections.abc import Mapping
from typing import Any

from rpaml_pipeline.child_processes import ManagedProcess, review_app
from rpaml_pipeline.errors import DemoError
from rpaml_pipeline.process import ProcessDefinition
from rpaml_pipeline.runtime import Runtime
from rpaml_pipeline.secrets_file import REVIEW_PASSWORD
from rpaml_pipeline.settings import RpamlSettings
from rpaml_pipeline.stages import RobotStage, run_stage
from rpaml_pipeline.store import Store

REVIEWER = "review-desk"
"""The simulated reviewer's account."""
REVIEW_ROBOT = "review_escalations"


def account_entry(name: str, password: str) -> str:
    """The review app's ``name:reviewer:argon2-hash`` entry, hashed by the app's own code."""
    done = subprocess.run(
        [sys.executable, "-m", "rpaml_review.accounts", name, "reviewer"],
        input=password + "\n", capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    if done.returncode != 0:
        raise DemoError(f"cannot make the review account: {done.stderr.strip()}")
    return done.stdout.strip()


def review_app_process(
    settings: RpamlSettings, secrets: Mapping[str, str], portal_url: str
) -> ManagedProcess:
    """The review app over the settings' store and process file, not started yet."""
    env = {
        **os.environ,
        "RPAML_STORE_URL": settings.resolved_store_url,
        "RPAML_PROCESS_FILE": str(settings.process_file),
        "RPAML_DATA_DIR": str(settings.data_dir),
        "RPAML_PORTAL_URL": portal_url,
        "RPAML_REVIEW_ACCOUNTS": json.dumps([account_entry(REVIEWER, secrets[REVIEW_PASSWORD])]),
        "RPAML_REVIEW_SIMULATED_REVIEWERS": json.dumps([REVIEWER]),
    }
    return review_app(
        ready_file=settings.data_dir / "run" / "review.url",
        log_file=settings.data_dir / "logs" / "review.log",
        env=env,
    )


def review_escalations(
    runtime: Runtime,
    settings: RpamlSettings,
    secrets: Mapping[str, str],
    portal_url: str,
    *,
    error_rate: float,
) -> dict[str, Any]:
    """Start the review app, let the simulated reviewer empty the queue, stop the app;
    return what was reviewed (see :func:`review_figures`)."""
    with review_app_process(settings, secrets, portal_url) as app:
        reviewing = runtime.with_robot_env(
            RPAML_PORTAL_URL=portal_url,
            RPAML_REVIEW_URL=app.url,
            RPAML_REVIEW_USERNAME=REVIEWER,
            RPAML_REVIEW_ERROR_RATE=str(error_rate),
        )
        result = run_stage(reviewing, RobotStage("review", REVIEW_ROBOT))
    if not result.succeeded:
        raise DemoError(f"the simulated reviewer failed: {result.error}")
    figures = review_figures(runtime.store, runtime.process)
    return {**figures, "review_url": app.url, "log": str(result.as_dict().get("log", ""))}


def review_figures(store: Store, process: ProcessDefinition) -> dict[str, Any]:
    """How many were reviewed (simulated among them), how long they waited, what is left."""
    decisions = store.review_decisions.decisions(process.name)
    waited = [(d.decided_at - d.queued_at).total_seconds() for d in decisions]
    spent = [d.seconds_spent for d in decisions]
    return {
        "reviewed": len(decisions),
        "simulated": sum(1 for d in decisions if d.simulated),
        "choices": {
            c: sum(1 for d in decisions if d.choice == c)
            for c in sorted({d.choice for d in decisions})
        },
        "waited_seconds_median": round(statistics.median(waited), 1) if waited else None,
        "waited_seconds_max": round(max(waited), 1) if waited else None,
        "seconds_spent_median": round(statistics.median(spent), 2) if spent else None,
        "still_open": store.review.stats(process.name).open,
    }


def render_review(figures: Mapping[str, Any]) -> list[str]:
    """The summary's review line."""
    if not figures:
        return []
    choices = ", ".join(f"{n} {c}" for c, n in figures.get("choices", {}).items()) or "none"
    return [
        f"Reviewed      {figures.get('reviewed', 0)} escalated claims ({choices}; "
        f"{figures.get('simulated', 0)} by the simulated reviewer), waited median "
        f"{figures.get('waited_seconds_median')} s, max {figures.get('waited_seconds_max')} s; "
        f"{figures.get('still_open', 0)} still open"
    ]
