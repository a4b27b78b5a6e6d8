"""OpenLineage events POSTed to a real HTTP endpoint on loopback, with retries."""

from __future__ import annotations

import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from loopback_http import serving
from rpaml_pipeline.lineage import OpenLineageEmitter


class _Endpoint(ThreadingHTTPServer):
    def __init__(self, failures: int) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.failures = failures
        self.received: list[dict[str, Any]] = []
        self.attempts = 0


class _Handler(BaseHTTPRequestHandler):
    server: _Endpoint

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.attempts += 1
        if self.server.failures > 0:
            self.server.failures -= 1
            self.send_response(503)
        else:
            self.server.received.append(json.loads(body))
            self.send_response(201)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def endpoint() -> Iterator[_Endpoint]:
    server = _Endpoint(failures=2)
    with serving(server):
        yield server


def test_events_are_posted_after_transient_failures(endpoint: _Endpoint, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{endpoint.server_address[1]}/api/v1/lineage"
    emitter = OpenLineageEmitter(
        tmp_path / "events.jsonl", http_url=url, http_retries=3, http_backoff_seconds=0.01
    )
    event = emitter.start("a" * 32, "claims_triage.process")
    assert endpoint.attempts == 3 and endpoint.received == [event]
    assert emitter.http_failures == 0


def test_an_unreachable_endpoint_never_stops_the_run(endpoint: _Endpoint, tmp_path: Path) -> None:
    port = endpoint.server_address[1]
    endpoint.shutdown()
    endpoint.server_close()
    emitter = OpenLineageEmitter(
        tmp_path / "events.jsonl",
        http_url=f"http://127.0.0.1:{port}/lineage",
        http_retries=1,
        http_backoff_seconds=0.01,
        http_timeout_seconds=1,
    )
    emitter.complete("b" * 32, "claims_triage.process")
    assert emitter.http_failures == 1
    assert len((tmp_path / "events.jsonl").read_text().splitlines()) == 1
