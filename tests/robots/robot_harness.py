"""Running a real portal and Robot suites from pytest (a module with its own name, so
test modules can import it): a portal subprocess, a store and a robot runner."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from robot.api import ExecutionResult

from rpaml_pipeline.child_processes import sandbox_portal
from rpaml_pipeline.store import IncomingRecord, RecordState, Store, StoredRecord, Transition

ROOT = Path(__file__).resolve().parents[2]
ACCEPTANCE = ROOT / "tests" / "robot"
TASKS = ROOT / "robots" / "tasks"
PROCESS = "claims_triage"
PROCESS_FILE = ROOT / "pipeline" / "processes" / "claims_triage.yaml"


@dataclass(frozen=True)
class RunningPortal:
    url: str
    admin_token: str
    username: str
    password: str

    def admin(self, path: str) -> Any:
        response = httpx.get(
            f"{self.url}/admin/{path}", headers={"X-Admin-Token": self.admin_token}, timeout=10
        )
        response.raise_for_status()
        return response.json()

    def switch(self, **values: object) -> dict[str, Any]:
        response = httpx.put(
            f"{self.url}/admin/switches",
            json=values,
            headers={"X-Admin-Token": self.admin_token},
            timeout=10,
        )
        response.raise_for_status()
        return dict(response.json())

    def actions(self) -> list[dict[str, Any]]:
        return list(self.admin("actions"))

    def decide_as_a_person(self, claim_id: str, action: str) -> None:
        """A clerk decides a claim by hand, through the same pages as the robot."""
        with httpx.Client(base_url=self.url, timeout=10) as client:
            login = client.post(
                "/login", data={"username": self.username, "password": self.password}
            )
            assert login.status_code == 303, login.text
            page = client.post(f"/claims/{claim_id}/decision", data={"action": action})
            token = re.search(r'name="token" value="([^"]+)"', page.text)
            assert token, page.text
            confirmed = client.post(
                f"/claims/{claim_id}/decision/confirm",
                data={"action": action, "token": token.group(1)},
            )
            assert confirmed.status_code == 303, confirmed.text

    def open_claims(self) -> set[str]:
        return {
            claim["claim_id"]
            for claim in self.admin("claims")
            if claim["status"] == "open" and not claim["hidden"]
        }


@contextmanager
def running_portal(workdir: Path, *arguments: str) -> Iterator[RunningPortal]:
    """``python -m rpaml_sandbox.portal`` on a free port with fresh secrets."""
    password, admin_token = secrets.token_urlsafe(12), secrets.token_urlsafe(12)
    env = {
        **os.environ,
        "RPAML_PORTAL_PASSWORD": password,
        "RPAML_PORTAL_ADMIN_TOKEN": admin_token,
        "RPAML_PORTAL_SESSION_SECRET": secrets.token_urlsafe(24),
    }
    portal = sandbox_portal(
        workdir / "portal.db",
        ready_file=workdir / "portal.url",
        log_file=workdir / "portal.log",
        env=env,
        arguments=["--log-level", "warning", *arguments],
        start_timeout=120,
    )
    with portal:
        yield RunningPortal(portal.url.rstrip("/"), admin_token, "clerk", password)


@dataclass(frozen=True)
class RobotRun:
    return_code: int
    output_dir: Path

    @property
    def result(self) -> Any:
        return ExecutionResult(str(self.output_dir / "output.xml"))

    def messages(self) -> str:
        return "\n".join(
            f"{test.name}: {test.status}: {test.message}" for test in self.result.suite.all_tests
        )

    def screenshots(self) -> int:
        """How many screenshots were embedded in the log."""
        output = (self.output_dir / "output.xml").read_text(errors="replace")
        return output.count("robot-seleniumlibrary-screenshot")


def run_robot(
    suite: Path,
    output_dir: Path,
    portal: RunningPortal,
    store_url: str,
    data_dir: Path,
    options: Sequence[str] = (),
    **extra_env: str,
) -> RobotRun:
    """Run one suite in a child process and check that no secret reached its output."""
    env = {
        **os.environ,
        "SE_OFFLINE": "true",
        "RPAML_PORTAL_URL": portal.url,
        "RPAML_PORTAL_USERNAME": portal.username,
        "RPAML_PORTAL_PASSWORD": portal.password,
        "RPAML_STORE_URL": store_url,
        "RPAML_PROCESS_FILE": str(PROCESS_FILE),
        "RPAML_DATA_DIR": str(data_dir),
        **extra_env,
    }
    # An empty value stands for "not set" (e.g. no credentials in the environment).
    env = {key: value for key, value in env.items() if value != ""}
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "robot",
            "--outputdir",
            str(output_dir),
            "--consolecolors",
            "off",
            *options,
            str(suite),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "console.txt").write_text(completed.stdout + completed.stderr)
    for artefact in ("output.xml", "log.html", "console.txt"):
        text = (output_dir / artefact).read_text(errors="replace")
        assert portal.password not in text, f"password leaked into {artefact}"
    return RobotRun(completed.returncode, output_dir)


def records_of(store: Store, source: str | None = None) -> list[StoredRecord]:
    found: list[StoredRecord] = []
    for chunk in store.iter_records(PROCESS):
        found.extend(record for record in chunk if source is None or record.source == source)
    return found


def decide(store: Store, decisions: Mapping[str, str]) -> dict[str, str]:
    """Put records in ``decided`` as the scoring step would; returns claim -> record id."""
    run_id = store.start_run(process=PROCESS, kind="score", robot=None)
    latest = {record.natural_key: record for record in records_of(store)}
    missing = [key for key in decisions if key not in latest]
    if missing:
        result = store.ingest(
            PROCESS,
            [
                IncomingRecord(natural_key=key, payload={"claim_id": key}, source="test:harness")
                for key in missing
            ],
            run_id=run_id,
        )
        latest.update(
            {
                key: store.get_record(rid)
                for key, rid in zip(missing, result.record_ids, strict=True)
            }
        )
    report = store.transition_many(
        [
            Transition(
                record_id=latest[key].record_id,
                to_state=RecordState.DECIDED,
                values={"decision": action},
            )
            for key, action in decisions.items()
        ],
        run_id=run_id,
    )
    assert report.lost == []
    store.finish_run(run_id, status="succeeded")
    return {key: latest[key].record_id for key in decisions}


@pytest.fixture(scope="module")
def store_url(workdir: Path) -> str:
    """The module's SQLite store (``workdir`` is each module's own folder)."""
    return f"sqlite:///{workdir / 'store.db'}"


@pytest.fixture(scope="module")
def store(store_url: str) -> Iterator[Store]:
    with Store.connect(store_url) as connected:
        yield connected
