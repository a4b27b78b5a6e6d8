"""Incremental SQL sources on the machine's PostgreSQL and MariaDB: a cursor column and a
stored watermark; rows tied with the last cursor value neither skipped nor staged twice."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from pipeline_claims import PROCESS_FILE
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from rpaml_pipeline.process import ProcessDefinition, parse_process
from rpaml_pipeline.store import Store
from stage_runs import ingested

DATABASES = {
    "postgresql": os.environ.get(
        "RPAML_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    ),
    "mariadb": os.environ.get("RPAML_TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/test"),
}
_TIMESTAMP = {"postgresql": "TIMESTAMP", "mariadb": "DATETIME(6)"}


def database(kind: str) -> Engine:
    """The machine's database of ``kind``; fails in CI, skips elsewhere, when it is down."""
    engine = create_engine(DATABASES[kind])
    try:
        with engine.connect():
            pass
    except Exception as exc:
        engine.dispose()
        message = f"{kind} at {DATABASES[kind]} is required: {str(exc).splitlines()[0]}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return engine


@pytest.fixture(params=sorted(DATABASES))
def claims_table(request: pytest.FixtureRequest) -> Iterator[tuple[str, str, Engine]]:
    """A fresh ``claims`` table in PostgreSQL or MariaDB: (url, table, engine)."""
    kind = str(request.param)
    engine = database(kind)
    table = f"claims_{uuid.uuid4().hex[:10]}"
    with engine.begin() as conn:
        conn.execute(
            text(
                f"CREATE TABLE {table} (claim_id VARCHAR(20) PRIMARY KEY, amount VARCHAR(20), "
                f"updated_at {_TIMESTAMP[kind]} NOT NULL)"
            )
        )
    try:
        yield DATABASES[kind], table, engine
    finally:
        with engine.begin() as conn:
            conn.execute(text(f"DROP TABLE {table}"))
        engine.dispose()


def _process(url: str, table: str) -> ProcessDefinition:
    data = yaml.safe_load(PROCESS_FILE.read_text(encoding="utf-8"))
    data.pop("enrichment", None)
    data["sources"] = [
        {
            "name": "claims_db",
            "kind": "sql",
            "url": url,
            "query": f"SELECT claim_id, amount, updated_at FROM {table}",
            "cursor": "updated_at",
            "batch_rows": 2,  # batches end inside runs of tied cursor values
        }
    ]
    return parse_process(yaml.safe_dump(data), PROCESS_FILE)


def _at(minute: int) -> dt.datetime:
    return dt.datetime(2026, 12, 1, 9, minute, 0, 123456)


def _insert(engine: Engine, table: str, rows: list[tuple[int, str, int]]) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(f"INSERT INTO {table} VALUES (:claim_id, :amount, :at)"),
            [{"claim_id": f"CLM-{n:06d}", "amount": a, "at": _at(m)} for n, a, m in rows],
        )


def test_rows_tied_with_the_watermark_are_neither_skipped_nor_staged_twice(
    claims_table: tuple[str, str, Engine], tmp_path: Path
) -> None:
    url, table, engine = claims_table
    process = _process(url, table)
    store = Store.connect(f"sqlite:///{tmp_path / 'store.db'}")
    _insert(engine, table, [(1, "10", 1), (2, "20", 2), (3, "30", 2), (4, "40", 3), (5, "50", 3)])
    [first] = ingested(store, process, data_dir=tmp_path)
    assert (first.status, first.new, first.messages, first.duplicates) == ("succeeded", 5, 5, 0)
    position = store.positions.position(process.name, "sql:claims_db")
    assert position is not None and position["keys"] == ["CLM-000004", "CLM-000005"]

    # A row arrives with the same cursor value as the last one read, and one after it.
    _insert(engine, table, [(6, "60", 3), (7, "70", 4)])
    [second] = ingested(store, process, data_dir=tmp_path)
    assert (second.new, second.duplicates, second.messages) == (2, 2, 4), second
    assert store.latest(process.name, "CLM-000006") is not None

    # A changed row moves its cursor: read again as a new revision.
    with engine.begin() as conn:
        conn.execute(
            text(
                f"UPDATE {table} SET amount = '11', updated_at = :at WHERE claim_id = 'CLM-000001'"
            ),
            {"at": _at(5)},
        )
    [third] = ingested(store, process, data_dir=tmp_path)
    assert (third.new, third.revised, third.duplicates) == (0, 1, 1), third  # row 7 tied
    [fourth] = ingested(store, process, data_dir=tmp_path)
    assert (fourth.new, fourth.revised, fourth.duplicates) == (0, 0, 1), fourth

    record = store.latest(process.name, "CLM-000001")
    assert record is not None and record.revision == 2 and record.raw["amount"] == "11"
    assert record.source == "sql:claims_db"
    assert record.source_location is not None
    assert f"FROM {table} | updated_at=2026-12-01 09:05:00.123456" in record.source_location
    assert store.counts(process.name)[process.name] == {"collected": 7, "dead": 1}
    store.close()
