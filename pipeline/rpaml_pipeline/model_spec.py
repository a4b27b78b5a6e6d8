"""Turn a process file's model and policy sections into the model layer's objects."""

from __future__ import annotations

from rpaml_models import CostCell, DecisionPolicy, FeatureSchema, FeatureSpec
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
            actions=tuple(spec.actions),
            lower=spec.thresholds.lower,
            upper=spec.thresholds.upper,
        )
    assert spec.costs is not None and spec.outcomes is not None  # checked on load
    by_label = {label: name for name, label in spec.outcomes.items()}
    return DecisionPolicy(
        version=spec.version,
        kind="costs",
        actions=tuple(spec.actions),
        outcomes=(by_label[0], by_label[1]),
        costs={
            action: {
                outcome: CostCell(fixed=cell.fixed, per_unit=cell.per_unit)
                for outcome, cell in cells.items()
            }
            for action, cells in spec.costs.items()
        },
        amount_feature=spec.amount_field,
    )
