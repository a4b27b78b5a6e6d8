"""Transform: derive the model's features from a cleaned, valid record."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from rpaml_pipeline.process.definition import DaysBetween, TransformSpec
from rpaml_pipeline.steps.identity import StepInfo, config_hash

NAME = "transform"
VERSION = "1.0.0"


def transform_step(spec: TransformSpec) -> StepInfo:
    """The step identity for this transform specification."""
    return StepInfo(NAME, VERSION, config_hash(spec))


def transform(cleaned: Mapping[str, Any], spec: TransformSpec) -> dict[str, Any]:
    """Compute every feature of ``spec``; a feature whose inputs are missing is ``None``
    (the model treats it as missing rather than the record being invented)."""
    features: dict[str, Any] = {}
    for derivation in spec.features:
        if isinstance(derivation, DaysBetween):
            start, end = cleaned.get(derivation.start), cleaned.get(derivation.end)
            if isinstance(start, dt.date) and isinstance(end, dt.date):
                features[derivation.name] = (end - start).days
            else:
                features[derivation.name] = None
        else:
            features[derivation.name] = cleaned.get(derivation.source)
    return features
