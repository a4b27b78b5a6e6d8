"""The small claims registry the service tests train once per session.

A module of its own (not conftest) so test modules can import its constants.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from rpaml_models import (
    DecisionPolicy,
    FeatureSchema,
    FeatureSpec,
    ModelRegistry,
    train_model,
    training_data_hash,
)

SCHEMA = FeatureSchema(
    features=(
        FeatureSpec(name="amount", kind="numeric"),
        FeatureSpec(name="prior_claims", kind="numeric"),
        FeatureSpec(name="channel", kind="categorical", categories=("web", "phone", "agent")),
        FeatureSpec(name="police_report", kind="boolean"),
    )
)
THRESHOLDS = DecisionPolicy(
    version="thresholds-1", actions=("approve", "escalate", "reject"), lower=0.3, upper=0.7
)
LOOSE_THRESHOLDS = DecisionPolicy(
    version="thresholds-2", actions=("approve", "escalate", "reject"), lower=0.5, upper=0.9
)
# Small and fast: the tests check behaviour, not model quality.
PARAMS = {"max_iter": 40, "min_samples_leaf": 10}

# Feature rows for the extremes of the synthetic data: clearly legitimate, clearly fraud.
LOW_RISK = {"amount": 300.0, "prior_claims": 0, "channel": "agent", "police_report": True}
HIGH_RISK = {"amount": 9500.0, "prior_claims": 6, "channel": "phone", "police_report": False}


def synthetic_claims(n_rows: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Claims whose fraud odds rise with amount and prior claims, fall with a police report."""
    rng = np.random.default_rng(seed)
    amount = rng.uniform(100, 10_000, n_rows)
    prior = rng.integers(0, 7, n_rows)
    channel = rng.choice(["web", "phone", "agent"], n_rows)
    police = rng.random(n_rows) < 0.5
    logit = -4.0 + amount / 2000 + 0.6 * prior - 1.5 * police + 0.8 * (channel == "phone")
    labels = (rng.random(n_rows) < 1 / (1 + np.exp(-logit))).astype(int)
    frame = pd.DataFrame(
        {"amount": amount, "prior_claims": prior, "channel": channel, "police_report": police}
    )
    return frame, labels


def build_registry(root: Path) -> Path:
    """Fill ``root`` with:

    * ``claims_fraud`` versions 1 and 2, champion 1 (the champion is served, not the newest);
    * ``claims_priority`` version 1, champion, with another policy;
    * ``claims_draft`` version 1, never promoted (not served).

    One model is trained and registered under every name: training is the slow part,
    and the tests tell the entries apart by name, version and policy.
    """
    frame, labels = synthetic_claims(500, seed=1)
    result = train_model(frame, labels, SCHEMA, PARAMS, seed=1)
    data_hash = training_data_hash(frame, labels)
    registry = ModelRegistry(root)

    def register(name: str, policy: DecisionPolicy) -> str:
        metadata = registry.register(
            name,
            result.pipeline,
            schema=SCHEMA,
            policy=policy,
            training_data_hash=data_hash,
            metrics=result.metrics,
            params=PARAMS,
            baseline=result.baseline,
        )
        return metadata.version

    first = register("claims_fraud", THRESHOLDS)
    register("claims_fraud", THRESHOLDS)
    registry.promote("claims_fraud", first, reason="initial model", evidence={"test": True})
    priority = register("claims_priority", LOOSE_THRESHOLDS)
    registry.promote("claims_priority", priority, reason="initial model", evidence={})
    register("claims_draft", THRESHOLDS)
    return root
