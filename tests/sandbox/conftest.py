"""Fixtures for the claims portal: a real uvicorn server on loopback over a real SQLite file."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from portal_client import (
    ADMIN_TOKEN,
    CLOSED_CLAIMS,
    LATE_ARRIVALS,
    OPEN_CLAIMS,
    PASSWORD,
    TLS_CONTEXT,
    PortalUser,
)
from pydantic import SecretStr

from rpaml_sandbox.portal import PortalSettings, create_app
from rpaml_sandbox.portal.server import base_url, bind_socket


@pytest.fixture
def portal_settings(tmp_path: Path) -> PortalSettings:
    return PortalSettings(
        db_path=tmp_path / "portal.db",
        seed=7,
        open_claims=OPEN_CLAIMS,
        closed_claims=CLOSED_CLAIMS,
        late_arrivals=LATE_ARRIVALS,
        password=SecretStr(PASSWORD),
        admin_token=SecretStr(ADMIN_TOKEN),
        session_secret=SecretStr("session-secret-for-tests"),
    )


@pytest.fixture
def portal_url(portal_settings: PortalSettings) -> Iterator[str]:
    """A real uvicorn server on a free loopback port, in a thread of this process."""
    app = create_app(portal_settings)
    sock = bind_socket("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "portal did not start"
        time.sleep(0.01)
    yield base_url(sock)
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


@pytest.fixture
def visitor(portal_url: str) -> Iterator[PortalUser]:
    """A client that has not logged in."""
    user = PortalUser(portal_url)
    yield user
    user.close()


@pytest.fixture
def clerk(portal_url: str) -> Iterator[PortalUser]:
    """A logged-in clerk."""
    user = PortalUser(portal_url)
    assert user.login().status_code == 303
    yield user
    user.close()


@pytest.fixture
def admin(portal_url: str) -> Iterator[httpx.Client]:
    """A client sending the admin token."""
    with httpx.Client(
        base_url=portal_url,
        headers={"X-Admin-Token": ADMIN_TOKEN},
        timeout=10,
        verify=TLS_CONTEXT,
    ) as client:
        yield client
