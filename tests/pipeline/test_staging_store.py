"""The staging store on real SQLite files and (marked ``postgres``) real PostgreSQL."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from pipeline_claims import FakeClock, claim
from sqlalchemy import event, inspect

from rpaml_pipeline.errors import (
    InvalidTransitionError,
    LeaseLostError,
    RecordNotFoundError,
    StoreError,
)
from rpaml_pipeline.store import (
    IncomingRecord,
    RecordState,
    StepEvent,
    Store,
    Transition,
)
from rpaml_pipeline.store.schema import metadata

PROCESS = "claims_triage"


def _incoming(number: int, **overrides: str) -> IncomingRecord:
    payload = claim(number, **overrides)
    return IncomingRecord(
        natural_key=payload["claim_id"],
        payload=payload,
        source="robot:collect_claims",
        source_location=f"http://portal/claims/{payload['claim_id']}",
        captured_at=dt.datetime(2026, 3, 14, 11, 0, tzinfo=dt.UTC),
    )


def _decided(store: Store, count: int) -> list[str]:
    """Stage ``count`` records and move them to decided (as scoring would)."""
    run = store.start_run(PROCESS, "collect", "collect_claims")
    ids = store.ingest(PROCESS, [_incoming(n) for n in range(count)], run_id=run).record_ids
    store.transition_many(
        [
            Transition(
                record_id=rid,
                to_state=RecordState.DECIDED,
                values={"score": 0.7, "decision": "reject", "reasons": ["score >= 0.6"]},
                events=[StepEvent("decide", "1", "abc", {"policy_version": "claims-policy-1"})],
            )
            for rid in ids
        ],
        run_id=run,
    )
    return ids


def test_connect_migrates_and_matches_schema(store: Store) -> None:
    tables = set(inspect(store.engine).get_table_names())
    assert {"runs", "records", "record_events", "alembic_version"} <= tables
    columns = {c["name"] for c in inspect(store.engine).get_columns("records")}
    assert columns == {c.name for c in metadata.tables["records"].columns}
    indexes = {i["name"] for i in inspect(store.engine).get_indexes("records")}
    assert {"ix_records_claimable", "ix_records_batch_id_batch_row"} <= indexes
    # The shipped migrations create exactly what schema.py declares.
    with store.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    # A second connect on a migrated database is a no-op.
    Store.connect(str(store.engine.url.render_as_string(hide_password=False))).close()


@pytest.mark.parametrize(
    ("state", "index"),
    [("collected", "ix_records_batch_id_batch_row"), ("decided", "ix_records_claimable")],
)
def test_claims_read_the_oldest_records_in_index_order(
    sqlite_url: str, state: str, index: str
) -> None:
    """A claim must not sort every record waiting in a state (a backlog of a million
    collected records would cost a million-row sort per chunk): the plan of the query
    ``Store.claim`` really sends walks an index in claim order."""
    store = Store.connect(sqlite_url)
    run = store.start_run(PROCESS, "collect")
    store.ingest(PROCESS, [_incoming(n) for n in range(3)], run_id=run)
    sent: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().startswith("SELECT") and "FROM records" in statement:
            sent.append((statement, parameters))

    event.listen(store.engine, "before_cursor_execute", capture)
    try:
        store.claim(PROCESS, state, owner="w", limit=2)
    finally:
        event.remove(store.engine, "before_cursor_execute", capture)
    statement, parameters = sent[0]
    with store.engine.connect() as conn:
        plan = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).fetchall()
    store.close()
    details = " | ".join(str(row[-1]) for row in plan)
    assert index in details
    assert "TEMP B-TREE" not in details


def test_sqlite_uses_wal(sqlite_url: str) -> None:
    store = Store.connect(sqlite_url)
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
    store.close()
    assert Path(sqlite_url.removeprefix("sqlite:///")).exists()


def test_bad_urls_are_refused() -> None:
    with pytest.raises(StoreError, match="SQLite file"):
        Store.connect("sqlite://")
    with pytest.raises(StoreError, match="psycopg"):
        Store.connect("postgresql://u@localhost/db")
    with pytest.raises(StoreError, match="unsupported"):
        Store.connect("mysql://u@localhost/db")


def test_runs_start_finish_list(store: Store) -> None:
    run = store.start_run(PROCESS, "collect", "collect_claims", config_hash="h", details={"a": 1})
    assert store.get_run(run).status == "running"
    store.finish_run(run, status="succeeded", summary={"new": 3})
    info = store.get_run(run)
    assert (info.status, info.summary, info.details) == ("succeeded", {"new": 3}, {"a": 1})
    assert [r.run_id for r in store.list_runs(PROCESS)] == [run]
    with pytest.raises(StoreError):
        store.finish_run(run, status="done")
    with pytest.raises(RecordNotFoundError):
        store.finish_run("nope", status="failed")


def test_ingest_is_idempotent(store: Store) -> None:
    run = store.start_run(PROCESS, "collect", "collect_claims")
    first = store.ingest(PROCESS, [_incoming(1), _incoming(2)], run_id=run)
    assert (first.new, first.revised, first.unchanged) == (2, 0, 0)
    # Same content again, even re-padded by the screen: unchanged, no new rows.
    again = store.ingest(
        PROCESS, [_incoming(1), _incoming(2, claimant_name="  Ada   Lovelace ")], run_id=run
    )
    assert (again.new, again.revised, again.unchanged) == (0, 0, 2)
    assert again.record_ids == first.record_ids
    assert store.counts(PROCESS) == {PROCESS: {"collected": 2}}
    assert store.known_keys(PROCESS, ["CLM-000001", "CLM-999999"]) == {"CLM-000001"}
    record = store.get_record(first.record_ids[0])
    assert record.raw == claim(1)
    assert record.source == "robot:collect_claims"
    assert record.source_location == "http://portal/claims/CLM-000001"
    assert record.captured_at == dt.datetime(2026, 3, 14, 11, 0, tzinfo=dt.UTC)
    assert record.run_id == run and record.revision == 1 and len(record.raw_hash) == 64


def test_changed_content_is_a_new_revision_superseding_the_old(store: Store) -> None:
    run = store.start_run(PROCESS, "collect", "collect_claims")
    old = store.ingest(PROCESS, [_incoming(1)], run_id=run).record_ids[0]
    result = store.ingest(PROCESS, [_incoming(1, amount="$99.00")], run_id=run)
    assert (result.new, result.revised, result.unchanged) == (0, 1, 0)
    new = result.record_ids[0]
    assert store.get_record(new).revision == 2
    assert store.get_record(new).state == "collected"
    superseded = store.get_record(old)
    assert superseded.state == "dead"
    assert superseded.superseded_by == new
    assert superseded.reason is not None and "superseded by revision 2" in superseded.reason
    lineage = store.lineage(new)
    assert [r.revision for r in lineage.revisions] == [1, 2]
    assert [e.step for e in store.record_events(old)] == ["ingest", "supersede"]


def test_acted_revisions_are_not_superseded(store: Store) -> None:
    [old] = _decided(store, 1)
    [leased] = store.claim(PROCESS, "decided", owner="robot-a", limit=5)
    store.mark_acting(leased.record_id, owner="robot-a")
    run = store.start_run(PROCESS, "collect", "collect_claims")
    new = store.ingest(PROCESS, [_incoming(0, amount="$1.00")], run_id=run).record_ids[0]
    still = store.get_record(old)
    assert still.state == "acting" and still.superseded_by == new


def test_ingest_needs_a_known_run_and_a_key(store: Store) -> None:
    with pytest.raises(RecordNotFoundError):
        store.ingest(PROCESS, [_incoming(1)], run_id="missing")
    run = store.start_run(PROCESS, "collect", "collect_claims")
    with pytest.raises(StoreError, match="natural key"):
        store.ingest(PROCESS, [IncomingRecord("", {}, "robot:x")], run_id=run)


def test_claim_leases_are_exclusive_and_expire(store: Store, clock: FakeClock) -> None:
    run = store.start_run(PROCESS, "collect", "collect_claims")
    store.ingest(PROCESS, [_incoming(n) for n in range(10)], run_id=run)
    a = store.claim(PROCESS, "collected", owner="a", limit=6, lease_seconds=60)
    b = store.claim(PROCESS, "collected", owner="b", limit=6, lease_seconds=60)
    assert len(a) == 6 and len(b) == 4
    assert not {r.record_id for r in a} & {r.record_id for r in b}
    assert all(r.lease_owner == "a" for r in a)
    assert store.claim(PROCESS, "collected", owner="c", limit=10) == []
    clock.advance(61)
    c = store.claim(PROCESS, "collected", owner="c", limit=20, lease_seconds=60)
    assert len(c) == 10  # every expired lease is reclaimable
    store.release(c[0].record_id, owner="c")
    assert store.get_record(c[0].record_id).lease_owner is None
    with pytest.raises(StoreError, match="owner"):
        store.claim(PROCESS, "collected", owner="")


def test_acting_checks_the_lease(store: Store, clock: FakeClock) -> None:
    ids = _decided(store, 2)
    [mine] = store.claim(PROCESS, "decided", owner="robot-1", limit=1, lease_seconds=30)
    with pytest.raises(LeaseLostError):
        store.mark_acting(mine.record_id, owner="robot-2")
    acting = store.mark_acting(mine.record_id, owner="robot-1")
    assert acting.state == "acting"
    store.record_action(
        mine.record_id, receipt="RCPT-ABCDEFGH", outcome="applied", run_id=None, detail={"x": 1}
    )
    done = store.get_record(mine.record_id)
    assert (done.state, done.receipt, done.lease_owner) == ("acted", "RCPT-ABCDEFGH", None)
    with pytest.raises(InvalidTransitionError):
        store.mark_acting(mine.record_id, owner="robot-1")
    [other] = [rid for rid in ids if rid != mine.record_id]
    store.claim(PROCESS, "decided", owner="robot-1", limit=1, lease_seconds=30)
    clock.advance(31)
    store.claim(PROCESS, "decided", owner="robot-2", limit=1, lease_seconds=30)
    with pytest.raises(LeaseLostError):
        store.mark_acting(other, owner="robot-1")
    with pytest.raises(InvalidTransitionError):
        store.record_action(other, receipt="R", outcome="applied")
    with pytest.raises(StoreError):
        store.record_action(other, receipt="R", outcome="maybe")


def test_application_failures_back_off_then_die(store: Store, clock: FakeClock) -> None:
    [rid] = _decided(store, 1)
    delays = []
    for attempt in (1, 2):
        [record] = store.claim(PROCESS, "decided", owner="r", limit=1)
        store.mark_acting(record.record_id, owner="r")
        failed = store.record_failure(rid, reason="portal answered 502", kind="application")
        assert failed.state == "decided" and failed.attempts == attempt
        assert failed.lease_owner is None and failed.next_attempt_at is not None
        delays.append((failed.next_attempt_at - clock()).total_seconds())
        # Not claimable before the backoff has passed.
        assert store.claim(PROCESS, "decided", owner="r", limit=1) == []
        clock.advance(delays[-1])
    assert delays == [10, 20]  # exponential from retry_base_seconds
    [record] = store.claim(PROCESS, "decided", owner="r", limit=1)
    dead = store.record_failure(rid, reason="portal answered 502", kind="application")
    assert dead.state == "dead"
    assert dead.reason == "gave up after 3 attempts: portal answered 502"
    steps = [(e.step, e.from_state, e.to_state) for e in store.record_events(rid)]
    assert steps[-1] == ("failure", "decided", "dead")


def test_backoff_is_bounded(store: Store, clock: FakeClock) -> None:
    [rid] = _decided(store, 1)
    for _ in range(5):
        record = store.record_failure(rid, reason="timeout", kind="application", max_attempts=10)
        assert record.next_attempt_at is not None
        assert (record.next_attempt_at - clock()).total_seconds() <= 60


def test_business_failures_fail_at_once(store: Store) -> None:
    [rid] = _decided(store, 1)
    failed = store.record_failure(rid, reason="claim is closed in the portal", kind="business")
    assert (failed.state, failed.reason) == ("failed", "claim is closed in the portal")
    with pytest.raises(StoreError):
        store.record_failure(rid, reason="x", kind="weird")
    with pytest.raises(StoreError):
        store.record_failure(rid, reason="", kind="business")


def test_transition_many_guards_and_events(store: Store) -> None:
    run = store.start_run(PROCESS, "collect", "collect_claims")
    ids = store.ingest(PROCESS, [_incoming(1), _incoming(2)], run_id=run).record_ids
    store.claim(PROCESS, "collected", owner="me", limit=1)
    report = store.transition_many(
        [
            Transition(
                record_id=rid,
                from_state=RecordState.COLLECTED,
                to_state=RecordState.VALIDATED,
                values={"score": 0.25, "decision": "approve"},
                events=[
                    StepEvent("clean", "1.0.0", "c" * 64),
                    StepEvent("validate", "1.0.0", "v" * 64),
                ],
            )
            for rid in ids
        ],
        run_id=run,
        owner="me",
    )
    assert report.applied == 1 and len(report.lost) == 1
    applied = next(rid for rid in ids if rid not in report.lost)
    events = store.record_events(applied)
    assert [(e.step, e.step_version, e.config_hash) for e in events[1:]] == [
        ("clean", "1.0.0", "c" * 64),
        ("validate", "1.0.0", "v" * 64),
    ]
    assert (events[-1].from_state, events[-1].to_state) == ("collected", "validated")
    assert (store.get_record(applied).score, store.get_record(applied).decision) == (
        0.25,
        "approve",
    )
    with pytest.raises(StoreError, match="cannot set"):
        store.transition_many(
            [Transition(record_id=applied, to_state=RecordState.SCORED, values={"state": "x"})],
            run_id=run,
        )


def test_lineage_and_iteration(store: Store) -> None:
    run = store.start_run(PROCESS, "collect", "collect_claims")
    ids = store.ingest(PROCESS, [_incoming(n) for n in range(25)], run_id=run).record_ids
    chunks = list(store.iter_records(PROCESS, "collected", chunk=10))
    assert [len(c) for c in chunks] == [10, 10, 5]
    assert {r.record_id for c in chunks for r in c} == set(ids)
    lineage = store.lineage(ids[0])
    assert lineage.run is not None and lineage.run.robot == "collect_claims"
    assert lineage.events[0].step == "ingest"
    assert lineage.events[0].detail["raw_hash"] == lineage.record.raw_hash
    assert lineage.events[0].detail["source_location"].endswith("CLM-000000")
    with pytest.raises(RecordNotFoundError):
        store.lineage("missing")
    assert store.latest(PROCESS, "CLM-000003") is not None
    assert store.latest(PROCESS, "CLM-404") is None


def test_counts_by_process(store: Store) -> None:
    run = store.start_run("other", "collect", None)
    store.ingest("other", [_incoming(1)], run_id=run)
    run = store.start_run(PROCESS, "collect", None)
    store.ingest(PROCESS, [_incoming(1), _incoming(2)], run_id=run)
    assert store.counts() == {"other": {"collected": 1}, PROCESS: {"collected": 2}}


@pytest.mark.postgres
def test_postgres_statistics_follow_a_growing_store(pg_url: str) -> None:
    """With autovacuum off or behind, the store analyzes the records itself once they
    changed a lot: stale statistics made every ingest chunk scan the whole process."""
    store = Store.connect(pg_url)
    run = store.start_run(PROCESS, "collect")
    store.ingest(
        PROCESS,
        [IncomingRecord(f"CLM-{n:06d}", claim(n), "test", None) for n in range(6_000)],
        run_id=run,
    )
    stats = (
        "SELECT n_mod_since_analyze, last_analyze FROM pg_stat_user_tables "
        "WHERE relid = to_regclass('records')"
    )

    def counted() -> bool:
        with store.engine.connect() as conn:
            row = conn.exec_driver_sql(stats).first()
        return row is not None and (row[0] >= 6_000 or row[1] is not None)

    deadline = time.monotonic() + 30  # the counters reach pg_stat a little after commit
    while not counted() and time.monotonic() < deadline:
        time.sleep(0.5)
    later = Store.connect(pg_url)  # a store that has not checked yet
    later.ingest(PROCESS, [IncomingRecord("CLM-999999", claim(1), "test", None)], run_id=run)
    with later.engine.connect() as conn:
        row = conn.exec_driver_sql(stats).first()
    later.close()
    store.close()
    assert row is not None and row[1] is not None, "the records were never analyzed"


def test_text_with_a_nul_character_is_stored(store: Store) -> None:
    """SQLite's JSON functions cut text at a NUL character: the bulk writes must not.
    PostgreSQL's text cannot hold one at all: there it becomes U+FFFD."""
    nul = "\x00" if store.dialect == "sqlite" else "\ufffd"
    run = store.start_run(PROCESS, "collect", "collect_claims")
    odd = IncomingRecord("CLM-\x00-1", claim(1), "robot:collect_claims")
    first = store.ingest(PROCESS, [odd, _incoming(2)], run_id=run)
    assert store.get_record(first.record_ids[0]).natural_key == f"CLM-{nul}-1"
    again = store.ingest(PROCESS, [odd], run_id=run)
    assert (again.unchanged, again.record_ids) == (1, first.record_ids[:1])
    store.quarantine(first.record_ids[0], "claim_id: \x00 is not a claim id", run_id=run)
    assert store.get_record(first.record_ids[0]).reason == f"claim_id: {nul} is not a claim id"
