"""Sources: messages per second from publish to staged, per stream kind, and objects per
second from a bucket, on the SQLite store.

Usage::

    .venv/bin/python bench/sources.py [--messages 20000] [--rate 5000] [--objects 2000]

Per stream kind (Redis Streams, RabbitMQ, NATS JetStream, the machine's brokers), through
the real ingest stage (``rpaml ingest SOURCE --once``'s path):

- ``drain``: ``--messages`` published first, then consumed: messages per second staged;
- ``paced``: the consumer runs while a publisher (a process of its own) publishes
  ``--messages`` at ``--rate`` per second: messages per second from the first publish to
  the last commit, and p50/p99 latency from each message's publish to its commit.

Object store (moto's S3 server on loopback): ``--objects`` one-record JSON-lines objects
taken (objects per second), then the re-run over the taken bucket (seconds, and per
10,000 objects). Prints a table and writes ``bench/results/sources.json``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import platform
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from rpaml_pipeline.process import ProcessDefinition, parse_process
from rpaml_pipeline.runtime import Runtime
from rpaml_pipeline.sources.streams import BrokerMessage, PullLimits
from rpaml_pipeline.stages import IngestStage, run_stage
from rpaml_pipeline.store import Store

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT.parent / "tests" / "support"))
import source_publishers as pub  # noqa: E402

RESULTS = ROOT / "results" / "sources.json"
PROCESS_FILE = ROOT.parent / "pipeline" / "processes" / "claims_triage.yaml"


def process_with(source: dict[str, Any]) -> ProcessDefinition:
    data = yaml.safe_load(PROCESS_FILE.read_text(encoding="utf-8"))
    data.pop("enrichment", None)
    data["sources"] = [source]
    return parse_process(yaml.safe_dump(data), PROCESS_FILE)


def stream_source(kind: str, name: str) -> dict[str, Any]:
    base: dict[str, Any] = {"name": "feed", "kind": kind, "batch_size": 1000, "idle_seconds": 3.0}
    if kind == "redis_stream":
        return base | {"url": pub.REDIS_URL, "stream": name}
    if kind == "rabbitmq":
        return base | {"url": pub.RABBIT_URL, "queue": name}
    return base | {"url": pub.NATS_URL, "stream": name.upper(), "subject": f"{name}.claims"}


def publisher(kind: str, name: str, count: int, rate: float, out: Path) -> multiprocessing.Process:
    if kind == "redis_stream":
        target, args = pub.publish_redis, (name, count, rate, out)
    elif kind == "rabbitmq":
        target, args = pub.publish_rabbit, (name, count, rate, out)  # type: ignore[assignment]
    else:
        target, args = pub.publish_nats, (name.upper(), f"{name}.claims", count, rate, out)  # type: ignore[assignment]
    return multiprocessing.get_context("spawn").Process(target=target, args=args)


def ensure_stream(kind: str, name: str) -> None:
    """NATS: the stream must exist before a publisher publishes to it."""
    if kind != "nats":
        return
    import asyncio

    import nats

    async def create() -> None:
        client = await nats.connect(pub.NATS_URL)
        await client.jetstream().add_stream(name=name.upper(), subjects=[f"{name}.claims"])
        await client.close()

    asyncio.run(create())


def drop_stream(kind: str, name: str) -> None:
    if kind == "redis_stream":
        import redis

        client = redis.Redis.from_url(pub.REDIS_URL)
        client.delete(name, f"{name}.dead")
        client.close()
    elif kind == "rabbitmq":
        import pika

        connection = pika.BlockingConnection(pika.URLParameters(pub.RABBIT_URL))
        channel = connection.channel()
        channel.queue_delete(name)
        channel.queue_delete(f"{name}.dead")
        connection.close()
    else:
        import asyncio

        import nats

        async def drop() -> None:
            client = await nats.connect(pub.NATS_URL)
            for stream in (name.upper(), f"{name.upper()}_DEAD"):
                try:
                    await client.jetstream().delete_stream(stream)
                except Exception:  # never created
                    continue
            await client.close()

        asyncio.run(drop())


def consume(
    kind: str, name: str, folder: Path, *, count: int, rate: float, paced: bool
) -> dict[str, Any]:
    """One phase for one kind: its own store, its own stream."""
    # Paced: the consumer waits for the publisher's process to start (10 s of idle allowed).
    process = process_with(stream_source(kind, name) | ({"idle_seconds": 10.0} if paced else {}))
    store = Store.connect(f"sqlite:///{folder / f'{kind}-{paced}.db'}")
    runtime = Runtime.of(store, process, data_dir=folder)
    committed: dict[str, float] = {}

    def on_commit(batch: Sequence[BrokerMessage]) -> None:
        now = time.time()
        committed.update((message.message_id, now) for message in batch)

    times = folder / f"{kind}-{paced}.times"
    ensure_stream(kind, name)
    sender = publisher(kind, name, count, rate if paced else 0, times)
    stage = IngestStage(process.sources[0], limits=PullLimits(on_commit=on_commit))
    try:
        if paced:
            worker = threading.Thread(target=lambda: run_stage(runtime, stage))
            worker.start()
            sender.start()
            sender.join()
            worker.join()
        else:
            sender.start()
            sender.join()
            # Warm the connection (a first, empty run) so start-up is not counted.
            started = time.time()
            run_stage(runtime, stage)
        published = {
            message_id: float(at)
            for message_id, at in (line.split() for line in times.read_text().splitlines())
        }
    finally:
        drop_stream(kind, name)
        store.close()
    staged = len(committed)
    first = min(published.values()) if paced else started
    last = max(committed.values())
    row: dict[str, Any] = {
        "kind": kind,
        "phase": "paced" if paced else "drain",
        "messages": staged,
        "messages_per_s": round(staged / (last - first), 1),
    }
    if paced:
        latencies = sorted(committed[key] - published[key] for key in committed if key in published)
        row["p50_ms"] = round(1000 * statistics.median(latencies), 1)
        row["p99_ms"] = round(1000 * latencies[int(0.99 * (len(latencies) - 1))], 1)
        row["rate_offered"] = rate
    return row


def bucket_bench(objects: int, folder: Path) -> dict[str, Any]:
    import logging

    from s3_bucket import bucket  # moto's server, as the tests use it

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # a line per request otherwise

    with bucket() as s3:
        started = time.monotonic()
        s3.put_many(
            {
                f"claims/{n:06d}.jsonl": json.dumps({"claim_id": f"CLM-{n:08d}"}).encode()
                for n in range(objects)
            }
        )
        uploaded = time.monotonic() - started
        process = process_with(s3.source(prefix="claims/"))
        store = Store.connect(f"sqlite:///{folder / 'bucket.db'}")
        runtime = Runtime.of(store, process, data_dir=folder, variables=s3.variables)
        stage = IngestStage(process.sources[0])
        started = time.monotonic()
        first = run_stage(runtime, stage)
        took = time.monotonic() - started
        started = time.monotonic()
        again = run_stage(runtime, stage)
        rerun = time.monotonic() - started
        store.close()
    assert first.summary["new"] == objects and again.summary["new"] == 0
    return {
        "objects": objects,
        "upload_s": round(uploaded, 2),
        "objects_per_s": round(objects / took, 1),
        "rerun_s": round(rerun, 3),
        "rerun_s_per_10000": round(rerun * 10_000 / objects, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--rate", type=float, default=5_000.0)
    parser.add_argument("--objects", type=int, default=2_000)
    parser.add_argument("--kinds", default="redis_stream,rabbitmq,nats")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="rpaml-bench-sources-") as tmp:
        folder = Path(tmp)
        for kind in args.kinds.split(","):
            for paced in (False, True):
                name = f"rpamlbench{uuid.uuid4().hex[:8]}"
                row = consume(kind, name, folder, count=args.messages, rate=args.rate, paced=paced)
                rows.append(row)
                print(json.dumps(row), flush=True)
        objects = bucket_bench(args.objects, folder) if args.objects else None
    print()
    print(f"{'kind':<14}{'phase':<8}{'messages':>10}{'msg/s':>10}{'p50 ms':>9}{'p99 ms':>9}")
    for row in rows:
        print(
            f"{row['kind']:<14}{row['phase']:<8}{row['messages']:>10}{row['messages_per_s']:>10}"
            f"{row.get('p50_ms', ''):>9}{row.get('p99_ms', ''):>9}"
        )
    if objects:
        print(
            f"object store: {objects['objects']} objects, {objects['objects_per_s']} objects/s; "
            f"re-run over the taken bucket {objects['rerun_s']} s "
            f"({objects['rerun_s_per_10000']} s per 10,000 objects)"
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "machine": {
                    "python": platform.python_version(),
                    "cpus": multiprocessing.cpu_count(),
                },
                "arguments": vars(args),
                "streams": rows,
                "object_store": objects,
            },
            indent=2,
        )
    )
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
