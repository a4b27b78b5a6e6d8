"""Failure classification: only a BusinessError is the record's fault."""

from __future__ import annotations

import http.server
import socket
import threading
from collections.abc import Iterator

import pytest

from rpaml_robots.errors import (
    ApplicationError,
    BusinessError,
    ConfigurationError,
    failure_kind,
)
from rpaml_robots.http_probe import probe


def test_failure_kinds() -> None:
    assert failure_kind(BusinessError("claim gone")) == "business"
    assert failure_kind(ApplicationError("portal down")) == "application"
    assert failure_kind(ConfigurationError("no URL")) == "application"
    # Anything unexpected is retried, never blamed on the record.
    assert failure_kind(TimeoutError("slow")) == "application"


def test_robot_sees_the_class_name_in_the_message() -> None:
    # The task suites tell failures apart with `EXCEPT  BusinessError:*  type=GLOB`,
    # which relies on Robot Framework prefixing the message with the class name.
    from robot.errors import HandlerExecutionFailed  # noqa: F401 - robot is importable
    from robot.utils.error import ErrorDetails

    try:
        raise BusinessError("Claim CLM-000999 does not exist")
    except BusinessError as error:
        details = ErrorDetails(error)
    assert details.message == "BusinessError: Claim CLM-000999 does not exist"


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status = 404 if self.path.startswith("/claims/") else 500
        if self.path == "/login-redirect":
            status = 303
        self.send_response(status)
        if status == 303:
            self.send_header("Location", "/login")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server_url() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_probe_reports_the_status_without_following_redirects(server_url: str) -> None:
    assert probe(f"{server_url}/claims/CLM-000999").status == 404
    assert probe(f"{server_url}/boom").status == 500
    assert probe(f"{server_url}/login-redirect").status == 303


def test_probe_reports_a_closed_port_as_no_answer() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = probe(f"http://127.0.0.1:{port}/login", timeout=2)
    assert result.status is None
    assert "refused" in result.describe
