"""The columns of the two kinds of batch, and how a record's lineage is read off them.

Raw batch (what a source delivered; written by ingest)::

    record_id, natural_key, revision, previous_record_id, source_location,
    captured_at, raw_hash, content_hash, r.<field>...      (payload: store.codec)

Processed batch (what processing made of a raw batch's records)::

    record_id, to_state, step_details, has_features, label, label_source, has_data,
    d.<field>...     cleaned data (unparsed values keep their raw text; has_data)
    f.<feature>...   features (valid records only: has_features)

``step_details`` is each record's JSON list of the details of the steps it went through,
in the order of the steps its batch's ``process`` event lists (``rpaml:batch_steps``); a
quarantined record's list stops after validation, as its lineage does.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl

from rpaml_pipeline.canonical import load_json

PAYLOAD = "r."
DATA = "d."
FEATURES = "f."
RAW_CONTROL = (
    "record_id",
    "natural_key",
    "revision",
    "previous_record_id",
    "source_location",
    "captured_at",
    "raw_hash",
    "content_hash",
)
PROCESSED_CONTROL = (
    "record_id",
    "to_state",
    "step_details",
    "has_features",
    "label",
    "label_source",
)
PROCESSED_SCHEMA: Mapping[str, pl.DataType] = {
    "record_id": pl.String(),
    "to_state": pl.String(),
    "step_details": pl.String(),
    "has_features": pl.Boolean(),
    "label": pl.Int64(),
    "label_source": pl.String(),
}


def ingest_detail(row: Mapping[str, Any], source: str) -> dict[str, Any]:
    """The ``ingest`` event detail of one raw batch row (as a per-record event had it)."""
    captured = row["captured_at"]
    detail: dict[str, Any] = {
        "source": source,
        "source_location": row["source_location"],
        "captured_at": utc(captured).isoformat() if captured is not None else None,
        "raw_hash": row["raw_hash"],
        "content_hash": row["content_hash"],
        "revision": row["revision"],
    }
    if row.get("previous_record_id") is not None:
        detail["previous_record_id"] = row["previous_record_id"]
    return detail


def step_events(
    steps: Sequence[Sequence[Any]], row: Mapping[str, Any]
) -> list[tuple[str, str | None, str | None, dict[str, Any]]]:
    """``(step, version, config hash, detail)`` of each step a processed record went
    through: the batch's steps, as far as the record's ``step_details`` go."""
    details = load_json(row["step_details"]) if row.get("step_details") else []
    return [
        (str(step[0]), step[1], step[2], dict(detail))
        for step, detail in zip(steps, details, strict=False)
    ]


def utc(at: dt.datetime) -> dt.datetime:
    """``at`` with the standard library's UTC (polars gives a zoneinfo UTC)."""
    if at.tzinfo is None:
        return at.replace(tzinfo=dt.UTC)
    return at.astimezone(dt.UTC)
