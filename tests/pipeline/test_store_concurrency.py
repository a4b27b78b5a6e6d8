"""Two processes ingesting and claiming on the same store lose nothing and double-claim nothing."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

from pipeline_workers import PROCESS, ingest_then_claim

from rpaml_pipeline.store import Store


def test_two_processes_share_one_store(store_url: str, tmp_path: Path) -> None:
    # spawn: each worker starts a fresh interpreter, as two robots on one machine would.
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    shared, own = 150, 60
    outputs = [tmp_path / "a.json", tmp_path / "b.json"]
    workers = [
        context.Process(
            target=ingest_then_claim,
            args=(store_url, f"worker-{i}", shared, own, barrier, str(outputs[i])),
        )
        for i in range(2)
    ]
    for process in workers:
        process.start()
    for process in workers:
        process.join(timeout=120)
        assert process.exitcode == 0
    a, b = (json.loads(path.read_text()) for path in outputs)
    # Ingest: each shared key is new for exactly one worker and unchanged for the other.
    assert a["new"] + b["new"] == shared + 2 * own
    assert a["unchanged"] + b["unchanged"] == shared
    assert a["revised"] == b["revised"] == 0
    # Claims: disjoint, together every record, each applied once.
    assert not set(a["claimed"]) & set(b["claimed"])
    store = Store.connect(store_url)
    try:
        all_ids = {r.record_id for chunk in store.iter_records(PROCESS) for r in chunk}
        assert len(all_ids) == shared + 2 * own
        assert set(a["claimed"]) | set(b["claimed"]) == all_ids
        assert a["applied"] + b["applied"] == len(all_ids)
        assert store.counts(PROCESS) == {PROCESS: {"validated": shared + 2 * own}}
        for record_id in list(all_ids)[:20]:
            assert [e.step for e in store.record_events(record_id)] == ["ingest", "check"]
    finally:
        store.close()
