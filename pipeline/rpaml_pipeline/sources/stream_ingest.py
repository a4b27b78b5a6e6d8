"""A stream source's ingest run: its broker opened from the process file, one pull.

``rpaml ingest SOURCE --once`` is one bounded pull (it ends when the stream has been idle
for the source's ``idle_seconds``); ``rpaml worker`` runs pulls one after another as a
long-lived consumer (:mod:`rpaml_pipeline.orchestration.consumers`).
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from pathlib import Path

from rpaml_pipeline.process import ProcessDefinition
from rpaml_pipeline.process.placeholders import expand, shown
from rpaml_pipeline.process.sources import (
    NatsSource,
    RabbitMqSource,
    RedisStreamSource,
    StreamSource,
)
from rpaml_pipeline.sources.remote import masked
from rpaml_pipeline.sources.streams import Broker, PullLimits, StreamCounts, pull
from rpaml_pipeline.store import Store

STREAM_KINDS = frozenset({"redis_stream", "rabbitmq", "nats"})


def stream_location(spec: StreamSource, data_dir: Path) -> str:
    """The stream or queue as lineage names it (credentials kept as placeholders)."""
    url = shown(spec.url, data_dir=data_dir, mask=masked).rstrip("/")
    if isinstance(spec, RabbitMqSource):
        return f"{url}/{spec.queue}"
    return f"{url}/{spec.stream}"


def open_broker(
    spec: StreamSource, *, data_dir: Path, variables: Mapping[str, str], where: str
) -> Broker:
    """The broker client of ``spec`` (it connects on first use)."""
    url = expand(spec.url, data_dir=data_dir, variables=variables, where=f"{where}: url")
    seen = shown(spec.url, data_dir=data_dir, mask=masked)
    if isinstance(spec, RedisStreamSource):
        from rpaml_pipeline.sources.redis_stream import RedisStreamBroker

        # Named after the host: a consumer restarted here takes its own pending back first.
        return RedisStreamBroker(spec, url, f"rpaml-{socket.gethostname()}", seen)
    if isinstance(spec, RabbitMqSource):
        from rpaml_pipeline.sources.rabbitmq import RabbitMqBroker

        return RabbitMqBroker(spec, url, seen)
    assert isinstance(spec, NatsSource)
    from rpaml_pipeline.sources.nats_stream import NatsBroker

    return NatsBroker(spec, url, seen)


def ingest_stream(
    store: Store,
    process: ProcessDefinition,
    spec: StreamSource,
    run_id: str,
    *,
    data_dir: Path,
    variables: Mapping[str, str],
    limits: PullLimits,
) -> StreamCounts:
    """One pull of ``spec`` in run ``run_id``."""
    where = f"process {process.name}, source {spec.name}"
    broker = open_broker(spec, data_dir=data_dir, variables=variables, where=where)
    try:
        return pull(
            store,
            process.name,
            process.contract.natural_key,
            spec,
            broker,
            run_id=run_id,
            limits=limits,
        )
    finally:
        broker.close()
