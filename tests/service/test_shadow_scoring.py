"""Shadow scoring over HTTP: the challenger's decision beside the champion's, on request."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from claims_registry import PARAMS, SCHEMA, synthetic_claims
from live_server import LiveServer
from service_keys import HEADERS, keyed_settings

from rpaml_models import CostCell, DecisionPolicy, ModelRegistry, train_model, training_data_hash

SCORE = "/v1/models/claims_fraud/score"
# The challenger decides by costs (the champion by thresholds), so its expected costs and
# its own decisions are visible in every answer.
COSTS = DecisionPolicy(
    version="costs-1",
    kind="costs",
    actions=("approve", "escalate", "reject"),
    outcomes=("legitimate", "fraud"),
    costs={
        "approve": {"legitimate": CostCell(), "fraud": CostCell(per_unit=1.0)},
        "escalate": {"legitimate": CostCell(fixed=150), "fraud": CostCell(fixed=150)},
        "reject": {"legitimate": CostCell(fixed=2500), "fraud": CostCell()},
    },
    amount_feature="amount",
)


def _rows(n_rows: int, seed: int = 7) -> list[dict[str, Any]]:
    frame, _ = synthetic_claims(n_rows, seed=seed)
    return [{str(k): v for k, v in row.items()} for row in frame.to_dict("records")]


@pytest.fixture
def shadowed(registry_copy: Path) -> ModelRegistry:
    """The session registry (champion claims_fraud v1) with challenger v3: another model,
    trained on other claims, deciding by costs."""
    frame, labels = synthetic_claims(400, seed=5)
    result = train_model(frame, labels, SCHEMA, {**PARAMS, "max_iter": 25}, seed=5)
    registry = ModelRegistry(registry_copy)
    metadata = registry.register(
        "claims_fraud",
        result.pipeline,
        schema=SCHEMA,
        policy=COSTS,
        training_data_hash=training_data_hash(frame, labels),
        metrics=result.metrics,
        params=PARAMS,
    )
    assert metadata.version == "3"
    registry.set_challenger("claims_fraud", "3", reason="not promoted: no better")
    return registry


def _post(url: str, body: dict[str, Any], path: str = SCORE) -> dict[str, Any]:
    response = httpx.post(url + path, json=body, headers=HEADERS, timeout=30)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def test_the_challenger_decides_beside_the_champion_when_asked(shadowed: ModelRegistry) -> None:
    rows = _rows(12)
    records = [{"id": f"CLM-{i}", "features": row} for i, row in enumerate(rows)]
    challenger = shadowed.load("claims_fraud", "3").score(rows, explain=False).results
    with LiveServer(keyed_settings(registry_dir=shadowed.root)) as url:
        plain = _post(url, {"records": records})
        asked = _post(url, {"records": records, "shadow": True})

    assert [r["shadow"] for r in plain["results"]] == [None] * len(rows)
    # The champion's answer is the decision, unchanged by the shadow beside it.
    assert asked["model_version"] == "1"
    strip = [{k: v for k, v in r.items() if k != "shadow"} for r in asked["results"]]
    assert strip == [{k: v for k, v in r.items() if k != "shadow"} for r in plain["results"]]
    for result, expected in zip(asked["results"], challenger, strict=True):
        shadow = result["shadow"]
        assert (shadow["model_version"], shadow["policy_version"]) == ("3", "costs-1")
        assert shadow["score"] == pytest.approx(expected.score)
        assert shadow["decision"] == expected.action
        assert shadow["expected_costs"] == pytest.approx(expected.expected_costs)
    # Another model: some scores differ from the champion's.
    assert any(abs(r["shadow"]["score"] - r["score"]) > 1e-6 for r in asked["results"])


def test_a_large_columnar_batch_carries_the_challengers_columns(shadowed: ModelRegistry) -> None:
    rows = _rows(150, seed=8)  # more than the batcher's inline rows: scored alone
    ids = [f"CLM-{i}" for i in range(len(rows))]
    columns = {name: [row[name] for row in rows] for name in rows[0]}
    challenger = shadowed.load("claims_fraud", "3").score(rows, explain=False).results
    with LiveServer(keyed_settings(registry_dir=shadowed.root)) as url:
        asked = _post(url, {"ids": ids, "columns": columns, "shadow": True}, SCORE + "/columns")
        plain = _post(url, {"ids": ids, "columns": columns}, SCORE + "/columns")

    assert plain["shadow"] is None
    shadow = asked["shadow"]
    assert (shadow["model_version"], shadow["policy_version"]) == ("3", "costs-1")
    assert shadow["scores"] == pytest.approx([r.score for r in challenger])
    assert shadow["decisions"] == [r.action for r in challenger]
    assert shadow["expected_costs"] == [pytest.approx(r.expected_costs) for r in challenger]
    assert asked["decisions"] == plain["decisions"] and asked["model_version"] == "1"


def test_concurrent_requests_get_only_the_shadow_they_asked_for(
    shadowed: ModelRegistry,
) -> None:
    rows = _rows(32, seed=9)
    with LiveServer(keyed_settings(registry_dir=shadowed.root, batch_wait_ms=5)) as url:

        def one(index: int) -> tuple[int, dict[str, Any]]:
            body = {"records": [{"id": f"r{index}", "features": rows[index]}]}
            return index, _post(url, {**body, "shadow": index % 2 == 0})

        with ThreadPoolExecutor(max_workers=8) as pool:
            answers = list(pool.map(one, range(len(rows))))

    challenger = shadowed.load("claims_fraud", "3").score(rows, explain=False).results
    for index, answer in answers:
        [result] = answer["results"]
        assert result["id"] == f"r{index}"
        if index % 2:
            assert result["shadow"] is None
        else:
            assert result["shadow"]["score"] == pytest.approx(challenger[index].score)


def test_the_challenger_is_reloaded_and_cleared_like_the_champion(
    shadowed: ModelRegistry,
) -> None:
    body = {"records": [{"id": "CLM-1", "features": _rows(1)[0]}], "shadow": True}
    with LiveServer(keyed_settings(registry_dir=shadowed.root)) as url:
        assert _post(url, body)["results"][0]["shadow"]["model_version"] == "3"
        shadowed.set_challenger("claims_fraud", "2", reason="replaced")
        reload = httpx.post(url + "/v1/admin/reload", headers=HEADERS, timeout=30)
        assert reload.status_code == 200
        assert _post(url, body)["results"][0]["shadow"]["model_version"] == "2"
        # A promotion clears the pointer: asked or not, nothing is scored in shadow.
        shadowed.promote("claims_fraud", "2", reason="better", evidence={})
        httpx.post(url + "/v1/admin/reload", headers=HEADERS, timeout=30)
        answer = _post(url, body)
    assert answer["model_version"] == "2"
    assert answer["results"][0]["shadow"] is None


def test_health_names_the_challenger_and_why_one_cannot_be_loaded(
    shadowed: ModelRegistry,
) -> None:
    with LiveServer(keyed_settings(registry_dir=shadowed.root)) as url:
        served = httpx.get(url + "/v1/health", headers=HEADERS).json()["models"]
        assert served["claims_fraud"]["challenger"] == "3"
        assert served["claims_priority"]["challenger"] is None
        # A tampered challenger is refused; the champion goes on serving, without shadow.
        artifact = shadowed.root / "claims_fraud" / "2" / "model.joblib"
        artifact.write_bytes(artifact.read_bytes() + b"tampered")
        shadowed.set_challenger("claims_fraud", "2", reason="replaced")
        httpx.post(url + "/v1/admin/reload", headers=HEADERS, timeout=30)
        served = httpx.get(url + "/v1/health", headers=HEADERS).json()["models"]
        body = {"records": [{"id": "CLM-1", "features": _rows(1)[0]}], "shadow": True}
        answer = _post(url, body)
    assert served["claims_fraud"]["challenger"] is None
    assert "ArtifactIntegrityError" in served["claims_fraud"]["challenger_error"]
    assert answer["model_version"] == "1" and answer["results"][0]["shadow"] is None
