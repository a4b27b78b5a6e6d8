"""A warehouse table in any SQLAlchemy database, upserted by natural key.

The table is created when missing (``natural_key`` is its primary key). A row replaces the
stored one for the same key unless the stored one is a later revision, so re-running a
delivery never duplicates rows and an old revision delivered late never overwrites a new
one. PostgreSQL: ``COPY`` into a staging table, then one merge; MariaDB/MySQL:
``INSERT ... ON DUPLICATE KEY UPDATE``; SQLite ``INSERT ... ON CONFLICT DO UPDATE``; other
databases a read-then-write in one transaction. A column delivered for the first time is
added to the table.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import polars as pl
from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Engine,
    Float,
    MetaData,
    String,
    Table,
    Text,
    select,
    update,
)
from sqlalchemy import Column as SqlColumn
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.types import TypeEngine

from rpaml_pipeline.delivery.columns import Column, ColumnKind
from rpaml_pipeline.delivery.warehouse_merge import copy_merge, create_or_migrate, mysql_upsert
from rpaml_pipeline.store.bulk import SQLITE_DATE, SQLITE_TIMESTAMP, upsert_rows

_SQL_TYPES: dict[ColumnKind, TypeEngine[Any]] = {
    "string": Text(),
    "integer": BigInteger(),
    "float": Float(),
    "boolean": Boolean(),
    "date": Date(),
    "timestamp": DateTime(timezone=True),
}
KEY = "natural_key"
_CHUNK = 1000
_FRAME_CHUNK = 50_000


def warehouse_table(name: str, columns: Sequence[Column]) -> Table:
    """The table definition for the delivered columns (``natural_key`` the primary key)."""
    sql_columns = [
        SqlColumn(column.name, String(400), primary_key=True)
        if column.name == KEY
        else SqlColumn(column.name, _SQL_TYPES[column.kind])
        for column in columns
    ]
    return Table(name, MetaData(), *sql_columns)


def upsert(engine: Engine, table: Table, rows: Sequence[dict[str, Any]]) -> int:
    """Insert or update ``rows`` by natural key (creating the table first); return how
    many rows were written."""
    table.metadata.create_all(engine, checkfirst=True)
    written = 0
    with engine.begin() as conn:
        for start in range(0, len(rows), _CHUNK):
            chunk = [_for_dialect(row, engine.dialect.name) for row in rows[start : start + _CHUNK]]
            if engine.dialect.name in ("sqlite", "postgresql"):
                dialect_insert = (
                    sqlite.insert if engine.dialect.name == "sqlite" else postgresql.insert
                )
                statement = dialect_insert(table)
                excluded = statement.excluded
                statement = statement.on_conflict_do_update(
                    index_elements=[table.c[KEY]],
                    set_={c.name: excluded[c.name] for c in table.columns if c.name != KEY},
                    where=table.c.revision <= excluded.revision,
                )
                conn.execute(statement, chunk)
                written += len(chunk)
                continue
            keys = [row[KEY] for row in chunk]
            stored = dict(
                conn.execute(select(table.c[KEY], table.c.revision).where(table.c[KEY].in_(keys)))
                .tuples()
                .all()
            )
            for row in chunk:
                if row[KEY] not in stored:
                    conn.execute(table.insert().values(row))
                elif stored[row[KEY]] is None or stored[row[KEY]] <= row["revision"]:
                    conn.execute(update(table).where(table.c[KEY] == row[KEY]).values(row))
                else:
                    continue
                written += 1
    return written


def upsert_frame(engine: Engine, table: Table, rows: pl.DataFrame) -> int:
    """:func:`upsert` of a frame of rows (its columns those of ``table``).

    The table is created or migrated from the delivered columns first
    (:func:`~rpaml_pipeline.delivery.warehouse_merge.create_or_migrate`). PostgreSQL gets
    the rows by ``COPY`` into a staging table and one merge, MariaDB/MySQL multi-row
    ``INSERT ... ON DUPLICATE KEY UPDATE`` (:mod:`.warehouse_merge`), SQLite an
    ``executemany`` upsert with dates formatted by polars
    (:func:`rpaml_pipeline.store.bulk.upsert_rows`); other databases row by row.
    """
    dialect = engine.dialect.name
    if dialect not in ("sqlite", "postgresql", "mysql", "mariadb"):
        return upsert(engine, table, rows.to_dicts())
    create_or_migrate(engine, table)
    names = [column.name for column in table.columns]
    updated = [name for name in names if name != KEY]
    sqlite = dialect == "sqlite"
    frame = _sqlite_text(rows.select(names)) if sqlite else rows.select(names)
    with engine.begin() as conn:
        for start in range(0, frame.height, _FRAME_CHUNK):
            part = frame.slice(start, _FRAME_CHUNK).rows()
            if dialect == "postgresql":
                copy_merge(conn, table, names, part)
            elif dialect in ("mysql", "mariadb"):
                mysql_upsert(conn, table, names, part)
            else:
                upsert_rows(
                    conn, table, names, part, key=KEY, update=updated, only_if="revision",
                    bound=sqlite,
                )  # fmt: skip
    return rows.height


def _sqlite_text(frame: pl.DataFrame) -> pl.DataFrame:
    """Dates and timestamps as SQLite stores them, formatted by polars for the whole frame
    (per value in Python, SQLAlchemy's bind processors cost more than the writes)."""
    converted = []
    for name, dtype in frame.schema.items():
        column = pl.col(name)
        if isinstance(dtype, pl.Datetime):
            if dtype.time_zone is not None:
                column = column.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
            converted.append(column.dt.strftime(SQLITE_TIMESTAMP).alias(name))
        elif dtype == pl.Date:
            converted.append(column.dt.strftime(SQLITE_DATE).alias(name))
    return frame.with_columns(converted) if converted else frame


def _for_dialect(row: dict[str, Any], dialect: str) -> dict[str, Any]:
    if dialect != "sqlite":
        return row
    # SQLite has no time zones: timestamps are stored as naive UTC.
    return {
        key: value.astimezone(dt.UTC).replace(tzinfo=None)
        if isinstance(value, dt.datetime) and value.tzinfo
        else value
        for key, value in row.items()
    }
