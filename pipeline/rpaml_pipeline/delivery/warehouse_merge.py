"""Bulk merges into a PostgreSQL or MariaDB/MySQL warehouse table, and its migration.

* PostgreSQL: the rows are ``COPY``-ed into a temporary staging table (the fastest way in),
  then merged with one ``INSERT ... SELECT ... ON CONFLICT (natural_key) DO UPDATE``
  that keeps a later stored revision.
* MariaDB/MySQL: multi-row ``INSERT ... ON DUPLICATE KEY UPDATE``, each column taking the
  new value only when the new revision is not older (``revision`` assigned last, since
  MySQL evaluates the assignments left to right).

The table is created from the delivered columns when missing, and a column delivered
for the first time (the process file gained a field) is added with ``ALTER TABLE``;
columns are never dropped, so what was delivered before stays readable.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine, Table, inspect
from sqlalchemy.engine import Connection

from rpaml_pipeline.store.bulk import pg_text

KEY = "natural_key"
_MYSQL_CHUNK = 1000


def create_or_migrate(engine: Engine, table: Table) -> list[str]:
    """Create ``table`` when missing, else add the columns it lacks; returns those added."""
    table.metadata.create_all(engine, checkfirst=True)
    existing = {column["name"] for column in inspect(engine).get_columns(table.name)}
    added = [column for column in table.columns if column.name not in existing]
    if not added:
        return []
    preparer = engine.dialect.identifier_preparer
    with engine.begin() as conn:
        for column in added:
            kind = column.type.compile(dialect=engine.dialect)
            conn.exec_driver_sql(
                f"ALTER TABLE {preparer.format_table(table)} "
                f"ADD COLUMN {preparer.quote(column.name)} {kind}"
            )
    return [column.name for column in added]


def copy_merge(conn: Connection, table: Table, names: Sequence[str], rows: Sequence[Any]) -> None:
    """PostgreSQL: ``COPY`` ``rows`` into a staging table, then merge by natural key."""
    quote = conn.dialect.identifier_preparer.quote
    target = conn.dialect.identifier_preparer.format_table(table)
    columns = ", ".join(quote(name) for name in names)
    updates = ", ".join(f"{quote(name)} = EXCLUDED.{quote(name)}" for name in names if name != KEY)
    raw = conn.connection.driver_connection
    assert raw is not None
    with raw.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS rpaml_staging (LIKE {target}) ON COMMIT DROP"
        )
        cursor.execute("TRUNCATE rpaml_staging")
        with cursor.copy(f"COPY rpaml_staging ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([pg_text(value) for value in row])
        # One row per key (the newest revision): ON CONFLICT cannot touch a row twice.
        cursor.execute(
            f"INSERT INTO {target} ({columns}) "
            f"SELECT DISTINCT ON ({quote(KEY)}) {columns} FROM rpaml_staging "
            f"ORDER BY {quote(KEY)}, revision DESC "
            f"ON CONFLICT ({quote(KEY)}) DO UPDATE SET {updates} "
            f"WHERE {target}.revision IS NULL OR {target}.revision <= EXCLUDED.revision"
        )


def mysql_upsert(conn: Connection, table: Table, names: Sequence[str], rows: Sequence[Any]) -> None:
    """MariaDB/MySQL: multi-row insert, updating a key only with a revision not older."""
    quote = conn.dialect.identifier_preparer.quote
    target = conn.dialect.identifier_preparer.format_table(table)
    columns = ", ".join(quote(name) for name in names)
    newer = "(revision IS NULL OR revision <= VALUES(revision))"
    assigned = [name for name in names if name not in (KEY, "revision")] + ["revision"]
    updates = ", ".join(
        f"{quote(name)} = IF({newer}, VALUES({quote(name)}), {quote(name)})" for name in assigned
    )
    placeholders = ", ".join(["%s"] * len(names))
    statement = (
        f"INSERT INTO {target} ({columns}) VALUES ({placeholders}) "
        f"ON DUPLICATE KEY UPDATE {updates}"
    )
    raw = conn.connection.driver_connection
    assert raw is not None
    with raw.cursor() as cursor:
        for start in range(0, len(rows), _MYSQL_CHUNK):
            chunk = [
                tuple(_naive_utc(value) for value in row)
                for row in rows[start : start + _MYSQL_CHUNK]
            ]
            cursor.executemany(statement, chunk)


def _naive_utc(value: Any) -> Any:
    # DATETIME has no time zone: timestamps are stored as naive UTC.
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    return value
