"""Fixtures of the review tests: a claims process with a review section, real stores."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from review_app_client import account_entries
from review_queue_items import review_process
from rpaml_pipeline.child_processes import ManagedProcess, review_app
from rpaml_pipeline.process import ProcessDefinition
from rpaml_pipeline.store import Store

PG_URL = os.environ.get("RPAML_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="session")
def process_and_folder(tmp_path_factory: pytest.TempPathFactory) -> tuple[ProcessDefinition, Path]:
    """The review process, and the folder its file is in (claims_triage_review.yaml)."""
    folder = tmp_path_factory.mktemp("process")
    return review_process(folder), folder


@pytest.fixture(scope="session")
def process_folder(process_and_folder: tuple[ProcessDefinition, Path]) -> Path:
    return process_and_folder[1]


@pytest.fixture(scope="session")
def process(process_and_folder: tuple[ProcessDefinition, Path]) -> ProcessDefinition:
    return process_and_folder[0]


@pytest.fixture(scope="session")
def account_list() -> list[str]:
    return account_entries()


@pytest.fixture
def review_server(
    tmp_path: Path, process_folder: Path, process: ProcessDefinition, account_list: list[str]
) -> Callable[..., object]:
    """Start the review app as its own process over the store at a URL."""

    @contextmanager
    def start(store_url: str) -> Iterator[ManagedProcess]:
        env = {
            **os.environ,
            "RPAML_DATA_DIR": str(tmp_path / "data"),
            "RPAML_STORE_URL": store_url,
            "RPAML_PROCESS_FILE": str(process_folder / "claims_triage_review.yaml"),
            "RPAML_PORTAL_URL": "http://portal.test",
            "RPAML_REVIEW_ACCOUNTS": json.dumps(account_list),
        }
        with review_app(
            ready_file=tmp_path / "review.url", log_file=tmp_path / "review.log", env=env
        ) as server:
            yield server

    return start


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A URL whose search_path is a fresh schema, dropped after the test."""
    from sqlalchemy import create_engine

    admin = create_engine(PG_URL)
    try:
        with admin.connect():
            pass
    except Exception as exc:
        admin.dispose()
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"PostgreSQL is required in CI: {exc}")
        pytest.skip(f"PostgreSQL not available: {str(exc).splitlines()[0]}")
    schema = f"rpaml_test_{uuid.uuid4().hex[:12]}"
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'data' / 'rpaml.db'}"
    url = request.getfixturevalue("pg_url")
    assert isinstance(url, str)
    return url


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    with Store.connect(store_url) as opened:
        yield opened
