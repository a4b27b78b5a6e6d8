"""The learning loop over simulated business days, measured against the sandbox's truth.

Runs the real loop (the portal and the scoring service as child processes, the robots in
headless Chromium and under Xvfb, the SQLite store; the same stages the worker's schedules
run, in order) for ``--days`` business days with the fraud ring switched on from
``--ring-day``, in a fresh data folder. Prints per day: claims decided, the applied
decisions' expected cost per claim and its ratio to the oracle (from the sandbox's ground
truth), labels received, alerts, retraining and promotion events; then the goals:

- before the switch the ratio stays at most 1.05;
- a drift or performance alert within 2 days of the switch;
- the ratio back to at most 1.10 within 7 days of it;
- no promotion that the ground truth shows to be worse.

Writes ``bench/results/loop-<time>.json``, ``bench/results/loop.json`` and a plot of the
ratio over the days, ``bench/results/loop.png``.

    .venv/bin/python bench/loop.py [--days 30] [--ring-day 10] [--daily-claims 60]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parents[1]
RESULTS = PROJECT / "bench" / "results"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--ring-day", type=int, default=10)
    parser.add_argument("--daily-claims", type=int, default=60)
    parser.add_argument("--data-dir", type=Path, help="keep the run here (default: a temp dir)")
    args = parser.parse_args(argv)
    os.environ.setdefault("SE_OFFLINE", "true")

    from rpaml_pipeline.business_days import LoopOptions, run_business_days
    from rpaml_pipeline.settings import RpamlSettings

    work = args.data_dir or Path(tempfile.mkdtemp(prefix="rpaml-loop-"))
    settings = RpamlSettings(
        project_dir=PROJECT, data_dir=work / "data", registry_dir=work / "registry"
    )
    options = LoopOptions(
        days=args.days, daily_claims=args.daily_claims, fraud_ring_day=args.ring_day
    )
    began = time.monotonic()
    days = [d.as_dict() for d in run_business_days(settings, options, progress=print)]
    goals = judge(days, args.ring_day)
    result = {
        "bench": "loop",
        "when": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "machine": {
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
        "options": {
            "days": args.days,
            "ring_day": args.ring_day,
            "daily_claims": args.daily_claims,
        },
        "seconds": round(time.monotonic() - began, 1),
        "days": days,
        "goals": goals,
        "data_dir": str(work),
    }
    print(table(days))
    for name, verdict in goals.items():
        print(f"{name}: {verdict}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    text = json.dumps(result, indent=2)
    (RESULTS / f"loop-{time.strftime('%Y%m%d-%H%M%S')}.json").write_text(text, encoding="utf-8")
    (RESULTS / "loop.json").write_text(text, encoding="utf-8")
    plot(days, args.ring_day, RESULTS / "loop.png")
    print(f"results in {RESULTS / 'loop.json'}, plot in {RESULTS / 'loop.png'}")
    return 0


def judge(days: list[dict[str, Any]], ring_day: int) -> dict[str, Any]:
    """The issue's four goals, each with the figures behind the verdict."""
    ratios = {d["day"]: d["ratio_to_oracle"] for d in days if d["ratio_to_oracle"] is not None}
    before = [r for day, r in ratios.items() if day < ring_day]
    alert_days = [d["day"] for d in days if d["day"] >= ring_day and d["alerts"]]
    first_alert = alert_days[0] if alert_days else None
    recovered = [day for day, r in ratios.items() if ring_day <= day and r <= 1.10]
    first_recovered = min(recovered) if recovered else None
    return {
        "before the switch at most 1.05": {
            "met": bool(before) and max(before) <= 1.05,
            "max": max(before) if before else None,
        },
        "alert within 2 days of the switch": {
            "met": first_alert is not None and first_alert - ring_day <= 2,
            "first_alert_day": first_alert,
        },
        "back to at most 1.10 within 7 days": {
            "met": first_recovered is not None and first_recovered - ring_day <= 7,
            "first_day_at_most_1.10": first_recovered,
        },
        "no promotion the truth shows worse": promotions_judged(days),
        # Not a goal of the issue, but what an operator pays for: alerts with nothing wrong.
        "alerts before the switch (false alarms)": {
            "days": [d["day"] for d in days if d["day"] < ring_day and d["alerts"]],
            "alerts": sorted({a for d in days if d["day"] < ring_day for a in d["alerts"]}),
        },
    }


def promotions_judged(days: list[dict[str, Any]]) -> dict[str, Any]:
    """A promotion is worse when, on the claims decided in the days after it, the new
    champion's policy decisions cost more under the truth than the previous champion's
    on the same claims (both scoring them afresh: rpaml_pipeline.decision_quality)."""
    verdicts = []
    for day in days:
        if not day["promoted"]:
            continue
        check = day.get("promotion_check") or {}
        costs = check.get("cost_per_record") or {}
        verdicts.append(
            {
                "day": day["day"],
                "version": day["promoted"],
                "previous": check.get("previous"),
                "worse": bool(check.get("worse")),
                "judged_on": check.get("records", 0),
                "cost_per_claim": costs,
                "oracle": check.get("oracle"),
            }
        )
    return {"met": not any(v["worse"] for v in verdicts), "promotions": verdicts}


def table(days: list[dict[str, Any]]) -> str:
    lines = [
        "| day | date | decided | cost/claim | oracle | ratio | labels | alerts | retrain |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for d in days:
        ratio = "-" if d["ratio_to_oracle"] is None else f"{d['ratio_to_oracle']:.3f}"
        cost = "-" if d["cost_per_claim"] is None else f"{d['cost_per_claim']:.1f}"
        oracle = "-" if d["oracle_cost_per_claim"] is None else f"{d['oracle_cost_per_claim']:.1f}"
        event = f"promoted v{d['promoted']}" if d["promoted"] else d["retrain"].split(":")[0]
        ring = " (ring)" if d["fraud_ring"] else ""
        lines.append(
            f"| {d['day']}{ring} | {d['business_date']} | {d['decided']} | {cost} | {oracle} "
            f"| {ratio} | {d['labels_received']} | {len(d['alerts'])} | {event} |"
        )
    return "\n".join(lines)


def plot(days: list[dict[str, Any]], ring_day: int, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs = [d["day"] for d in days if d["ratio_to_oracle"] is not None]
    ys = [d["ratio_to_oracle"] for d in days if d["ratio_to_oracle"] is not None]
    figure, axis = plt.subplots(figsize=(9, 4))
    axis.plot(xs, ys, marker="o", label="applied decisions / oracle")
    axis.axvline(ring_day, color="red", linestyle="--", label=f"fraud ring from day {ring_day}")
    axis.axhline(1.05, color="grey", linestyle=":", label="1.05")
    axis.axhline(1.10, color="grey", linestyle="-.", label="1.10")
    for d in days:
        if d["promoted"]:
            axis.axvline(d["day"], color="green", alpha=0.3)
    axis.set_xlabel("business day")
    axis.set_ylabel("expected cost ratio to the oracle")
    axis.set_title("rpaml learning loop: cost of the applied decisions (green: promotions)")
    axis.legend(loc="upper left", fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


if __name__ == "__main__":
    sys.exit(main())
