"""The pipeline's scoring client against real HTTP servers on loopback.

A small stand-in for the scoring service (a real ASGI app under a real uvicorn) lets
each test control what the server does: fail first, refuse fields, start late. The
client against the real rpaml_service is exercised in tests/service/test_server_process.py.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from rpaml_pipeline.scoring import (
    ScoreResult,
    ScoringCircuitOpenError,
    ScoringClient,
    ScoringError,
    ScoringRejectedError,
    ScoringUnavailableError,
)


@dataclass
class StandInService:
    """Answers like the scoring service: score = features["x"], decision by 0.5."""

    failures_left: int = 0
    drop_last_result: bool = False
    batches: list[list[str]] = field(default_factory=list)
    attempts: int = 0
    api_keys: list[str | None] = field(default_factory=list)
    explain_flags: list[object] = field(default_factory=list)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/health", self.health, methods=["GET"]),
                Route("/v1/models/{name}/score", self.score, methods=["POST"]),
            ]
        )

    async def health(self, request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "ready": True, "models": {}})

    async def score(self, request: Request) -> JSONResponse:
        self.attempts += 1
        if self.failures_left:
            self.failures_left -= 1
            return JSONResponse({"detail": "warming up"}, status_code=503)
        if request.path_params["name"] != "claims":
            return JSONResponse({"detail": "model 'x' is not loaded"}, status_code=404)
        body = await request.json()
        records = body["records"]
        self.api_keys.append(request.headers.get("x-api-key"))
        self.explain_flags.append(body.get("explain"))
        errors = [
            {
                "loc": ["body", "records", i, "features", name],
                "msg": "must be a number",
                "type": "value_error",
            }
            for i, record in enumerate(records)
            for name, value in record["features"].items()
            if not isinstance(value, int | float)
        ]
        if errors:
            return JSONResponse({"detail": errors}, status_code=422)
        self.batches.append([record["id"] for record in records])
        results: list[dict[str, Any]] = [
            {
                "id": record["id"],
                "score": record["features"]["x"],
                "decision": "approve" if record["features"]["x"] < 0.5 else "reject",
                "reasons": [f"x is {record['features']['x']}"],
                "model_version": "7",
                "policy_version": "p1",
            }
            for record in records
        ]
        if self.drop_last_result:
            results.pop()
        return JSONResponse(
            {"model": "claims", "model_version": "7", "policy_version": "p1", "results": results}
        )


class LoopbackServer:
    """uvicorn in a thread on a socket bound up front.

    The socket is bound (so the port is known and reserved) but listens only once the
    server starts; until then connections are refused, as with a service still starting.
    """

    def __init__(self, app: Starlette) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        config = uvicorn.Config(app, log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "stand-in server did not start"
            time.sleep(0.01)

    def stop(self) -> None:
        if self.thread.is_alive():
            self.server.should_exit = True
            self.thread.join(timeout=10)
        self.sock.close()


@pytest.fixture
def stand_in() -> Iterator[tuple[StandInService, str]]:
    service = StandInService()
    server = LoopbackServer(service.app())
    server.start()
    try:
        yield service, server.url
    finally:
        server.stop()


def _items(n: int) -> list[tuple[str, dict[str, object]]]:
    return [(f"id-{i}", {"x": (i % 10) / 10}) for i in range(n)]


def test_score_cuts_items_into_chunks_and_keeps_them_aligned(
    stand_in: tuple[StandInService, str],
) -> None:
    service, url = stand_in
    items = _items(1200)

    with ScoringClient(url, chunk_size=500) as client:
        results = client.score("claims", items)

    assert [len(batch) for batch in service.batches] == [500, 500, 200]
    assert [r.id for r in results] == [item_id for item_id, _ in items]
    assert [r.score for r in results] == [features["x"] for _, features in items]
    assert results[7] == ScoreResult(
        id="id-7",
        score=0.7,
        decision="reject",
        reasons=("x is 0.7",),
        model_version="7",
        policy_version="p1",
    )


def test_model_reasons_are_asked_for_unless_turned_off(
    stand_in: tuple[StandInService, str],
) -> None:
    service, url = stand_in

    with ScoringClient(url) as client:
        client.score("claims", _items(1))
    with ScoringClient(url, explain=False) as client:
        client.score("claims", _items(1))

    assert service.explain_flags == [True, False]


def test_api_key_is_sent_in_its_header_and_kept_out_of_repr(
    stand_in: tuple[StandInService, str],
) -> None:
    service, url = stand_in

    with ScoringClient(url, api_key="s3cret") as client:
        client.score("claims", _items(1))
        shown = repr(client)

    assert service.api_keys == ["s3cret"]
    assert "s3cret" not in shown


def test_a_503_is_retried_then_succeeds(stand_in: tuple[StandInService, str]) -> None:
    service, url = stand_in
    service.failures_left = 1

    with ScoringClient(url, retries=3, backoff=0.01) as client:
        results = client.score("claims", _items(3))

    assert service.attempts == 2
    assert len(results) == 3


def test_a_server_that_starts_late_is_waited_for() -> None:
    service = StandInService()
    server = LoopbackServer(service.app())
    starter = threading.Timer(0.3, server.start)
    starter.start()
    try:
        # Backoff 0.05 s doubling over 6 retries waits up to 3.15 s in all.
        with ScoringClient(server.url, retries=6, backoff=0.05) as client:
            results = client.score("claims", _items(2))
    finally:
        starter.join()
        server.stop()

    assert [r.id for r in results] == ["id-0", "id-1"]


def test_nothing_listening_raises_unavailable_after_the_retries() -> None:
    # Bound but not listening: connections are refused, and no other process can take
    # the port while the test runs.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        with (
            ScoringClient(url, retries=2, backoff=0.01) as client,
            pytest.raises(ScoringUnavailableError) as caught,
        ):
            client.score("claims", _items(1))

    assert "after 3 attempt(s)" in str(caught.value)
    assert "ConnectError" in str(caught.value)
    assert isinstance(caught.value, ScoringError)


def test_persistent_5xx_raises_unavailable(stand_in: tuple[StandInService, str]) -> None:
    service, url = stand_in
    service.failures_left = 100

    with (
        ScoringClient(url, retries=2, backoff=0.01) as client,
        pytest.raises(ScoringUnavailableError, match="HTTP 503: warming up"),
    ):
        client.score("claims", _items(1))

    assert service.attempts == 3


def test_422_raises_rejected_with_every_issue_indexed_like_the_input(
    stand_in: tuple[StandInService, str],
) -> None:
    _, url = stand_in
    items = _items(6)
    items[1] = ("id-1", {"x": "high"})
    items[4] = ("id-4", {"x": None, "y": "z"})

    with (
        ScoringClient(url, chunk_size=2) as client,
        pytest.raises(ScoringRejectedError) as caught,
    ):
        client.score("claims", items)

    error = caught.value
    assert error.status_code == 422
    assert [(i.index, i.id, i.field, i.message) for i in error.issues] == [
        (1, "id-1", "x", "must be a number"),
        (4, "id-4", "x", "must be a number"),
        (4, "id-4", "y", "must be a number"),
    ]
    assert error.rejected_ids == ["id-1", "id-4"]
    # The chunk holding items 2 and 3 was accepted: its results are not lost.
    assert [r.id for r in error.scored] == ["id-2", "id-3"]
    assert "id-1.x: must be a number" in str(error)


def test_unknown_model_is_not_retried(stand_in: tuple[StandInService, str]) -> None:
    service, url = stand_in

    with ScoringClient(url, backoff=0.01) as client, pytest.raises(ScoringError) as caught:
        client.score("other", _items(1))

    assert type(caught.value) is ScoringError
    assert caught.value.status_code == 404
    assert service.attempts == 1


def test_a_short_answer_is_an_error_not_a_silent_drop(
    stand_in: tuple[StandInService, str],
) -> None:
    service, url = stand_in
    service.drop_last_result = True

    with ScoringClient(url) as client, pytest.raises(ScoringError, match="2 results for 3"):
        client.score("claims", _items(3))


def test_no_items_means_no_request(stand_in: tuple[StandInService, str]) -> None:
    service, url = stand_in

    with ScoringClient(url) as client:
        assert client.score("claims", []) == []

    assert service.attempts == 0


def test_health_returns_the_services_answer(stand_in: tuple[StandInService, str]) -> None:
    _, url = stand_in

    with ScoringClient(url) as client:
        assert client.health() == {"status": "ok", "ready": True, "models": {}}


@pytest.mark.parametrize("options", [{"chunk_size": 0}, {"retries": -1}, {"backoff": -0.1}])
def test_invalid_options_are_refused(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        ScoringClient("http://127.0.0.1:1", **options)


def test_circuit_breaker_opens_after_repeated_failures_then_recovers(
    stand_in: tuple[StandInService, str],
) -> None:
    service, url = stand_in
    service.failures_left = 4
    with ScoringClient(url, retries=0, backoff=0, breaker_threshold=2, breaker_reset=0.3) as client:
        for _ in range(2):
            with pytest.raises(ScoringUnavailableError):
                client.score("claims", [("a", {"x": 0.1})])
        sent = service.attempts
        with pytest.raises(ScoringCircuitOpenError):
            client.score("claims", [("a", {"x": 0.1})])
        assert service.attempts == sent  # open: nothing was sent
        assert client.circuit_open
        time.sleep(0.35)
        service.failures_left = 0
        # Half-open: one trial request goes through and closes the breaker.
        assert [r.id for r in client.score("claims", [("a", {"x": 0.1})])] == ["a"]
        assert not client.circuit_open
