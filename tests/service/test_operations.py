"""Limits, metrics, request ids, micro-batching, the columnar path and hot model swaps."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from claims_registry import HIGH_RISK, LOOSE_THRESHOLDS, LOW_RISK, synthetic_claims
from fastapi.testclient import TestClient
from live_server import LiveServer
from service_keys import HEADERS, keyed_settings

from rpaml_models import ModelRegistry, train_model
from rpaml_service.app import create_app

SCORE = "/v1/models/claims_fraud/score"


def test_oversized_bodies_get_413_and_long_batches_422(registry_dir: Path) -> None:
    settings = keyed_settings(registry_dir=registry_dir, max_body_bytes=4096, max_batch=3)
    with TestClient(create_app(settings), headers=HEADERS) as client:
        big = client.post(SCORE, content=b'{"records": [' + b" " * 5000 + b"]}")
        long = client.post(SCORE, json={"records": [{"features": LOW_RISK}] * 4})
        alive = client.post(SCORE, json={"records": [{"features": LOW_RISK}]})

    assert big.status_code == 413
    assert big.json() == {"detail": "request body larger than 4096 bytes; split the batch"}
    assert long.status_code == 422
    assert long.json()["detail"][0]["loc"] == ["body", "records"]
    assert alive.status_code == 200


def test_metrics_count_requests_decisions_and_batches(client: TestClient) -> None:
    client.post(SCORE, json={"records": [{"features": LOW_RISK}, {"features": HIGH_RISK}]})
    client.post(SCORE, json={"records": [{"features": {"amount": "x"}}]})

    text = client.get("/metrics").text

    assert 'rpaml_score_requests_total{model="claims_fraud",status="200",version="1"}' in text
    assert 'rpaml_score_requests_total{model="claims_fraud",status="422",version="1"}' in text
    assert 'rpaml_decisions_total{action="reject",model="claims_fraud",version="1"}' in text
    assert 'rpaml_score_latency_seconds_bucket{le="0.001",model="claims_fraud",version="1"}' in text
    assert "rpaml_batch_rows_bucket" in text
    assert 'rpaml_model_served{model="claims_fraud",runtime="onnxruntime",version="1"} 1.0' in text


def test_request_ids_are_echoed_or_made(client: TestClient) -> None:
    given = client.get("/v1/health", headers={"X-Request-ID": "abc-123"})
    made = client.get("/v1/health")

    assert given.headers["x-request-id"] == "abc-123"
    assert len(made.headers["x-request-id"]) == 32


@pytest.mark.parametrize(("n_rows", "explain"), [(50, False), (50, True), (150, True)])
def test_columnar_path_matches_the_record_path(
    client: TestClient, n_rows: int, explain: bool
) -> None:
    # 150 rows are validated and scored off the event loop; 50 on it.
    frame, _ = synthetic_claims(n_rows, seed=5)
    rows: list[dict[str, Any]] = frame.to_dict("records")  # type: ignore[assignment]
    columns = {name: frame[name].tolist() for name in frame.columns}
    ids = [f"r{i}" for i in range(len(rows))]

    by_columns = client.post(
        f"{SCORE}/columns", json={"ids": ids, "columns": columns, "explain": explain}
    ).json()
    by_records = client.post(
        SCORE, json={"records": [{"features": r} for r in rows], "explain": explain}
    ).json()

    assert by_columns["ids"] == ids
    assert by_columns["scores"] == [r["score"] for r in by_records["results"]]
    assert by_columns["decisions"] == [r["decision"] for r in by_records["results"]]
    assert by_columns["reasons"] == [r["reasons"] for r in by_records["results"]]
    assert any(len(reasons) > 1 for reasons in by_columns["reasons"]) is explain


def test_columnar_refusals_name_every_failing_field(client: TestClient) -> None:
    frame, _ = synthetic_claims(3, seed=5)
    columns = {name: frame[name].tolist() for name in frame.columns}
    uneven = client.post(f"{SCORE}/columns", json={"columns": {"amount": [1.0], "channel": []}})
    bad = client.post(f"{SCORE}/columns", json={"columns": {**columns, "amount": [1.0, "x", None]}})
    renamed = {**{k: v for k, v in columns.items() if k != "amount"}, "colour": ["r"] * 3}
    missing = client.post(f"{SCORE}/columns", json={"columns": renamed})
    extra = client.post(f"{SCORE}/columns", json={"columns": columns, "color": 1})

    assert uneven.status_code == bad.status_code == missing.status_code == 422
    assert [e["loc"] for e in bad.json()["detail"]] == [
        ["body", "records", 1, "features", "amount"]
    ]
    assert bad.json()["detail"][0]["input"] == "x"
    # A missing or unknown column is reported on every row, as on the record path.
    assert [(e["loc"][2], e["loc"][4], e["msg"]) for e in missing.json()["detail"]] == [
        (i, field, msg)
        for i in range(3)
        for field, msg in (
            ("amount", "field required (send null for an unknown value)"),
            ("colour", "unknown field"),
        )
    ]
    assert extra.status_code == 422
    assert extra.json()["detail"][0]["loc"] == ["body", "color"]


async def _hammer(url: str, clients: int, seconds: float) -> list[tuple[int, str]]:
    outcomes: list[tuple[int, str]] = []
    stop = time.monotonic() + seconds
    body = {"records": [{"features": HIGH_RISK}]}

    async def one(http: httpx.AsyncClient) -> None:
        while time.monotonic() < stop:
            response = await http.post(SCORE, json=body)
            version = response.json()["model_version"] if response.status_code == 200 else ""
            outcomes.append((response.status_code, version))

    async with httpx.AsyncClient(base_url=url, timeout=10, headers=HEADERS) as http:
        await asyncio.gather(*(one(http) for _ in range(clients)))
    return outcomes


def test_concurrent_requests_are_batched(registry_dir: Path) -> None:
    settings = keyed_settings(registry_dir=registry_dir, batch_wait_ms=2.0, reload_interval=0)
    with LiveServer(settings) as url:
        outcomes = asyncio.run(_hammer(url, clients=16, seconds=1.0))
        metrics = httpx.get(f"{url}/metrics", headers=HEADERS).text

    assert outcomes and {status for status, _ in outcomes} == {200}
    count = _metric(metrics, 'rpaml_batch_rows_count{model="claims_fraud",version="1"}')
    rows = _metric(metrics, 'rpaml_batch_rows_sum{model="claims_fraud",version="1"}')
    # More rows than batches: several requests were scored together.
    assert rows == len(outcomes) and count < rows


def test_promotion_switches_versions_under_load_without_failures(
    registry_copy: Path,
) -> None:
    registry = ModelRegistry(registry_copy)
    frame, labels = synthetic_claims(300, seed=4)
    new = train_model(frame, labels, registry.load("claims_fraud").schema, {"max_iter": 10})
    settings = keyed_settings(registry_dir=registry_copy, reload_interval=0.1)
    with LiveServer(settings) as url:

        async def scenario() -> list[tuple[int, str]]:
            load = asyncio.create_task(_hammer(url, clients=8, seconds=2.0))
            await asyncio.sleep(0.5)
            metadata = await asyncio.to_thread(
                registry.register,
                "claims_fraud",
                new.pipeline,
                schema=registry.load("claims_fraud").schema,
                policy=LOOSE_THRESHOLDS,
                training_data_hash="sha256:test",
                metrics=new.metrics,
                params={},
            )
            registry.promote("claims_fraud", metadata.version, reason="test", evidence={})
            return await load

        outcomes = asyncio.run(scenario())

    assert {status for status, _ in outcomes} == {200}
    versions = [version for _, version in outcomes]
    # Old version first, new version last, never back again.
    assert versions[0] == "1" and versions[-1] == "3"
    assert versions == sorted(versions)


def _metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not in metrics")
