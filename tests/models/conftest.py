"""Shared fixtures: a learnable synthetic claims data set and a model trained on it.

The label is driven by ``prior_claims`` (strongly), ``police_report`` (a report lowers
the risk) and ``channel == "phone"``; ``amount`` and ``claimant_age`` are noise. That
makes the expected explanations known in advance.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from rpaml_models import (
    DecisionPolicy,
    FeatureSchema,
    FeatureSpec,
    TrainingResult,
    train_model,
)

SCHEMA = FeatureSchema(
    features=(
        FeatureSpec(name="amount", kind="numeric", description="claimed amount"),
        FeatureSpec(name="prior_claims", kind="numeric"),
        FeatureSpec(name="claimant_age", kind="numeric"),
        FeatureSpec(name="police_report", kind="boolean"),
        FeatureSpec(name="channel", kind="categorical", categories=("web", "phone", "agent")),
        FeatureSpec(name="region", kind="categorical"),
    )
)
PARAMS = {"max_iter": 60, "learning_rate": 0.15}


def make_claims(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "amount": rng.lognormal(8.0, 1.0, n).round(2),
            "prior_claims": rng.poisson(1.0, n).astype(float),
            "claimant_age": rng.integers(18, 90, n).astype(float),
            "police_report": rng.random(n) < 0.5,
            "channel": rng.choice(["web", "phone", "agent"], n),
            "region": rng.choice(["north", "south", "east", "west"], n),
        }
    )
    logit = (
        -2.5
        + 1.4 * frame["prior_claims"]
        - 1.5 * frame["police_report"]
        + 1.2 * (frame["channel"] == "phone")
    )
    labels = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype(int)
    return frame, labels.to_numpy()


@pytest.fixture(scope="session")
def claims_factory() -> Callable[[int, int], tuple[pd.DataFrame, np.ndarray]]:
    return make_claims


@pytest.fixture(scope="session")
def schema() -> FeatureSchema:
    return SCHEMA


@pytest.fixture(scope="session")
def params() -> dict[str, object]:
    return dict(PARAMS)


@pytest.fixture(scope="session")
def claims() -> tuple[pd.DataFrame, np.ndarray]:
    return make_claims(1200, seed=11)


@pytest.fixture(scope="session")
def trained(claims: tuple[pd.DataFrame, np.ndarray]) -> TrainingResult:
    frame, labels = claims
    return train_model(frame, labels, SCHEMA, PARAMS, seed=3)


@pytest.fixture
def policy() -> DecisionPolicy:
    return DecisionPolicy(
        version="thresholds-1", actions=("approve", "escalate", "reject"), lower=0.2, upper=0.7
    )
