"""The OpenAPI document describes every route and body."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_openapi_describes_routes_and_bodies(client: TestClient) -> None:
    response = client.get("/openapi.json")

    assert response.status_code == 200
    spec = response.json()
    assert set(spec["paths"]) == {
        "/v1/health",
        "/v1/health/ready",
        "/v1/models",
        "/v1/models/{name}",
        "/v1/models/{name}/score",
        "/v1/models/{name}/score/columns",
        "/v1/admin/reload",
        "/metrics",
    }
    score = spec["paths"]["/v1/models/{name}/score"]["post"]
    assert score["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ScoreRequest"
    }
    assert set(score["responses"]) == {"200", "401", "403", "404", "413", "422"}
    ok = score["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok == {"$ref": "#/components/schemas/ScoreResponse"}
    schemas = spec["components"]["schemas"]
    assert {"ScoreRecord", "ScoreResult", "HealthResponse", "ModelInfo", "FeatureSchema"} <= set(
        schemas
    )
    assert set(schemas["ScoreResult"]["required"]) == {
        "id",
        "score",
        "decision",
        "reasons",
        "model_version",
        "policy_version",
    }


def test_interactive_docs_are_served(client: TestClient) -> None:
    response = client.get("/docs")

    assert response.status_code == 200
    assert "swagger" in response.text.lower()
