"""Cross-field rules of the data contract: checks that need two fields of one record.

An ordered rule (``ordered: [policy_start_date, incident_date, reported_date]``) holds when
each listed field's value is on or before the next one's. It is checked on consecutive
pairs whose values are both typed (a missing or unparsed value already fails its own
field's checks), and every failing pair is one issue naming both fields, so a person sees
which two values disagree. The per-record path (:func:`record_issues`) and the column path
(:func:`column_issues`) word an issue the same way.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl

from rpaml_pipeline.process.definition import Contract, OrderedRule
from rpaml_pipeline.steps.field_issue import FieldIssue

RULE = "order"


def record_issues(cleaned: Mapping[str, Any], contract: Contract) -> list[FieldIssue]:
    """The issues of one cleaned record against the contract's cross-field rules."""
    issues: list[FieldIssue] = []
    for rule in contract.rules:
        for before, after in _pairs(rule):
            a: Any = cleaned.get(before)
            b: Any = cleaned.get(after)
            if _kind(a) is not None and _kind(a) == _kind(b) and a > b:
                issues.append(_issue(rule, before, after, a, b))
    return issues


def column_issues(
    contract: Contract, columns: Mapping[str, pl.Series], height: int
) -> list[dict[str, Any]]:
    """The cross-field issues of a batch's typed columns, one dict per failing pair and
    row: ``row``, ``field``, ``rule``, ``message``, ``summary`` (as :func:`record_issues`
    words them)."""
    found: list[dict[str, Any]] = []
    for rule in contract.rules:
        for before, after in _pairs(rule):
            a, b = columns.get(before), columns.get(after)
            if a is None or b is None or not _same_kind(a, b):
                continue
            frame = pl.DataFrame({"a": a, "b": b})
            failing = frame.select(
                ((pl.col("a") > pl.col("b")) & pl.col("a").is_not_nan() & pl.col("b").is_not_nan())
                if a.dtype.is_float() or b.dtype.is_float()
                else (pl.col("a") > pl.col("b"))
            ).to_series()
            rows = failing.fill_null(False).arg_true().to_list()
            if not rows:
                continue
            left, right = a.to_list(), b.to_list()
            for row in rows:
                issue = _issue(rule, before, after, left[row], right[row])
                found.append(
                    {
                        "row": row,
                        "field": issue.field,
                        "rule": issue.rule,
                        "message": issue.message,
                        "summary": issue.summary,
                    }
                )
    return found


def _pairs(rule: OrderedRule) -> Sequence[tuple[str, str]]:
    return list(zip(rule.ordered, rule.ordered[1:], strict=False))


def _kind(value: Any) -> str | None:
    """``date`` or ``number`` for a value an ordered rule compares, else None."""
    if isinstance(value, dt.date):
        return "date"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return "number" if math.isfinite(value) else None


def _same_kind(a: pl.Series, b: pl.Series) -> bool:
    dates = (a.dtype == pl.Date, b.dtype == pl.Date)
    if all(dates):
        return True
    return not any(dates) and a.dtype.is_numeric() and b.dtype.is_numeric()


def _issue(rule: OrderedRule, before: str, after: str, a: Any, b: Any) -> FieldIssue:
    # The summary names both fields and no value, so it groups records by what is wrong.
    why = f" ({rule.description})" if rule.description else ""
    summary = f"{before}, {after}: {before} is after {after}{why}"
    message = f"{before}, {after}: {before} {_shown(a)} is after {after} {_shown(b)}{why}"
    return FieldIssue(f"{before},{after}", RULE, None, message, summary)


def _shown(value: Any) -> str:
    return value.isoformat() if isinstance(value, dt.date) else str(value)
