"""The delivered row: the record's identity and lineage, its score and decision, and its
cleaned contract fields, typed the same way for every target (Parquet, warehouse, report,
webhook)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from rpaml_pipeline.canonical import sha256_hex, to_jsonable
from rpaml_pipeline.errors import DeliveryError
from rpaml_pipeline.process import ProcessDefinition
from rpaml_pipeline.store import StoredRecord

ColumnKind = Literal["string", "integer", "float", "boolean", "date", "timestamp"]


@dataclass(frozen=True)
class Column:
    """One delivered column and its type."""

    name: str
    kind: ColumnKind


RECORD_COLUMNS: tuple[Column, ...] = (
    Column("natural_key", "string"),
    Column("record_id", "string"),
    Column("process", "string"),
    Column("revision", "integer"),
    Column("state", "string"),
    Column("source", "string"),
    Column("source_location", "string"),
    Column("captured_at", "timestamp"),
    Column("raw_hash", "string"),
    Column("content_hash", "string"),
    Column("updated_at", "timestamp"),
    Column("score", "float"),
    Column("decision", "string"),
    Column("reasons", "string"),
    Column("model_name", "string"),
    Column("model_version", "string"),
    Column("policy_version", "string"),
    Column("receipt", "string"),
    Column("label", "integer"),
    Column("label_source", "string"),
)
"""Columns every delivery carries, before the contract fields. ``reasons`` is JSON text."""

DELIVERY_COLUMNS: tuple[Column, ...] = (
    Column("delivery_run_id", "string"),
    Column("delivered_at", "timestamp"),
)

_FIELD_KINDS: dict[str, ColumnKind] = {
    "string": "string",
    "category": "string",
    "integer": "integer",
    "number": "float",
    "money": "float",
    "date": "date",
    "boolean": "boolean",
}


def delivery_columns(process: ProcessDefinition) -> list[Column]:
    """Every delivered column of ``process``, in order (record, contract fields, delivery)."""
    taken = {column.name for column in (*RECORD_COLUMNS, *DELIVERY_COLUMNS)}
    clashes = sorted(taken & set(process.contract.fields))
    if clashes:
        raise DeliveryError(
            f"process {process.name}: contract fields {', '.join(clashes)} have the names of "
            "delivery columns; rename them in the contract"
        )
    fields = [
        Column(name, _FIELD_KINDS[spec.type]) for name, spec in process.contract.fields.items()
    ]
    return [*RECORD_COLUMNS, *fields, *DELIVERY_COLUMNS]


def record_row(record: StoredRecord, columns: Sequence[Column]) -> dict[str, Any]:
    """The delivered row of ``record`` (without the delivery columns, filled per run)."""
    data: Mapping[str, Any] = record.data or {}
    row: dict[str, Any] = {}
    for column in columns:
        if column.name in ("delivery_run_id", "delivered_at"):
            continue
        if column.name == "reasons":
            value: Any = json.dumps(to_jsonable(record.reasons)) if record.reasons else None
        elif column.name in StoredRecord.__dataclass_fields__:
            value = getattr(record, column.name)
        else:
            value = data.get(column.name)
        row[column.name] = typed(value, column.kind)
    return row


def row_hash(row: Mapping[str, Any]) -> str:
    """Fingerprint of a delivered row: a record is delivered again only when it changes."""
    return sha256_hex(row)


def typed(value: Any, kind: ColumnKind) -> Any:
    """``value`` as the column's Python type; a value that does not fit becomes None
    (the records delivered are validated, so this only guards against old data)."""
    if value is None:
        return None
    try:
        if kind == "string":
            return value if isinstance(value, str) else json.dumps(to_jsonable(value))
        if kind == "integer":
            return None if isinstance(value, bool) else int(value)
        if kind == "float":
            return None if isinstance(value, bool) else float(value)
        if kind == "boolean":
            return value if isinstance(value, bool) else None
        if kind == "date":
            if isinstance(value, dt.datetime):
                return value.date()
            return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
        if isinstance(value, dt.datetime):
            return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return dt.datetime.fromisoformat(str(value))
    except (TypeError, ValueError):
        return None
