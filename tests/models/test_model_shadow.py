"""Shadow scoring: the challenger's decisions on the rows the champion validated are the
decisions it would take scoring those rows itself."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from rpaml_models import (
    CostCell,
    DecisionPolicy,
    FeatureSchema,
    FeatureSpec,
    LoadedModel,
    ModelRegistry,
    train_model,
    training_data_hash,
)
from rpaml_models.shadow import score_in_shadow

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


Claims = Callable[[int, int], tuple[pd.DataFrame, np.ndarray]]


@pytest.fixture
def load(tmp_path: Path, claims_factory: Claims) -> Callable[..., LoadedModel]:
    """Train, register and load a version of claims_fraud with ``schema`` and ``policy``."""

    def loaded(
        schema: FeatureSchema, policy: DecisionPolicy, seed: int, compile: bool = True
    ) -> LoadedModel:
        return _load(tmp_path, claims_factory, schema, policy, seed, compile)

    return loaded


def _load(
    root: Path,
    make_claims: Claims,
    schema: FeatureSchema,
    policy: DecisionPolicy,
    seed: int,
    compile: bool,
) -> LoadedModel:
    frame, labels = make_claims(600, seed)
    extra = {name: frame["amount"] / 10 for name in schema.names if name not in frame}
    frame = frame.assign(**extra)[list(schema.names)]
    result = train_model(frame, labels, schema, {"max_iter": 30}, seed=seed)
    registry = ModelRegistry(root)
    metadata = registry.register(
        "claims_fraud",
        result.pipeline,
        schema=schema,
        policy=policy,
        training_data_hash=training_data_hash(frame, labels),
        metrics=result.metrics,
        params={},
        compile=compile,
    )
    return registry.load("claims_fraud", metadata.version)


def _rows(make_claims: Claims, n: int) -> list[dict[str, Any]]:
    frame, _ = make_claims(n, 21)
    rows: list[dict[str, Any]] = [
        {str(k): v for k, v in row.items()} for row in frame.to_dict("records")
    ]
    rows[0]["amount"] = None  # no amount: fixed costs only, as the champion's policy does
    return rows


@pytest.mark.parametrize("compile", [True, False], ids=["compiled", "scikit-learn"])
def test_shadow_decisions_are_the_challengers_own(
    load: Callable[..., LoadedModel], schema: FeatureSchema, claims_factory: Claims, compile: bool
) -> None:
    champion = load(schema, COSTS, seed=1)
    challenger = load(schema, COSTS, seed=2, compile=compile)
    assert challenger.encodes_like(champion) is compile
    rows = _rows(claims_factory, 80)
    validated, issues = champion.validate(rows)
    assert validated is not None, issues

    shadow = score_in_shadow(challenger, champion, validated)
    own = challenger.score(rows, explain=False).results

    assert shadow is not None and len(shadow) == len(rows)
    assert (shadow.version, shadow.policy_version) == (challenger.version, "costs-1")
    assert shadow.scores == pytest.approx([r.score for r in own])
    assert shadow.actions == [r.action for r in own]
    assert shadow.expected_costs == [pytest.approx(r.expected_costs) for r in own]
    # Another model: its scores are not the champion's.
    champions = champion.score_validated(validated, explain=False)
    assert shadow.scores != pytest.approx([r.score for r in champions])
    part = shadow.part(10, 20)
    assert part.scores == shadow.scores[10:20] and part.actions == shadow.actions[10:20]


def test_a_challenger_on_other_features_validates_the_rows_itself(
    load: Callable[..., LoadedModel], schema: FeatureSchema, claims_factory: Claims
) -> None:
    champion = load(schema, COSTS, seed=1)
    fewer = FeatureSchema(features=schema.features[:5])  # without region
    thresholds = DecisionPolicy(
        version="thresholds-1", actions=("approve", "escalate", "reject"), lower=0.2, upper=0.7
    )
    challenger = load(fewer, thresholds, seed=2)
    rows = _rows(claims_factory, 30)
    validated, _ = champion.validate(rows)
    assert validated is not None

    shadow = score_in_shadow(challenger, champion, validated)
    own = challenger.score([{k: r[k] for k in fewer.names} for r in rows], explain=False)

    assert shadow is not None and shadow.expected_costs is None
    assert shadow.scores == pytest.approx([r.score for r in own.results])
    assert shadow.actions == [r.action for r in own.results]


def test_rows_the_challenger_refuses_give_no_shadow(
    load: Callable[..., LoadedModel], schema: FeatureSchema, claims_factory: Claims
) -> None:
    champion = load(schema, COSTS, seed=1)
    wider = FeatureSchema(
        features=(*schema.features, FeatureSpec(name="claimant_income", kind="numeric"))
    )
    challenger = load(wider, COSTS, seed=2)
    # The champion's rows: no claimant_income, which the challenger needs.
    validated, _ = champion.validate(_rows(claims_factory, 5))
    assert validated is not None

    assert score_in_shadow(challenger, champion, validated) is None
