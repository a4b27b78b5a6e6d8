"""DecisionPolicy: thresholds, expected costs, validation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from rpaml_models import Decision, DecisionPolicy

THRESHOLDS = DecisionPolicy(version="t1", approve_below=0.3, reject_at_or_above=0.7)
COSTS = DecisionPolicy(
    version="c1",
    kind="costs",
    costs={
        "approve": {"fraud": 100.0, "legitimate": 0.0},
        "escalate": {"fraud": 10.0, "legitimate": 10.0},
        "reject": {"fraud": 0.0, "legitimate": 50.0},
    },
)


def test_thresholds_decide_with_readable_reasons():
    decisions = THRESHOLDS.decide([0.82, 0.7, 0.5, 0.3, 0.1])
    assert [d.action for d in decisions] == ["reject", "reject", "escalate", "escalate", "approve"]
    assert decisions[0] == Decision("reject", ("score 0.82 ≥ reject threshold 0.70",))
    assert decisions[2].reasons == (
        "score 0.50 between approve threshold 0.30 and reject threshold 0.70",
    )
    assert decisions[4].reasons == ("score 0.10 < approve threshold 0.30",)


@given(st.floats(min_value=0.0, max_value=1.0))
def test_threshold_action_matches_the_rule(score: float):
    (decision,) = THRESHOLDS.decide([score])
    expected = "reject" if score >= 0.7 else "approve" if score < 0.3 else "escalate"
    assert decision.action == expected


@pytest.mark.parametrize(
    ("low", "high"), [(0.8, 0.5), (-0.1, 0.5), (0.2, 1.5), (float("nan"), 0.5)]
)
def test_invalid_thresholds_are_refused_with_the_rule(low: float, high: float):
    with pytest.raises(ValidationError, match="0 <= approve_below <= reject_at_or_above <= 1"):
        DecisionPolicy(version="bad", approve_below=low, reject_at_or_above=high)


def test_incomplete_policies_are_refused():
    with pytest.raises(ValidationError, match="needs approve_below and reject_at_or_above"):
        DecisionPolicy(version="x", approve_below=0.2)
    with pytest.raises(ValidationError, match="needs a costs table"):
        DecisionPolicy(version="x", kind="costs")
    with pytest.raises(ValidationError, match="lacks outcome\\(s\\): legitimate"):
        DecisionPolicy(version="x", kind="costs", costs={"approve": {"fraud": 1.0}})
    with pytest.raises(ValidationError, match="needs amount_feature"):
        DecisionPolicy(
            version="x",
            kind="costs",
            costs={"approve": {"fraud": 1.0, "legitimate": 0.0}},
            amount_costs={"approve": {"fraud": 1.0, "legitimate": 0.0}},
        )
    with pytest.raises(ValidationError):
        DecisionPolicy(version="x", kind="costs", costs={"pay": {"fraud": 1.0, "legitimate": 0.0}})


def test_costs_choose_the_lowest_expected_cost():
    # p=0.01: approve 1.0, escalate 10, reject 49.5; p=0.5: 50 / 10 / 25; p=0.95: 95 / 10 / 2.5
    decisions = COSTS.decide([0.01, 0.5, 0.95])
    assert [d.action for d in decisions] == ["approve", "escalate", "reject"]
    assert decisions[1].reasons == (
        "expected cost of escalate 10.00 at score 0.50 is the lowest (approve 50.00, reject 25.00)",
    )


def test_costs_scaled_by_amount():
    policy = DecisionPolicy(
        version="c2",
        kind="costs",
        costs={
            "approve": {"fraud": 0.0, "legitimate": 0.0},
            "escalate": {"fraud": 25.0, "legitimate": 25.0},
        },
        amount_costs={"approve": {"fraud": 1.0, "legitimate": 0.0}},
        amount_feature="amount",
    )
    rows = [{"amount": 100.0}, {"amount": 50_000.0}, {"amount": None}]
    decisions = policy.decide([0.05, 0.05, 0.05], rows)
    # Approving costs 0.05 * amount: 5 for a small claim, 2500 for a large one.
    assert [d.action for d in decisions] == ["approve", "escalate", "approve"]
    assert decisions[1].reasons[1] == "costs scaled by amount=50000"
    assert decisions[2].reasons[1] == "amount missing: fixed costs only"
    with pytest.raises(ValueError, match="pass the scored rows"):
        policy.decide([0.05])


def test_scores_must_be_probabilities():
    with pytest.raises(ValueError, match="score 1 must be a probability"):
        THRESHOLDS.decide([0.5, 1.2])
    with pytest.raises(ValueError, match="score 0 must be a probability"):
        THRESHOLDS.decide([float("nan")])


def test_policy_round_trips_through_json():
    for policy in (THRESHOLDS, COSTS):
        assert DecisionPolicy.model_validate_json(policy.model_dump_json()) == policy


def test_a_batch_decides_as_each_score_alone() -> None:
    policy = DecisionPolicy(version="t", approve_below=0.3, reject_at_or_above=0.7)
    scores = [0.0, 0.299, 0.2999999, 0.3, 0.3, 0.5, 0.6999, 0.7, 0.70001, 1.0, 0.5]

    batch = policy.decide(scores)

    assert batch == [policy._by_threshold(score) for score in scores]
    assert [d.action for d in batch[:4]] == ["approve", "approve", "approve", "escalate"]
    # The same formatted score in two bands still gets each band's own reason.
    assert batch[2].reasons != batch[3].reasons
