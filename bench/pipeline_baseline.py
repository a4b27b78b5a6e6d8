"""The baseline: a plain polars script doing what the pipeline bench's stages do.

What a data engineer writes in an afternoon for the same job, on the same synthetic
claims (``bench/pipeline.py`` imports :func:`run_baseline` and runs it in the same run):

- a content hash per record (SHA-256 of the canonical JSON of its whitespace-normalised
  payload, the same hash rpaml computes);
- the same cleaning (trim, lower-case, channel synonyms, money, dates in the process
  file's four formats, whole numbers, yes/no, the police-report default) as polars
  expressions;
- validation with a reason per failing field (required, pattern, allowed values, bounds);
- the transform (the process file's features, days between dates);
- a Parquet lake part per chunk and an upsert by natural key into a SQLite warehouse;
- a per-record index in SQLite (natural key, content hash, state, reason), the least a
  script needs to know what it took and why it refused a record.

SQLite is written the way such a script does: ``executemany`` through the standard
library, one transaction per chunk. No lineage, no revisions, no leases, no drift checks:
everything rpaml does beyond this is what its ratio to this baseline pays for.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson
import polars as pl

from rpaml_pipeline.store.hashing import WHITESPACE_RUN

Chunks = Callable[[], Iterator[list[dict[str, Any]]]]

CATEGORIES = {
    "channel": ["web", "phone", "agent", "email"],
    "category": ["auto", "home", "travel", "health", "property"],
    "region": ["north", "south", "east", "west", "central"],
}
SYNONYMS = {
    "e-mail": "email",
    "mail": "email",
    "telephone": "phone",
    "online": "web",
    "broker": "agent",
}
DATE_FORMATS = ["%Y-%m-%d", "%d/%m/%Y", "%b %d, %Y", "%B %d, %Y"]
DATES = ["incident_date", "reported_date", "policy_start_date", "closed_date"]
MONEY = ["amount", "coverage_limit", "annual_premium"]
INTEGERS = {"claimant_age": (16, 110), "prior_claims": (0, 100), "missed_payments": (0, 100)}
PATTERNS = {"claim_id": r"^CLM-\d{6}$", "policy_number": r"^POL-\d{6}$"}
REQUIRED = [
    "claim_id", "policy_number", "claimant_name", "claimant_age", "amount", "incident_date",
    "reported_date", "policy_start_date", "channel", "category", "region", "prior_claims",
]  # fmt: skip


def _hash(payload: dict[str, Any]) -> str:
    normal = {k: " ".join(v.split()) if isinstance(v, str) else v for k, v in payload.items()}
    return hashlib.sha256(orjson.dumps(normal, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _clean(frame: pl.DataFrame) -> pl.DataFrame:
    text = [
        pl.col(c).str.replace_all(WHITESPACE_RUN, " ").str.strip_chars(" ").replace("", None)
        for c in frame.columns
    ]
    frame = frame.select(text)
    frame = frame.with_columns(
        *(pl.col(c).str.to_lowercase() for c in CATEGORIES),
    ).with_columns(pl.col("channel").replace(SYNONYMS))
    money = [
        pl.col(c)
        .str.replace(r"^(USD|US\$|\$)\s*", "")
        .str.replace_all(",", "")
        .cast(pl.Float64, strict=False)
        .alias(c)
        for c in MONEY
        if c in frame.columns
    ]
    dates = [
        pl.coalesce([pl.col(c).str.strptime(pl.Date, f, strict=False) for f in DATE_FORMATS]).alias(
            c
        )
        for c in DATES
        if c in frame.columns
    ]
    ints = [
        pl.col(c)
        .str.replace_all(",", "")
        .cast(pl.Float64, strict=False)
        .cast(pl.Int64, strict=False)
        .alias(c)
        for c in INTEGERS
        if c in frame.columns
    ]
    report = (
        pl.when(pl.col("police_report").str.to_lowercase().is_in(["yes", "y", "true", "1"]))
        .then(True)
        .when(pl.col("police_report").str.to_lowercase().is_in(["no", "n", "false", "0"]))
        .then(False)
        .otherwise(False)
        .alias("police_report")
    )
    return frame.with_columns(*money, *dates, *ints, report)


def _reasons(raw: pl.DataFrame, cleaned: pl.DataFrame) -> pl.Series:
    problems: list[pl.Expr] = []
    for name in REQUIRED:
        problems.append(pl.when(pl.col(name).is_null()).then(pl.lit(f"{name}: is missing")))
    for name, pattern in PATTERNS.items():
        problems.append(
            pl.when(~pl.col(name).str.contains(pattern)).then(pl.lit(f"{name}: does not match"))
        )
    for name, values in CATEGORIES.items():
        problems.append(pl.when(~pl.col(name).is_in(values)).then(pl.lit(f"{name}: not allowed")))
    for name, (low, high) in INTEGERS.items():
        problems.append(
            pl.when((pl.col(name) < low) | (pl.col(name) > high)).then(
                pl.lit(f"{name}: out of range")
            )
        )
    joined = cleaned.select(
        pl.concat_list(problems).list.drop_nulls().list.join("; ").alias("reason")
    ).to_series()
    return joined.replace("", None)


def _features(cleaned: pl.DataFrame) -> pl.DataFrame:
    return cleaned.select(
        "claim_id",
        "amount",
        "claimant_age",
        "prior_claims",
        (pl.col("incident_date") - pl.col("policy_start_date"))
        .dt.total_days()
        .alias("days_policy_active"),
        (pl.col("reported_date") - pl.col("incident_date"))
        .dt.total_days()
        .alias("report_delay_days"),
        "police_report",
        "channel",
        "category",
        "region",
        "coverage_limit",
        "missed_payments",
        "risk_segment",
    )


def run_baseline(chunks: Chunks, workdir: Path) -> dict[str, Any]:
    """Run the baseline over ``chunks`` (payload dicts); its seconds and counts."""
    lake = workdir / "baseline-lake"
    lake.mkdir(parents=True, exist_ok=True)
    index = sqlite3.connect(workdir / "baseline-index.db")
    index.execute("PRAGMA journal_mode=WAL")
    index.execute("PRAGMA synchronous=NORMAL")
    index.execute(
        "CREATE TABLE IF NOT EXISTS records (natural_key TEXT PRIMARY KEY, content_hash TEXT, "
        "state TEXT, reason TEXT)"
    )
    warehouse = sqlite3.connect(workdir / "baseline-warehouse.db")
    warehouse.execute("PRAGMA journal_mode=WAL")
    warehouse.execute("PRAGMA synchronous=NORMAL")
    columns = ["natural_key", *[c for c in _WAREHOUSE if c != "natural_key"]]
    warehouse.execute(
        "CREATE TABLE IF NOT EXISTS claims ("
        + ", ".join(f"{c} {'TEXT PRIMARY KEY' if c == 'natural_key' else ''}" for c in columns)
        + ")"
    )
    upsert = (
        f"INSERT INTO claims ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))}) "
        "ON CONFLICT(natural_key) DO UPDATE SET "
        + ", ".join(f"{c} = excluded.{c}" for c in columns if c != "natural_key")
    )
    counts = {"valid": 0, "quarantined": 0}
    seconds = 0.0
    for part, payloads in enumerate(chunks()):
        started = time.perf_counter()
        hashes = [_hash(payload) for payload in payloads]
        raw = pl.DataFrame(payloads, infer_schema_length=None).cast(pl.String)
        cleaned = _clean(raw)
        reasons = _reasons(raw, cleaned)
        keys = raw.get_column("claim_id").to_list()
        states = ["quarantined" if r is not None else "valid" for r in reasons.to_list()]
        index.executemany(
            "INSERT OR REPLACE INTO records VALUES (?, ?, ?, ?)",
            list(zip(keys, hashes, states, reasons.to_list(), strict=True)),
        )
        index.commit()
        good = cleaned.filter(reasons.is_null())
        features = _features(good)
        features.write_parquet(lake / f"part-{part:05d}.parquet", compression="zstd")
        rows = good.with_columns(pl.col("claim_id").alias("natural_key")).select(columns)
        warehouse.executemany(upsert, _sqlite_rows(rows))
        warehouse.commit()
        counts["valid"] += good.height
        counts["quarantined"] += raw.height - good.height
        seconds += time.perf_counter() - started
    index.close()
    warehouse.close()
    return {"seconds": seconds, "counts": counts}


_WAREHOUSE = (
    "natural_key", "policy_number", "claimant_name", "claimant_age", "amount", "incident_date",
    "reported_date", "policy_start_date", "channel", "category", "region", "prior_claims",
    "police_report", "status", "coverage_limit", "annual_premium", "missed_payments",
    "risk_segment",
)  # fmt: skip


def _sqlite_rows(frame: pl.DataFrame) -> Sequence[tuple[Any, ...]]:
    return [
        tuple(v.isoformat() if isinstance(v, dt.date) else v for v in row) for row in frame.rows()
    ]
