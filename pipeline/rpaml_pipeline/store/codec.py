"""Columns of mappings: the lossless encoding of record payloads in columnar batches.

A batch holds many records' payloads (raw fields as captured, cleaned fields, features).
They are stored column by column (one polars column per field, Parquet on disk), because
the pipeline's steps work on whole columns and columns compress well. Payloads are JSON
values (what :func:`~rpaml_pipeline.canonical.to_jsonable` returns), so the encoding must
give back exactly what went in: the same keys in the same order, ``1`` and ``1.0`` told
apart, ``None`` and an absent key told apart.

:func:`encode` picks, per field, the narrowest faithful column type, and says how in the
column's name (``<prefix><field><marker>``):

* ``"amount"``: every value is text (or ``None``): a String column. Robots and files
  deliver text, so raw batches are almost always this.
* ``"age#int"``, ``"rate#float"``, ``"flag#bool"``, ``"day#date"`` (ISO date text kept as
  a Date column, given back as the same ISO text): one JSON type throughout.
* ``"value#json"``: mixed types, lists or objects: each value's JSON text.

When the mappings do not all have the same keys in the same order, the batch is stored as
one ``<prefix>#record`` column holding each mapping's JSON text (order kept), and the
steps take the per-record path for it.

A typed column may have a ``<name>!text`` companion (the column path of processing writes
one): where it holds text, that text is the value (a cleaned field whose raw text could
not be parsed keeps the raw text).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl

from rpaml_pipeline.canonical import dump_json, load_json

RECORD_MARKER = "#record"
_MARKERS = ("#int", "#float", "#bool", "#date", "#json")
TEXT_OVERRIDE = "!text"
_INT64 = (-(2**63), 2**63 - 1)
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)

ColumnPlan = tuple[str, str, str]
"""``(field, marker, column name)`` of one encoded field."""


def encode(
    mappings: Sequence[Mapping[str, Any]], prefix: str, *, dates: bool = False
) -> pl.DataFrame:
    """The columns holding ``mappings`` (JSON values), one row per mapping.

    ``dates=True`` stores a text field whose every value is an ISO date (``2026-03-14``)
    as a Date column (cleaned data); raw text is never touched that way.
    """
    if not mappings:
        return pl.DataFrame()
    keys = list(mappings[0])
    if not all(list(mapping) == keys for mapping in mappings):
        return pl.DataFrame(
            {prefix + RECORD_MARKER: [dump_json(dict(mapping)) for mapping in mappings]},
            schema={prefix + RECORD_MARKER: pl.String},
        )
    columns: dict[str, pl.Series] = {}
    for key in keys:
        values = [mapping[key] for mapping in mappings]
        name, series = _column(prefix + key, values, dates=dates)
        columns[name] = series
    return pl.DataFrame(columns)


def _column(name: str, values: list[Any], *, dates: bool) -> tuple[str, pl.Series]:
    kinds = {type(value) for value in values if value is not None}
    if kinds <= {str}:
        if dates and kinds and all(_is_iso_date(v) for v in values if v is not None):
            parsed = [None if v is None else dt.date.fromisoformat(v) for v in values]
            return name + "#date", pl.Series(name + "#date", parsed, dtype=pl.Date)
        return name, pl.Series(name, values, dtype=pl.String)
    if kinds == {bool}:
        return name + "#bool", pl.Series(name + "#bool", values, dtype=pl.Boolean)
    if kinds == {int} and all(value is None or _INT64[0] <= value <= _INT64[1] for value in values):
        return name + "#int", pl.Series(name + "#int", values, dtype=pl.Int64)
    if kinds == {float}:
        return name + "#float", pl.Series(name + "#float", values, dtype=pl.Float64)
    texts = [None if value is None else dump_json(value) for value in values]
    return name + "#json", pl.Series(name + "#json", texts, dtype=pl.String)


def _is_iso_date(value: str) -> bool:
    if not _ISO_DATE.fullmatch(value):
        return False
    try:
        return dt.date.fromisoformat(value).isoformat() == value
    except ValueError:
        return False


def plan(frame: pl.DataFrame, prefix: str) -> list[ColumnPlan] | None:
    """The fields encoded under ``prefix`` in ``frame``, in order; None when the batch
    holds whole records (``<prefix>#record``)."""
    if prefix + RECORD_MARKER in frame.columns:
        return None
    found: list[ColumnPlan] = []
    for name in frame.columns:
        if not name.startswith(prefix) or name.endswith(TEXT_OVERRIDE):
            continue
        rest = name[len(prefix) :]
        marker = next((m for m in _MARKERS if rest.endswith(m)), "")
        found.append((rest[: len(rest) - len(marker)] if marker else rest, marker, name))
    return found


def decode(frame: pl.DataFrame, prefix: str) -> list[dict[str, Any]]:
    """The mappings :func:`encode` stored under ``prefix`` (exactly as given to it).

    A row whose every field under ``prefix`` is null and that has no such columns at all
    decodes to ``{}``.
    """
    fields = plan(frame, prefix)
    if fields is None:
        texts = frame.get_column(prefix + RECORD_MARKER).to_list()
        return [{} if text is None else dict(load_json(text)) for text in texts]
    if not fields:
        return [{} for _ in range(frame.height)]
    names = [field for field, _, _ in fields]
    columns = [_overridden(frame, column, marker) for _, marker, column in fields]
    return [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]


def decode_where(frame: pl.DataFrame, prefix: str, present: str) -> list[dict[str, Any] | None]:
    """:func:`decode` for rows whose boolean column ``present`` is true, None elsewhere
    (a processed batch holds features only for its valid records)."""
    keep = frame.get_column(present).to_list()
    decoded = decode(frame, prefix)
    return [mapping if flag else None for mapping, flag in zip(decoded, keep, strict=True)]


def _overridden(frame: pl.DataFrame, column: str, marker: str) -> list[Any]:
    values = _values(frame.get_column(column), marker)
    if column + TEXT_OVERRIDE not in frame.columns:
        return values
    texts = frame.get_column(column + TEXT_OVERRIDE).to_list()
    return [value if text is None else text for value, text in zip(values, texts, strict=True)]


def _values(series: pl.Series, marker: str) -> list[Any]:
    values = series.to_list()
    if marker == "#date":
        return [None if value is None else value.isoformat() for value in values]
    if marker == "#json":
        return [None if value is None else load_json(value) for value in values]
    return values


def field_column(frame: pl.DataFrame, prefix: str, field: str) -> str | None:
    """The name of the column holding ``field`` under ``prefix``, or None."""
    for name in (prefix + field, *(prefix + field + marker for marker in _MARKERS)):
        if name in frame.columns:
            return name
    return None


__all__ = [
    "RECORD_MARKER",
    "TEXT_OVERRIDE",
    "decode",
    "decode_where",
    "encode",
    "field_column",
    "plan",
]
