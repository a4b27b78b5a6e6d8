"""Health and readiness of the scoring service."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from service_keys import HEADERS, keyed_settings

from rpaml_service.app import create_app


def test_health_lists_every_served_champion_with_versions(client: TestClient) -> None:
    response = client.get("/v1/health")

    assert response.status_code == 200
    body = response.json()
    served = {
        name: (model["version"], model["policy_version"], model["runtime"])
        for name, model in body["models"].items()
    }
    assert (body["status"], body["ready"]) == ("ok", True)
    # The champion (version 1) is served, not the newest version (2), on the compiled
    # path because its parity check at registration passed.
    assert served == {
        "claims_fraud": ("1", "thresholds-1", "onnxruntime"),
        "claims_priority": ("1", "thresholds-2", "onnxruntime"),
    }
    assert "0 differing decision(s)" in body["models"]["claims_fraud"]["runtime_reason"]


def test_readiness_probe_answers_200_when_ready(client: TestClient) -> None:
    response = client.get("/v1/health/ready")

    assert response.status_code == 200
    assert response.json()["ready"] is True


def test_not_ready_before_the_lifespan_has_loaded_the_models(registry_dir: Path) -> None:
    app = create_app(keyed_settings(registry_dir=registry_dir))
    # Without the context manager, TestClient does not run the lifespan.
    unstarted = TestClient(app, headers=HEADERS)

    health = unstarted.get("/v1/health")
    probe = unstarted.get("/v1/health/ready")

    assert health.status_code == 200
    assert health.json() == {"status": "ok", "ready": False, "models": {}}
    assert probe.status_code == 503


def test_only_the_named_models_are_loaded(registry_dir: Path) -> None:
    settings = keyed_settings(registry_dir=registry_dir, models=["claims_priority"])

    with TestClient(create_app(settings), headers=HEADERS) as client:
        models = client.get("/v1/health").json()["models"]

    assert list(models) == ["claims_priority"]


def test_an_empty_registry_starts_but_is_not_ready(tmp_path: Path) -> None:
    with TestClient(
        create_app(keyed_settings(registry_dir=tmp_path / "empty")), headers=HEADERS
    ) as client:
        health = client.get("/v1/health").json()
        probe = client.get("/v1/health/ready")

    assert health == {"status": "ok", "ready": False, "models": {}}
    assert probe.status_code == 503


def test_without_a_key_health_says_only_alive_and_ready(client: TestClient) -> None:
    """The probes answer everyone, but the deployment's models, versions and load errors
    only to a caller with a known key (of any scope)."""
    anonymous = client.get("/v1/health", headers={"X-API-Key": ""})
    unknown = client.get("/v1/health/ready", headers={"X-API-Key": "not-a-key"})
    keyed = client.get("/v1/health")

    assert anonymous.status_code == unknown.status_code == 200
    assert anonymous.json() == unknown.json() == {"status": "ok", "ready": True, "models": None}
    assert set(keyed.json()["models"]) == {"claims_fraud", "claims_priority"}
