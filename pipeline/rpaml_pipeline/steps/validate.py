"""Validation: check a cleaned record against the data contract, naming every failure.

Runs after cleaning (see :mod:`rpaml_pipeline.steps.clean` for why). Each
:class:`FieldIssue` names the field, the rule it broke and the raw value, in words a
person can act on: ``amount: "12,3x4" is not an amount of money``,
``policy_number: "PO-123456" does not match POL-NNNNNN``.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping
from typing import Any

from rpaml_pipeline.canonical import REPLACEMENT
from rpaml_pipeline.process.definition import Contract, FieldSpec
from rpaml_pipeline.steps.clean import Unparsed, parse_date
from rpaml_pipeline.steps.cross_field import record_issues
from rpaml_pipeline.steps.field_issue import FieldIssue
from rpaml_pipeline.steps.identity import StepInfo, config_hash

NAME = "validate"
VERSION = "1.2.0"
"""1.1.0: text that was not valid Unicode fails (rule ``encoding``); long values are cut.
1.2.0: the contract's cross-field rules (:mod:`.cross_field`)."""

_ISO = ["%Y-%m-%d"]
_UNREADABLE = "is not readable text (it holds characters that were not valid Unicode)"
_SHOWN = 80
"""Characters of a value shown in a message."""


def validate_step(contract: Contract) -> StepInfo:
    """The step identity for this contract."""
    return StepInfo(NAME, VERSION, config_hash(contract))


def validate(
    cleaned: Mapping[str, Any],
    contract: Contract,
    *,
    raw: Mapping[str, Any] | None = None,
) -> list[FieldIssue]:
    """Every field of ``cleaned`` that breaks ``contract`` (empty when the record is valid).

    ``raw`` is the record as captured; when given, messages cite the raw value.
    """
    issues: list[FieldIssue] = []
    for name, spec in contract.fields.items():
        value = cleaned.get(name)
        shown = raw.get(name, value) if raw is not None else value
        if isinstance(value, Unparsed):
            shown = value.raw if raw is None else shown
            issues.append(_issue(name, "type", shown, f"is not {value.expected}"))
            continue
        if value is None or (isinstance(value, str) and not value.strip()):
            if spec.required:
                issues.append(_issue(name, "required", shown, "is missing (it is required)"))
            continue
        problem = _check(value, spec)
        if problem is not None:
            rule, text = problem
            issues.append(_issue(name, rule, shown, text))
    return [*issues, *record_issues(cleaned, contract)]


def _issue(name: str, rule: str, value: Any, text: str) -> FieldIssue:
    # ``text`` never contains the value, so the summary groups records by what is wrong.
    summary = f"{name}: {text}"
    if value is None or rule == "required":
        return FieldIssue(name, rule, value, summary, summary)
    return FieldIssue(name, rule, value, f"{name}: {_quote(value)} {text}", summary)


def _quote(value: Any) -> str:
    # A reason is read by a person: a huge value is cut, saying how long it was.
    text = '"' + value.replace('"', '\\"') + '"' if isinstance(value, str) else repr(value)
    if len(text) > _SHOWN:
        return f"{text[:_SHOWN]}... ({len(text):,} characters)"
    return text


def _check(value: Any, spec: FieldSpec) -> tuple[str, str] | None:
    kind = spec.type
    if kind in ("string", "category"):
        if not isinstance(value, str):
            return "type", "is not text"
        if REPLACEMENT in value:
            return "encoding", _UNREADABLE
        if kind == "category" and spec.values is not None and value not in spec.values:
            return "values", f"is not one of {', '.join(spec.values)}"
        if spec.pattern is not None and not re.fullmatch(spec.pattern, value):
            return "pattern", f"does not match {spec.pattern_hint or spec.pattern}"
        return None
    if kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            return "type", "is not a whole number"
        return _bounds(value, spec)
    if kind in ("number", "money"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            return "type", "is not an amount of money" if kind == "money" else "is not a number"
        if not math.isfinite(value):
            return "type", "is not a finite number"
        return _bounds(value, spec)
    if kind == "date":
        if isinstance(value, dt.date):
            return None
        parsed = parse_date(value, spec.formats or _ISO)
        return ("type", f"is not {parsed.expected}") if isinstance(parsed, Unparsed) else None
    if kind == "boolean":
        return None if isinstance(value, bool) else ("type", "is not yes or no")
    raise AssertionError(f"unknown field type {kind!r}")  # pragma: no cover


def _bounds(value: float, spec: FieldSpec) -> tuple[str, str] | None:
    if spec.min is not None and value < spec.min:
        return "min", f"is below the minimum {_number(spec.min)}"
    if spec.max is not None and value > spec.max:
        return "max", f"is above the maximum {_number(spec.max)}"
    return None


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
