"""The OpenAPI document describes every route and body, and the served models.

The ``client`` fixture sends a key: the document and the docs pages need one (any
scope; refusals are checked with every other route in test_api_key).
"""

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


def test_interactive_docs_are_served_to_key_holders(client: TestClient) -> None:
    swagger = client.get("/docs")
    redoc = client.get("/redoc")

    assert swagger.status_code == redoc.status_code == 200
    assert "swagger" in swagger.text.lower() and "/openapi.json" in swagger.text
    assert "redoc" in redoc.text.lower()


def test_openapi_offers_the_served_models_as_examples(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    models = {model["name"]: model for model in client.get("/v1/models").json()}

    for path in ("/v1/models/{name}/score", "/v1/models/{name}/score/columns"):
        operation = spec["paths"][path]["post"]
        [parameter] = [p for p in operation["parameters"] if p["in"] == "path"]
        assert {k: v["value"] for k, v in parameter["examples"].items()} == {
            name: name for name in models
        }
        bodies = operation["requestBody"]["content"]["application/json"]["examples"]
        assert set(bodies) == set(models)
        for name, example in bodies.items():
            # Each example body fits its model: the service scores it.
            scored = client.post(path.replace("{name}", name), json=example["value"])
            assert scored.status_code == 200, scored.text
            features = {f["name"] for f in models[name]["feature_schema"]["features"]}
            value = example["value"]
            sent = value["records"][0]["features"] if "records" in value else value["columns"]
            assert set(sent) == features


def test_openapi_declares_the_key_on_every_operation_but_health(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()

    scheme = spec["components"]["securitySchemes"]["APIKeyHeader"]
    assert (scheme["type"], scheme["in"], scheme["name"]) == ("apiKey", "header", "X-API-Key")
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            keyed = operation.get("security") == [{"APIKeyHeader": []}]
            assert keyed is not path.startswith("/v1/health"), f"{method.upper()} {path}"
