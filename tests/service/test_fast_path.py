"""The scoring fast path answers exactly as the documented routes, and hands refusals to them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from claims_registry import HIGH_RISK, LOW_RISK, synthetic_claims
from fastapi.testclient import TestClient

from rpaml_service.app import create_app
from rpaml_service.auth import digest
from rpaml_service.fast_path import ScoringFastPath
from rpaml_service.settings import ServiceSettings

SCORE = "/v1/models/claims_fraud/score"
KEY = "fast-path-key"


def _app(registry_dir: Path, *, fast: bool) -> TestClient:
    app = create_app(
        ServiceSettings(
            registry_dir=registry_dir,
            api_keys=[f"scorer:score:{digest(KEY)}", f"admin:admin:{digest('admin')}"],
            reload_interval=0,
        )
    )
    if not fast:
        app.user_middleware = [m for m in app.user_middleware if m.cls is not ScoringFastPath]
    return TestClient(app, headers={"X-API-Key": KEY})


@pytest.fixture(scope="module")
def clients(registry_dir: Path) -> Iterator[tuple[TestClient, TestClient]]:
    with _app(registry_dir, fast=True) as fast, _app(registry_dir, fast=False) as routed:
        yield fast, routed


def _requests() -> list[tuple[str, dict[str, Any]]]:
    frame, _ = synthetic_claims(120, seed=11)
    rows: list[dict[str, Any]] = frame.to_dict("records")  # type: ignore[assignment]
    columns = {name: frame[name].tolist() for name in frame.columns}
    return [
        (SCORE, {"records": [{"id": "a", "features": HIGH_RISK}]}),
        (SCORE, {"records": [{"features": LOW_RISK}], "explain": True}),
        (SCORE, {"records": [{"id": str(i), "features": r} for i, r in enumerate(rows)]}),
        (f"{SCORE}/columns", {"columns": columns, "explain": True}),
        (f"{SCORE}/columns", {"ids": [str(i) for i in range(120)], "columns": columns}),
        # Refusals: each is answered by the route, whichever way the request came in.
        (SCORE, {"records": []}),
        (SCORE, {"records": [{"features": {**LOW_RISK, "amount": "many"}}]}),
        (f"{SCORE}/columns", {"columns": {**columns, "amount": [1.0]}}),
        ("/v1/models/nope/score", {"records": [{"features": LOW_RISK}]}),
    ]


@pytest.mark.parametrize("index", range(len(_requests())))
def test_fast_path_answers_as_the_route(clients: tuple[TestClient, TestClient], index: int) -> None:
    fast, routed = clients
    path, body = _requests()[index]

    by_fast, by_route = fast.post(path, json=body), routed.post(path, json=body)

    assert by_fast.status_code == by_route.status_code
    assert by_fast.json() == by_route.json()
    assert by_fast.headers["content-type"] == by_route.headers["content-type"]


@pytest.mark.parametrize(
    ("key", "status"), [(None, 401), ("wrong", 401), ("admin", 403), (KEY, 200)]
)
def test_keys_are_checked_on_the_fast_path(
    clients: tuple[TestClient, TestClient], key: str | None, status: int
) -> None:
    fast, _ = clients
    headers = {"X-API-Key": key} if key is not None else {}
    fast.headers.pop("X-API-Key", None)
    try:
        response = fast.post(SCORE, json={"records": [{"features": LOW_RISK}]}, headers=headers)
    finally:
        fast.headers["X-API-Key"] = KEY

    assert response.status_code == status
    assert response.headers["x-request-id"]
