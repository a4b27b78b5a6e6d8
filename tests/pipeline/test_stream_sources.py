"""Stream sources against the machine's Redis, RabbitMQ and NATS JetStream: the broker
going away and coming back, the worker's long-lived consumer and its backpressure, and
what `rpaml status`, `rpaml lineage` and the OpenLineage events show."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from pipeline_claims import PROCESS_FILE

from rpaml_pipeline.cli import main
from rpaml_pipeline.orchestration.consumers import StreamConsumers, backlog
from rpaml_pipeline.process import ProcessDefinition, parse_process
from rpaml_pipeline.sources.streams import PullLimits
from rpaml_pipeline.stages import IngestStage
from rpaml_pipeline.store import Store
from stage_runs import runtime_for, staged_run
from stream_brokers import KINDS, claim_bodies, feed
from tcp_outage import relay

_PORTS = {"redis_stream": 6379, "rabbitmq": 5672, "nats": 4222}


def with_source(source: dict[str, Any]) -> ProcessDefinition:
    data = yaml.safe_load(PROCESS_FILE.read_text(encoding="utf-8"))
    data.pop("enrichment", None)
    data["sources"] = [source]
    return parse_process(yaml.safe_dump(data), PROCESS_FILE)


@pytest.mark.parametrize("kind", KINDS)
def test_broker_outage_is_retried_and_nothing_is_lost(
    kind: str, store: Store, tmp_path: Path
) -> None:
    with feed(kind, idle_seconds=3.0) as stream, relay(_PORTS[kind]) as cut:
        bodies, poison = claim_bodies(3000, poison_every=10_000)
        assert not poison
        stream.publish(bodies)
        spec = dict(stream.spec)
        spec["url"] = spec["url"].replace(f":{_PORTS[kind]}", f":{cut.port}")
        process = with_source(spec)
        batches = 0

        def outage_after_two_batches(batch: Any) -> None:
            nonlocal batches
            batches += 1
            if batches == 2:
                cut.cut()
                threading.Timer(1.0, cut.restore).start()

        limits = PullLimits(on_commit=outage_after_two_batches)
        result = staged_run(
            store, process, IngestStage(process.sources[0], limits=limits), tmp_path
        )
        assert result.succeeded, result.summary
        assert cut.cuts == 1
        counts = store.positions.counts(process.name)[f"{kind}:feed"]
        if counts != {"staged": 3000}:  # redelivered after the outage: finish the stream
            staged_run(store, process, IngestStage(process.sources[0]), tmp_path)
        assert store.positions.counts(process.name)[f"{kind}:feed"] == {"staged": 3000}
        assert store.counts(process.name)[process.name] == {"collected": 3000}
        assert stream.unfinished() == 0


def test_worker_consumer_pauses_when_the_store_falls_behind(store: Store, tmp_path: Path) -> None:
    with feed("redis_stream", max_backlog=700, batch_size=100) as stream:
        bodies, _ = claim_bodies(2000, poison_every=10_000)
        stream.publish(bodies)
        process = with_source(stream.spec)
        runtime = runtime_for(store, process, tmp_path)
        consumers = StreamConsumers(runtime, threading.Event(), pull_seconds=0.5)
        paused = threading.Event()
        original = consumers.stop.wait

        def wait(timeout: float | None = None) -> bool:
            if backlog(runtime) >= 700:
                paused.set()  # the consumer paused: the store holds its limit
            return original(0.05 if timeout else timeout)

        consumers.stop.wait = wait  # type: ignore[method-assign]
        consumers.start()
        try:
            assert paused.wait(120), "the consumer never paused"
        finally:
            consumers.join()
        assert consumers.paused["feed"] >= 1
        assert backlog(runtime) == 700, "a pull took more than the room under max_backlog"
        assert stream.unfinished() == 2000 - 700


def test_status_lineage_and_openlineage_name_the_stream(tmp_path: Path) -> None:
    with feed("redis_stream", max_deliveries=1) as stream:
        bodies, _ = claim_bodies(4, poison_every=10_000)
        ids = stream.publish([*bodies, b"{not json"])
        data = yaml.safe_load(PROCESS_FILE.read_text(encoding="utf-8"))
        data.pop("enrichment", None)
        data["sources"] = [
            {**stream.spec, "url": "redis://${REDIS_HOST}:6379/0"},
        ]
        process_file = tmp_path / "process.yaml"
        process_file.write_text(yaml.safe_dump(data), encoding="utf-8")
        env = {
            "RPAML_DATA_DIR": str(tmp_path / "data"),
            "RPAML_PROCESS_FILE": str(process_file),
            "REDIS_HOST": "127.0.0.1",
        }
        runner = CliRunner()
        done = runner.invoke(main, ["ingest", "feed", "--once", "--json"], env=env)
        assert done.exit_code == 0, done.output
        [report] = json.loads(done.output)
        assert (report["new"], report["dead"], report["messages"]) == (4, 1, 5), report
        [dead] = report["dead_letters"]
        assert dead.startswith(f"{ids[4]}: not JSON (Expecting property name"), dead
        status = runner.invoke(main, ["status"], env=env)
        assert status.exit_code == 0, status.output
        assert "source redis_stream:feed: 1 dead, 4 staged" in status.output
        assert f"redis_stream:feed {ids[4]} after 1 attempts: not JSON" in status.output
        with Store.connect(f"sqlite:///{tmp_path / 'data' / 'rpaml.db'}") as store:
            record = store.latest("claims_triage", "CLM-000001")
        assert record is not None
        lineage = runner.invoke(main, ["lineage", record.record_id], env=env)
        assert lineage.exit_code == 0, lineage.output
        where = f"redis://${{REDIS_HOST}}:6379/0/{stream.name}#{ids[0]}"
        assert f"source     redis_stream:feed {where}" in lineage.output
        assert f"raw {record.raw_hash[:16]}" in lineage.output
        events = [
            json.loads(line)
            for line in (tmp_path / "data" / "lineage" / "events.jsonl").read_text().splitlines()
        ]
        inputs = {(d["namespace"], d["name"]) for e in events for d in e.get("inputs", [])}
        assert ("redis://${REDIS_HOST}:6379", f"0/{stream.name}") in inputs
        assert stream.dead_letters() == {ids[4]: report["dead_letters"][0].split(": ", 1)[1]}
