"""Turn a process file's model and policy sections into the model layer's objects."""

from __future__ import annotations

from rpaml_models import DecisionPolicy, FeatureSchema, FeatureSpec
from rpaml_pipeline.process import ProcessDefinition


def feature_schema(process: ProcessDefinition) -> FeatureSchema:
    """The model's feature schema, as declared in the process file."""
    return FeatureSchema(
        features=tuple(
            FeatureSpec(
                name=feature.name,
                kind=feature.kind,
                categories=tuple(feature.categories) if feature.categories else None,
            )
            for feature in process.model.features
        )
    )


def decision_policy(process: ProcessDefinition) -> DecisionPolicy:
    """The versioned decision policy, as declared in the process file."""
    spec = process.policy
    if spec.thresholds is not None:
        return DecisionPolicy(
            version=spec.version,
            kind="thresholds",
            approve_below=spec.thresholds.approve_below,
            reject_at_or_above=spec.thresholds.reject_at_or_above,
        )
    assert spec.costs is not None  # the process model requires exactly one rule
    costs = spec.costs
    return DecisionPolicy(
        version=spec.version,
        kind="costs",
        costs={
            "approve": {"fraud": costs.false_approve, "legitimate": 0.0},
            "escalate": {"fraud": costs.escalate, "legitimate": costs.escalate},
            "reject": {"fraud": 0.0, "legitimate": costs.false_reject},
        },
    )
