"""Serving benchmark: in-process scoring, the rpaml service and (with --peers) MLflow and
BentoML, on the same reference model and payloads, in one bounded run.

    .venv/bin/python bench/serving/bench.py            # in-process + rpaml service
    make bench-compare                                 # + MLflow and BentoML (own venvs)

Scenarios: single records at concurrency 1 and 32, and 1,000-row batches at
concurrency 1; one worker process per server, loopback only, each scenario lasts
``--seconds``. rpaml answers with its defaults: score, decision and the policy's reason,
without the model's reasons (as the peers answer scores only); the explained bulk path,
which the pipeline uses, is measured separately. Shadow mode's cost is measured last, on
a service with a challenger: the same batches with and without ``"shadow": true``
(``shadow_bench.py``). Prints throughput, p50 and p99, the ratios to the peers, the
issues' goals judged on this run, and the load average around the run (the machine may
be shared), and writes ``bench/results/serving-<time>.json``.
A peer whose virtualenv is missing, or that does not start, is reported as such: no
figure is invented for it.

The load generator speaks HTTP/1.1 keep-alive over asyncio streams so that the client,
which shares the machine's cores with the server, costs as little as possible; the
same generator drives every server.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
RESULTS = ROOT / "bench" / "results"
VENVS = HERE / ".venvs"
MODEL = "bench_fraud"
BATCH_ROWS = 1_000
STARTUP_TIMEOUT = 120.0

sys.path[:0] = [str(ROOT / "models"), str(ROOT / "service")]

from rpaml_models import (  # noqa: E402
    DecisionPolicy,
    FeatureSchema,
    FeatureSpec,
    ModelRegistry,
    train_model,
    training_data_hash,
)

SCHEMA = FeatureSchema(
    features=(
        *(FeatureSpec(name=f"num_{i}", kind="numeric") for i in range(8)),
        FeatureSpec(name="flag_a", kind="boolean"),
        FeatureSpec(name="flag_b", kind="boolean"),
        FeatureSpec(name="channel", kind="categorical", categories=("web", "phone", "agent")),
        FeatureSpec(name="region", kind="categorical", categories=("n", "s", "e", "w", "c")),
    )
)
POLICY = DecisionPolicy(
    version="bench-1", actions=("approve", "escalate", "reject"), lower=0.3, upper=0.7
)


def reference_data(n_rows: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """12 features (8 numeric, 2 boolean, 2 categorical) and a label."""
    rng = np.random.default_rng(seed)
    data: dict[str, Any] = {f"num_{i}": rng.normal(0, 1 + i, n_rows) for i in range(8)}
    data["flag_a"] = rng.random(n_rows) < 0.3
    data["flag_b"] = rng.random(n_rows) < 0.6
    data["channel"] = rng.choice(["web", "phone", "agent"], n_rows)
    data["region"] = rng.choice(["n", "s", "e", "w", "c"], n_rows)
    logit = 0.8 * data["num_0"] - 0.3 * data["num_3"] + 1.2 * data["flag_a"] - 1.0
    logit = logit + 0.7 * (data["channel"] == "phone")
    labels = (rng.random(n_rows) < 1 / (1 + np.exp(-logit))).astype(int)
    return pd.DataFrame(data), labels


def build_registry(root: Path) -> ModelRegistry:
    frame, labels = reference_data(20_000, seed=1)
    result = train_model(frame, labels, SCHEMA, {"max_iter": 100}, seed=1)
    holdout, _ = reference_data(2_000, seed=2)
    registry = ModelRegistry(root)
    metadata = registry.register(
        MODEL,
        result.pipeline,
        schema=SCHEMA,
        policy=POLICY,
        training_data_hash=training_data_hash(frame, labels),
        metrics=result.metrics,
        params={"max_iter": 100},
        baseline=result.baseline,
        holdout=holdout,
    )
    registry.promote(MODEL, metadata.version, reason="benchmark", evidence={})
    return registry


def payload_rows(n_rows: int) -> list[dict[str, Any]]:
    frame, _ = reference_data(n_rows, seed=3)
    return [
        {k: (bool(v) if isinstance(v, np.bool_) else v) for k, v in row.items()}
        for row in frame.to_dict("records")
    ]


# -- results -------------------------------------------------------------------


@dataclass
class Figure:
    system: str
    scenario: str
    requests: int = 0
    errors: int = 0
    seconds: float = 0.0
    rows_per_request: int = 1
    latencies_ms: list[float] = field(default_factory=list, repr=False)
    note: str = ""

    @property
    def throughput(self) -> float:
        """Successful requests per second (failed ones count as errors, not throughput)."""
        return (self.requests - self.errors) / self.seconds if self.seconds else 0.0

    @property
    def rows_per_second(self) -> float:
        return self.throughput * self.rows_per_request

    def percentile(self, q: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        return float(np.percentile(self.latencies_ms, q))

    def summary(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("latencies_ms")
        data.update(
            throughput_rps=round(self.throughput, 1),
            rows_per_second=round(self.rows_per_second, 1),
            p50_ms=round(self.percentile(50), 3),
            p99_ms=round(self.percentile(99), 3),
        )
        return data


# -- load generator --------------------------------------------------------------


class Connection:
    """One HTTP/1.1 keep-alive connection."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, host: str, port: int) -> Connection:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    async def post(self, request: bytes) -> tuple[int, bytes]:
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        chunked = False
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            lowered = name.strip().lower()
            if lowered == b"content-length":
                length = int(value)
            elif lowered == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
        if not chunked:
            return status, await self.reader.readexactly(length)
        body = bytearray()
        while True:
            size = int((await self.reader.readuntil(b"\r\n")).strip(), 16)
            chunk = await self.reader.readexactly(size + 2)
            if size == 0:
                return status, bytes(body)
            body += chunk[:-2]

    def close(self) -> None:
        self.writer.close()


def http_request(host: str, port: int, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", "Content-Type: application/json"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def drive(
    host: str,
    port: int,
    request: bytes,
    *,
    concurrency: int,
    seconds: float,
    check: Callable[[int, bytes], bool],
    figure: Figure,
) -> None:
    connections = [await Connection.open(host, port) for _ in range(concurrency)]
    for connection in connections:  # warm-up
        await connection.post(request)
    stop = time.perf_counter() + seconds

    async def worker(connection: Connection) -> None:
        while time.perf_counter() < stop:
            started = time.perf_counter()
            try:
                status, body = await connection.post(request)
                ok = check(status, body)
            except (OSError, asyncio.IncompleteReadError, ValueError):
                ok = False
                # The server dropped the connection: count the error, open a new one
                # (after a pause, so a failing server is not spun on).
                connection.close()
                await asyncio.sleep(0.05)
                try:
                    connection = await Connection.open(host, port)
                except OSError:
                    figure.requests += 1
                    figure.errors += 1
                    return
            figure.requests += 1
            if ok:
                figure.latencies_ms.append((time.perf_counter() - started) * 1000)
            else:
                figure.errors += 1

    began = time.perf_counter()
    await asyncio.gather(*(worker(c) for c in connections))
    figure.seconds = time.perf_counter() - began
    for connection in connections:
        with contextlib.suppress(Exception):
            connection.close()


# -- servers ---------------------------------------------------------------------


def free_port() -> int:
    # Peers cannot bind port 0 and report it, so one is picked for them (tiny race).
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def process(
    command: list[str], *, env: dict[str, str], log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        child = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            yield child
        finally:
            if child.poll() is None:
                child.terminate()
                try:
                    child.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.wait()


def wait_http(url: str, child: subprocess.Popen[bytes]) -> bool:
    import httpx

    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if child.poll() is not None:
            return False
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1).status_code < 500:
                return True
        time.sleep(0.2)
    return False


# -- scenarios ---------------------------------------------------------------------


def in_process(registry: ModelRegistry, rows: list[dict[str, Any]], seconds: float) -> list[Figure]:
    model = registry.load(MODEL)
    figures = []
    for name, call, rows_per in (
        (
            "single record (rpaml LoadedModel.score)",
            lambda: model.score(rows[:1], explain=False),
            1,
        ),
        (
            "single record, explained (LoadedModel.score)",
            lambda: model.score(rows[:1], explain=True),
            1,
        ),
        (
            "1,000-row batch (rpaml LoadedModel.score)",
            lambda: model.score(rows[:BATCH_ROWS], explain=False),
            BATCH_ROWS,
        ),
        (
            "1,000-row batch, explained (LoadedModel.score)",
            lambda: model.score(rows[:BATCH_ROWS], explain=True),
            BATCH_ROWS,
        ),
    ):
        figure = Figure("in-process", name, rows_per_request=rows_per)
        call()
        stop = time.perf_counter() + seconds
        began = time.perf_counter()
        while time.perf_counter() < stop:
            t = time.perf_counter()
            call()
            figure.latencies_ms.append((time.perf_counter() - t) * 1000)
            figure.requests += 1
        figure.seconds = time.perf_counter() - began
        figures.append(figure)
    frame = SCHEMA.coerce_frame(pd.DataFrame(rows[:1]))
    figure = Figure("in-process", "single record (sklearn predict_proba on a DataFrame)")
    stop = time.perf_counter() + seconds
    began = time.perf_counter()
    while time.perf_counter() < stop:
        t = time.perf_counter()
        model.pipeline.predict_proba(frame)
        figure.latencies_ms.append((time.perf_counter() - t) * 1000)
        figure.requests += 1
    figure.seconds = time.perf_counter() - began
    figures.append(figure)
    return figures


def rpaml_checks(status: int, body: bytes) -> bool:
    return status == 200


def run_http_scenarios(
    system: str,
    host: str,
    port: int,
    single: tuple[str, bytes],
    batch: tuple[str, bytes],
    headers: dict[str, str],
    seconds: float,
    extra: list[tuple[str, str, bytes]] = (),  # type: ignore[assignment]
) -> list[Figure]:
    figures = []
    scenarios = [
        ("single record, concurrency 1", single, 1, 1),
        ("single record, concurrency 32", single, 32, 1),
        ("1,000-row batch, concurrency 1", batch, 1, BATCH_ROWS),
    ]
    scenarios += [(name, (path, body), 1, BATCH_ROWS) for name, path, body in extra]
    for name, (path, body), concurrency, rows_per in scenarios:
        figure = Figure(system, name, rows_per_request=rows_per)
        request = http_request(host, port, path, body, headers)
        asyncio.run(
            drive(
                host,
                port,
                request,
                concurrency=concurrency,
                seconds=seconds,
                check=rpaml_checks,
                figure=figure,
            )
        )
        figures.append(figure)
    return figures


def bench_rpaml(
    registry_dir: Path, rows: list[dict[str, Any]], seconds: float, work: Path
) -> list[Figure]:
    from rpaml_service.auth import digest

    key = "bench-key"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "models"), str(ROOT / "service")]),
        "RPAML_SERVICE_API_KEYS": json.dumps([f"bench:score:{digest(key)}"]),
    }
    ready = work / "rpaml.url"
    command = [
        sys.executable,
        "-m",
        "rpaml_service",
        "--registry",
        str(registry_dir),
        "--port",
        "0",
        "--ready-file",
        str(ready),
        "--log-level",
        "warning",
    ]
    with process(command, env=env, log=work / "rpaml.log") as child:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not ready.exists():
            if child.poll() is not None or time.monotonic() > deadline:
                return [Figure("rpaml", "all", note="service did not start; see rpaml.log")]
            time.sleep(0.05)
        url = ready.read_text().strip()
        host, port = url.removeprefix("http://").rsplit(":", 1)
        path = f"/v1/models/{MODEL}/score"
        single = json.dumps({"records": [{"id": "r0", "features": rows[0]}]}).encode()
        batch = json.dumps(
            {"records": [{"id": f"r{i}", "features": r} for i, r in enumerate(rows[:BATCH_ROWS])]}
        ).encode()
        names = list(rows[0])
        column_body = {
            "ids": [f"r{i}" for i in range(BATCH_ROWS)],
            "columns": {n: [r[n] for r in rows[:BATCH_ROWS]] for n in names},
        }
        columns = json.dumps(column_body).encode()
        explained = json.dumps({**column_body, "explain": True}).encode()
        return run_http_scenarios(
            "rpaml",
            host,
            int(port),
            (path, single),
            (path, batch),
            {"X-API-Key": key},
            seconds,
            extra=[
                ("1,000-row batch, columnar (bulk path)", path + "/columns", columns),
                ("1,000-row batch, columnar, explained", path + "/columns", explained),
            ],
        )


def bench_mlflow(
    registry: ModelRegistry, rows: list[dict[str, Any]], seconds: float, work: Path
) -> list[Figure]:
    python = VENVS / "mlflow" / "bin" / "python"
    if not (python.exists() and (VENVS / "mlflow" / ".installed").exists()):
        return [Figure("MLflow", "all", note="not installed (run make bench-compare)")]
    model_dir = work / "mlflow-model"
    pipeline_file = work / "pipeline.joblib"
    import joblib

    joblib.dump(registry.load(MODEL).pipeline, pipeline_file)
    # The MLflow CLI starts uvicorn by name, so the peer's bin folder leads PATH.
    path = os.pathsep.join([str(VENVS / "mlflow" / "bin"), os.environ.get("PATH", "")])
    env = {**os.environ, "PYTHONPATH": str(ROOT / "models"), "PATH": path}
    save = subprocess.run(
        [str(python), str(HERE / "peer_mlflow.py"), "save", str(pipeline_file), str(model_dir)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if save.returncode != 0:
        return [Figure("MLflow", "all", note=f"model save failed: {save.stderr[-300:]}")]
    port = free_port()
    command = [
        str(VENVS / "mlflow" / "bin" / "mlflow"),
        "models",
        "serve",
        "-m",
        str(model_dir),
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
        "--env-manager",
        "local",
        "-w",
        "1",
    ]
    with process(command, env=env, log=work / "mlflow.log") as child:
        if not wait_http(f"http://127.0.0.1:{port}/ping", child):
            return [Figure("MLflow", "all", note="server did not start; see mlflow.log")]

        def split(part: list[dict[str, Any]]) -> bytes:
            names = list(part[0])
            return json.dumps(
                {
                    "dataframe_split": {
                        "columns": names,
                        "data": [[r[n] for n in names] for r in part],
                    }
                }
            ).encode()

        return run_http_scenarios(
            "MLflow",
            "127.0.0.1",
            port,
            ("/invocations", split(rows[:1])),
            ("/invocations", split(rows[:BATCH_ROWS])),
            {},
            seconds,
        )


def bench_bentoml(
    registry: ModelRegistry, rows: list[dict[str, Any]], seconds: float, work: Path
) -> list[Figure]:
    venv = VENVS / "bentoml"
    if not ((venv / "bin" / "python").exists() and (venv / ".installed").exists()):
        return [Figure("BentoML", "all", note="not installed (run make bench-compare)")]
    import joblib

    pipeline_file = work / "pipeline.joblib"
    joblib.dump(registry.load(MODEL).pipeline, pipeline_file)
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "models"), str(HERE)]),
        "RPAML_BENCH_PIPELINE": str(pipeline_file),
        "BENTOML_HOME": str(work / "bentoml"),
    }
    command = [
        str(venv / "bin" / "bentoml"),
        "serve",
        "peer_bentoml:FraudService",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--working-dir",
        str(HERE),
    ]
    with process(command, env=env, log=work / "bentoml.log") as child:
        if not wait_http(f"http://127.0.0.1:{port}/readyz", child):
            return [Figure("BentoML", "all", note="server did not start; see bentoml.log")]
        single = json.dumps({"rows": rows[:1]}).encode()
        batch = json.dumps({"rows": rows[:BATCH_ROWS]}).encode()
        return run_http_scenarios(
            "BentoML",
            "127.0.0.1",
            port,
            ("/predict", single),
            ("/predict", batch),
            {},
            seconds,
        )


# -- report ----------------------------------------------------------------------


def table(figures: list[Figure]) -> str:
    header = (
        f"{'system':<11} {'scenario':<52} {'req/s':>9} {'rows/s':>10} "
        f"{'p50 ms':>8} {'p99 ms':>8} {'errors':>6}"
    )
    lines = [header, "-" * len(header)]
    for f in figures:
        if f.note:
            lines.append(f"{f.system:<11} {f.scenario:<52} {f.note}")
            continue
        lines.append(
            f"{f.system:<11} {f.scenario:<52} {f.throughput:>9.0f} {f.rows_per_second:>10.0f} "
            f"{f.percentile(50):>8.3f} {f.percentile(99):>8.3f} {f.errors:>6}"
        )
    return "\n".join(lines)


def ratios(figures: list[Figure]) -> list[str]:
    def find(system: str, scenario: str) -> Figure | None:
        for f in figures:
            if f.system == system and f.scenario.startswith(scenario) and not f.note:
                return f
        return None

    out = []
    for peer in ("MLflow", "BentoML"):
        for scenario in (
            "single record, concurrency 1",
            "single record, concurrency 32",
            "1,000-row batch, concurrency 1",
        ):
            ours, theirs = find("rpaml", scenario), find(peer, scenario)
            if ours and theirs and theirs.rows_per_second:
                out.append(
                    f"rpaml / {peer}, {scenario}: "
                    f"{ours.rows_per_second / theirs.rows_per_second:.1f}x rows/s"
                )
            elif ours:
                out.append(f"rpaml / {peer}, {scenario}: no {peer} figure in this run")
    return out


def goals(figures: list[Figure]) -> list[str]:
    """The serving goals of issue 4, each judged on this run's figures (or not judged)."""

    def find(system: str, scenario: str) -> Figure | None:
        for f in figures:
            if f.system == system and f.scenario == scenario and not f.note:
                return f
        return None

    out = []
    c1 = find("rpaml", "single record, concurrency 1")
    if c1 is not None:
        p50 = c1.percentile(50)
        out.append(
            f"p50 at concurrency 1 under 1 ms: {p50:.3f} ms -> {'met' if p50 < 1 else 'NOT met'}"
        )
    ours, theirs = (find(s, "single record, concurrency 32") for s in ("rpaml", "BentoML"))
    if ours is not None and theirs is not None and theirs.throughput:
        ratio = ours.throughput / theirs.throughput
        out.append(
            f"concurrency 32, 10x BentoML: {ratio:.1f}x -> {'met' if ratio >= 10 else 'NOT met'}"
        )
    else:
        out.append("concurrency 32, 10x BentoML: no BentoML figure in this run")
    mlflow = find("MLflow", "1,000-row batch, concurrency 1")
    for scenario in ("1,000-row batch, concurrency 1", "1,000-row batch, columnar (bulk path)"):
        batch = find("rpaml", scenario)
        if batch is not None and mlflow is not None and mlflow.rows_per_second:
            ratio = batch.rows_per_second / mlflow.rows_per_second
            out.append(
                f"{scenario}, 2x MLflow rows/s: {ratio:.1f}x -> "
                f"{'met' if ratio >= 2 else 'NOT met'}"
            )
    errors = sum(f.errors for f in figures if f.system == "rpaml")
    out.append(f"rpaml errors: {errors} -> {'met' if errors == 0 else 'NOT met'}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="length of each scenario")
    parser.add_argument("--peers", action="store_true", help="also run MLflow and BentoML")
    args = parser.parse_args(argv)
    rows = payload_rows(BATCH_ROWS)
    # The machine may be shared: the load around the run is part of its figures.
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="rpaml-bench-") as temp:
        work = Path(temp)
        print("training the reference model (12 features, HistGradientBoosting)...", flush=True)
        registry = build_registry(work / "registry")
        compilation = registry.metadata(MODEL, registry.champion(MODEL) or "1").compilation
        print(f"compiled path: {compilation.reason if compilation else 'none'}", flush=True)
        figures = in_process(registry, rows, args.seconds)
        figures += bench_rpaml(registry.root, rows, args.seconds, work)
        # Imported here: it imports this module's helpers (as ``bench``).
        from shadow_bench import bench_shadow, shadow_costs, shadow_goals, shadow_table

        print("shadow mode: registering a challenger, scoring with and without it...")
        shadowed = bench_shadow(registry, rows, args.seconds, work)
        if args.peers:
            figures += bench_mlflow(registry, rows, args.seconds, work)
            figures += bench_bentoml(registry, rows, args.seconds, work)
        else:
            figures += [
                Figure(p, "all", note="skipped (use make bench-compare)")
                for p in ("MLflow", "BentoML")
            ]
        logs = {p.name: p.read_text(errors="replace")[-2000:] for p in work.glob("*.log")}
    load_after = os.getloadavg()
    report = table(figures)
    print(report)
    for line in ratios(figures):
        print(line)
    for line in goals(figures):
        print(f"goal: {line}")
    print(shadow_table(shadowed))
    for line in shadow_goals(shadowed):
        print(f"goal: {line}")
    print(
        "load average (1, 5, 15 min) before: "
        f"{', '.join(f'{x:.2f}' for x in load_before)}; after: "
        f"{', '.join(f'{x:.2f}' for x in load_after)}"
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS / f"serving-{stamp}.json"
    out.write_text(
        json.dumps(
            {
                "command": " ".join([Path(sys.executable).name, *sys.argv]),
                "cpus": os.cpu_count(),
                "compilation": compilation.model_dump() if compilation else None,
                "figures": [f.summary() for f in figures],
                "ratios": ratios(figures),
                "goals": goals(figures) + shadow_goals(shadowed),
                "shadow": {
                    "figures": [f.summary() for f in shadowed],
                    "costs": shadow_costs(shadowed),
                    "table": shadow_table(shadowed),
                },
                "load_average": {"before": load_before, "after": load_after},
                "table": report,
                "server_logs": logs,
                "medians": {
                    f"{f.system}: {f.scenario}": statistics.median(f.latencies_ms)
                    for f in [*figures, *shadowed]
                    if f.latencies_ms
                },
            },
            indent=2,
        )
    )
    print(f"results written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
