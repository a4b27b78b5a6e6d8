"""Property-based: junk never crashes the runner and ends quarantined with a reason; good
records are never lost."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pipeline_claims import claim, history_row

from rpaml_pipeline.process import ProcessDefinition
from rpaml_pipeline.runner import process_collected
from rpaml_pipeline.steps import clean, validate
from rpaml_pipeline.store import IncomingRecord, Store

FIELDS = [
    "claim_id",
    "policy_number",
    "claimant_name",
    "claimant_age",
    "amount",
    "incident_date",
    "reported_date",
    "policy_start_date",
    "channel",
    "category",
    "region",
    "prior_claims",
    "police_report",
    "description",
    "status",
    "closed_date",
    "outcome",
]
_counter = itertools.count()

scalars = st.one_of(
    st.none(),
    st.text(max_size=30),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.sampled_from(["$12,345.67", "14/03/2026", "Mar 14, 2026", " Web ", "yes", "POL-12A456"]),
)
values = st.one_of(
    scalars,
    st.lists(scalars, max_size=3),
    st.dictionaries(st.text(max_size=5), scalars, max_size=2),
)
junk_payloads = st.dictionaries(
    st.one_of(st.sampled_from(FIELDS), st.text(max_size=12)), values, max_size=20
)


@pytest.fixture(scope="module")
def shared_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    path: Path = tmp_path_factory.mktemp("props") / "rpaml.db"
    store = Store.connect(f"sqlite:///{path}")
    yield store
    store.close()


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(junk=st.lists(junk_payloads, min_size=1, max_size=4), good_count=st.integers(0, 3))
def test_junk_is_quarantined_and_good_is_kept(
    shared_store: Store, process_def: ProcessDefinition, junk: list[dict[str, Any]], good_count: int
) -> None:
    store = shared_store
    process = process_def.name
    batch = next(_counter)
    items = [
        IncomingRecord(f"JUNK-{batch}-{i}", payload, "robot:fuzz") for i, payload in enumerate(junk)
    ]
    goods = [
        claim(batch * 10 + i) if i % 2 else history_row(batch * 10 + i) for i in range(good_count)
    ]
    items += [IncomingRecord(f"GOOD-{batch}-{i}", p, "robot:fuzz") for i, p in enumerate(goods)]
    run = store.start_run(process, "collect", "fuzz")
    ids = store.ingest(process, items, run_id=run).record_ids
    assert len(ids) == len(items)
    process_collected(store, process_def, store.start_run(process, "process"))
    for record_id, item in zip(ids, items, strict=True):
        record = store.get_record(record_id)
        if item.natural_key.startswith("GOOD"):
            assert record.state in ("validated", "labeled")
            assert record.features is not None
            continue
        cleaned, _ = clean(record.raw, process_def.cleaning)
        if validate(cleaned, process_def.contract, raw=record.raw):
            assert record.state == "quarantined"
            assert record.reason
        else:  # pragma: no cover - junk that happens to be a valid claim
            assert record.state in ("validated", "labeled")
