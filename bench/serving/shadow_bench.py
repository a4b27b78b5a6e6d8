"""Shadow mode's cost in the serving benchmark: the same batches with and without the
challenger scored in shadow, on one service process.

The registry gets a challenger (the reference model's recipe trained on other data) and
the service is started on it; each scenario sends the same request body with
``"shadow": true`` or without, in alternating rounds (off-on, on-off, ...) so that the
load of a shared machine weighs on both alike. The figure is the throughput lost:
``1 - shadow on / shadow off``; issue 12's goal is at most 20%. Run by ``bench.py``
(``make bench``), or alone::

    .venv/bin/python bench/serving/shadow_bench.py --seconds 3
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import bench as serving

from rpaml_models import ModelRegistry, train_model, training_data_hash

ROUNDS = 4
GOAL = 0.20


def add_challenger(registry: ModelRegistry) -> str:
    """Register a second version of the reference model and set it to shadow the champion."""
    frame, labels = serving.reference_data(20_000, seed=4)
    result = train_model(frame, labels, serving.SCHEMA, {"max_iter": 100}, seed=4)
    holdout, _ = serving.reference_data(2_000, seed=5)
    metadata = registry.register(
        serving.MODEL,
        result.pipeline,
        schema=serving.SCHEMA,
        policy=serving.POLICY,
        training_data_hash=training_data_hash(frame, labels),
        metrics=result.metrics,
        params={"max_iter": 100},
        baseline=result.baseline,
        holdout=holdout,
    )
    registry.set_challenger(serving.MODEL, metadata.version, reason="benchmark")
    return metadata.version


def _bodies(rows: list[dict[str, Any]]) -> list[tuple[str, str, bytes | dict[str, Any], int, int]]:
    """(scenario, path suffix, body, concurrency, rows per request)."""
    batch = rows[: serving.BATCH_ROWS]
    columns = {
        "ids": [f"r{i}" for i in range(len(batch))],
        "columns": {name: [row[name] for row in batch] for name in rows[0]},
    }
    return [
        ("1,000-row batch, columnar, explained (the scoring stage)", "/columns",
         {**columns, "explain": True}, 1, len(batch)),
        ("1,000-row batch, columnar (bulk path)", "/columns", columns, 1, len(batch)),
        ("1,000-row batch, columnar, concurrency 4 (every core busy)", "/columns", columns, 4,
         len(batch)),
        ("1,000-row batch, concurrency 1", "",
         {"records": [{"id": f"r{i}", "features": r} for i, r in enumerate(batch)]}, 1,
         len(batch)),
        ("single record, concurrency 32", "", {"records": [{"id": "r0", "features": rows[0]}]},
         32, 1),
    ]  # fmt: skip


def bench_shadow(
    registry: ModelRegistry, rows: list[dict[str, Any]], seconds: float, work: Path
) -> list[Any]:
    """Figures ``rpaml shadow``: each scenario with shadow off and on (see the module)."""
    from rpaml_service.auth import digest

    challenger = add_challenger(registry)
    key = "bench-key"
    packages = [str(serving.ROOT / "models"), str(serving.ROOT / "service")]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(packages),
        "RPAML_SERVICE_API_KEYS": json.dumps([f"bench:score:{digest(key)}"]),
    }
    ready = work / "rpaml-shadow.url"
    command = [
        sys.executable, "-m", "rpaml_service", "--registry", str(registry.root), "--port", "0",
        "--ready-file", str(ready), "--log-level", "warning",
    ]  # fmt: skip
    figures = []
    with serving.process(command, env=env, log=work / "rpaml-shadow.log") as child:
        deadline = time.monotonic() + serving.STARTUP_TIMEOUT
        while not ready.exists():
            if child.poll() is not None or time.monotonic() > deadline:
                return [serving.Figure("rpaml shadow", "all", note="service did not start")]
            time.sleep(0.05)
        host, port = ready.read_text().strip().removeprefix("http://").rsplit(":", 1)
        path = f"/v1/models/{serving.MODEL}/score"
        for scenario, suffix, body, concurrency, rows_per in _bodies(rows):
            pair = {}
            for shadow in (False, True):
                sent = {**body, "shadow": True} if shadow else body
                payload = json.dumps(sent).encode()
                pair[shadow] = (
                    serving.Figure(
                        "rpaml shadow",
                        f"{scenario}, shadow {'on' if shadow else 'off'}",
                        rows_per_request=rows_per,
                    ),
                    serving.http_request(
                        host, int(port), path + suffix, payload, {"X-API-Key": key}
                    ),
                )
            check = _checker(challenger)
            for turn in range(ROUNDS):
                # Off first, then on first: neither side always follows the other.
                for shadow in (False, True) if turn % 2 == 0 else (True, False):
                    figure, request = pair[shadow]
                    part = serving.Figure(figure.system, figure.scenario)
                    asyncio.run(
                        serving.drive(
                            host,
                            int(port),
                            request,
                            concurrency=concurrency,
                            seconds=seconds / ROUNDS,
                            check=check if shadow else serving.rpaml_checks,
                            figure=part,
                        )
                    )
                    figure.requests += part.requests
                    figure.errors += part.errors
                    figure.seconds += part.seconds
                    figure.latencies_ms += part.latencies_ms
            figures += [pair[False][0], pair[True][0]]
    return figures


def _checker(challenger: str) -> Any:
    """A 200 answer that carries the challenger's decisions (not a silent shadow null)."""
    marker = f'"model_version":"{challenger}"'.encode()

    def check(status: int, body: bytes) -> bool:
        return status == 200 and b'"shadow":{' in body and marker in body

    return check


def shadow_costs(figures: list[Any]) -> list[dict[str, Any]]:
    """Per scenario: throughput with shadow off and on, and the share lost."""
    found = {f.scenario: f for f in figures if f.system == "rpaml shadow" and not f.note}
    costs = []
    for name, off in found.items():
        if not name.endswith(", shadow off"):
            continue
        scenario = name.removesuffix(", shadow off")
        on = found.get(f"{scenario}, shadow on")
        if on is None or not off.throughput:
            continue
        lost = 1 - on.throughput / off.throughput
        costs.append(
            {
                "scenario": scenario,
                "off_rps": round(off.throughput, 1),
                "on_rps": round(on.throughput, 1),
                "cost": round(lost, 4),
                "goal_met": lost <= GOAL,
                "errors": off.errors + on.errors,
            }
        )
    return costs


def shadow_table(figures: list[Any]) -> str:
    """The shadow figures, wider than the main table (the scenario names are longer)."""
    header = f"{'scenario':<78} {'req/s':>8} {'rows/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'err':>4}"
    lines = [header, "-" * len(header)]
    for f in figures:
        if f.note:
            lines.append(f"{f.scenario:<78} {f.note}")
            continue
        lines.append(
            f"{f.scenario:<78} {f.throughput:>8.0f} {f.rows_per_second:>9.0f} "
            f"{f.percentile(50):>8.3f} {f.percentile(99):>8.3f} {f.errors:>4}"
        )
    return "\n".join(lines)


def shadow_goals(figures: list[Any]) -> list[str]:
    """Issue 12's goal, judged per scenario on this run's figures."""
    return [
        f"shadow scoring costs at most {GOAL:.0%} of the champion's throughput, "
        f"{row['scenario']}: {row['cost']:.1%} ({row['off_rps']:,.0f} -> {row['on_rps']:,.0f} "
        f"req/s) -> {'met' if row['goal_met'] else 'NOT met'}"
        for row in shadow_costs(figures)
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="length of each scenario")
    args = parser.parse_args(argv)
    rows = serving.payload_rows(serving.BATCH_ROWS)
    with tempfile.TemporaryDirectory(prefix="rpaml-bench-shadow-") as temp:
        work = Path(temp)
        registry = serving.build_registry(work / "registry")
        figures = bench_shadow(registry, rows, args.seconds, work)
    print(shadow_table(figures))
    for line in shadow_goals(figures):
        print(f"goal: {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
