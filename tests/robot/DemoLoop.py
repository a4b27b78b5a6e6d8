"""Keywords for the whole-loop acceptance suite: run ``rpaml demo`` as a user does and
witness the outcome in the portal's own record of actions and in the staging store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
from robot.api.deco import keyword, library

from rpaml_pipeline.child_processes import ManagedProcess
from rpaml_pipeline.lineage.openlineage import run_uuid
from rpaml_pipeline.secrets_file import read_secrets
from rpaml_pipeline.store import Store

PROJECT = Path(__file__).resolve().parents[2]
# The shared test helpers (the vendored OpenLineage schema), as tests/conftest.py does.
sys.path.insert(0, str(PROJECT / "tests" / "support"))
from openlineage_spec import run_event_errors  # noqa: E402


@library(scope="SUITE", auto_keywords=False)
class DemoLoop:
    """Runs the demo in a project data folder of its own and reads what it left."""

    def __init__(self, workdir: str, open_claims: int = 40, closed_claims: int = 400) -> None:
        self.workdir = Path(workdir)
        self.data = self.workdir / "data"
        self.open_claims = int(open_claims)
        self.closed_claims = int(closed_claims)
        self.summaries: list[dict[str, Any]] = []

    @keyword
    def run_the_demo(self) -> dict[str, Any]:
        """Run ``rpaml demo --json`` and return its summary.

        Example:
        | ${summary}=    Run The Demo
        """
        env = {
            **os.environ,
            "RPAML_PROJECT_DIR": str(PROJECT),
            "RPAML_DATA_DIR": str(self.data),
            "RPAML_REGISTRY_DIR": str(self.workdir / "registry"),
            "SE_OFFLINE": "true",
        }
        completed = subprocess.run(
            [
                sys.executable,
                "-m",
                "rpaml_pipeline.cli",
                "demo",
                "--json",
                "--open-claims",
                str(self.open_claims),
                "--closed-claims",
                str(self.closed_claims),
            ],
            cwd=PROJECT,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        if completed.returncode != 0:
            raise AssertionError(f"rpaml demo failed:\n{completed.stdout}\n{completed.stderr}")
        summary: dict[str, Any] = json.loads(completed.stdout)
        self.summaries.append(summary)
        return summary

    @keyword
    def summary_of_run(self, number: int) -> dict[str, Any]:
        """The summary of the demo run ``number`` of this suite (1 is the first).

        Example:
        | ${first}=    Summary Of Run    1
        """
        return self.summaries[int(number) - 1]

    @keyword
    def portal_actions_by_claim(self) -> dict[str, list[dict[str, Any]]]:
        """Serve the demo's portal database again and return its actions per claim.

        Example:
        | ${actions}=    Portal Actions By Claim
        """
        secrets = read_secrets(self.data / "secrets.env")
        ready = self.workdir / "witness-portal.url"
        with ManagedProcess(
            "witness portal",
            [
                sys.executable,
                "-m",
                "rpaml_sandbox.portal",
                "--db",
                str(self.data / "portal" / "portal.db"),
                "--port",
                "0",
                "--ready-file",
                str(ready),
            ],
            ready_file=ready,
            log_file=self.workdir / "witness-portal.log",
            env={**os.environ, **secrets},
        ) as portal:
            response = httpx.get(
                f"{portal.url}/admin/actions",
                headers={"X-Admin-Token": secrets["RPAML_PORTAL_ADMIN_TOKEN"]},
                timeout=30,
            )
        response.raise_for_status()
        by_claim: dict[str, list[dict[str, Any]]] = {}
        for action in response.json():
            by_claim.setdefault(action["claim_id"], []).append(action)
        return by_claim

    @keyword
    def every_run_should_have_valid_lineage_events(self) -> list[str]:
        """Every run the demo opened is closed, and emitted START then COMPLETE or FAIL
        events valid against OpenLineage 2-0-2 with the datasets of its kind; return the
        run kinds seen.

        Example:
        | ${kinds}=    Every Run Should Have Valid Lineage Events
        """
        events = [
            json.loads(line)
            for line in (self.data / "lineage" / "events.jsonl").read_text().splitlines()
        ]
        for event in events:
            errors = run_event_errors(event)
            if errors:
                raise AssertionError(f"invalid {event['job']['name']} event: {errors}")
        by_run: dict[str, list[dict[str, Any]]] = {}
        for event in events:
            by_run.setdefault(event["run"]["runId"], []).append(event)
        with Store.connect(f"sqlite:///{self.data / 'rpaml.db'}") as store:
            runs = store.list_runs("claims_triage", limit=1000)
        for run in runs:
            if run.status == "running":
                raise AssertionError(f"run {run.run_id} ({run.kind}) was left running")
            types = [e["eventType"] for e in by_run.get(run_uuid(run.run_id), [])]
            if types not in (["START", "COMPLETE"], ["START", "FAIL"]):
                raise AssertionError(f"run {run.run_id} ({run.kind}) emitted {types}")
        finals = {run.kind: by_run[run_uuid(run.run_id)][-1] for run in runs}
        collect, train, score = finals["collect"], finals["train"], finals["score"]
        if not collect["inputs"][0]["namespace"].startswith("http://127.0.0.1:"):
            raise AssertionError(f"collect read no portal: {collect['inputs']}")
        model = train["outputs"][0]
        facet = model["facets"]["rpamlModel"]
        if not (model["name"].startswith("claims_fraud@") and len(facet["artifactSha256"]) == 64):
            raise AssertionError(f"training wrote no model version: {model}")
        if not any(d["name"].startswith("claims_fraud@") for d in score["inputs"]):
            raise AssertionError(f"scoring read no model version: {score['inputs']}")
        validated = finals["process"]["outputs"][0]
        if "amount" not in validated["facets"]["columnLineage"]["fields"]:
            raise AssertionError(f"processing has no column lineage: {validated['facets']}")
        if finals["act"]["outputs"][0]["namespace"] != collect["inputs"][0]["namespace"]:
            raise AssertionError("the act robot's output is not the portal it acted in")
        return sorted(finals)

    @keyword
    def records_in_state(self, state: str) -> list[dict[str, Any]]:
        """The demo store's current records in ``state``, as dictionaries.

        Example:
        | ${acted}=    Records In State    acted
        """
        with Store.connect(f"sqlite:///{self.data / 'rpaml.db'}") as store:
            return [
                {
                    "claim_id": record.natural_key,
                    "decision": record.decision,
                    "receipt": record.receipt,
                    "reason": record.reason,
                }
                for chunk in store.iter_records("claims_triage", state)
                for record in chunk
                if record.superseded_by is None
            ]
