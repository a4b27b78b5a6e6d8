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

from rpaml_pipeline.canonical import to_jsonable
from rpaml_pipeline.process import ProcessDefinition
from rpaml_pipeline.processing import process_collected
from rpaml_pipeline.steps import clean, validate
from rpaml_pipeline.steps.contract_schema import ContractSchema
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
    # Each record on its own: the batch gate, which may rightly hold a fuzzed batch far from
    # the fuzzed history of this shared store, has its own tests (test_batch_gate.py).
    quality = process_def.quality.model_copy(update={"gate": None}) if process_def.quality else None
    per_record = process_def.model_copy(update={"quality": quality})
    process_collected(store, per_record, store.start_run(process, "process"))
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


# --- corrupted claims: one good claim with a few fields broken in nasty ways -----------------

lone_surrogates = st.text(alphabet=st.characters(categories=["Cs"]), min_size=1, max_size=3)
huge_text = st.builds(
    lambda piece, times: piece * times, st.text(min_size=1, max_size=3), st.integers(5_000, 60_000)
)
any_code_point = st.text(alphabet=st.characters(codec=None), min_size=1, max_size=20)
nested_junk = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=12,
)
corruptions = st.one_of(
    lone_surrogates,
    huge_text,
    any_code_point,
    nested_junk,
    st.builds(lambda a, b, c: a + b + c, st.text(max_size=4), lone_surrogates, st.text(max_size=4)),
)
MISSING = object()


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    damage=st.lists(
        st.tuples(st.sampled_from(FIELDS), st.one_of(corruptions, st.just(MISSING))),
        min_size=1,
        max_size=4,
    ),
    junk_key=st.one_of(st.none(), lone_surrogates, huge_text),
    good_count=st.integers(1, 3),
)
def test_corrupted_claims_are_quarantined_with_a_reason(
    shared_store: Store,
    process_def: ProcessDefinition,
    damage: list[tuple[str, Any]],
    junk_key: str | None,
    good_count: int,
) -> None:
    store = shared_store
    batch = next(_counter)
    payload: dict[str, Any] = claim(batch)
    for name, value in damage:
        if value is MISSING:
            payload.pop(name, None)
        else:
            payload[name] = value
    if junk_key is not None:
        payload[junk_key] = "junk"
    items = [IncomingRecord(f"BAD-{batch}", payload, "robot:fuzz")]
    items += [
        IncomingRecord(f"FINE-{batch}-{i}", claim(batch * 10 + i), "robot:fuzz")
        for i in range(good_count)
    ]
    ids = store.ingest(
        process_def.name, items, run_id=store.start_run(process_def.name, "collect", "fuzz")
    ).record_ids
    summary = process_collected(store, process_def, store.start_run(process_def.name, "process"))
    assert summary.processed == len(items)
    bad, *goods = (store.get_record(record_id) for record_id in ids)
    assert all(good.state == "validated" and good.features for good in goods)
    cleaned, _ = clean(bad.raw, process_def.cleaning)
    issues = validate(cleaned, process_def.contract, raw=bad.raw)
    if issues:
        assert bad.state == "quarantined"
        assert bad.reason == "; ".join(issue.message for issue in issues)
        assert len(bad.reason) < 2_000  # huge values are cut in what a person reads
    else:
        assert bad.state == "validated"


@pytest.mark.parametrize(
    "broken",
    [
        {"claimant_name": "Ada \ud800 Lovelace"},
        {"policy_number": "POL-\udcff23456"},
        {"description": "x" * 1_000_000},
        {"claimant_name": "nul\x00byte"},
        {"amount": {"value": [1, {"deep": ["$1"]}]}},
    ],
)
def test_malformed_values_on_the_real_stores(
    store: Store, process_def: ProcessDefinition, broken: dict[str, Any]
) -> None:
    items = [
        IncomingRecord("BROKEN", claim(1, **broken), "robot:fuzz"),
        IncomingRecord("FINE", claim(2), "robot:fuzz"),
    ]
    ids = store.ingest(
        process_def.name, items, run_id=store.start_run(process_def.name, "collect", "fuzz")
    ).record_ids
    process_collected(store, process_def, store.start_run(process_def.name, "process"))
    broken_record, fine = (store.get_record(record_id) for record_id in ids)
    assert fine.state == "validated"
    name = next(iter(broken))
    if name == "description":  # an optional free-text field: long, yet valid
        assert broken_record.state == "validated"
        assert broken_record.raw["description"] == "x" * 1_000_000
    elif name == "claimant_name" and "\x00" in broken["claimant_name"]:
        assert broken_record.state == "validated"
        assert broken_record.raw["claimant_name"] == "nul\x00byte"
    else:
        assert broken_record.state == "quarantined"
        assert (broken_record.reason or "").startswith(f"{name}: ")


@settings(max_examples=60, deadline=None)
@given(
    payloads=st.lists(
        st.one_of(
            junk_payloads,
            st.builds(
                lambda n, damage: {**claim(n), **damage},
                st.integers(0, 999),
                st.dictionaries(st.sampled_from(FIELDS), corruptions, max_size=3),
            ),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_batch_validation_says_what_record_validation_says(
    process_def: ProcessDefinition, payloads: list[dict[str, Any]]
) -> None:
    schema = ContractSchema(process_def.contract)
    raws = [to_jsonable(payload) for payload in payloads]  # as the store keeps them
    rows = [(clean(raw, process_def.cleaning)[0], raw) for raw in raws]
    expected = [validate(cleaned, process_def.contract, raw=raw) for cleaned, raw in rows]
    assert schema.validate(rows) == expected
