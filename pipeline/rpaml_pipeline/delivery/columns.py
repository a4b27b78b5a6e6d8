"""The delivered row: the record's identity and lineage, its score and decision, and its
cleaned contract fields, typed the same way for every target (Parquet, warehouse, report,
webhook)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from rpaml_pipeline.errors import DeliveryError
from rpaml_pipeline.process import ProcessDefinition

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
