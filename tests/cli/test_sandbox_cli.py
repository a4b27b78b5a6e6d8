"""``rpaml sandbox advance``: the sandbox portal's days pass, run as a user runs it, against
a real portal on loopback over its SQLite file."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from click.testing import CliRunner
from pydantic import SecretStr

from rpaml_pipeline.cli import main
from rpaml_sandbox.desktop.policies import generate_policies, load_policies, save_policies
from rpaml_sandbox.portal import PortalSettings, create_app
from rpaml_sandbox.portal.server import base_url, bind_socket
from rpaml_sandbox.portal.truth import admin_claims

PROJECT = Path(__file__).resolve().parents[2]
TOKEN = "admin-token-for-tests"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def portal(data_dir: Path) -> Iterator[tuple[str, PortalSettings]]:
    settings = PortalSettings(
        db_path=data_dir / "portal" / "portal.db",
        seed=11,
        open_claims=20,
        closed_claims=50,
        late_arrivals=0,
        daily_claims=7,
        password=SecretStr("clerk-password"),
        admin_token=SecretStr(TOKEN),
        session_secret=SecretStr("session-secret"),
    )
    sock = bind_socket("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(create_app(settings), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "portal did not start"
        time.sleep(0.01)
    yield base_url(sock), settings
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


def run(data_dir: Path, *args: str, token: str | None = TOKEN) -> tuple[int, str]:
    env = {"RPAML_PROJECT_DIR": str(PROJECT), "RPAML_DATA_DIR": str(data_dir)}
    if token is not None:
        env["RPAML_PORTAL_ADMIN_TOKEN"] = token
    result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.output


def test_advance_moves_the_clock_and_syncs_the_policy_application(
    data_dir: Path, portal: tuple[str, PortalSettings]
) -> None:
    url, settings = portal
    policies = data_dir / "desktop" / "policies.json"
    save_policies(policies, generate_policies(11, 20, 50, 0))
    code, output = run(data_dir, "sandbox", "advance", "--days", "3", "--portal-url", url)
    assert code == 0, output
    assert "2026-04-01: 7 new claims, 0 closed" in output
    assert "business date 2026-04-03; policy application synced" in output
    claims = admin_claims(create_app(settings).state.database)
    assert len(claims) == 20 + 50 + 21
    assert {c["policy_number"] for c in claims} <= set(load_policies(policies))


def test_advance_without_the_token_or_the_portal_says_why(
    data_dir: Path, portal: tuple[str, PortalSettings]
) -> None:
    url, _ = portal
    code, output = run(data_dir, "sandbox", "advance", "--portal-url", url, token=None)
    assert code == 1
    assert "RPAML_PORTAL_ADMIN_TOKEN is not set" in output
    code, output = run(data_dir, "sandbox", "advance", "--portal-url", url, token="wrong")
    assert code == 1 and "refused to move its clock on (401)" in output
    code, output = run(data_dir, "sandbox", "advance", "--portal-url", "http://127.0.0.1:9")
    assert code == 1 and "did not answer" in output
