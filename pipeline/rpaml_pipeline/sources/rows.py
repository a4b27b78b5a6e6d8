"""Rows as sources deliver them, and how a row becomes a record for the staging store."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rpaml_pipeline.incoming_rows import natural_key_of, normalise_row
from rpaml_pipeline.store import IncomingRecord


@dataclass(frozen=True)
class SourceRow:
    """One row as read from a source, and where exactly it was read (file and row, URL
    and position, query and row)."""

    values: Mapping[str, Any]
    location: str


def payload_of(values: Mapping[str, Any], mapping: Mapping[str, str]) -> dict[str, Any]:
    """A row's payload by the rules every source and robot share
    (:mod:`rpaml_pipeline.incoming_rows`): ``mapping`` is {field: source column}; other
    columns keep their name in snake_case."""
    return normalise_row(values, {column: name for name, column in mapping.items()})


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
