"""How long the drift computation of a scoring run takes for a million scored rows.

The goal (issue 12): a million scored rows take at most 10 s. A reference is built by the
real training-side code (:func:`rpaml_models.drift.build_reference`) from 5,000 training
rows of a claims-like schema (numeric, categorical and boolean features, some missing), then
a million live rows, half of them shifted, are counted into it by the scoring stage's
:class:`~rpaml_pipeline.monitoring.drift_check.DriftMonitor` in batches as the stage
delivers them (Python lists per column, decoded from the batches) and judged. Figures are
printed and written to ``bench/results/drift-<time>.json`` and ``bench/results/drift.json``.

    .venv/bin/python bench/drift.py [--rows 1000000] [--batch 5000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rpaml_models import FeatureSchema, FeatureSpec
from rpaml_models.drift import build_reference
from rpaml_pipeline.monitoring.drift_check import DriftMonitor
from rpaml_pipeline.process.monitoring_section import MonitoringSpec

PROJECT = Path(__file__).resolve().parents[1]
RESULTS = PROJECT / "bench" / "results"
NUMERIC = ("amount", "claimant_age", "prior_claims", "days_to_report", "policy_age_days",
           "amount_ratio", "description_length")  # fmt: skip
CATEGORICAL = ("channel", "category", "region")
BOOLEAN = ("police_report",)
GOAL_SECONDS = 10.0


def schema() -> FeatureSchema:
    return FeatureSchema(
        features=(
            *(FeatureSpec(name=n, kind="numeric") for n in NUMERIC),
            *(FeatureSpec(name=n, kind="categorical") for n in CATEGORICAL),
            *(FeatureSpec(name=n, kind="boolean") for n in BOOLEAN),
        )
    )


def frame(rows: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    data: dict[str, Any] = {
        name: rng.lognormal(3.0 + shift, 1.0, rows).round(2) for name in NUMERIC
    }
    data["claimant_age"] = rng.integers(18, 90, rows).astype(float)
    # Some missing values, as live records have.
    data["amount_ratio"][rng.random(rows) < 0.05] = np.nan
    for name in CATEGORICAL:
        choices = ["a", "b", "c", "d", "e"] + (["new"] if shift else [])
        data[name] = rng.choice(choices, rows).astype(object)
    data["police_report"] = rng.random(rows) < 0.5 - shift / 4
    return pd.DataFrame(data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=5_000)
    args = parser.parse_args()
    features = schema()
    training = frame(5_000, seed=1)
    started = time.perf_counter()
    reference = build_reference(training, features, np.random.default_rng(2).beta(2, 8, 5_000))
    reference_seconds = time.perf_counter() - started
    # Live rows: the first half like training, the second shifted. Prepared as the scoring
    # stage has them (lists per column, one batch at a time) before the clock starts.
    half = args.rows // 2
    live = pd.concat([frame(half, seed=3), frame(args.rows - half, seed=4, shift=0.5)])
    scores = np.random.default_rng(5).beta(2, 8, args.rows)
    batches = [
        (
            {name: live[name].iloc[start : start + args.batch].tolist() for name in live},
            scores[start : start + args.batch].tolist(),
        )
        for start in range(0, args.rows, args.batch)
    ]
    monitor = DriftMonitor(lambda version: reference, MonitoringSpec())
    started = time.perf_counter()
    for columns, batch_scores in batches:
        monitor.add("1", columns, batch_scores)
    counted = time.perf_counter() - started
    report = monitor.report()
    total = time.perf_counter() - started
    alerts = report["alerts"]
    summary = {
        "rows": args.rows,
        "batch_rows": args.batch,
        "features": len(features.names),
        "reference_seconds": round(reference_seconds, 4),
        "count_seconds": round(counted, 3),
        "judge_seconds": round(total - counted, 4),
        "total_seconds": round(total, 3),
        "rows_per_second": round(args.rows / total),
        "goal_seconds": GOAL_SECONDS,
        "within_goal": total <= GOAL_SECONDS,
        "alerts": len(alerts),
        "psi": {
            name: figures["psi"] for name, figures in report["versions"]["1"]["features"].items()
        },
    }
    print(
        f"{args.rows:,} rows x {len(features.names)} features in batches of {args.batch:,}: "
        f"counted in {counted:.2f} s, judged in {total - counted:.4f} s, "
        f"{total:.2f} s in all ({summary['rows_per_second']:,} rows/s; goal <= {GOAL_SECONDS} s)"
    )
    print(f"reference built from 5,000 training rows in {reference_seconds:.3f} s")
    for alert in alerts:
        print(f"  {alert['level']}: {alert['message']}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    document = {
        "command": " ".join(sys.argv),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count() or 0},
        "when": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "summary": summary,
    }
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for path in (RESULTS / f"drift-{stamp}.json", RESULTS / "drift.json"):
        path.write_text(json.dumps(document, indent=2), encoding="utf-8")
    print(f"results: {RESULTS / f'drift-{stamp}.json'}")


if __name__ == "__main__":
    main()
