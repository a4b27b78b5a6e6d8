"""Cleaning a whole batch, column by column.

What a field cleans to depends only on the rules naming it (or ``"*"``), its raw value and
whether it is present (:class:`~rpaml_pipeline.steps.clean.Cleaner`). So a column is cleaned
per *distinct* value, by the very fold the per-record path uses, and the results are joined
back onto the rows: a batch costs one fold per distinct date, amount or category, not one
per record. A column whose only rules trim whitespace (ids, names, descriptions: values
that rarely repeat) is trimmed by a polars expression with exactly ``str.split``'s notion of
whitespace instead.

The cleaned column keeps one Python type (text, whole number, number, yes/no or date) and
nulls; a value a parse rule could not read is null there, with the raw text in
``unparsed`` and what was expected in ``expected``. A column whose cleaned values mix types
is not :class:`Cleaned`: :func:`clean_columns` returns None and the batch takes the
per-record path.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from rpaml_pipeline.process.definition import TrimRule
from rpaml_pipeline.steps.clean import Cleaner, Unparsed
from rpaml_pipeline.store.hashing import normalised

_DTYPES: dict[type, pl.DataType] = {
    str: pl.String(),
    int: pl.Int64(),
    float: pl.Float64(),
    bool: pl.Boolean(),
    dt.date: pl.Date(),
}


@dataclass(frozen=True)
class Cleaned:
    """One cleaned field of the batch."""

    name: str
    values: pl.Series
    """The cleaned values (one dtype; null where missing or unparsed)."""
    expected: pl.Series | None
    """Where a value could not be parsed: what was expected (``an amount of money``)."""
    unparsed: pl.Series | None = None
    """Where a value could not be parsed: the text the parse rule was given (what the
    record's cleaned data keeps)."""
    added: bool = False
    """The field is not in the raw payload: a rule added it (a default)."""


@dataclass(frozen=True)
class CleanedBatch:
    """The cleaned fields of a batch, in the order of the cleaned records' keys, and each
    record's cleaning notes."""

    fields: list[Cleaned]
    notes: pl.Series
    """list[str] per record, in the order the per-record path writes them."""

    def field(self, name: str) -> Cleaned | None:
        """The cleaned field ``name``, if the records have it."""
        return next((item for item in self.fields if item.name == name), None)


def clean_columns(cleaner: Cleaner, raw: pl.DataFrame, keys: Sequence[str]) -> CleanedBatch | None:
    """Clean every field of ``raw`` (text columns named ``keys``, in the payloads' key
    order), or None when a field's cleaned values would mix types."""
    height = raw.height
    fields: list[Cleaned] = []
    notes: list[tuple[tuple[int, int], pl.Series]] = []
    for position, name in enumerate(keys):
        column = raw.get_column(name)
        plan = cleaner._plan(name)
        if plan and all(isinstance(rule, TrimRule) for _, _, rule in plan):
            fields.append(Cleaned(name, _trimmed(column, plan), None))
            continue
        folded = _fold_distinct(cleaner, name, column, position)
        if folded is None:
            return None
        cleaned, field_notes = folded
        fields.append(cleaned)
        notes.extend(field_notes)
    added = sorted(
        (outcome[3], name, outcome)
        for name, outcome in cleaner._absent.items()
        if name not in keys and outcome[3] is not None
    )
    for offset, (_, name, outcome) in enumerate(added):
        value, added_notes = outcome[1], outcome[2]
        kind = _kind([value])
        if kind is None:
            return None
        values = pl.Series(name, [value] * height, dtype=kind)
        fields.append(Cleaned(name, values, None, added=True))
        for index, at, note in added_notes:
            text = pl.Series(f"note:{name}:{index}", [str(note)] * height, dtype=pl.String)
            notes.append(((index, len(keys) + offset if at < 0 else at), text))
    return CleanedBatch(fields, _note_lists(notes, height))


def _trimmed(column: pl.Series, plan: Sequence[tuple[int, int, Any]]) -> pl.Series:
    frame = pl.DataFrame({"v": column})
    values = pl.col("v")
    for _, _, rule in plan:
        values = normalised(values)
        if rule.empty_as_missing:
            values = pl.when(values == "").then(None).otherwise(values)
    return frame.select(values.alias(column.name)).to_series()


def _fold_distinct(
    cleaner: Cleaner, name: str, column: pl.Series, position: int
) -> tuple[Cleaned, list[tuple[tuple[int, int], pl.Series]]] | None:
    distinct = column.unique(maintain_order=True).to_list()
    outcomes = [cleaner._fold(name, True, value) for value in distinct]
    values = [outcome[1] for outcome in outcomes]
    kind = _kind([v for v in values if not isinstance(v, Unparsed)])
    if kind is None:
        return None
    lookup = pl.DataFrame(
        {
            "raw": pl.Series(distinct, dtype=pl.String),
            "value": pl.Series(
                [None if isinstance(v, Unparsed) else v for v in values], dtype=kind
            ),
            "expected": pl.Series(
                [v.expected if isinstance(v, Unparsed) else None for v in values], dtype=pl.String
            ),
            "unparsed": pl.Series(
                [str(v.raw) if isinstance(v, Unparsed) else None for v in values], dtype=pl.String
            ),
        }
    )
    keyed: dict[tuple[int, int], list[str | None]] = {}
    for row, outcome in enumerate(outcomes):
        for index, at, note in outcome[2]:
            keyed.setdefault((index, position if at < 0 else at), [None] * len(outcomes))[row] = (
                str(note)
            )
    for key, texts in keyed.items():
        lookup = lookup.with_columns(pl.Series(f"note{key[0]}_{key[1]}", texts, dtype=pl.String))
    joined = pl.DataFrame({"raw": column}).join(lookup, on="raw", how="left", nulls_equal=True)
    expected = joined.get_column("expected")
    failed = expected.null_count() < len(expected)
    cleaned = Cleaned(
        name,
        joined.get_column("value").alias(name),
        expected if failed else None,
        joined.get_column("unparsed") if failed else None,
    )
    notes = [(key, joined.get_column(f"note{key[0]}_{key[1]}")) for key in keyed]
    return cleaned, notes


def _kind(values: Sequence[Any]) -> pl.DataType | None:
    """The one dtype the values share (text when there are none), or None."""
    kinds = {type(value) for value in values if value is not None}
    if not kinds:
        return pl.String()
    if len(kinds) > 1:
        return None
    (kind,) = kinds
    if kind is dt.datetime:
        return None  # dates only: a datetime would lose its time as a Date
    return _DTYPES.get(kind)


def _note_lists(notes: list[tuple[tuple[int, int], pl.Series]], height: int) -> pl.Series:
    """Each record's notes, sorted as the per-record path sorts them (rule, then field)."""
    if not notes:
        return pl.select(pl.repeat(pl.lit([], dtype=pl.List(pl.String)), height)).to_series()
    ordered = [
        series.alias(f"n{i}") for i, (_, series) in enumerate(sorted(notes, key=lambda n: n[0]))
    ]
    frame = pl.DataFrame(ordered)
    return frame.select(pl.concat_list(pl.all()).list.drop_nulls().alias("notes")).to_series()
