"""Model listing: what each served model expects and how it was trained."""

from __future__ import annotations

from datetime import datetime

from fastapi.testclient import TestClient


def test_list_models_describes_every_served_model(client: TestClient) -> None:
    response = client.get("/v1/models")

    assert response.status_code == 200
    models = response.json()
    assert [m["name"] for m in models] == ["claims_fraud", "claims_priority"]
    fraud = models[0]
    assert fraud["version"] == "1"
    assert fraud["policy_version"] == "thresholds-1"
    assert [f["name"] for f in fraud["feature_schema"]["features"]] == [
        "amount",
        "prior_claims",
        "channel",
        "police_report",
    ]
    assert fraud["feature_schema"]["features"][2]["kind"] == "categorical"
    assert fraud["feature_schema"]["features"][2]["categories"] == ["web", "phone", "agent"]
    assert set(fraud["metrics"]) >= {"roc_auc", "log_loss"}
    datetime.fromisoformat(fraud["trained_at"])
    assert fraud["policy"]["lower"] == 0.3
    assert fraud["policy"]["upper"] == 0.7


def test_get_one_model(client: TestClient) -> None:
    response = client.get("/v1/models/claims_priority")

    assert response.status_code == 200
    assert response.json()["name"] == "claims_priority"
    assert response.json()["policy_version"] == "thresholds-2"


def test_unpromoted_and_unknown_models_are_404(client: TestClient) -> None:
    draft = client.get("/v1/models/claims_draft")
    invalid = client.get("/v1/models/Not..A..Name")

    assert draft.status_code == 404
    assert draft.json() == {
        "detail": "model 'claims_draft' is not loaded; loaded: ['claims_fraud', 'claims_priority']"
    }
    assert invalid.status_code == 404
