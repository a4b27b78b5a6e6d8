"""Fixtures of the pipeline tests: the process file, real stores on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from pipeline_claims import PROCESS_FILE, FakeClock, unenriched

from rpaml_pipeline.process import ProcessDefinition, load_process
from rpaml_pipeline.store import Store

PG_URL = os.environ.get("RPAML_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="session")
def process_def() -> ProcessDefinition:
    # The steps are tested on records that already carry the enriched fields.
    return unenriched(load_process(PROCESS_FILE))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def _unavailable(reason: str) -> None:
    # CI must run the PostgreSQL variant; a developer machine without it skips.
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"PostgreSQL is required in CI: {reason}")
    pytest.skip(f"PostgreSQL not available: {reason}")


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A URL whose search_path is a fresh schema, dropped after the test."""
    try:
        import psycopg  # noqa: F401
        from sqlalchemy import create_engine
    except ImportError as exc:  # pragma: no cover - depends on the machine
        _unavailable(f"psycopg is not installed ({exc})")
        raise
    admin = create_engine(PG_URL)
    try:
        with admin.connect():
            pass
    except Exception as exc:
        admin.dispose()
        _unavailable(str(exc).splitlines()[0])
        raise
    schema = f"rpaml_test_{uuid.uuid4().hex[:12]}"
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'data' / 'rpaml.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest) -> str:
    name = "sqlite_url" if request.param == "sqlite" else "pg_url"
    url = request.getfixturevalue(name)
    assert isinstance(url, str)
    return url


@pytest.fixture
def store(store_url: str, clock: FakeClock) -> Iterator[Store]:
    opened = Store.connect(store_url, clock=clock, retry_base_seconds=10, retry_max_seconds=60)
    try:
        yield opened
    finally:
        opened.close()
