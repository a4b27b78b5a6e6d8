"""Pipeline throughput: synthetic claims through ingest, processing and delivery, beside a
plain polars baseline doing the same steps, in the same run.

Usage::

    .venv/bin/python bench/pipeline.py --records 200000 1000000
    .venv/bin/python bench/pipeline.py --records 200000 \\
        --store-url postgresql+psycopg://postgres@127.0.0.1:5432/test

For each size, in a process of its own (so peak memory is that size's):

- ``ingest``: ``Store.ingest`` of the claims as a robot or a source hands them over
  (``IncomingRecord`` lists of ``--chunk`` records: content and raw hashes, revision check,
  one raw batch and its control rows per chunk);
- ``process``: the ``process`` stage (``run_stage``) in ``--workers`` processes side by side,
  as ``rpaml worker`` processes run (each leases raw batches; clean, validate, label,
  transform, drift checks, the processed batch and the state changes, one transaction per
  batch);
- ``deliver``: the ``deliver`` stage to a Parquet lake and a SQLite warehouse (its own file,
  as in the demo);
- ``baseline``: ``bench/pipeline_baseline.py`` on the same claims.

Generating the claims is not timed (both sides get the same payloads). End to end is the sum
of the three stages. Prints records/s per stage and end to end, the ratio to the baseline
and peak resident memory (``ru_maxrss``), and writes
``bench/results/pipeline-<sqlite|postgresql>.json``. PostgreSQL runs use a fresh schema,
dropped at the end.
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pipeline_baseline import run_baseline

from rpaml_pipeline.process import ProcessDefinition, load_process
from rpaml_pipeline.process.definition import ParquetTarget, WarehouseTarget
from rpaml_pipeline.runtime import Runtime
from rpaml_pipeline.stages import DeliverStage, ProcessStage, run_stage
from rpaml_pipeline.store import IncomingRecord, Store

ROOT = Path(__file__).resolve().parents[1]
PROCESS_FILE = ROOT / "pipeline" / "processes" / "claims_triage.yaml"
RESULTS = ROOT / "bench" / "results"

CHANNELS = [" Web ", "PHONE", "agent", "Email  ", "e-mail"]
CATEGORIES = ["auto", "Home", " travel", "HEALTH", "property"]
REGIONS = ["north", "South ", "EAST", "west", "Central"]
AMOUNTS = ["$12,345.67", "USD 1,200.00", "880.5", "4,020", "$310.00"]
DATES = ["2026-03-14", "14/03/2026", "Mar 14, 2026"]
CAPTURED = dt.datetime(2026, 3, 21, tzinfo=dt.UTC)


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
        "closed_date": None,
        "outcome": None,
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


def payload_chunks(total: int, chunk: int) -> Iterator[list[dict[str, Any]]]:
    """The claims ``0 .. total`` in chunks (the claim id, their natural key, is unique up
    to a million claims)."""
    for start in range(0, total, chunk):
        yield [synthetic_claim(n) for n in range(start, min(start + chunk, total))]


def bench_process(workdir: Path) -> ProcessDefinition:
    """The shipped process without enrichment, delivering to a lake and a warehouse."""
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


def _process_worker(store_url: str, workdir: str, queue: Any) -> None:
    """One processing worker (its own process and store connection)."""
    process = bench_process(Path(workdir))
    store = Store.connect(store_url, migrate=False)
    runtime = Runtime.of(store, process, data_dir=Path(workdir))
    result = run_stage(runtime, ProcessStage())
    store.close()
    queue.put(
        {
            **{k: result.summary[k] for k in ("validated", "labeled", "quarantined")},
            "peak_memory_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        }
    )


def _process_stage(store_url: str, workdir: Path, workers: int) -> list[dict[str, Any]]:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    procs = [
        context.Process(target=_process_worker, args=(store_url, str(workdir), queue))
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


def run_size(total: int, chunk: int, store_url: str, workdir: Path, workers: int) -> dict[str, Any]:
    """rpaml's three stages on ``total`` claims, then the baseline on the same claims."""
    process = bench_process(workdir)
    store = Store.connect(store_url)
    runtime = Runtime.of(store, process, data_dir=workdir)
    elapsed = {"ingest": 0.0, "process": 0.0, "deliver": 0.0}
    run_id = store.start_run(process.name, "collect", "bench")
    for payloads in payload_chunks(total, chunk):
        items = [
            IncomingRecord(p["claim_id"], p, "bench:synthetic", None, CAPTURED) for p in payloads
        ]
        started = time.perf_counter()
        store.ingest(process.name, items, run_id=run_id)
        elapsed["ingest"] += time.perf_counter() - started
    store.finish_run(run_id, "succeeded")
    started = time.perf_counter()
    reports = _process_stage(store_url, workdir, workers)
    elapsed["process"] = time.perf_counter() - started
    started = time.perf_counter()
    delivery = run_stage(runtime, DeliverStage())
    elapsed["deliver"] = time.perf_counter() - started
    store.close()
    counts = {s: sum(r[s] for r in reports) for s in ("validated", "labeled", "quarantined")}
    counts["delivered"] = min(t["delivered"] for t in delivery.summary["targets"])
    rpaml_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    baseline = run_baseline(lambda: payload_chunks(total, chunk), workdir)
    end_to_end = sum(elapsed.values())
    return {
        "records": total,
        "seconds": {**elapsed, "end_to_end": end_to_end, "baseline": baseline["seconds"]},
        "records_per_second": {
            **{stage: total / seconds for stage, seconds in elapsed.items()},
            "end_to_end": total / end_to_end,
            "baseline": total / baseline["seconds"],
        },
        "ratio_to_baseline": baseline["seconds"] / end_to_end,
        "counts": counts,
        "baseline_counts": baseline["counts"],
        "peak_memory_mib": {
            "ingest_and_deliver": rpaml_peak,
            "processing_worker": max(r["peak_memory_mib"] for r in reports),
        },
    }


def _size_in_child(total: int, chunk: int, url: str, workers: int, queue: Any) -> None:
    with tempfile.TemporaryDirectory(prefix="rpaml-bench-") as tmp:
        workdir = Path(tmp)
        store_url = url or f"sqlite:///{workdir / 'rpaml.db'}"
        schema = None
        if store_url.startswith("postgresql"):
            store_url, schema = _pg_schema_url(url)
        try:
            queue.put(run_size(total, chunk, store_url, workdir, workers))
        finally:
            if schema is not None:
                _drop_pg_schema(url, schema)


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
    parser.add_argument("--records", type=int, nargs="+", default=[200_000, 1_000_000])
    parser.add_argument("--chunk", type=int, default=50_000)
    parser.add_argument("--store-url", default="", help="SQLAlchemy URL (default: SQLite)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--results", type=Path, default=None)
    args = parser.parse_args(argv)
    context = multiprocessing.get_context("spawn")
    sizes = []
    load_before = os.getloadavg()
    for total in args.records:
        queue = context.Queue()
        child = context.Process(
            target=_size_in_child, args=(total, args.chunk, args.store_url, args.workers, queue)
        )
        child.start()
        sizes.append(queue.get())
        child.join()
    dialect = "postgresql" if args.store_url.startswith("postgresql") else "sqlite"
    result = {
        "dialect": dialect,
        "chunk": args.chunk,
        "workers": args.workers,
        "sizes": sizes,
        "memory_growth": (_peak(sizes[-1]) / _peak(sizes[0]) if len(sizes) > 1 else None),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "load_average": {"before": load_before, "after": os.getloadavg()},
        "command": " ".join(["bench/pipeline.py", *(argv or sys.argv[1:])]),
    }
    print(f"pipeline bench on {dialect}, chunk {args.chunk:,}, {args.workers} processing worker(s)")
    for size in sizes:
        rates = size["records_per_second"]
        print(f"  {size['records']:,} records")
        for stage in ("ingest", "process", "deliver", "end_to_end", "baseline"):
            seconds = size["seconds"][stage]
            print(f"    {stage:<11} {rates[stage]:>10,.0f} records/s  ({seconds:.1f} s)")
        print(f"    ratio to the baseline {size['ratio_to_baseline']:.2f}")
        print(f"    counts {size['counts']} (baseline {size['baseline_counts']})")
        memory = size["peak_memory_mib"]
        print(
            f"    peak memory {memory['ingest_and_deliver']:.0f} MiB (ingest and deliver), "
            f"{memory['processing_worker']:.0f} MiB (a processing worker)"
        )
    if result["memory_growth"] is not None:
        print(f"  peak memory, largest over smallest size: {result['memory_growth']:.2f}")
    print(f"  load average before {load_before}, after {result['load_average']['after']}")
    results = args.results or RESULTS / f"pipeline-{dialect}.json"
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"  written to  {results}")
    return 0


def _peak(size: dict[str, Any]) -> float:
    return float(max(size["peak_memory_mib"].values()))


if __name__ == "__main__":
    raise SystemExit(main())
