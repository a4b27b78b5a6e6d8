"""Incremental SQL sources: a cursor column and a watermark stored with the records.

Each run reads ``SELECT * FROM (<query>) WHERE <cursor> >= :watermark ORDER BY <cursor>``
in batches of ``batch_rows``. Each batch is staged and the watermark moved in one
transaction (:meth:`SourcePositions.stage_messages`): the watermark is the last cursor
value read, with the natural keys read at exactly that value. Reading ``>=`` (not ``>``)
means rows that arrive later with the same cursor value as the last one read are never
skipped; the keys stored with the watermark mean the rows already read at that value are
never staged twice. A crash between batches resumes from the last committed batch.

The cursor must grow whenever a row is added or changed (an ``updated_at`` maintained by
the database, a sequence); a row changed without its cursor moving is not read again.
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.exc import SQLAlchemyError

from rpaml_pipeline.errors import SourceError
from rpaml_pipeline.incoming_rows import natural_key_of
from rpaml_pipeline.process import ProcessDefinition
from rpaml_pipeline.process.sources import SqlSource
from rpaml_pipeline.sources.remote import masked
from rpaml_pipeline.sources.rows import payload_of
from rpaml_pipeline.store import IncomingRecord, Store
from rpaml_pipeline.store.source_positions import TakenMessage

_SPACES = re.compile(r"\s+")
_COLUMN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass
class SqlCounts:
    """What one incremental run did."""

    rows: int = 0
    tied: int = 0
    """Rows read again at the last watermark and recognised (not staged)."""
    new: int = 0
    revised: int = 0
    unchanged: int = 0
    rejected: list[str] | None = None
    watermark: Any = None


def encode_cursor(value: Any) -> dict[str, Any]:
    """A cursor value as JSON (the type kept, so it binds back as what the column holds)."""
    if isinstance(value, dt.datetime):
        return {"type": "datetime", "value": value.isoformat()}
    if isinstance(value, dt.date):
        return {"type": "date", "value": value.isoformat()}
    if isinstance(value, bool | int):
        return {"type": "int", "value": int(value)}
    if isinstance(value, decimal.Decimal):
        return {"type": "decimal", "value": str(value)}
    if isinstance(value, float):
        return {"type": "float", "value": value}
    return {"type": "str", "value": str(value)}


def decode_cursor(stored: Mapping[str, Any]) -> Any:
    """The value :func:`encode_cursor` stored."""
    kind, value = stored["type"], stored["value"]
    if kind == "datetime":
        return dt.datetime.fromisoformat(value)
    if kind == "date":
        return dt.date.fromisoformat(value)
    if kind == "decimal":
        return decimal.Decimal(value)
    return value


def take_incremental(
    store: Store, process: ProcessDefinition, spec: SqlSource, url: str, run_id: str
) -> SqlCounts:
    """Read the rows at or after the watermark (see the module docstring)."""
    assert spec.cursor is not None
    if not _COLUMN.match(spec.cursor):
        raise SourceError(f"source {spec.name}: cursor {spec.cursor!r} is not a column name")
    source = f"sql:{spec.name}"
    stored = store.positions.position(process.name, source)
    keys_at_last = set(stored["keys"]) if stored else set()
    last = decode_cursor(stored["cursor"]) if stored else None
    query = _SPACES.sub(" ", spec.query).strip()
    sql = f"SELECT * FROM ({spec.query}) rpaml_source"
    if stored is not None:
        sql += f" WHERE {spec.cursor} >= :watermark"
    sql += f" ORDER BY {spec.cursor}"
    where = f"{masked(url)} | {query}"
    counts = SqlCounts(rejected=[], watermark=last)
    try:
        engine = create_engine(url)
    except (SQLAlchemyError, ImportError, ValueError) as exc:
        raise SourceError(f"source {spec.name}: bad database URL {masked(url)} ({exc})") from exc
    try:
        with engine.connect() as conn:
            result = conn.execution_options(stream_results=True).execute(
                text(sql), {"watermark": last} if stored is not None else {}
            )
            for part in result.mappings().partitions(spec.batch_rows):
                rows = [dict(row) for row in part]
                last, keys_at_last = _stage_batch(
                    store, process, spec, rows, where, run_id, last, keys_at_last, counts
                )
    except SQLAlchemyError as exc:
        first = str(exc).splitlines()[0]
        raise SourceError(f"source {spec.name}: query failed on {masked(url)}: {first}") from exc
    finally:
        engine.dispose()
    counts.watermark = last
    return counts


def _stage_batch(
    store: Store,
    process: ProcessDefinition,
    spec: SqlSource,
    rows: list[dict[str, Any]],
    where: str,
    run_id: str,
    last: Any,
    keys_at_last: set[str],
    counts: SqlCounts,
) -> tuple[Any, set[str]]:
    assert spec.cursor is not None and counts.rejected is not None
    source = f"sql:{spec.name}"
    captured_at = store.now()
    counts.rows += len(rows)
    fresh: list[TakenMessage] = []
    for row in rows:
        value = row.get(spec.cursor)
        location = f"{where} | {spec.cursor}={value}"
        payload = payload_of(row, spec.fields)
        key = natural_key_of(payload, process.contract.natural_key)
        if not key:
            if len(counts.rejected) < 20:
                counts.rejected.append(f"{location}: no natural key, cannot be staged")
            continue
        if value == last and key in keys_at_last:
            counts.tied += 1  # read at the last watermark before: recognised
            continue
        if value != last:
            last, keys_at_last = value, set()
        keys_at_last.add(key)
        record = IncomingRecord(key, payload, source, location, captured_at)
        fresh.append(TakenMessage(f"{key}@{value}", [record], location))
    position = {"cursor": encode_cursor(last), "keys": sorted(keys_at_last)}
    result = store.positions.stage_messages(
        process.name, source, fresh, run_id=run_id, position=position, record_messages=False
    )
    counts.new += result.new
    counts.revised += result.revised
    counts.unchanged += result.unchanged
    return last, keys_at_last
