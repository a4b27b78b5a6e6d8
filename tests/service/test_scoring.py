"""Scoring: one record, batches, versions, decisions and every kind of refusal."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from claims_registry import HIGH_RISK, LOW_RISK, THRESHOLDS, synthetic_claims
from fastapi.testclient import TestClient
from service_keys import HEADERS, keyed_settings

from rpaml_models import ModelRegistry
from rpaml_service.app import create_app

SCORE_FRAUD = "/v1/models/claims_fraud/score"


def _expected_action(score: float) -> str:
    assert THRESHOLDS.lower is not None
    assert THRESHOLDS.upper is not None
    if score >= THRESHOLDS.upper:
        return "reject"
    if score < THRESHOLDS.lower:
        return "approve"
    return "escalate"


def _rows(n_rows: int) -> list[dict[str, Any]]:
    frame, _ = synthetic_claims(n_rows, seed=99)
    # to_dict gives native Python values, as decoded JSON would be.
    return [{str(k): v for k, v in row.items()} for row in frame.to_dict("records")]


def test_score_one_record(client: TestClient) -> None:
    response = client.post(
        SCORE_FRAUD, json={"records": [{"id": "CLM-1", "features": HIGH_RISK}], "explain": True}
    )

    assert response.status_code == 200
    body = response.json()
    assert body["model"] == "claims_fraud"
    assert body["model_version"] == "1"
    assert body["policy_version"] == "thresholds-1"
    [result] = body["results"]
    assert result["id"] == "CLM-1"
    assert 0.0 <= result["score"] <= 1.0
    assert result["decision"] == _expected_action(result["score"]) == "reject"
    assert result["model_version"] == "1"
    assert result["policy_version"] == "thresholds-1"
    # The policy's reason first, then the features that raised the score.
    assert result["reasons"][0].startswith("score ")
    assert any("raises the score" in reason for reason in result["reasons"][1:])


def test_model_reasons_only_when_asked(client: TestClient) -> None:
    records = [{"id": "CLM-1", "features": HIGH_RISK}, {"id": "CLM-2", "features": LOW_RISK}]

    plain = client.post(SCORE_FRAUD, json={"records": records}).json()["results"]
    explained = client.post(SCORE_FRAUD, json={"records": records, "explain": True}).json()[
        "results"
    ]

    # Without explain: the policy's reason alone; the score and decision are the same.
    assert [len(r["reasons"]) for r in plain] == [1, 1]
    assert [r["score"] for r in plain] == [r["score"] for r in explained]
    assert [r["decision"] for r in plain] == [r["decision"] for r in explained]
    assert [r["reasons"][0] for r in plain] == [r["reasons"][0] for r in explained]
    assert any("raises the score" in reason for reason in explained[0]["reasons"][1:])


def test_malformed_bodies_are_422_located_in_the_body(client: TestClient) -> None:
    not_json = client.post(
        SCORE_FRAUD, content=b"{not json", headers={"content-type": "application/json"}
    )
    empty = client.post(SCORE_FRAUD, json={"records": []})
    wrong = client.post(
        SCORE_FRAUD, json={"records": [{"id": 7, "features": LOW_RISK}, {"id": "x"}]}
    )

    assert not_json.status_code == empty.status_code == wrong.status_code == 422
    assert not_json.json()["detail"][0]["type"] == "json_invalid"
    assert [tuple(e["loc"]) for e in empty.json()["detail"]] == [("body", "records")]
    assert [tuple(e["loc"]) for e in wrong.json()["detail"]] == [
        ("body", "records", 0, "id"),
        ("body", "records", 1, "features"),
    ]


def test_score_batch_keeps_order_ids_and_matches_the_registry_model(
    client: TestClient, registry_dir: Path
) -> None:
    rows = [*_rows(80), LOW_RISK, HIGH_RISK]
    records = [{"id": f"CLM-{i:03d}", "features": row} for i, row in enumerate(rows)]
    # An id is optional; a record without one comes back with null.
    records.append({"features": LOW_RISK})

    response = client.post(SCORE_FRAUD, json={"records": records})

    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["id"] for r in results] == [r.get("id") for r in records]
    expected = ModelRegistry(registry_dir).load("claims_fraud").score([*rows, LOW_RISK]).results
    assert [r["score"] for r in results] == pytest.approx([e.score for e in expected])
    assert [r["decision"] for r in results] == [_expected_action(r["score"]) for r in results]
    assert {r["decision"] for r in results} == {"approve", "escalate", "reject"}
    assert {(r["model_version"], r["policy_version"]) for r in results} == {("1", "thresholds-1")}


def test_each_model_decides_with_its_own_policy(client: TestClient) -> None:
    response = client.post(
        "/v1/models/claims_priority/score", json={"records": [{"features": LOW_RISK}]}
    )

    assert response.json()["policy_version"] == "thresholds-2"
    assert response.json()["results"][0]["reasons"][0].endswith("approve threshold 0.50")


def test_unknown_model_is_404_naming_the_loaded_ones(client: TestClient) -> None:
    response = client.post("/v1/models/nope/score", json={"records": [{"features": LOW_RISK}]})

    assert response.status_code == 404
    assert response.json() == {
        "detail": "model 'nope' is not loaded; loaded: ['claims_fraud', 'claims_priority']"
    }


def test_invalid_features_are_422_naming_every_failing_field(client: TestClient) -> None:
    records = [
        {"id": "ok", "features": LOW_RISK},
        {
            "id": "bad-1",
            "features": {"amount": "lots", "prior_claims": 1, "channel": 7, "police_report": "y"},
        },
        {"id": "ok-2", "features": HIGH_RISK},
        {"id": "bad-3", "features": {"amount": 10.0, "channel": "web", "colour": "red"}},
    ]

    response = client.post(SCORE_FRAUD, json={"records": records})

    assert response.status_code == 422
    detail = response.json()["detail"]
    assert [tuple(error["loc"]) for error in detail] == [
        ("body", "records", 1, "features", "amount"),
        ("body", "records", 1, "features", "channel"),
        ("body", "records", 1, "features", "police_report"),
        ("body", "records", 3, "features", "prior_claims"),
        ("body", "records", 3, "features", "police_report"),
        ("body", "records", 3, "features", "colour"),
    ]
    assert all(error["msg"] and error["type"] for error in detail)
    assert detail[0]["msg"] == "must be a number, got string"
    assert detail[0]["input"] == "lots"
    assert "required" in detail[3]["msg"]
    assert detail[5]["msg"] == "unknown field"


def test_malformed_body_is_422_in_the_same_shape(client: TestClient) -> None:
    response = client.post(SCORE_FRAUD, json={"records": [{"id": 5, "features": []}]})

    assert response.status_code == 422
    locs = [tuple(error["loc"]) for error in response.json()["detail"]]
    assert ("body", "records", 0, "id") in locs
    assert ("body", "records", 0, "features") in locs


def test_empty_batch_is_422(client: TestClient) -> None:
    response = client.post(SCORE_FRAUD, json={"records": []})

    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "records"]
    assert error["type"] == "too_short"


def test_batch_larger_than_max_batch_is_422(registry_dir: Path) -> None:
    settings = keyed_settings(registry_dir=registry_dir, max_batch=3)
    records = [{"features": LOW_RISK}] * 4

    with TestClient(create_app(settings), headers=HEADERS) as client:
        too_many = client.post(SCORE_FRAUD, json={"records": records})
        at_limit = client.post(SCORE_FRAUD, json={"records": records[:3]})

    assert too_many.status_code == 422
    [error] = too_many.json()["detail"]
    assert error["loc"] == ["body", "records"]
    assert error["type"] == "too_long"
    assert error["msg"] == "a scoring request may carry at most 3 records, got 4; split the batch"
    assert at_limit.status_code == 200
