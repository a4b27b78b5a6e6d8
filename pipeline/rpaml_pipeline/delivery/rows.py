"""The delivered rows of a processed batch, built column by column.

A delivered row is a record's control row (identity, state, score, decision, receipt,
label), its capture facts from its raw batch, and its cleaned contract fields from its
processed batch, each column typed as :mod:`rpaml_pipeline.delivery.columns` says. A value
that does not fit its column's type becomes null (the records delivered are validated, so
this only guards against old data).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl
from sqlalchemy import select

from rpaml_pipeline.canonical import dump_json
from rpaml_pipeline.delivery.columns import DELIVERY_COLUMNS, Column
from rpaml_pipeline.delivery.lake import lake_schema
from rpaml_pipeline.store import Store, codec, layout
from rpaml_pipeline.store.batches import BatchInfo
from rpaml_pipeline.store.hashing import sha256
from rpaml_pipeline.store.schema import records

_CONTROL = (
    "record_id",
    "natural_key",
    "process",
    "revision",
    "state",
    "source",
    "raw_hash",
    "content_hash",
    "updated_at",
    "score",
    "decision",
    "reasons",
    "model_name",
    "model_version",
    "policy_version",
    "receipt",
    "label",
    "label_source",
    "superseded_by",
)


def batch_records(store: Store, batch: BatchInfo) -> pl.DataFrame:
    """The control rows of the records a processed batch holds (any state)."""
    columns = [records.c[name] for name in _CONTROL]
    with store.ctx.read() as conn:
        rows = conn.execute(
            select(*columns).where(
                records.c.batch_id == batch.input_id,
                records.c.data_batch_id == batch.batch_id,
            )
        ).all()
    values: dict[str, list[Any]] = {name: [] for name in _CONTROL}
    for row in rows:
        for name, value in zip(_CONTROL, row, strict=True):
            values[name].append(value)
    values["reasons"] = [None if not r else dump_json(r) for r in values["reasons"]]
    return pl.DataFrame(
        values,
        schema={
            "record_id": pl.String,
            "natural_key": pl.String,
            "process": pl.String,
            "revision": pl.Int64,
            "state": pl.String,
            "source": pl.String,
            "raw_hash": pl.String,
            "content_hash": pl.String,
            "updated_at": pl.Datetime("us", "UTC"),
            "score": pl.Float64,
            "decision": pl.String,
            "reasons": pl.String,
            "model_name": pl.String,
            "model_version": pl.String,
            "policy_version": pl.String,
            "receipt": pl.String,
            "label": pl.Int64,
            "label_source": pl.String,
            "superseded_by": pl.String,
        },
    )


def delivered_rows(
    store: Store,
    batch: BatchInfo,
    control: pl.DataFrame,
    columns: Sequence[Column],
    extra: Mapping[str, Any],
) -> pl.DataFrame:
    """The delivered rows of ``control``'s records (their batch's data joined), in the
    order of the natural key and revision, with the delivery columns set from ``extra``."""
    raw = store.batches.frame(str(batch.input_id)).select(
        "record_id", "source_location", "captured_at"
    )
    data = store.batches.frame(batch.batch_id)
    fields = _data_columns(data, columns)
    joined = control.join(raw, on="record_id", how="left").join(fields, on="record_id", how="left")
    schema = lake_schema(columns)
    delivery = {column.name for column in DELIVERY_COLUMNS}
    picked = []
    for column in columns:
        kind = schema[column.name]
        if column.name in delivery:
            picked.append(pl.lit(extra[column.name], dtype=kind).alias(column.name))
        elif column.name in joined.columns:
            picked.append(_typed(pl.col(column.name), joined.schema[column.name], kind))
        else:
            picked.append(pl.lit(None, dtype=kind).alias(column.name))
    return joined.sort("natural_key", "revision").select(picked)


def row_hashes(columns: Sequence[Column]) -> pl.Expr:
    """SHA-256 of each delivered row without its delivery columns: a record goes to a
    target again only when this changes."""
    delivery = {column.name for column in DELIVERY_COLUMNS}
    names = [column.name for column in columns if column.name not in delivery]
    return sha256(pl.struct(names).struct.json_encode())


def _data_columns(data: pl.DataFrame, columns: Sequence[Column]) -> pl.DataFrame:
    """``record_id`` and each delivered contract field of a processed batch."""
    wanted = []
    for column in columns:
        name = codec.field_column(data, layout.DATA, column.name)
        if name is None:
            continue
        values = pl.col(name)
        if name.endswith("#json"):
            # Mixed values: text stays text, others become their JSON text.
            values = pl.col(name).map_elements(_json_text, return_dtype=pl.String)
        wanted.append(values.alias(column.name))
    return data.select(pl.col("record_id"), *wanted)


def _json_text(text: str) -> str:
    from rpaml_pipeline.canonical import load_json

    value = load_json(text)
    return value if isinstance(value, str) else text


def _typed(expression: pl.Expr, found: pl.DataType, kind: pl.DataType) -> pl.Expr:
    name = expression.meta.output_name()
    if found == kind:
        return expression
    if isinstance(kind, pl.Boolean) and not isinstance(found, pl.Boolean):
        return pl.lit(None, dtype=kind).alias(name)
    if isinstance(kind, pl.Datetime) and isinstance(found, pl.String):
        return expression.str.to_datetime(time_zone="UTC", strict=False).alias(name)
    if isinstance(kind, pl.Date) and isinstance(found, pl.String):
        return expression.str.to_date(strict=False).alias(name)
    if isinstance(kind, pl.String) and not isinstance(found, pl.String):
        return expression.cast(pl.String, strict=False).alias(name)
    return expression.cast(kind, strict=False).alias(name)


def utc_now(now: dt.datetime) -> dt.datetime:
    """``now`` as an aware UTC datetime."""
    return now if now.tzinfo else now.replace(tzinfo=dt.UTC)
