"""Warehouse delivery targets on the machine's PostgreSQL (COPY into a staging table, then
merge) and MariaDB (INSERT ... ON DUPLICATE KEY UPDATE): upsert by natural key, the table
created or migrated from the delivered columns, each delivery in lineage."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from test_delivery_targets import _score, _stage_validated, with_delivery
from test_incremental_sql import DATABASES, database

from rpaml_pipeline.lineage import OpenLineageEmitter
from rpaml_pipeline.stages import DeliverStage
from rpaml_pipeline.store import Store
from stage_runs import delivered, staged_run


@pytest.fixture(params=sorted(DATABASES))
def warehouse(request: pytest.FixtureRequest) -> Iterator[tuple[str, str, Engine]]:
    """(url, table name, engine) of a table name nobody uses, dropped afterwards."""
    engine = database(str(request.param))
    table = f"claims_{uuid.uuid4().hex[:10]}"
    try:
        yield DATABASES[str(request.param)], table, engine
    finally:
        with engine.begin() as conn:
            conn.execute(text(f"DROP TABLE IF EXISTS {table}"))
        engine.dispose()


def test_warehouse_upserts_by_natural_key_and_migrates_the_table(
    warehouse: tuple[str, str, Engine], tmp_path: Path
) -> None:
    url, table, engine = warehouse
    # A table from an older delivery, with fewer columns: delivery adds the missing ones.
    with engine.begin() as conn:
        conn.execute(
            text(f"CREATE TABLE {table} (natural_key VARCHAR(400) PRIMARY KEY, revision BIGINT)")
        )
        conn.execute(text(f"INSERT INTO {table} VALUES ('CLM-000099', 1)"))
    process = with_delivery([{"name": "dwh", "kind": "warehouse", "url": url, "table": table}])
    store = Store.connect(f"sqlite:///{tmp_path / 'store.db'}")
    ids = _stage_validated(store, process, 3)
    _score(store, ids[0], 0.91, "reject")
    emitter = OpenLineageEmitter.for_data_dir(tmp_path)

    first = staged_run(store, process, DeliverStage(), tmp_path, emitter=emitter)
    assert first.succeeded, first.as_dict()
    assert first.summary["targets"][0]["delivered"] == 3
    with engine.connect() as conn:
        rows = conn.execute(
            text(f"SELECT natural_key, state, decision, revision FROM {table} ORDER BY 1")
        ).all()
    assert [tuple(row) for row in rows] == [
        ("CLM-000001", "decided", "reject", 1),
        ("CLM-000002", "validated", None, 1),
        ("CLM-000003", "validated", None, 1),
        ("CLM-000099", None, None, 1),
    ]

    # Again: nothing new. Then one record is decided: updated in place, no new row.
    again = delivered(store, process, data_dir=tmp_path)
    assert [(t.delivered, t.unchanged) for t in again.targets] == [(0, 3)]
    _score(store, ids[1], 0.05, "approve")
    third = delivered(store, process, data_dir=tmp_path)
    assert [(t.delivered, t.unchanged) for t in third.targets] == [(1, 2)]
    with engine.connect() as conn:
        decisions = conn.execute(text(f"SELECT natural_key, decision FROM {table} ORDER BY 1"))
        assert [tuple(row) for row in decisions][:3] == [
            ("CLM-000001", "reject"),
            ("CLM-000002", "approve"),
            ("CLM-000003", None),
        ]
        # A late, older revision never overwrites a newer one.
        conn.execute(text(f"UPDATE {table} SET revision = 5 WHERE natural_key = 'CLM-000003'"))
        conn.commit()
    _score(store, ids[2], 0.5, "escalate")
    delivered(store, process, data_dir=tmp_path)
    with engine.connect() as conn:
        kept = conn.execute(
            text(f"SELECT decision, revision FROM {table} WHERE natural_key = 'CLM-000003'")
        ).one()
    assert tuple(kept) == (None, 5)

    # Lineage: every delivered record has a deliver event naming the target and table.
    took = [e.detail for e in store.lineage(ids[1]).events if e.step == "deliver"]
    assert [d["target"] for d in took] == ["dwh", "dwh"]
    assert all(table in str(d["location"]) for d in took)
    store.close()
