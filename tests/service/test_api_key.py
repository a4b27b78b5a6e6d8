"""An optional API key protects the model routes; health stays open for probes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from claims_registry import LOW_RISK
from fastapi.testclient import TestClient
from pydantic import SecretStr

from rpaml_service.app import create_app
from rpaml_service.settings import ServiceSettings


@pytest.fixture(scope="module")
def keyed_client(registry_dir: Path) -> Iterator[TestClient]:
    settings = ServiceSettings(registry_dir=registry_dir, api_key=SecretStr("s3cret"))
    with TestClient(create_app(settings)) as client:
        yield client


def test_model_routes_need_the_key(keyed_client: TestClient) -> None:
    body = {"records": [{"features": LOW_RISK}]}

    missing = keyed_client.post("/v1/models/claims_fraud/score", json=body)
    wrong = keyed_client.get("/v1/models", headers={"X-API-Key": "guess"})
    right = keyed_client.post(
        "/v1/models/claims_fraud/score", json=body, headers={"X-API-Key": "s3cret"}
    )

    assert missing.status_code == 401
    assert wrong.status_code == 401
    assert "s3cret" not in wrong.text
    assert right.status_code == 200


def test_health_needs_no_key(keyed_client: TestClient) -> None:
    assert keyed_client.get("/v1/health").json()["ready"] is True
