"""The process file's decision sections: the policy (costs or thresholds) and the model's
candidate recipes, with the cross-checks that need the rest of the file.

The cost table is the business's statement of what each action costs when each outcome
turns out true; it is checked when the file loads, so a table that cannot be applied
never reaches training or scoring.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from rpaml_pipeline.errors import ProcessIssue
from rpaml_pipeline.process.feedback_spec import ExplorationSpec, MaturitySpec
from rpaml_pipeline.process.section_base import FieldName, Section

# A cost of YAML: a number (a fixed cost) or {fixed, per_unit}. Strict: "150" is refused,
# and a negative cost is refused (a gain would need its own, explicit, key).
Cost = Annotated[float, Field(ge=0.0, allow_inf_nan=False)]
Name = FieldName


class CostCellSpec(Section):
    """``fixed + per_unit * amount`` for one action and one outcome."""

    fixed: Cost = 0.0
    per_unit: Cost = 0.0

    @model_validator(mode="before")
    @classmethod
    def _a_number_is_a_fixed_cost(cls, value: object) -> object:
        if isinstance(value, dict):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return {"fixed": value}
        raise ValueError(
            f"expected a cost: a number >= 0, or {{fixed: N, per_unit: N}} (got {value!r})"
        )


class Thresholds(Section):
    """Score thresholds: the first action below ``lower``, the last at or above ``upper``."""

    lower: float = Field(ge=0.0, le=1.0)
    upper: float = Field(ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _ordered(self) -> Thresholds:
        if self.lower > self.upper:
            raise ValueError(f"lower ({self.lower}) must not exceed upper ({self.upper})")
        return self


class PolicySpec(Section):
    """The versioned decision: actions, outcomes and a cost table (or thresholds)."""

    version: str = Field(min_length=1)
    actions: list[Name] = Field(min_length=1)
    """The actions the robots can carry out, in tie-break order."""
    outcomes: dict[Name, int] | None = None
    """Outcome name -> the label the model predicts for it (0 or 1)."""
    amount_field: Name | None = None
    """The model feature the ``per_unit`` costs multiply."""
    costs: dict[str, dict[str, CostCellSpec]] | None = None
    thresholds: Thresholds | None = None
    exploration: ExplorationSpec | None = None
    """Decisions sent to one action for unbiased outcomes (:mod:`.feedback_spec`); applied
    by the scoring stage, not part of what a model learns or is judged by."""

    @model_validator(mode="after")
    def _one_rule(self) -> PolicySpec:
        if (self.thresholds is None) == (self.costs is None):
            raise ValueError("give exactly one of 'costs' or 'thresholds'")
        if self.thresholds is not None and len(self.actions) != 3:
            raise ValueError("thresholds need exactly three actions: below, between, above")
        if self.costs is not None and self.outcomes is None:
            raise ValueError("a cost table needs 'outcomes' (outcome name: label)")
        return self


Calibration = Literal["none", "sigmoid", "isotonic"]
CALIBRATIONS: tuple[Calibration, ...] = ("none", "sigmoid", "isotonic")
CandidateKind = Literal["spline_logistic", "gradient_boosting"]


class CandidateSpec(Section):
    """One recipe training may choose (see :mod:`rpaml_models.recipes`)."""

    name: Name
    kind: CandidateKind
    params: dict[str, str | int | float | bool | None] = Field(default_factory=dict)


class SelectionSpec(Section):
    """How the candidates are compared: seeded stratified K-fold, with calibrations."""

    folds: int = Field(default=5, ge=2, le=20)
    seed: int = 0
    calibrations: list[Calibration] = Field(
        default_factory=lambda: list(CALIBRATIONS), min_length=1
    )
    bootstrap: int = Field(default=1000, ge=100, le=20000)


class RetrainSpec(Section):
    """When the ``retrain`` job trains a challenger, and how it is judged
    (:mod:`rpaml_pipeline.retraining`)."""

    min_new_labels: int = Field(default=100, ge=1)
    """Labeled records the champion never saw needed before a challenger is trained."""
    evidence_share: float = Field(default=0.3, gt=0.0, lt=1.0)
    """The latest share of those records (by capture time) kept out as the evidence."""
    maturity: MaturitySpec | None = None
    """When an outcome of a decision may teach and judge (:mod:`.feedback_spec`)."""


class ShadowSpec(Section):
    """Shadow mode (:mod:`rpaml_pipeline.shadow`): the retrain job keeps a challenger the
    evidence did not promote as the shadow challenger, the scoring stage asks the service
    to score it beside the champion, and the store keeps its decisions, which nothing acts
    on. Off by default: it costs the service a second prediction per record."""

    enabled: bool = False


def policy_issues(
    policy: PolicySpec,
    labels: set[int] | None,
    numeric_features: set[str],
) -> list[ProcessIssue]:
    """What in the policy section does not fit the model and labels of the same file.

    ``labels`` is the set of labels the labeling section produces (None without one);
    ``numeric_features`` the model's numeric features (the amounts a cost can scale by).
    """
    issues: list[ProcessIssue] = []
    if len(set(policy.actions)) != len(policy.actions):
        issues.append(ProcessIssue("policy.actions", "expected distinct action names"))
    if policy.amount_field is not None and policy.amount_field not in numeric_features:
        issues.append(
            ProcessIssue(
                "policy.amount_field",
                f"{policy.amount_field!r} is not a numeric model feature "
                f"(expected one of {', '.join(sorted(numeric_features))})",
            )
        )
    exploration = policy.exploration
    if exploration is not None and exploration.action not in policy.actions:
        issues.append(
            ProcessIssue(
                "policy.exploration.action",
                f"{exploration.action!r} is not an action of policy.actions "
                f"({', '.join(policy.actions)})",
            )
        )
    if policy.costs is None or policy.outcomes is None:
        return issues
    outcomes = policy.outcomes
    if sorted(outcomes.values()) != [0, 1]:
        issues.append(
            ProcessIssue(
                "policy.outcomes",
                "expected two outcomes, one for label 0 and one for label 1 "
                f"(got {dict(outcomes)})",
            )
        )
    for name, label in outcomes.items():
        if labels is not None and label not in labels:
            issues.append(
                ProcessIssue(
                    f"policy.outcomes.{name}",
                    f"label {label} is not one the model can predict "
                    f"(labeling.labels gives {sorted(labels)})",
                )
            )
    for action in policy.actions:
        if action not in policy.costs:
            issues.append(
                ProcessIssue(
                    "policy.costs",
                    f"missing action {action!r}: expected a cost for every action "
                    f"({', '.join(policy.actions)})",
                )
            )
    for action, cells in policy.costs.items():
        if action not in policy.actions:
            issues.append(
                ProcessIssue(
                    f"policy.costs.{action}",
                    f"{action!r} is not an action of policy.actions ({', '.join(policy.actions)})",
                )
            )
        for outcome in outcomes:
            if outcome not in cells:
                issues.append(
                    ProcessIssue(
                        f"policy.costs.{action}",
                        f"missing outcome {outcome!r}: expected a cost for every outcome "
                        f"({', '.join(outcomes)})",
                    )
                )
        for outcome, value in cells.items():
            key = f"policy.costs.{action}.{outcome}"
            if outcome not in outcomes:
                issues.append(
                    ProcessIssue(
                        key,
                        f"{outcome!r} is not an outcome the model predicts "
                        f"(policy.outcomes: {', '.join(outcomes)})",
                    )
                )
            if value.per_unit and policy.amount_field is None:
                issues.append(
                    ProcessIssue(key, "a per_unit cost needs policy.amount_field naming the amount")
                )
    return issues
