"""Pipeline throughput: push N synthetic claims through ingest, process and deliver.

Usage::

    .venv/bin/python bench/pipeline.py --records 100000
    .venv/bin/python bench/pipeline.py --records 100000 \
        --store-url postgresql+psycopg://postgres@127.0.0.1:5432/test

Stages, one after the other, each working in chunks of ``--chunk`` records (memory stays
bounded by the chunk, not the input):

- ``ingest``: ``Store.ingest`` (hashing, revision check, one insert per chunk);
- ``process``: ``runner.process_collected`` in ``--workers`` processes side by side (as
  ``rpaml worker`` processes run: each leases its own chunks; claim, clean, validate,
  label, transform and the lineage events, one transaction per chunk);
- ``deliver``: the processed records read back a chunk at a time, written to a Parquet
  lake partitioned by process and date (written to a temporary name, then renamed: a
  reader never sees a half-written file) and upserted into a warehouse table by natural
  key.

The lake and warehouse writers are ``rpaml_pipeline.delivery``'s (``write_part``,
``upsert``); the bench picks the columns and reads the processed rows back itself, so the
stage measures the writes, not the delivery run's bookkeeping.

The pure steps (clean, validate, transform) are also timed alone, in memory, on the first
chunk, so the cost of each step can be told apart from the store's.

Prints records/s per stage and end to end (the sum of the stages' wall times) and the
peak resident memory (``ru_maxrss``) of the bench and of each worker, and writes
``bench/results/pipeline-<sqlite|postgresql>.json``. PostgreSQL runs use a fresh
schema, dropped at the end.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing
import os
import platform
import resource
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine

from rpaml_pipeline.delivery import deliver
from rpaml_pipeline.process import ProcessDefinition, load_process
from rpaml_pipeline.process.definition import ParquetTarget, WarehouseTarget
from rpaml_pipeline.processing import process_collected
from rpaml_pipeline.steps import Cleaner, transform, validate
from rpaml_pipeline.store import IncomingRecord, Store

ROOT = Path(__file__).resolve().parents[1]
PROCESS_FILE = ROOT / "pipeline" / "processes" / "claims_triage.yaml"
RESULTS = ROOT / "bench" / "results"
"""Results go to ``pipeline-<dialect>.json`` here unless ``--results`` names a file."""

CHANNELS = [" Web ", "PHONE", "agent", "Email  ", "e-mail"]
CATEGORIES = ["auto", "Home", " travel", "HEALTH", "property"]
REGIONS = ["north", "South ", "EAST", "west", "Central"]
AMOUNTS = ["$12,345.67", "USD 1,200.00", "880.5", "4,020", "$310.00"]
DATES = ["2026-03-14", "14/03/2026", "Mar 14, 2026"]


def synthetic_claim(number: int) -> dict[str, Any]:
    """A claim the way the portal shows it; one in fifty is broken (quarantined)."""
    payload: dict[str, Any] = {
        "claim_id": f"CLM-{number % 1_000_000:06d}",
        "policy_number": f"POL-{(number * 7) % 1_000_000:06d}",
        "claimant_name": "Ada Lovelace",
        "claimant_age": str(18 + number % 70),
        "amount": AMOUNTS[number % 5],
        "incident_date": DATES[number % 3],
        "reported_date": "2026-03-20",
        "policy_start_date": "01/06/2024",
        "channel": CHANNELS[number % 5],
        "category": CATEGORIES[number % 5],
        "region": REGIONS[(number // 5) % 5],
        "prior_claims": str(number % 4),
        "police_report": ["yes", "no", ""][number % 3],
        "description": "Rear-ended at a junction",
        "status": "Open",
        "coverage_limit": "$50,000.00",
        "annual_premium": "$1,200.00",
        "missed_payments": str(number % 3),
        "risk_segment": "ABCD"[number % 4],
    }
    if number % 50 == 7:
        payload["policy_number"] = "PO-123456"
    if number % 50 == 31:
        payload["amount"] = "12,3x4"
    if number % 10 == 3:  # history rows: a known outcome becomes a label
        payload.update(status="Closed", closed_date="2026-04-02", outcome="Paid")
    return payload


def incoming(start: int, count: int) -> list[IncomingRecord]:
    """Records ``start .. start+count`` (natural keys unique across 1e9 records)."""
    captured = dt.datetime(2026, 3, 21, tzinfo=dt.UTC)
    return [
        IncomingRecord(f"BENCH-{n:09d}", synthetic_claim(n), "bench:synthetic", None, captured)
        for n in range(start, start + count)
    ]


# --- delivery: the real delivery stage, to a Parquet lake and a SQLite warehouse -------


def bench_process(workdir: Path) -> ProcessDefinition:
    """The shipped process without enrichment, delivering to a lake and a warehouse
    (its own SQLite file, as the demo's) in ``workdir``."""
    process = load_process(PROCESS_FILE)
    targets = [
        ParquetTarget(kind="parquet", name="lake", path="lake"),
        WarehouseTarget(
            kind="warehouse",
            name="warehouse",
            url=f"sqlite:///{workdir}/warehouse.db",
            table="claims",
        ),
    ]
    return process.model_copy(update={"enrichment": None, "delivery": targets})


# --- the run ------------------------------------------------------------------------------


def time_steps(process: ProcessDefinition, items: list[IncomingRecord]) -> dict[str, float]:
    """Records/s of each pure step alone, in memory (no store)."""
    payloads = [dict(item.payload) for item in items]
    started = time.perf_counter()
    cleaner = Cleaner(process.cleaning)
    cleaned = [cleaner.clean(payload)[0] for payload in payloads]
    clean_s = time.perf_counter() - started
    started = time.perf_counter()
    issues = [validate(c, process.contract, raw=p) for c, p in zip(cleaned, payloads, strict=True)]
    validate_s = time.perf_counter() - started
    started = time.perf_counter()
    for record, problems in zip(cleaned, issues, strict=True):
        if not problems:
            transform(record, process.transform)
    transform_s = time.perf_counter() - started
    n = len(items)
    return {
        "clean": n / clean_s,
        "validate": n / validate_s,
        "transform": n / transform_s,
    }


def chunks(total: int, size: int) -> Iterator[tuple[int, int]]:
    for start in range(0, total, size):
        yield start, min(size, total - start)


def _process_worker(store_url: str, chunk: int, queue: Any) -> None:
    """One processing worker (its own process and store connection): process every
    claimable record, then report its counts."""
    process = load_process(PROCESS_FILE).model_copy(update={"enrichment": None})
    store = Store.connect(store_url, migrate=False)
    run_id = store.start_run(process.name, "process")
    summary = process_collected(store, process, run_id, chunk_size=chunk)
    store.finish_run(run_id, "succeeded", summary=summary.as_dict())
    store.close()
    queue.put(
        {
            "validated": summary.validated,
            "labeled": summary.labeled,
            "quarantined": summary.quarantined,
            "peak_memory_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        }
    )


def process_stage(store_url: str, chunk: int, workers: int) -> list[dict[str, Any]]:
    """Run ``workers`` processing workers side by side (they lease disjoint chunks, as
    ``rpaml worker`` processes do) and return their reports."""
    context = multiprocessing.get_context("spawn")  # no inherited engine or polars threads
    queue = context.Queue()
    procs = [
        context.Process(target=_process_worker, args=(store_url, chunk, queue))
        for _ in range(workers)
    ]
    for proc in procs:
        proc.start()
    reports = [queue.get() for _ in procs]
    for proc in procs:
        proc.join()
        if proc.exitcode != 0:
            raise RuntimeError(f"a processing worker exited with {proc.exitcode}")
    return reports


def run(total: int, chunk: int, store_url: str, workdir: Path, workers: int) -> dict[str, Any]:
    process = bench_process(workdir)
    store = Store.connect(store_url)
    elapsed = {"ingest": 0.0, "process": 0.0, "deliver": 0.0}
    counts = {"validated": 0, "labeled": 0, "quarantined": 0, "delivered": 0}
    collect_run = store.start_run(process.name, "collect", "bench")
    step_rates = time_steps(process, incoming(0, min(chunk, total)))
    started = time.perf_counter()
    for start, count in chunks(total, chunk):
        store.ingest(process.name, incoming(start, count), run_id=collect_run)
        print(f"  ingested {start + count:>9,}", file=sys.stderr)
    elapsed["ingest"] = time.perf_counter() - started
    store.finish_run(collect_run, "succeeded")
    started = time.perf_counter()
    reports = process_stage(store_url, chunk, workers)
    elapsed["process"] = time.perf_counter() - started
    for report in reports:
        for state in ("validated", "labeled", "quarantined"):
            counts[state] += report[state]
    print(f"  processed {sum(counts.values()):>8,}", file=sys.stderr)
    started = time.perf_counter()
    report = deliver(store, process, data_dir=workdir)
    counts["delivered"] = min(target.delivered for target in report.targets)
    elapsed["deliver"] = time.perf_counter() - started
    print(f"  delivered {counts['delivered']:>8,}", file=sys.stderr)
    end_to_end = sum(elapsed.values())
    store.close()
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "records": total,
        "chunk": chunk,
        "workers": workers,
        "dialect": store.dialect,
        "seconds": {**elapsed, "end_to_end": end_to_end},
        "records_per_second": {
            **{stage: total / seconds for stage, seconds in elapsed.items()},
            "end_to_end": total / end_to_end,
        },
        "pure_steps_records_per_second": step_rates,
        "counts": counts,
        "peak_memory_mib": peak_kib / 1024,
        "worker_peak_memory_mib": max(report["peak_memory_mib"] for report in reports),
    }


def _pg_schema_url(base: str) -> tuple[str, str]:
    schema = f"rpaml_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    admin.dispose()
    joiner = "&" if "?" in base else "?"
    return f"{base}{joiner}options=-csearch_path%3D{schema}", schema


def _drop_pg_schema(base: str, schema: str) -> None:
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
    admin.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--chunk", type=int, default=5_000)
    parser.add_argument(
        "--store-url", default=None, help="SQLAlchemy URL (default: a fresh SQLite file)"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="processing workers side by side (default: one per CPU)",
    )
    parser.add_argument("--results", type=Path, default=None)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="rpaml-bench-") as tmp:
        workdir = Path(tmp)
        schema = None
        url = args.store_url or f"sqlite:///{workdir / 'rpaml.db'}"
        if url.startswith("postgresql"):
            url, schema = _pg_schema_url(args.store_url)
        try:
            result = run(args.records, args.chunk, url, workdir, args.workers)
        finally:
            if schema is not None:
                _drop_pg_schema(args.store_url, schema)
    result["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version()}
    result["command"] = " ".join(["bench/pipeline.py", *(argv or sys.argv[1:])])
    rates = result["records_per_second"]
    print(
        f"pipeline bench: {args.records:,} records on {result['dialect']}, "
        f"chunk {args.chunk:,}, {args.workers} processing worker(s)"
    )
    for stage in ("ingest", "process", "deliver", "end_to_end"):
        print(f"  {stage:<11} {rates[stage]:>10,.0f} records/s  ({result['seconds'][stage]:.1f} s)")
    for step, rate in result["pure_steps_records_per_second"].items():
        print(f"  step {step:<9} {rate:>10,.0f} records/s (in memory, first chunk)")
    print(f"  counts      {result['counts']}")
    print(
        f"  peak memory {result['peak_memory_mib']:.0f} MiB (ru_maxrss; each worker "
        f"{result['worker_peak_memory_mib']:.0f} MiB)"
    )
    results = args.results or RESULTS / f"pipeline-{result['dialect']}.json"
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"  written to  {results}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
