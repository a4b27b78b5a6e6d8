"""The review section of a process file: which decisions wait for a person, and how long.

```yaml
review:
  action: escalate       # decisions of this policy action go to the review queue
  sla_hours: 24          # a queued item is past its SLA this long after it was queued
  lease_minutes: 10      # a reviewer holds an item this long; an expired lease returns it
  link: "/claims/{natural_key}"   # the record in the source application (portal URL + this)
  choices:               # what a reviewer can decide: the action the robot then applies,
    approve: {key: a, action: approve, outcome: legitimate}   # and the outcome it asserts
    reject: {key: r, action: reject, outcome: fraud}           # (the label it becomes)
```

The keys ``n`` (next) and ``?`` (help) are the review app's own, so a choice cannot take
them. Cross-references (the actions and outcomes must be the policy's) are checked by
:func:`review_issues`, each reported with its key path.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator

from rpaml_pipeline.errors import ProcessIssue
from rpaml_pipeline.process.decision_spec import PolicySpec
from rpaml_pipeline.process.section_base import FieldName, Section

RESERVED_KEYS = frozenset({"n", "?"})
"""Keys of the review app itself: ``n`` next item, ``?`` help."""

Key = Annotated[str, Field(pattern=r"^[a-z0-9]$")]


class ReviewChoice(Section):
    """One button of the item page (and its key)."""

    key: Key
    action: FieldName
    """The policy action the act robot applies when a reviewer picks this choice."""
    outcome: FieldName
    """The policy outcome the reviewer asserts: the label the review becomes."""


class ReviewSpec(Section):
    """The human review queue (see the module docstring)."""

    action: FieldName
    sla_hours: float = Field(gt=0, le=24 * 365)
    lease_minutes: float = Field(default=10.0, gt=0, le=24 * 60)
    link: str = Field(default="", pattern=r"^(|/.*)$")
    """Path of the record in the source application, ``{natural_key}`` and the record's
    fields as placeholders; empty for no link."""
    choices: dict[FieldName, ReviewChoice] = Field(min_length=1)

    @model_validator(mode="after")
    def _distinct_keys(self) -> ReviewSpec:
        keys = [choice.key for choice in self.choices.values()]
        if len(set(keys)) != len(keys):
            raise ValueError(f"choices need distinct keys, got {keys}")
        taken = sorted(set(keys) & RESERVED_KEYS)
        if taken:
            raise ValueError(f"keys {taken} are the review app's own (n next, ? help)")
        return self

    @property
    def lease_seconds(self) -> float:
        """How long one reviewer holds an item."""
        return self.lease_minutes * 60

    @property
    def sla_seconds(self) -> float:
        """How long an item may wait."""
        return self.sla_hours * 3600


def review_issues(review: ReviewSpec | None, policy: PolicySpec) -> list[ProcessIssue]:
    """What in the review section does not fit the policy of the same file."""
    if review is None:
        return []
    issues: list[ProcessIssue] = []
    actions = list(policy.actions)
    if review.action not in actions:
        issues.append(
            ProcessIssue(
                "review.action",
                f"{review.action!r} is not a policy action (expected one of {', '.join(actions)})",
            )
        )
    outcomes = sorted(policy.outcomes or {})
    expected = ", ".join(outcomes) or "none: the policy has no outcomes"
    for name, choice in review.choices.items():
        if choice.action not in actions:
            issues.append(
                ProcessIssue(
                    f"review.choices.{name}.action",
                    f"{choice.action!r} is not a policy action "
                    f"(expected one of {', '.join(actions)})",
                )
            )
        elif choice.action == review.action:
            issues.append(
                ProcessIssue(
                    f"review.choices.{name}.action",
                    f"{choice.action!r} is the action that sends a record to review: "
                    "a reviewer's choice must end the review",
                )
            )
        if choice.outcome not in outcomes:
            issues.append(
                ProcessIssue(
                    f"review.choices.{name}.outcome",
                    f"{choice.outcome!r} is not a policy outcome (expected one of {expected})",
                )
            )
    return issues
