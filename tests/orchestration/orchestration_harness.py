"""Fixtures of the orchestration tests: a real portal, a real scoring service with a
model trained through the pipeline, and `rpaml worker` processes that tests kill."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict
from pathlib import Path
from secrets import token_urlsafe
from typing import Any

import httpx
import pytest
import yaml

from fresh_postgres import fresh_database
from rpaml_pipeline.child_processes import ManagedProcess
from rpaml_pipeline.helper_ledger import reap_leftovers
from rpaml_pipeline.model_training import train_from_store
from rpaml_pipeline.process import load_process
from rpaml_pipeline.processing import process_collected
from rpaml_pipeline.secrets_file import SERVICE_KEY, ensure_demo_secrets, write_service_keys
from rpaml_pipeline.store import IncomingRecord, Store
from rpaml_sandbox.portal.display import display_values
from rpaml_sandbox.portal.generator import generate_claims

PROJECT = Path(__file__).resolve().parents[2]
SHIPPED_PROCESS_FILE = PROJECT / "pipeline" / "processes" / "claims_triage.yaml"
OPEN_CLAIMS = 30
CLOSED_CLAIMS = 300
SEED = 5


def orchestrated_process_text(schedules: Mapping[str, str] | None = None) -> str:
    """The shipped claims process, less what these tests do not run: the desktop
    enrichment robot (and the fields it looks up), drift checks, the inbox source, the
    delivery targets and the review queue (its escalations are acted on directly).
    ``schedules`` replaces its schedules when given.

    Derived from the shipped file on every run, so the two cannot drift apart.
    """
    data = yaml.safe_load(SHIPPED_PROCESS_FILE.read_text(encoding="utf-8"))
    looked_up = set(data.pop("enrichment")["fields"])
    for section in ("quality", "sources", "delivery", "review"):
        data.pop(section, None)
    contract = data["contract"]["fields"]
    data["contract"]["fields"] = {k: v for k, v in contract.items() if k not in looked_up}
    cleaning = []
    for rule in data["cleaning"]:
        rule["fields"] = [name for name in rule["fields"] if name not in looked_up]
        if rule["fields"]:
            cleaning.append(rule)
    data["cleaning"] = cleaning
    for features in (data["transform"]["features"], data["model"]["features"]):
        features[:] = [feature for feature in features if feature["name"] not in looked_up]
    if schedules is not None:
        data["schedules"] = dict(schedules)
    text: str = yaml.safe_dump(data, sort_keys=False)
    return text


def process_file_with(tmp: Path, schedules: Mapping[str, str] | None = None) -> Path:
    """The orchestrated process file (:func:`orchestrated_process_text`) under ``tmp``."""
    path = tmp / "claims_orchestrated.yaml"
    path.write_text(orchestrated_process_text(schedules), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def registry_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A registry whose champion was trained through the pipeline on generated history."""
    root = tmp_path_factory.mktemp("orchestration-registry")
    process = load_process(process_file_with(root))
    closed = [c for c in generate_claims(SEED + 1, open_claims=0, closed_claims=300) if c.outcome]
    with Store.connect(f"sqlite:///{root / 'history.db'}") as store:
        run_id = store.start_run(process.name, "collect", robot="history")
        rows = []
        for claim in closed:
            row = {"claim_id": claim.claim_id, "status": claim.status}
            row.update(asdict(display_values(claim, SEED + 1)))
            row["outcome"] = str(claim.outcome)
            rows.append(IncomingRecord(natural_key=claim.claim_id, payload=row, source="test"))
        store.ingest(process.name, rows, run_id=run_id)
        store.finish_run(run_id, "succeeded")
        process_collected(store, process, store.start_run(process.name, "process"))
        train_from_store(store, process, root / "registry")
    return root / "registry"


@pytest.fixture(scope="session")
def service_key() -> str:
    """The API key the session's scoring service accepts; workers send it."""
    return token_urlsafe(24)


@pytest.fixture(scope="session")
def service_url(
    tmp_path_factory: pytest.TempPathFactory, registry_dir: Path, service_key: str
) -> Iterator[str]:
    run_dir = tmp_path_factory.mktemp("orchestration-service")
    keys_file = write_service_keys(run_dir, {SERVICE_KEY: service_key})
    with ManagedProcess(
        "scoring service",
        [sys.executable, "-m", "rpaml_service", "--registry", str(registry_dir), "--port", "0",
         "--ready-file", str(run_dir / "url")],
        ready_file=run_dir / "url",
        log_file=run_dir / "service.log",
        env={**os.environ, "RPAML_SERVICE_API_KEYS_FILE": str(keys_file)},
    ) as service:  # fmt: skip
        yield service.url


class Portal:
    """The sandbox portal of one test, and its record of actions (the witness)."""

    def __init__(self, url: str, admin_token: str) -> None:
        self.url = url
        self.admin_token = admin_token

    def actions(self) -> list[dict[str, Any]]:
        response = httpx.get(
            f"{self.url}/admin/actions", headers={"X-Admin-Token": self.admin_token}, timeout=30
        )
        response.raise_for_status()
        result: list[dict[str, Any]] = response.json()
        return result


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path


@pytest.fixture
def secrets(data_dir: Path) -> dict[str, str]:
    return ensure_demo_secrets(data_dir / "secrets.env")


@pytest.fixture
def portal(data_dir: Path, secrets: dict[str, str]) -> Iterator[Portal]:
    run = data_dir / "run"
    with ManagedProcess(
        "claims portal",
        [sys.executable, "-m", "rpaml_sandbox.portal", "--db", str(data_dir / "portal.db"),
         "--port", "0", "--ready-file", str(run / "portal.url"), "--seed", str(SEED),
         "--open-claims", str(OPEN_CLAIMS), "--closed-claims", str(CLOSED_CLAIMS)],
        ready_file=run / "portal.url",
        log_file=data_dir / "logs" / "portal.log",
        env={**os.environ, **secrets},
    ) as child:  # fmt: skip
        yield Portal(child.url, secrets["RPAML_PORTAL_ADMIN_TOKEN"])


class Workers:
    """``rpaml worker`` processes, each in a session of its own so a test can kill the
    worker, its robot and chromedriver with one SIGKILL to its process group. Chromium
    escapes it (chromedriver gives it a group of its own): the next worker on the host
    reaps it, or the fixture's teardown does."""

    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.env = env
        self.log_dir = log_dir
        self.running: dict[str, subprocess.Popen[bytes]] = {}
        self.timeline: list[dict[str, Any]] = []
        self._started = time.monotonic()

    def note(self, event: str, **detail: Any) -> None:
        self.timeline.append({"t": round(time.monotonic() - self._started, 2), "event": event,
                              **detail})  # fmt: skip

    def start(self, executor_id: str) -> None:
        """Start a worker and wait until it has launched DBOS and set up its queues."""
        log_path = self.log_dir / f"worker-{executor_id}.log"
        already = log_path.read_text().count("queues ") if log_path.exists() else 0
        log = log_path.open("ab")
        self.running[executor_id] = subprocess.Popen(
            [sys.executable, "-m", "rpaml_pipeline.cli", "worker", "--executor-id", executor_id],
            env=self.env, cwd=PROJECT, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        wait_until(
            lambda: log_path.read_text().count("queues ") > already, 60, f"worker {executor_id}"
        )
        self.note("worker started", worker=executor_id, pid=self.running[executor_id].pid)

    def kill(self, executor_id: str, why: str) -> None:
        popen = self.running.pop(executor_id)
        os.killpg(popen.pid, signal.SIGKILL)
        popen.wait(timeout=30)
        self.note("worker SIGKILLed (process group)", worker=executor_id, why=why)

    def stop_all(self) -> None:
        for executor_id, popen in list(self.running.items()):
            popen.send_signal(signal.SIGTERM)
            try:
                popen.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(popen.pid, signal.SIGKILL)
                popen.wait(timeout=30)
            # A robot or browser the worker left behind belongs to the test too.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(popen.pid, signal.SIGKILL)
            del self.running[executor_id]

    def rpaml(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "rpaml_pipeline.cli", *args], env=self.env, cwd=PROJECT,
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip


@pytest.fixture
def make_workers(
    data_dir: Path, secrets: dict[str, str], registry_dir: Path, service_url: str,
    service_key: str,
) -> Iterator[Callable[..., Workers]]:  # fmt: skip
    created: list[Workers] = []

    def make(portal: Portal, *, store_url: str | None, schedules: dict[str, str],
             **extra: str) -> Workers:  # fmt: skip
        env = {
            **os.environ,
            "RPAML_DATA_DIR": str(data_dir),
            "RPAML_REGISTRY_DIR": str(registry_dir),
            "RPAML_PROCESS_FILE": str(process_file_with(data_dir.parent, schedules)),
            "RPAML_PORTAL_URL": portal.url,
            "RPAML_SERVICE_URL": service_url,
            "RPAML_SERVICE_API_KEY": service_key,
            "RPAML_STEP_RETRY_SECONDS": "1",
            "RPAML_ACT_BATCH_SIZE": "5",
            **extra,
        }
        if store_url:
            env["RPAML_STORE_URL"] = store_url
        for key in ("RPAML_EXECUTOR_ID", "RPAML_SYSTEM_DATABASE_URL"):
            env.pop(key, None)
        workers = Workers(env, data_dir / "logs")
        (data_dir / "logs").mkdir(exist_ok=True)
        created.append(workers)
        return workers

    yield make
    for workers in created:
        workers.stop_all()
    # The browsers of the workers a test killed escaped their process groups.
    reap_leftovers(data_dir)


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)


@pytest.fixture
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database (store and DBOS system tables), dropped afterwards."""
    with fresh_database("rpaml_orch") as url:
        yield url
