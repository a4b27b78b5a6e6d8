"""Decision benchmark: how close rpaml's decisions come to the best any policy could do.

    .venv/bin/python bench/decisions.py                       # 5 seeds x 3 cost tables
    .venv/bin/python bench/decisions.py --seeds 0 1 --fresh 5000 --jobs 2

For each portal seed: the seed's 1,500 closed claims are staged as the history robot and
the enrichment robot stage them and processed by the pipeline; for each cost table the
process file is rewritten with that table and the model is trained from the store exactly
as ``rpaml train`` trains it (candidates, cross-validated cost, calibration, registry).
The champion then scores ``--fresh`` new claims of the same generator, staged and
processed the same way, and its decisions are measured against the sandbox's hidden
truth: each claim's fraud probability given the claim and its policy record (the policy's
missed payments are drawn after the fraud, so they carry information the claim's own
probability lacks; the best possible policy, the oracle, decides on this probability).

Printed per seed and table: expected cost per claim of rpaml, the oracle, approving,
escalating and rejecting everything, the ratio to the oracle, the expected calibration
error (10 equal-count bins, against the true probabilities and against the realised
outcomes) and the training time. Results go to ``bench/results/decisions-<time>.json``
(and ``bench/results/decisions.json``).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from decision_claims import fresh_claims, history_claims, stage_and_process, truth

from rpaml_models import ModelRegistry
from rpaml_models.evaluation import (
    amounts_of,
    expected_calibration_error,
    expected_costs_given_truth,
)
from rpaml_pipeline.model_spec import decision_policy
from rpaml_pipeline.model_training import train_from_store
from rpaml_pipeline.process import load_process
from rpaml_pipeline.store import RecordState, Store

PROJECT = Path(__file__).resolve().parents[1]
PROCESS_FILE = PROJECT / "pipeline" / "processes" / "claims_triage.yaml"
RESULTS = PROJECT / "bench" / "results"

# The issue's table, then escalation cheaper / dearer, then rejection cheaper / dearer.
TABLES: dict[str, dict[str, Any]] = {
    "issue (escalate 150, reject 2,500)": {"escalate": 150, "reject": 2500},
    "escalate 60": {"escalate": 60, "reject": 2500},
    "escalate 400": {"escalate": 400, "reject": 2500},
    "reject 1,000": {"escalate": 150, "reject": 1000},
    "reject 6,000": {"escalate": 150, "reject": 6000},
}
DEFAULT_TABLES = ["issue (escalate 150, reject 2,500)", "escalate 60", "escalate 400"]


def process_file_for(table: dict[str, Any], folder: Path) -> Path:
    """The shipped process file with ``table``'s escalation and rejection costs."""
    data = yaml.safe_load(PROCESS_FILE.read_text(encoding="utf-8"))
    costs = data["policy"]["costs"]
    costs["escalate"] = {"fraud": table["escalate"], "legitimate": table["escalate"]}
    costs["reject"] = {"fraud": 0, "legitimate": table["reject"]}
    path = folder / "claims_triage.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def run_seed(seed: int, n_fresh: int, tables: list[str]) -> list[dict[str, Any]]:
    """Every cost table for one portal seed."""
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix=f"rpaml-bench-decisions-{seed}-") as tmp:
        folder = Path(tmp)
        base = load_process(PROCESS_FILE)
        started = time.perf_counter()
        history = history_claims(seed)
        stream, fresh = fresh_claims(seed, n_fresh)
        with Store.connect(f"sqlite:///{folder / 'history.db'}") as store:
            stage_and_process(store, base, history, seed)
        with Store.connect(f"sqlite:///{folder / 'fresh.db'}") as store:
            stage_and_process(store, base, fresh, stream)
            records = [
                r for chunk in store.iter_records(base.name, RecordState.VALIDATED) for r in chunk
            ]
        staging = time.perf_counter() - started
        hidden = truth(fresh, stream)
        realised = {c.claim_id: int(c.is_fraud) for c in fresh}
        keys = [r.natural_key for r in records]
        p_true = np.array([hidden[k] for k in keys])
        y = np.array([realised[k] for k in keys], dtype=np.int64)
        rows_features = [r.features or {} for r in records]
        for name in tables:
            table_dir = folder / f"table-{len(rows)}"
            table_dir.mkdir(parents=True)
            process = load_process(process_file_for(TABLES[name], table_dir))
            policy = decision_policy(process)
            with Store.connect(f"sqlite:///{folder / 'history.db'}") as store:
                began = time.perf_counter()
                outcome = train_from_store(store, process, table_dir / "registry")
                training_seconds = time.perf_counter() - began
            model = ModelRegistry(table_dir / "registry").load(process.model.name)
            frame, issues = model.schema.validate_rows(rows_features)
            assert not issues, issues[:3]
            scores = model.score_frame(frame)
            amounts = amounts_of(policy, frame)
            oracle = _cost(policy, policy.choose(p_true, amounts), p_true, amounts)
            figures = {
                "rpaml": _cost(policy, policy.choose(scores, amounts), p_true, amounts),
                "oracle": oracle,
            }
            for index, action in enumerate(policy.actions):
                always = np.full(len(keys), index, dtype=np.int64)
                figures[f"{action} all"] = _cost(policy, always, p_true, amounts)
            rows.append(
                {
                    "seed": seed,
                    "table": name,
                    "fresh_claims": len(keys),
                    "history_records": outcome.n_records,
                    "cost_per_claim": figures,
                    "ratio": figures["rpaml"] / oracle,
                    "ece_vs_truth": expected_calibration_error(p_true, scores),
                    "ece_vs_outcomes": expected_calibration_error(y, scores),
                    "training_seconds": training_seconds,
                    "staging_seconds": staging,
                    "winner": outcome.winner,
                    "runtime": model.runtime,
                }
            )
            print(_line(rows[-1]), flush=True)
    return rows


def _cost(policy: Any, choices: np.ndarray, truth: np.ndarray, amounts: np.ndarray) -> float:
    """Expected cost per claim of ``choices`` when the true probabilities are ``truth``."""
    return float(expected_costs_given_truth(policy, choices, truth, amounts).mean())


def _line(row: dict[str, Any]) -> str:
    figures = row["cost_per_claim"]
    winner = row["winner"]
    return (
        f"seed {row['seed']:>2}  {row['table']:<36} rpaml {figures['rpaml']:7.1f}  "
        f"oracle {figures['oracle']:7.1f}  approve {figures['approve all']:8.1f}  "
        f"escalate {figures['escalate all']:6.1f}  reject {figures['reject all']:7.1f}  "
        f"ratio {row['ratio']:.3f}  ECE {row['ece_vs_truth']:.4f} ({row['ece_vs_outcomes']:.4f})  "
        f"train {row['training_seconds']:5.1f} s  {winner.get('name')}/{winner.get('calibration')}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--tables", nargs="+", default=DEFAULT_TABLES, choices=list(TABLES))
    parser.add_argument("--fresh", type=int, default=20_000, help="fresh claims per seed")
    parser.add_argument("--jobs", type=int, default=1, help="seeds run side by side")
    args = parser.parse_args()
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        parts = list(pool.map(run_seed, args.seeds, [args.fresh] * len(args.seeds),
                              [args.tables] * len(args.seeds)))  # fmt: skip
    rows = [row for part in parts for row in part]
    ratios = [row["ratio"] for row in rows]
    summary = {
        "median_ratio": statistics.median(ratios),
        "max_ratio": max(ratios),
        "max_ece_vs_truth": max(row["ece_vs_truth"] for row in rows),
        "max_ece_vs_outcomes": max(row["ece_vs_outcomes"] for row in rows),
        "max_training_seconds": max(row["training_seconds"] for row in rows),
        "goals": "ratio <= 1.05 each, median <= 1.03, ECE <= 0.02, training < 60 s",
        "wall_seconds": time.perf_counter() - started,
    }
    print()
    print("\n".join(_line(row) for row in sorted(rows, key=lambda r: (r["table"], r["seed"]))))
    print(
        f"\nmedian ratio {summary['median_ratio']:.3f}, worst {summary['max_ratio']:.3f}; "
        f"worst ECE {summary['max_ece_vs_truth']:.4f} vs truth "
        f"({summary['max_ece_vs_outcomes']:.4f} vs outcomes); "
        f"slowest training {summary['max_training_seconds']:.1f} s"
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    document = {
        "command": " ".join(sys.argv),
        "machine": {"python": platform.python_version(), "cpus": _cpus()},
        "when": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "summary": summary,
        "rows": rows,
    }
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for path in (RESULTS / f"decisions-{stamp}.json", RESULTS / "decisions.json"):
        path.write_text(json.dumps(document, indent=2), encoding="utf-8")
    print(f"results: {RESULTS / f'decisions-{stamp}.json'}")


def _cpus() -> int:
    import os

    return os.cpu_count() or 0


if __name__ == "__main__":
    main()
