"""DecisionPolicy: thresholds, expected costs against hand-computed figures, validation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from rpaml_models import CostCell, Decision, DecisionPolicy

ACTIONS = ("pay", "review", "deny")
THRESHOLDS = DecisionPolicy(version="t1", actions=ACTIONS, lower=0.3, upper=0.7)
# The table with neutral names: paying a bad case costs its amount, a review 150,
# denying a good case 2,500.
COSTS = DecisionPolicy(
    version="c1",
    kind="costs",
    actions=ACTIONS,
    outcomes=("good", "bad"),
    costs={
        "pay": {"bad": CostCell(per_unit=1.0), "good": CostCell()},
        "review": {"bad": CostCell(fixed=150), "good": CostCell(fixed=150)},
        "deny": {"bad": CostCell(), "good": CostCell(fixed=2500)},
    },
    amount_feature="amount",
)


def test_thresholds_decide_with_readable_reasons():
    decisions = THRESHOLDS.decide([0.82, 0.7, 0.5, 0.3, 0.1])
    assert [d.action for d in decisions] == ["deny", "deny", "review", "review", "pay"]
    assert decisions[0] == Decision("deny", ("score 0.82 ≥ deny threshold 0.70",))
    assert decisions[2].reasons == (
        "score 0.50 between pay threshold 0.30 and deny threshold 0.70",
    )
    assert decisions[4].reasons == ("score 0.10 < pay threshold 0.30",)


@given(st.floats(min_value=0.0, max_value=1.0))
def test_threshold_action_matches_the_rule(score: float):
    (decision,) = THRESHOLDS.decide([score])
    expected = "deny" if score >= 0.7 else "pay" if score < 0.3 else "review"
    assert decision.action == expected


@pytest.mark.parametrize(
    ("low", "high"), [(0.8, 0.5), (-0.1, 0.5), (0.2, 1.5), (float("nan"), 0.5)]
)
def test_invalid_thresholds_are_refused_with_the_rule(low: float, high: float):
    with pytest.raises(ValidationError, match="0 <= lower <= upper <= 1"):
        DecisionPolicy(version="bad", actions=ACTIONS, lower=low, upper=high)


def test_the_policy_choice_matches_hand_computed_expected_costs():
    rows = [{"amount": 6200.0}, {"amount": 1000.0}, {"amount": 500.0}, {"amount": 40_000.0}]
    decisions = COSTS.decide([0.05, 0.01, 0.9, 0.5], rows)
    # p=0.05, 6,200: pay 0.05*6200=310, review 150, deny 0.95*2500=2375 -> review
    assert decisions[0].reasons == ("expected cost: pay 310, review 150, deny 2,375 -> review",)
    assert decisions[0].expected_costs == pytest.approx(
        {"pay": 310.0, "review": 150.0, "deny": 2375.0}
    )
    # p=0.01, 1,000: pay 10 -> pay; p=0.9, 500: pay 450, review 150, deny 250 -> review
    # p=0.5, 40,000: pay 20,000, review 150, deny 1,250 -> review
    assert [d.action for d in decisions] == ["review", "pay", "review", "review"]
    # p=0.97 makes denying (75) cheaper than reviewing.
    (deny,) = COSTS.decide([0.97], [{"amount": 500.0}])
    assert deny.action == "deny"
    assert deny.expected_costs == pytest.approx({"pay": 485.0, "review": 150.0, "deny": 75.0})


def test_vectorised_choice_agrees_with_decide():
    rng = np.random.default_rng(3)
    scores = rng.random(500)
    amounts = rng.lognormal(8, 1.2, 500)
    rows = [{"amount": float(a)} for a in amounts]
    chosen = COSTS.choose(scores, amounts)
    assert [ACTIONS[i] for i in chosen] == [d.action for d in COSTS.decide(scores.tolist(), rows)]
    assert [ACTIONS[i] for i in THRESHOLDS.choose(scores)] == [
        d.action for d in THRESHOLDS.decide(scores.tolist())
    ]


def test_a_missing_amount_counts_the_fixed_costs_only():
    (decision,) = COSTS.decide([0.05], [{"amount": None}])
    assert decision.action == "pay"
    assert decision.expected_costs == pytest.approx({"pay": 0.0, "review": 150.0, "deny": 2375.0})
    with pytest.raises(ValueError, match="pass the scored rows"):
        COSTS.decide([0.05])


def test_incomplete_policies_are_refused():
    with pytest.raises(ValidationError, match="three actions, lower and upper"):
        DecisionPolicy(version="x", actions=ACTIONS, lower=0.2)
    with pytest.raises(ValidationError, match="needs outcomes and a costs table"):
        DecisionPolicy(version="x", kind="costs", actions=ACTIONS)
    cell = CostCell(fixed=1)
    with pytest.raises(ValidationError, match="missing \\['deny'\\]"):
        DecisionPolicy(
            version="x",
            kind="costs",
            actions=ACTIONS,
            outcomes=("good", "bad"),
            costs={a: {"good": cell, "bad": cell} for a in ACTIONS[:2]},
        )
    with pytest.raises(ValidationError, match="missing \\['bad'\\]"):
        DecisionPolicy(
            version="x",
            kind="costs",
            actions=ACTIONS,
            outcomes=("good", "bad"),
            costs={a: {"good": cell} for a in ACTIONS},
        )
    with pytest.raises(ValidationError, match="need amount_feature"):
        DecisionPolicy(
            version="x",
            kind="costs",
            actions=("pay",),
            outcomes=("good", "bad"),
            costs={"pay": {"good": cell, "bad": CostCell(per_unit=1)}},
        )
    with pytest.raises(ValidationError):
        CostCell(fixed=-1)


def test_scores_must_be_probabilities():
    with pytest.raises(ValueError, match="score 1 must be a probability"):
        THRESHOLDS.decide([0.5, 1.2])
    with pytest.raises(ValueError, match="score 0 must be a probability"):
        THRESHOLDS.decide([float("nan")])


def test_policy_round_trips_through_json():
    for policy in (THRESHOLDS, COSTS):
        assert DecisionPolicy.model_validate_json(policy.model_dump_json()) == policy


def test_a_batch_decides_as_each_score_alone() -> None:
    scores = [0.0, 0.299, 0.2999999, 0.3, 0.3, 0.5, 0.6999, 0.7, 0.70001, 1.0, 0.5]

    batch = THRESHOLDS.decide(scores)

    assert batch == [THRESHOLDS._by_threshold(score) for score in scores]
    assert [d.action for d in batch[:4]] == ["pay", "pay", "pay", "review"]
    # The same formatted score in two bands still gets each band's own reason.
    assert batch[2].reasons != batch[3].reasons
