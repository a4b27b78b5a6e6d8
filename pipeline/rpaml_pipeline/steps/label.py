"""Label: read a record's known outcome (history rows) as a training label."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rpaml_pipeline.process.definition import LabelingSpec
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
