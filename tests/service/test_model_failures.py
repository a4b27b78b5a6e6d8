"""A model that cannot be loaded is reported in health and not served; the rest still is."""

from __future__ import annotations

import json
from pathlib import Path

from claims_registry import LOW_RISK
from fastapi.testclient import TestClient
from service_keys import HEADERS, keyed_settings

from rpaml_service.app import create_app


def test_tampered_artifact_is_reported_and_not_served(registry_copy: Path) -> None:
    artifact = registry_copy / "claims_fraud" / "1" / "model.joblib"
    artifact.write_bytes(artifact.read_bytes() + b"tampered")

    with TestClient(
        create_app(keyed_settings(registry_dir=registry_copy)), headers=HEADERS
    ) as client:
        health = client.get("/v1/health").json()
        listed = [model["name"] for model in client.get("/v1/models").json()]
        refused = client.post(
            "/v1/models/claims_fraud/score", json={"records": [{"features": LOW_RISK}]}
        )
        served = client.post(
            "/v1/models/claims_priority/score", json={"records": [{"features": LOW_RISK}]}
        )

    error = health["models"]["claims_fraud"]["error"]
    assert error.startswith("ArtifactIntegrityError")
    assert "SHA-256 mismatch" in error
    priority = health["models"]["claims_priority"]
    assert (priority["version"], priority["policy_version"]) == ("1", "thresholds-2")
    # Another model still serves, so the service is ready.
    assert health["ready"] is True
    assert listed == ["claims_priority"]
    assert refused.status_code == 404
    assert refused.json() == {
        "detail": "model 'claims_fraud' is not loaded; loaded: ['claims_priority']"
    }
    assert served.status_code == 200


def test_library_mismatch_is_reported_and_not_served(registry_copy: Path) -> None:
    metadata_path = registry_copy / "claims_priority" / "1" / "metadata.json"
    metadata = json.loads(metadata_path.read_text())
    metadata["library_versions"]["sklearn"] = "0.24.2"
    metadata_path.write_text(json.dumps(metadata))

    with TestClient(
        create_app(keyed_settings(registry_dir=registry_copy)), headers=HEADERS
    ) as client:
        health = client.get("/v1/health").json()

    error = health["models"]["claims_priority"]["error"]
    assert error.startswith("LibraryMismatchError")
    assert "0.24.2" in error
    assert "version" in health["models"]["claims_fraud"]


def test_requested_model_without_champion_is_reported(registry_dir: Path) -> None:
    settings = keyed_settings(registry_dir=registry_dir, models=["claims_draft", "claims_fraud"])

    with TestClient(create_app(settings), headers=HEADERS) as client:
        health = client.get("/v1/health").json()

    assert health["ready"] is True
    assert health["models"]["claims_draft"]["error"].startswith("ModelNotFoundError")
    assert "no champion" in health["models"]["claims_draft"]["error"]


def test_when_every_model_fails_the_service_starts_but_is_not_ready(registry_copy: Path) -> None:
    for name in ("claims_fraud", "claims_priority"):
        (registry_copy / name / "1" / "model.joblib").write_bytes(b"not a model")

    with TestClient(
        create_app(keyed_settings(registry_dir=registry_copy)), headers=HEADERS
    ) as client:
        health = client.get("/v1/health").json()

    assert health["ready"] is False
    assert set(health["models"]) == {"claims_fraud", "claims_priority"}
    assert all("error" in entry for entry in health["models"].values())


def test_tampered_compiled_artifact_is_refused(registry_copy: Path) -> None:
    compiled = registry_copy / "claims_fraud" / "1" / "model.onnx"
    compiled.write_bytes(compiled.read_bytes() + b"x")

    with TestClient(
        create_app(keyed_settings(registry_dir=registry_copy)), headers=HEADERS
    ) as client:
        health = client.get("/v1/health").json()
        metrics = client.get("/metrics").text

    error = health["models"]["claims_fraud"]["error"]
    assert error.startswith("ArtifactIntegrityError") and "model.onnx" in error
    assert 'rpaml_model_load_failures_total{model="claims_fraud"} 1.0' in metrics
