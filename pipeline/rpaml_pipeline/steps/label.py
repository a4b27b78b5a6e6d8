"""Label: read a record's known outcome (history rows) as a training label, and weak
rule-based labels (``weak_labels:``) for valid records whose outcome is not known."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeGuard

from rpaml_pipeline.process.definition import Condition, LabelingSpec, WeakLabelRule
from rpaml_pipeline.steps.identity import StepInfo, config_hash

NAME = "label"
VERSION = "1.0.0"


def label_step(labeling: LabelingSpec) -> StepInfo:
    """The step identity for these labeling rules."""
    return StepInfo(NAME, VERSION, config_hash(labeling))


def label(cleaned: Mapping[str, Any], labeling: LabelingSpec) -> tuple[int, str] | None:
    """``(label, source)`` when the record's outcome is known and mapped, else ``None``.

    ``source`` is the labeling source with the outcome field, e.g.
    ``portal:closed-claims-export#outcome``, recorded with the label.
    """
    outcome = cleaned.get(labeling.field)
    if not isinstance(outcome, str) or outcome not in labeling.labels:
        return None
    return labeling.labels[outcome], f"{labeling.source}#{labeling.field}"


WEAK_NAME = "weak_label"
WEAK_VERSION = "1.0.0"
WEAK_SOURCE = "weak:"
"""Prefix of the label source of a weak label (``weak:<rule name>``)."""


def weak_label_step(rules: Sequence[WeakLabelRule]) -> StepInfo:
    """The step identity for these weak-labeling rules."""
    return StepInfo(WEAK_NAME, WEAK_VERSION, config_hash(list(rules)))


def weak_label(
    values: Mapping[str, Any], rules: Sequence[WeakLabelRule]
) -> tuple[int, str, str] | None:
    """``(label, source, rule name)`` of the first rule whose conditions all hold on
    ``values`` (a valid record's cleaned fields and features), else ``None``."""
    for rule in rules:
        if all(holds(condition, values) for condition in rule.when):
            return rule.label, f"{WEAK_SOURCE}{rule.name}", rule.name
    return None


def holds(condition: Condition, values: Mapping[str, Any]) -> bool:
    """Whether ``condition`` holds; an ordering against a missing or non-number value does
    not (a rule never guesses from what is not there)."""
    value = values.get(condition.field)
    op, expected = condition.op, condition.value
    if op == "missing":
        return value is None
    if op == "present":
        return value is not None
    if op == "eq":
        return bool(value == expected)
    if op == "ne":
        return bool(value != expected)
    if op == "in":
        return isinstance(expected, list) and value in expected
    if not (_number(value) and isinstance(expected, int | float)) or isinstance(expected, bool):
        return False
    left, right = float(value), float(expected)
    return {
        "lt": left < right,
        "le": left <= right,
        "gt": left > right,
        "ge": left >= right,
    }[op]


def _number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)
