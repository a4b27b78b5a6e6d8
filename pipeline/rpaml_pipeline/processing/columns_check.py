"""Validating a whole batch, column by column: the contract's checks and contract drift.

Each field's checks run as polars expressions over its cleaned column (required, type,
allowed values, pattern, bounds; drift against the source's profile); only a failing value
has its sentence written (by the same words as :mod:`rpaml_pipeline.steps.validate` and
:mod:`rpaml_pipeline.quality.drift`), once per distinct value. A check polars cannot state
exactly (a pattern beyond a plain subset of regular expressions, a date still to be
parsed) runs per distinct value with the per-record code itself.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Sequence
from typing import Any

import polars as pl

from rpaml_pipeline.canonical import REPLACEMENT
from rpaml_pipeline.process.definition import Contract, FieldSpec
from rpaml_pipeline.processing.columns_clean import CleanedBatch
from rpaml_pipeline.quality.drift import DriftCheck, _article, _number
from rpaml_pipeline.steps.clean import Unparsed, parse_date
from rpaml_pipeline.steps.cross_field import column_issues
from rpaml_pipeline.steps.validate import _ISO, _UNREADABLE, _quote

ISSUE = pl.Struct({"field": pl.String, "rule": pl.String, "message": pl.String})
FINDING = pl.Struct(
    {
        "field": pl.String,
        "kind": pl.String,
        "message": pl.String,
        "summary": pl.String,
        "quarantine": pl.Boolean,
    }
)
_SPACE = "".join(chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace())
# Patterns polars states exactly as ``re.fullmatch`` does: literals, \d, classes, groups,
# alternation and quantifiers (no lookarounds, backreferences, \w, \b, flags).
_PLAIN_PATTERN = re.compile(
    r"^(?:[A-Za-z0-9 _\-:/#.]|\\d|\\[.\-()\[\]{}|?*+^$\\/]|\[[^\[\]\\&~]*\]|[()|?*+^$]"
    r"|\{\d+(,\d*)?\})*$"
)
_FLAG = re.compile(r"\(\?(?!:)|--")


def issue_rows(
    contract: Contract, cleaned: CleanedBatch, raw: pl.DataFrame, keys: Sequence[str]
) -> pl.DataFrame:
    """Every issue of the batch, one row each: ``row`` (of the batch), ``order`` (the
    contract field's), ``field``, ``rule``, ``message``, ``summary``."""
    height = raw.height
    found: list[dict[str, Any]] = []
    for order, (name, spec) in enumerate(contract.fields.items()):
        field = cleaned.field(name)
        values = field.values if field is not None else pl.Series(name, [None] * height)
        expected = field.expected if field is not None else None
        shown = raw.get_column(name) if name in keys else values
        rule, text = _field_checks(spec, values, expected)
        found.extend(_sentences(name, order, rule, text, shown))
    typed = {item.name: item.values for item in cleaned.fields if item.name in contract.fields}
    for row in column_issues(contract, typed, height):
        # After every field's own issues, as the per-record path lists them.
        found.append({**row, "order": len(contract.fields)})
    return pl.DataFrame(found, schema=ISSUE_ROWS)


def drift_order_offset(contract: Contract) -> int:
    """The first ``order`` after every issue :func:`issue_rows` finds (drift findings use it)."""
    return len(contract.fields) + 1


ISSUE_ROWS = {
    "row": pl.Int64,
    "order": pl.Int64,
    "field": pl.String,
    "rule": pl.String,
    "message": pl.String,
    "summary": pl.String,
}
FINDING_ROWS = {
    "row": pl.Int64,
    "order": pl.Int64,
    "field": pl.String,
    "kind": pl.String,
    "message": pl.String,
    "summary": pl.String,
    "quarantine": pl.Boolean,
}


def _field_checks(
    spec: FieldSpec, values: pl.Series, expected: pl.Series | None
) -> tuple[pl.Series, pl.Series]:
    """``(rule, text)`` of each row's first failing check (nulls where it passes)."""
    frame = pl.DataFrame({"v": values})
    if expected is not None:
        frame = frame.with_columns(expected.alias("u"))
    v = pl.col("v")
    missing = v.is_null()
    if values.dtype == pl.String:
        missing = missing | (v.str.strip_chars(_SPACE) == "")
    rules: list[tuple[pl.Expr, str, pl.Expr]] = []
    if expected is not None:
        rules.append((pl.col("u").is_not_null(), "type", pl.lit("is not ") + pl.col("u")))
    if spec.required:
        rules.append((missing, "required", pl.lit("is missing (it is required)")))
    rules.append((missing, "", pl.lit(None, dtype=pl.String)))  # missing, not required: fine
    rules.extend(_type_rules(spec, values))
    rule = pl.lit(None, dtype=pl.String)
    text = pl.lit(None, dtype=pl.String)
    for condition, name, sentence in reversed(rules):
        rule = pl.when(condition).then(pl.lit(name) if name else None).otherwise(rule)
        text = pl.when(condition).then(sentence).otherwise(text)
    checked = frame.select(rule.alias("rule"), text.alias("text"))
    return checked.get_column("rule"), checked.get_column("text")


def _type_rules(spec: FieldSpec, values: pl.Series) -> list[tuple[pl.Expr, str, pl.Expr]]:
    v, dtype, kind = pl.col("v"), values.dtype, spec.type
    present = v.is_not_null()
    if kind in ("string", "category"):
        if dtype != pl.String:
            return [(present, "type", pl.lit("is not text"))]
        rules = [(v.str.contains(REPLACEMENT, literal=True), "encoding", pl.lit(_UNREADABLE))]
        if kind == "category" and spec.values is not None:
            allowed = f"is not one of {', '.join(spec.values)}"
            rules.append((~v.is_in(spec.values), "values", pl.lit(allowed)))
        if spec.pattern is not None:
            hint = f"does not match {spec.pattern_hint or spec.pattern}"
            rules.append((~_matches(values, spec.pattern), "pattern", pl.lit(hint)))
        return rules
    if kind == "integer":
        if dtype != pl.Int64:
            return [(present, "type", pl.lit("is not a whole number"))]
        return _bounds(spec)
    if kind in ("number", "money"):
        word = "is not an amount of money" if kind == "money" else "is not a number"
        if dtype not in (pl.Int64, pl.Float64):
            return [(present, "type", pl.lit(word))]
        finite = (
            [(~v.is_finite(), "type", pl.lit("is not a finite number"))]
            if dtype == pl.Float64
            else []
        )
        return [*finite, *_bounds(spec)]
    if kind == "date":
        if dtype == pl.Date:
            return []
        problems = _python(values, _date_problem(spec))
        return [(problems.is_not_null(), "type", problems)]
    if kind == "boolean":
        return [] if dtype == pl.Boolean else [(present, "type", pl.lit("is not yes or no"))]
    raise AssertionError(f"unknown field type {kind!r}")  # pragma: no cover


def _bounds(spec: FieldSpec) -> list[tuple[pl.Expr, str, pl.Expr]]:
    v = pl.col("v")
    rules: list[tuple[pl.Expr, str, pl.Expr]] = []
    if spec.min is not None:
        rules.append((v < spec.min, "min", pl.lit(f"is below the minimum {_bound(spec.min)}")))
    if spec.max is not None:
        rules.append((v > spec.max, "max", pl.lit(f"is above the maximum {_bound(spec.max)}")))
    return rules


def _bound(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _matches(values: pl.Series, pattern: str) -> pl.Expr:
    """Whether each value matches the whole pattern, as ``re.fullmatch`` says."""
    compiled = re.compile(pattern)
    if not _PLAIN_PATTERN.match(pattern) or _FLAG.search(pattern):
        return _python(values, lambda text: bool(compiled.fullmatch(text)), pl.Boolean())
    # On ASCII text the plain subset means the same to polars and to Python; other text
    # (where the two may disagree on what \d is) is matched by Python.
    ascii_only = pl.col("v").str.contains(r"^[\x00-\x7f]*$")
    other = values.filter(~values.str.contains(r"^[\x00-\x7f]*$").fill_null(True))
    python = {text: bool(compiled.fullmatch(text)) for text in other.unique().to_list() if text}
    by_python = pl.col("v").replace_strict(python, default=False, return_dtype=pl.Boolean)
    return (
        pl.when(ascii_only).then(pl.col("v").str.contains(f"^(?:{pattern})$")).otherwise(by_python)
    )


def _date_problem(spec: FieldSpec) -> Callable[[Any], str | None]:
    def problem(value: Any) -> str | None:
        parsed = parse_date(value, spec.formats or _ISO)
        return f"is not {parsed.expected}" if isinstance(parsed, Unparsed) else None

    return problem


def _python(
    values: pl.Series, fn: Callable[[Any], Any], dtype: pl.DataType | None = None
) -> pl.Expr:
    """``fn`` of each non-null value, computed once per distinct value."""
    distinct = [value for value in values.unique().to_list() if value is not None]
    results = {value: fn(value) for value in distinct}
    out = pl.Series([None if v is None else results[v] for v in values.to_list()], dtype=dtype)
    return pl.lit(out)


def _sentences(
    name: str, order: int, rule: pl.Series, text: pl.Series, shown: pl.Series
) -> list[dict[str, Any]]:
    """The issue of each failing row (as ``validate._issue`` words it)."""
    failing = rule.is_not_null().arg_true().to_list()
    if not failing:
        return []
    rules, texts, shown_values = rule.to_list(), text.to_list(), shown.to_list()
    cache: dict[tuple[str, str, str], str] = {}
    found = []
    for index in failing:
        r, t, s = rules[index], texts[index], shown_values[index]
        key = (repr(s), r, t)
        if key not in cache:
            summary = f"{name}: {t}"
            cache[key] = summary if s is None or r == "required" else f"{name}: {_quote(s)} {t}"
        found.append(
            {
                "row": index,
                "order": order,
                "field": name,
                "rule": r,
                "message": cache[key],
                "summary": f"{name}: {t}",
            }
        )
    return found


def drift_rows(
    check: DriftCheck, cleaned: CleanedBatch, raw: pl.DataFrame, keys: Sequence[str]
) -> pl.DataFrame:
    """Every drift finding of the batch, one row each (``row``, ``order``: the order
    :meth:`DriftCheck.check` finds them in, then the finding's fields)."""
    height = raw.height
    if not check.active:
        return pl.DataFrame(schema=FINDING_ROWS)
    source, quarantine = check.source, check.spec.quarantine
    found: list[list[dict[str, Any]]] = []
    for name in keys:
        if name in check._known:
            continue
        delivered = raw.get_column(name)
        carried = (delivered.is_not_null() & (delivered != "")).fill_null(False)
        text = f"is a new column: {source} never delivered it before"
        found.append(_finding(name, "new_column", carried, None, text, quarantine))
    for column in check._columns:
        name = column.name
        if name not in keys:
            if column.always_present:
                text = f"is missing: {source} delivered it in every record before"
                found.append(
                    _finding(
                        name, "missing_column", pl.Series([True] * height), None, text, quarantine
                    )
                )
            continue
        values = raw.get_column(name)
        changed = pl.Series([False] * height)
        if column.known_types and "text" not in column.known_types:
            changed = values.is_not_null()
            text = (
                f"is {_article('text')} where {source} always delivered {column.known_text} before"
            )
            found.append(_finding(name, "type_change", changed, values, text, quarantine))
        field = cleaned.field(name)
        if field is None:
            continue
        clean = field.values
        if column.bounds is not None and clean.dtype in (pl.Int64, pl.Float64):
            low, high, lowest, highest = column.bounds
            number = clean.cast(pl.Float64)
            far = (number.is_finite() & ((number < lowest) | (number > highest))).fill_null(False)
            text = (
                f"is far outside what {source} delivered before ({_number(low)} to {_number(high)})"
            )
            found.append(_finding(name, "out_of_range", far & ~changed, values, text, quarantine))
        if column.categories is not None and clean.dtype == pl.String:
            new = (clean.is_not_null() & ~clean.is_in(sorted(column.categories))).fill_null(False)
            text = f"is a category {source} never delivered before"
            found.append(_finding(name, "new_category", new & ~changed, values, text, False))
    rows = [dict(row, order=order) for order, part in enumerate(found) for row in part]
    return pl.DataFrame(rows, schema=FINDING_ROWS)


def _finding(
    name: str, kind: str, where: pl.Series, shown: pl.Series | None, text: str, quarantine: bool
) -> list[dict[str, Any]]:
    """The finding of each row where ``where`` holds (worded as ``drift._finding``)."""
    summary = f"{name}: {text}"
    values = shown.to_list() if shown is not None else None
    found = []
    for index in where.arg_true().to_list():
        value = values[index] if values is not None else None
        if value is None:
            message = summary
        else:
            quoted = (
                '"' + value.replace('"', '\\"') + '"' if isinstance(value, str) else repr(value)
            )
            message = f"{name}: {quoted} {text}"
        found.append(
            {
                "row": index,
                "field": name,
                "kind": kind,
                "message": message,
                "summary": summary,
                "quarantine": quarantine,
            }
        )
    return found


def per_row(long: pl.DataFrame, height: int, value: pl.Expr, inner: pl.DataType) -> pl.Series:
    """Each row's list of ``value`` over the rows of ``long`` that name it, in their order
    (an empty list for a row none names)."""
    rows = pl.DataFrame({"row": pl.arange(0, height, eager=True, dtype=pl.Int64)})
    grouped = (
        long.sort("row", "order", maintain_order=True)
        .group_by("row", maintain_order=True)
        .agg(value.alias("v"))
    )
    empty = pl.lit([], dtype=pl.List(inner))
    return rows.join(grouped, on="row", how="left").select(pl.col("v").fill_null(empty)).to_series()


__all__ = ["FINDING", "ISSUE", "drift_order_offset", "drift_rows", "issue_rows", "per_row"]
