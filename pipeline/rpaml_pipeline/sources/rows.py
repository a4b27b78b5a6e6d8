"""Rows as sources deliver them, and how a row becomes a record for the staging store."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rpaml_pipeline.canonical import to_jsonable
from rpaml_pipeline.store import IncomingRecord

_NOT_WORD = re.compile(r"[^0-9a-zA-Z]+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


@dataclass(frozen=True)
class SourceRow:
    """One row as read from a source, and where exactly it was read (file and row, URL
    and position, query and row)."""

    values: Mapping[str, Any]
    location: str


def snake_case(name: str) -> str:
    """``"Claim ID"`` / ``"claimId"`` / ``"claim-id"`` -> ``"claim_id"`` (robots' convention)."""
    spaced = _CAMEL.sub("_", str(name).strip())
    return _NOT_WORD.sub("_", spaced).strip("_").lower()


def raw_value(value: Any) -> Any:
    """A value as the robots stage them: text, except missing stays missing and nested
    structures stay structures (so validation can say what is wrong with them)."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, dt.datetime) and value.time() == dt.time(0):
        return value.date().isoformat()  # spreadsheets hold dates as midnight datetimes
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | dt.date | dt.datetime):
        return str(to_jsonable(value))
    return to_jsonable(value)


def payload_of(values: Mapping[str, Any], mapping: Mapping[str, str]) -> dict[str, Any]:
    """Rename columns to payload fields: ``mapping`` is {field: source column}; other
    columns keep their name in snake_case."""
    by_column = {column: name for name, column in mapping.items()}
    payload: dict[str, Any] = {}
    for column, value in values.items():
        name = by_column.get(str(column)) or snake_case(str(column))
        if name:
            payload[name] = raw_value(value)
    return payload


def natural_key_of(payload: Mapping[str, Any], key_fields: Sequence[str]) -> str:
    """The natural key: the key fields' text joined by ``|`` ("" when one is missing)."""
    values = [payload.get(name) for name in key_fields]
    if not all(isinstance(value, str) and value.strip() for value in values):
        return ""
    return "|".join(str(value).strip() for value in values)


def to_incoming(
    rows: Iterable[SourceRow],
    *,
    mapping: Mapping[str, str],
    key_fields: Sequence[str],
    source: str,
    captured_at: dt.datetime,
) -> tuple[list[IncomingRecord], list[str]]:
    """The records for ``rows`` and, for each row that has no natural key, why not."""
    records: list[IncomingRecord] = []
    problems: list[str] = []
    for row in rows:
        payload = payload_of(row.values, mapping)
        key = natural_key_of(payload, key_fields)
        if not key:
            problems.append(f"{row.location}: no {'/'.join(key_fields)}, cannot be staged")
            continue
        records.append(
            IncomingRecord(
                natural_key=key,
                payload=payload,
                source=source,
                source_location=row.location,
                captured_at=captured_at,
            )
        )
    return records, problems
