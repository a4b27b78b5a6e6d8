"""The floor under the pipeline bench: what the store's writes cost with no pipeline at all.

Usage::

    .venv/bin/python bench/store_floor.py --records 200000

``bench/pipeline.py`` measures rpaml end to end. This script measures, on the same
machine and the same synthetic claims, the bare minimum every record costs in the staging
store's design (one row per record revision holding its raw payload, its processed data
and features; a lineage row; a warehouse row), written with the ``sqlite3`` module
directly in one transaction per 5,000 records: no SQLAlchemy, no Python objects per
record, no validation, nothing that rpaml adds. Each figure is a ceiling rpaml cannot
beat without changing what is stored:

- ``hash``: canonical JSON (orjson, sorted keys) and SHA-256 of each payload;
- ``insert``: inserting the ``records`` rows (raw JSON included) into the migrated schema;
- ``insert_slim``: the same rows without the raw payload (what keeping payloads out of the
  row, e.g. in Parquet files per chunk, would cost);
- ``process_update``: setting state, data and features on each row by record id;
- ``event``: one ``record_events`` row per record;
- ``warehouse``: an upsert by natural key into a warehouse table.

Prints microseconds per record for each and the records/s ceiling of their sum (and of two
leaner designs: payloads outside the row; each record written once), and
writes ``bench/results/store_floor.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import orjson

from rpaml_pipeline.store import Store

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pipeline import synthetic_claim  # the same claims as the pipeline bench

RESULTS = Path(__file__).resolve().parent / "results" / "store_floor.json"
CHUNK = 5_000
NOW = "2026-03-21 00:00:00.000000"


def timed(
    conn: sqlite3.Connection, sql: str, rows: Sequence[tuple[Any, ...]], chunk: int = CHUNK
) -> float:
    """Seconds to run ``sql`` over ``rows``, one transaction per ``chunk`` rows."""
    started = time.perf_counter()
    for start in range(0, len(rows), chunk):
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(sql, rows[start : start + chunk])
        conn.execute("COMMIT")
    return time.perf_counter() - started


def connect(path: Path) -> sqlite3.Connection:
    """The store's SQLite settings (WAL, synchronous NORMAL), autocommit off by hand."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def measure(total: int, workdir: Path) -> dict[str, float]:
    payloads = [synthetic_claim(number) for number in range(total)]
    started = time.perf_counter()
    raw = [orjson.dumps(payload, option=orjson.OPT_SORT_KEYS) for payload in payloads]
    hashes = [hashlib.sha256(text).hexdigest() for text in raw]
    seconds: dict[str, float] = {"hash": time.perf_counter() - started}
    texts = [text.decode() for text in raw]
    data = [text[: len(text) * 3 // 4] for text in texts]  # cleaned data: a little smaller
    features = '{"amount":880.5,"claimant_age":40,"prior_claims":1,"days_policy_active":650,'
    features += '"report_delay_days":6,"police_report":false,"channel":"web","category":"auto"}'
    ids = [f"{number:032x}" for number in range(total)]

    for name, with_raw in (("insert", True), ("insert_slim", False)):
        database = workdir / f"{name}.db"
        Store.connect(f"sqlite:///{database}").close()  # the migrated schema
        conn = connect(database)
        conn.execute(
            "INSERT INTO runs (run_id, process, kind, status, details, started_at) "
            "VALUES ('run', 'claims', 'collect', 'running', '{}', ?)",
            (NOW,),
        )
        rows = [
            (
                ids[n],
                "claims",
                "bench:synthetic",
                f"BENCH-{n:09d}",
                1,
                hashes[n],
                hashes[n],
                texts[n] if with_raw else "{}",
                "collected",
                "run",
                NOW,
                NOW,
                NOW,
                0,
            )
            for n in range(total)
        ]
        seconds[name] = timed(
            conn,
            "INSERT INTO records (record_id, process, source, natural_key, revision, "
            "content_hash, raw_hash, raw, state, run_id, captured_at, created_at, "
            "updated_at, attempts) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            rows,
        )
        if with_raw:
            seconds["process_update"] = timed(
                conn,
                "UPDATE records SET state = ?, data = ?, features = ?, updated_at = ?, "
                "lease_owner = NULL, lease_expires_at = NULL WHERE record_id = ?",
                [("validated", data[n], features, NOW, ids[n]) for n in range(total)],
            )
            detail = '{"rpaml:steps":[["clean","1.0.0","h",{"notes":[]}],["validate","1.1.0",'
            detail += '"h",{"valid":true,"issues":[]}],["transform","1.0.0","h",{}]]}'
            seconds["event"] = timed(
                conn,
                "INSERT INTO record_events (record_id, run_id, step, step_version, "
                "config_hash, from_state, to_state, at, detail) VALUES (?,?,?,?,?,?,?,?,?)",
                [
                    (ids[n], "run", "clean", "1.0.0", "h", "collected", "validated", NOW, detail)
                    for n in range(total)
                ],
            )
            conn.execute(
                "CREATE TABLE warehouse (natural_key TEXT PRIMARY KEY, record_id TEXT, "
                "amount REAL, claimant_age INTEGER, channel TEXT, label INTEGER)"
            )
            seconds["warehouse"] = timed(
                conn,
                "INSERT INTO warehouse VALUES (?,?,?,?,?,?) ON CONFLICT (natural_key) DO UPDATE "
                "SET record_id = excluded.record_id, amount = excluded.amount",
                [(f"BENCH-{n:09d}", ids[n], 880.5, 40, "web", None) for n in range(total)],
            )
        conn.close()
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="rpaml-floor-") as tmp:
        seconds = measure(args.records, Path(tmp))
    per_record = {name: value / args.records * 1e6 for name, value in seconds.items()}
    design = ("hash", "insert", "process_update", "event", "warehouse")
    total_us = sum(per_record[name] for name in design)
    slim_us = total_us - per_record["insert"] + per_record["insert_slim"]
    # Straight through: each record written once, already processed (no update, no
    # lineage row of its own), then delivered.
    once_us = per_record["hash"] + per_record["insert"] + per_record["warehouse"]
    result: dict[str, Any] = {
        "records": args.records,
        "microseconds_per_record": per_record,
        "ceiling_records_per_second": 1e6 / total_us,
        "ceiling_without_raw_in_row_records_per_second": 1e6 / slim_us,
        "ceiling_written_once_records_per_second": 1e6 / once_us,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "command": " ".join(["bench/store_floor.py", *(argv or sys.argv[1:])]),
    }
    print(f"store floor: {args.records:,} records, sqlite3 directly, {CHUNK:,} per transaction")
    show: Callable[[str], str] = lambda name: f"{per_record[name]:6.2f} us/record"  # noqa: E731
    for name in (*design, "insert_slim"):
        print(f"  {name:<15} {show(name)}")
    print(f"  ceiling         {result['ceiling_records_per_second']:>9,.0f} records/s end to end")
    print(
        f"  without raw     {result['ceiling_without_raw_in_row_records_per_second']:>9,.0f} "
        "records/s (payload kept outside the row)"
    )
    print(
        f"  written once    {result['ceiling_written_once_records_per_second']:>9,.0f} "
        "records/s (hash, one insert, warehouse: no update, no lineage row)"
    )
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"  written to      {args.results}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
