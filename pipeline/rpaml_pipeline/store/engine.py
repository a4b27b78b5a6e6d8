"""Engines for the staging store: SQLite with real transactions, or PostgreSQL.

SQLite: Python's sqlite3 module opens transactions lazily and on its own terms, so
SQLAlchemy's documented pysqlite recipe is applied: the driver's transaction handling is
switched off (``isolation_level = None``) and SQLAlchemy emits ``BEGIN`` itself. Writes use
``BEGIN IMMEDIATE`` so the write lock is taken at the start of the transaction (two writers
queue on ``busy_timeout`` instead of failing with "database is locked" half-way through a
read-then-write); read-only work uses a deferred ``BEGIN`` so readers never wait on writers
(WAL mode). See https://docs.sqlalchemy.org/en/20/dialects/sqlite.html#serializable-isolation-savepoints-transactional-ddl
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.pool import ConnectionPoolEntry

from rpaml_pipeline.canonical import dump_json, load_json
from rpaml_pipeline.errors import StoreError

BUSY_TIMEOUT_MS = 30_000
"""How long a SQLite writer waits for the write lock before giving up."""

CACHE_KIB = 65_536
"""SQLite's page cache per connection (its default is 2 MiB): a store of a million
records has indexes of tens of MiB, and every claim and ingest walks them."""

READ_ONLY = "rpaml_read_only"
"""Execution option: a read-only unit of work (SQLite: deferred ``BEGIN``)."""


def make_engine(url: str) -> Engine:
    """Create the engine for ``url`` (``sqlite:///path`` or ``postgresql+psycopg://...``)."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        database = parsed.database
        if not database or database == ":memory:":
            # Each pooled connection would get its own empty in-memory database.
            raise StoreError("the staging store needs a SQLite file, not an in-memory database")
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            parsed,
            connect_args={"timeout": BUSY_TIMEOUT_MS / 1000},
            pool_pre_ping=False,
            json_serializer=dump_json,
            json_deserializer=load_json,
        )
        _install_sqlite_transactions(engine)
        return engine
    if backend == "postgresql":
        if parsed.get_driver_name() != "psycopg":
            raise StoreError(
                f"use the psycopg 3 driver for PostgreSQL: postgresql+psycopg://... (got {url!r})"
            )
        return create_engine(
            parsed, pool_pre_ping=True, json_serializer=dump_json, json_deserializer=load_json
        )
    raise StoreError(
        f"unsupported store URL {parsed.render_as_string(hide_password=True)!r}: "
        "expected sqlite:///path or postgresql+psycopg://..."
    )


def _install_sqlite_transactions(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        assert isinstance(dbapi_connection, sqlite3.Connection)
        # Let SQLAlchemy (below) emit BEGIN; pysqlite would otherwise defer it.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            # busy_timeout first, so the WAL switch itself waits for a concurrent opener.
            cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        if connection.get_execution_options().get(READ_ONLY):
            connection.exec_driver_sql("BEGIN")
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")


def safe_url(url: str) -> str:
    """``url`` with any password masked (for logs and lineage)."""
    return make_url(url).render_as_string(hide_password=True)
