"""Contract drift: notice when a source suddenly delivers something else than before.

A screen that changed (a renamed column, a field now shown as a number, amounts in cents)
produces records that may still pass the contract yet are garbage for the model. So each
source of a process keeps a *profile* of what it delivered in earlier runs (columns, raw
value types, numeric ranges and quantiles of the cleaned values, category sets; stored by
:meth:`rpaml_pipeline.store.Store.save_source_profiles`), and every record is compared with
the profile of its source:

- ``new_column``: a column the source never delivered before (carried with a value);
- ``missing_column``: a column the source delivered in every earlier record is absent;
- ``type_change``: a raw value of a type the source never used for that column (a number
  where it always sent text);
- ``out_of_range``: a numeric value far outside the range seen before (``range_tolerance``
  times the width of that range beyond either end);
- ``new_category``: a category value never seen before (alert only: the contract already
  decides whether it is allowed).

Every check is per record and pure (the profile is fixed for the whole run and recorded in
the run's details), so ``rpaml pipeline replay`` reproduces the same quarantines. The checks
start once the profile holds ``min_records`` records: a young source has no "before" yet.
Profiles are updated only from records that ended valid, so garbage never becomes normal.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from rpaml_pipeline.process.definition import Contract, DriftSpec
from rpaml_pipeline.quality.gate import merge_history

PROFILE_VERSION = 1
_NUMERIC = ("integer", "number", "money")


@dataclass(frozen=True)
class DriftFinding:
    """One way a record differs from what its source delivered before."""

    field: str
    kind: str
    """``new_column``, ``missing_column``, ``type_change``, ``out_of_range``, ``new_category``."""
    message: str
    """In words a person can act on, naming the field, the value and the source."""
    summary: str
    """The message without the value (groups records in alerts and reason counts)."""
    quarantine: bool
    """Whether the record must be quarantined for it (``new_category`` only alerts)."""


def raw_type(value: Any) -> str | None:
    """The JSON kind of a raw value as a person says it; ``None`` for a missing value."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "yes/no"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, list | tuple):
        return "list"
    return type(value).__name__


def check_record(
    raw: Mapping[str, Any],
    cleaned: Mapping[str, Any],
    source: str,
    profile: Mapping[str, Any] | None,
    contract: Contract,
    spec: DriftSpec,
) -> list[DriftFinding]:
    """Every drift of one record against its source's ``profile`` (empty without one).

    For many records of one source, build a :class:`DriftCheck` once."""
    return DriftCheck(source, profile, contract, spec).check(raw, cleaned)


@dataclass(frozen=True)
class _Column:
    name: str
    always_present: bool
    known_types: frozenset[str]
    known_text: str
    """The known types as a person reads them (``number or text``)."""
    bounds: tuple[float, float, float, float] | None
    """``(low, high, low - margin, high + margin)`` of a numeric column."""
    categories: frozenset[str] | None


class DriftCheck:
    """The drift checks of one source against its profile, the profile read once."""

    def __init__(
        self,
        source: str,
        profile: Mapping[str, Any] | None,
        contract: Contract,
        spec: DriftSpec,
    ) -> None:
        self.source = source
        self.spec = spec
        self.active = profile is not None and int(profile.get("records", 0)) >= spec.min_records
        columns: Mapping[str, Any] = profile.get("columns", {}) if self.active and profile else {}
        seen = int(profile["records"]) if self.active and profile else 0
        compiled = []
        for name, column in columns.items():
            known = column.get("types", {})
            numeric = column.get("numeric")
            bounds = None
            if numeric is not None:
                low, high = float(numeric["min"]), float(numeric["max"])
                margin = spec.range_tolerance * max(high - low, abs(high), 1.0)
                bounds = (low, high, low - margin, high + margin)
            categories = column.get("categories")
            compiled.append(
                _Column(
                    name=name,
                    always_present=int(column.get("present", 0)) >= seen,
                    known_types=frozenset(known),
                    known_text=" or ".join(sorted(known)),
                    bounds=bounds,
                    categories=frozenset(categories) if categories is not None else None,
                )
            )
        self._columns = compiled
        self._known = frozenset(columns)

    def check(self, raw: Mapping[str, Any], cleaned: Mapping[str, Any]) -> list[DriftFinding]:
        """Every drift of one record of this source (see the module docstring)."""
        if not self.active:
            return []
        source, quarantine = self.source, self.spec.quarantine
        findings: list[DriftFinding] = []
        for name, value in raw.items():
            if name not in self._known and raw_type(value) is not None and value != "":
                text = f"is a new column: {source} never delivered it before"
                findings.append(_finding(name, "new_column", None, text, quarantine))
        for column in self._columns:
            name = column.name
            if name not in raw:
                if column.always_present:
                    text = f"is missing: {source} delivered it in every record before"
                    findings.append(_finding(name, "missing_column", None, text, quarantine))
                continue
            value = raw[name]
            kind = "text" if type(value) is str else raw_type(value)
            if kind is not None and column.known_types and kind not in column.known_types:
                text = (
                    f"is {_article(kind)} where {source} always delivered "
                    f"{column.known_text} before"
                )
                findings.append(_finding(name, "type_change", value, text, quarantine))
                continue
            clean = cleaned.get(name)
            if column.bounds is not None and isinstance(clean, int | float) and _is_number(clean):
                low, high, lowest, highest = column.bounds
                if not lowest <= float(clean) <= highest:
                    text = (
                        f"is far outside what {source} delivered before "
                        f"({_number(low)} to {_number(high)})"
                    )
                    findings.append(_finding(name, "out_of_range", value, text, quarantine))
            if (
                column.categories is not None
                and isinstance(clean, str)
                and clean not in column.categories
            ):
                text = f"is a category {source} never delivered before"
                findings.append(_finding(name, "new_category", value, text, False))
        return findings


def profile_records(
    rows: Sequence[tuple[Mapping[str, Any], Mapping[str, Any]]], contract: Contract
) -> dict[str, Any]:
    """The profile of ``(raw, cleaned)`` records of one source (polars for the statistics)."""
    columns: dict[str, dict[str, Any]] = {}
    for raw, _ in rows:
        for name, value in raw.items():
            column = columns.setdefault(name, {"present": 0, "types": {}})
            column["present"] += 1
            kind = raw_type(value)
            if kind is not None:
                column["types"][kind] = column["types"].get(kind, 0) + 1
    for name, spec in contract.fields.items():
        if name not in columns:
            continue
        values = [cleaned.get(name) for _, cleaned in rows]
        if spec.type in _NUMERIC:
            numbers = pl.Series(
                [float(v) for v in values if isinstance(v, int | float) and _is_number(v)],
                dtype=pl.Float64,
            )
            if len(numbers):
                columns[name]["numeric"] = {
                    "min": numbers.min(),
                    "max": numbers.max(),
                    "p01": numbers.quantile(0.01),
                    "p50": numbers.quantile(0.5),
                    "p99": numbers.quantile(0.99),
                }
        elif spec.type == "category":
            texts = pl.Series([v for v in values if isinstance(v, str)], dtype=pl.String)
            columns[name]["categories"] = sorted(texts.unique().to_list())
    return {"version": PROFILE_VERSION, "records": len(rows), "columns": columns}


def merge_profiles(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> dict[str, Any]:
    """One profile covering both (counts add up, ranges widen, category sets unite).

    Quantiles of the merged profile are the record-weighted mean of both: an approximation
    kept for people reading the profile; the checks use the exact minimum and maximum.
    """
    gate = merge_history(
        old.get("gate") if old is not None else None, new.get("gate")
    )  # the batch gate's history (every record the gate let through, valid or not)
    if old is None or not old.get("records"):
        return {**new, "gate": gate} if gate else dict(new)
    if not new.get("records"):
        return {**old, "gate": gate} if gate else dict(old)
    n_old, n_new = int(old["records"]), int(new["records"])
    columns: dict[str, dict[str, Any]] = {}
    for name in sorted(set(old["columns"]) | set(new["columns"])):
        a, b = old["columns"].get(name, {}), new["columns"].get(name, {})
        types = dict(a.get("types", {}))
        for kind, count in b.get("types", {}).items():
            types[kind] = types.get(kind, 0) + count
        column: dict[str, Any] = {
            "present": int(a.get("present", 0)) + int(b.get("present", 0)),
            "types": types,
        }
        x, y = a.get("numeric"), b.get("numeric")
        if x is not None and y is not None:
            column["numeric"] = {
                "min": min(x["min"], y["min"]),
                "max": max(x["max"], y["max"]),
                **{
                    q: (x[q] * n_old + y[q] * n_new) / (n_old + n_new)
                    for q in ("p01", "p50", "p99")
                },
            }
        elif x is not None or y is not None:
            column["numeric"] = dict(x or y or {})
        if "categories" in a or "categories" in b:
            column["categories"] = sorted(
                set(a.get("categories", [])) | set(b.get("categories", []))
            )
        columns[name] = column
    merged = {"version": PROFILE_VERSION, "records": n_old + n_new, "columns": columns}
    return {**merged, "gate": gate} if gate else merged


def empty_profile() -> dict[str, Any]:
    """The profile of no records (a source the drift checks have not seen yet)."""
    return {"version": PROFILE_VERSION, "records": 0, "columns": {}}


def alerts(found: Iterable[tuple[str, DriftFinding]]) -> list[dict[str, Any]]:
    """Group ``(source, finding)`` pairs into run alerts: one per source, field and kind."""
    grouped: dict[tuple[str, str, str], dict[str, Any]] = {}
    for source, finding in found:
        key = (source, finding.field, finding.kind)
        alert = grouped.setdefault(
            key,
            {
                "source": source,
                "field": finding.field,
                "kind": finding.kind,
                "message": finding.summary,
                "records": 0,
                "quarantined": finding.quarantine,
                "example": finding.message,
            },
        )
        alert["records"] += 1
    return [grouped[key] for key in sorted(grouped)]


def _finding(name: str, kind: str, value: Any, text: str, quarantine: bool) -> DriftFinding:
    summary = f"{name}: {text}"
    if value is None:
        return DriftFinding(name, kind, summary, summary, quarantine)
    shown = '"' + value.replace('"', '\\"') + '"' if isinstance(value, str) else repr(value)
    return DriftFinding(name, kind, f"{name}: {shown} {text}", summary, quarantine)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _article(kind: str) -> str:
    return ("an " if kind[0] in "aeiou" else "a ") + kind


def _number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"
