"""The floor under the pipeline bench: what the store's writes cost with no pipeline at all.

Usage::

    .venv/bin/python bench/store_floor.py --records 200000

``bench/pipeline.py`` measures rpaml end to end. This script measures, on the same
machine and the same synthetic claims, the bare minimum every record costs in the store's
columnar design (payloads in Parquet batches, a narrow control row per record whose state
each stage moves, a warehouse row), written with the ``sqlite3`` module and polars directly
in one transaction per 50,000 records: no SQLAlchemy, no Python objects per record, no
validation, nothing that rpaml adds. Each figure is a ceiling rpaml cannot beat without
changing what is stored:

- ``hash``: canonical JSON (orjson, sorted keys) and SHA-256 of each payload;
- ``raw_batch``: the payloads as a polars frame written as one Parquet (zstd) blob per
  chunk into ``batches``;
- ``insert``: inserting the narrow ``records`` control rows into the migrated schema;
- ``process_update``: moving each record's state (and its processed batch) by record id;
- ``score_update``: setting score, decision and state by record id (the scoring stage);
- ``warehouse``: an upsert by natural key of a 30-column row into a warehouse table.

Prints microseconds per record for each and the records/s ceiling of their sum (without
scoring: the pipeline bench does not score), and writes ``bench/results/store_floor.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import io
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
import polars as pl

from rpaml_pipeline.store import Store

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pipeline import synthetic_claim  # the same claims as the pipeline bench

RESULTS = Path(__file__).resolve().parent / "results" / "store_floor.json"
CHUNK = 50_000
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
    ids = [f"{number:032x}" for number in range(total)]
    database = workdir / "floor.db"
    Store.connect(f"sqlite:///{database}").close()  # the migrated schema
    conn = connect(database)
    conn.execute(
        "INSERT INTO runs (run_id, process, kind, status, details, started_at) "
        "VALUES ('run', 'claims', 'collect', 'running', '{}', ?)",
        (NOW,),
    )
    started = time.perf_counter()
    for start in range(0, total, CHUNK):
        frame = pl.DataFrame(payloads[start : start + CHUNK])
        buffer = io.BytesIO()
        frame.write_parquet(buffer, compression="zstd")
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(
            "INSERT INTO batches (batch_id, process, kind, source, run_id, rows, sha256, "
            "created_at, status, changes, data) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (
                f"b{start:031d}", "claims", "raw", "bench:synthetic", "run", frame.height,
                hashes[start], NOW, "open", 0, buffer.getvalue(),
            ),
        )  # fmt: skip
        conn.execute("COMMIT")
    seconds["raw_batch"] = time.perf_counter() - started
    rows = [
        (
            ids[n], "claims", "bench:synthetic", f"BENCH-{n:09d}", 1, hashes[n], hashes[n],
            "collected", "run", NOW, NOW, 0, f"b{n // CHUNK * CHUNK:031d}", n % CHUNK,
        )
        for n in range(total)
    ]  # fmt: skip
    seconds["insert"] = timed(
        conn,
        "INSERT INTO records (record_id, process, source, natural_key, revision, "
        "content_hash, raw_hash, state, run_id, created_at, updated_at, attempts, batch_id, "
        "batch_row) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        rows,
    )
    seconds["process_update"] = timed(
        conn,
        "UPDATE records SET state = ?, data_batch_id = ?, updated_at = ?, lease_owner = NULL, "
        "lease_expires_at = NULL WHERE record_id = ?",
        [("validated", f"d{n // CHUNK:031d}", NOW, ids[n]) for n in range(total)],
    )
    seconds["score_update"] = timed(
        conn,
        "UPDATE records SET state = ?, score = ?, decision = ?, updated_at = ? WHERE record_id = ?",
        [("decided", 0.1, "approve", NOW, ids[n]) for n in range(total)],
    )
    columns = [f"c{i}" for i in range(28)]
    conn.execute(
        f"CREATE TABLE warehouse (natural_key TEXT PRIMARY KEY, record_id TEXT, "
        f"{', '.join(f'{c} TEXT' for c in columns)})"
    )
    sets = ", ".join(f"{c} = excluded.{c}" for c in ["record_id", *columns])
    seconds["warehouse"] = timed(
        conn,
        f"INSERT INTO warehouse VALUES ({', '.join('?' * 30)}) ON CONFLICT (natural_key) "
        f"DO UPDATE SET {sets}",
        [
            (f"BENCH-{n:09d}", ids[n], *(str(v) for v in (list(payloads[n].values()) * 2)[:28]))
            for n in range(total)
        ],
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
    design = ("hash", "raw_batch", "insert", "process_update", "warehouse")
    total_us = sum(per_record[name] for name in design)
    result: dict[str, Any] = {
        "records": args.records,
        "microseconds_per_record": per_record,
        "ceiling_records_per_second": 1e6 / total_us,
        "ceiling_with_scoring_records_per_second": 1e6 / (total_us + per_record["score_update"]),
        "load_average": os.getloadavg(),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "command": " ".join(["bench/store_floor.py", *(argv or sys.argv[1:])]),
    }
    print(f"store floor: {args.records:,} records, sqlite3 directly, {CHUNK:,} per transaction")
    show: Callable[[str], str] = lambda name: f"{per_record[name]:6.2f} us/record"  # noqa: E731
    for name in (*design, "score_update"):
        print(f"  {name:<15} {show(name)}")
    print(f"  ceiling         {result['ceiling_records_per_second']:>9,.0f} records/s end to end")
    print(f"  with scoring    {result['ceiling_with_scoring_records_per_second']:>9,.0f} records/s")
    print(f"  load average    {result['load_average']}")
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"  written to      {args.results}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
