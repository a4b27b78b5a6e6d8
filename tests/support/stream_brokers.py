"""The machine's brokers for the stream-source tests: Redis 6379, RabbitMQ 5672, NATS 4222.

Each test gets its own stream, queue or JetStream stream (random names), removed after.
In CI (``CI=true``) a missing broker fails the test; elsewhere it skips.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest

REDIS_URL = os.environ.get("RPAML_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
RABBIT_URL = os.environ.get("RPAML_TEST_RABBIT_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
NATS_URL = os.environ.get("RPAML_TEST_NATS_URL", "nats://127.0.0.1:4222")
_PORTS = {"redis_stream": 6379, "rabbitmq": 5672, "nats": 4222}
KINDS = tuple(_PORTS)


def require(kind: str) -> None:
    """Fail (CI) or skip (elsewhere) unless ``kind``'s broker answers on loopback."""
    try:
        socket.create_connection(("127.0.0.1", _PORTS[kind]), timeout=2).close()
    except OSError as exc:
        message = f"{kind} broker on 127.0.0.1:{_PORTS[kind]} is required: {exc}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)


@dataclass
class Feed:
    """One test's stream: its source declaration and how to publish to and inspect it."""

    kind: str
    name: str
    spec: dict[str, Any]
    published_ids: list[str] = field(default_factory=list)

    def publish(self, bodies: Sequence[bytes]) -> list[str]:
        """Publish ``bodies``; returns each one's message id as the consumer will see it."""
        ids = _PUBLISH[self.kind](self, bodies)
        self.published_ids.extend(ids)
        return ids

    def dead_letters(self) -> dict[str, str]:
        """Original message id -> reason, for every message in the dead-letter stream/queue."""
        return _DEAD[self.kind](self)

    def unfinished(self) -> int:
        """Messages the broker still holds for the consumer (pending, queued, unacked)."""
        return _UNFINISHED[self.kind](self)


def source_spec(kind: str, name: str, **overrides: Any) -> dict[str, Any]:
    """A source declaration for a fresh stream, queue or JetStream stream called ``name``."""
    common: dict[str, Any] = {"name": "feed", "kind": kind, "max_deliveries": 3}
    if kind == "redis_stream":
        common |= {"url": REDIS_URL, "stream": name, "claim_idle_ms": 200}
    elif kind == "rabbitmq":
        common |= {"url": RABBIT_URL, "queue": name}
    else:
        common |= {
            "url": NATS_URL,
            "stream": name.upper(),
            "subject": f"{name}.claims",
            "ack_wait_seconds": 2.0,
            "idle_seconds": 3.0,
        }
    return common | overrides


@contextmanager
def feed(kind: str, **overrides: Any) -> Iterator[Feed]:
    """A fresh stream of ``kind``, deleted afterwards."""
    require(kind)
    name = f"rpamltest{uuid.uuid4().hex[:10]}"
    stream = Feed(kind, name, source_spec(kind, name, **overrides))
    try:
        yield stream
    finally:
        _DROP[kind](stream)


# --- Redis -------------------------------------------------------------------------------


def _redis() -> Any:
    import redis

    return redis.Redis.from_url(REDIS_URL)


def _redis_publish(stream: Feed, bodies: Sequence[bytes]) -> list[str]:
    client = _redis()
    pipe = client.pipeline(transaction=False)
    for body in bodies:
        pipe.xadd(stream.name, {"data": body})
    ids = [value.decode() for value in pipe.execute()]
    client.close()
    return ids


def _redis_dead(stream: Feed) -> dict[str, str]:
    client = _redis()
    entries = client.xrange(f"{stream.name}.dead")
    client.close()
    return {fields[b"message_id"].decode(): fields[b"reason"].decode() for _, fields in entries}


def _redis_unfinished(stream: Feed) -> int:
    client = _redis()
    try:
        pending = int(client.xpending(stream.name, "rpaml")["pending"])
        info = client.xinfo_groups(stream.name)
        lag = int(info[0].get("lag") or 0) if info else 0
        return pending + lag
    finally:
        client.close()


def _redis_drop(stream: Feed) -> None:
    client = _redis()
    client.delete(stream.name, f"{stream.name}.dead")
    client.close()


# --- RabbitMQ ----------------------------------------------------------------------------


def _rabbit() -> Any:
    import pika

    return pika.BlockingConnection(pika.URLParameters(RABBIT_URL))


def _rabbit_publish(stream: Feed, bodies: Sequence[bytes]) -> list[str]:
    import pika

    connection = _rabbit()
    channel = connection.channel()
    channel.queue_declare(stream.name, durable=True)
    start = len(stream.published_ids)
    ids = [f"msg-{start + index}" for index in range(len(bodies))]
    for message_id, body in zip(ids, bodies, strict=True):
        properties = pika.BasicProperties(message_id=message_id, delivery_mode=2)
        channel.basic_publish("", stream.name, body, properties)
    connection.close()
    return ids


def _rabbit_dead(stream: Feed) -> dict[str, str]:
    connection = _rabbit()
    channel = connection.channel()
    channel.queue_declare(f"{stream.name}.dead", durable=True)
    found: dict[str, str] = {}
    while True:
        method, properties, _ = channel.basic_get(f"{stream.name}.dead", auto_ack=False)
        if method is None:
            break
        found[properties.message_id] = str(properties.headers["reason"])
    connection.close()  # unacknowledged: they stay in the dead-letter queue
    return found


def _rabbit_unfinished(stream: Feed) -> int:
    connection = _rabbit()
    queue = connection.channel().queue_declare(stream.name, durable=True, passive=True)
    connection.close()
    return int(queue.method.message_count)


def _rabbit_drop(stream: Feed) -> None:
    connection = _rabbit()
    channel = connection.channel()
    channel.queue_delete(stream.name)
    channel.queue_delete(f"{stream.name}.dead")
    connection.close()


# --- NATS --------------------------------------------------------------------------------


def _nats(work: Any) -> Any:
    import nats

    async def run() -> Any:
        client = await nats.connect(NATS_URL)
        try:
            return await work(client.jetstream())
        finally:
            await client.close()

    return asyncio.run(run())


def _nats_publish(stream: Feed, bodies: Sequence[bytes]) -> list[str]:
    from nats.js.errors import NotFoundError

    spec = stream.spec

    async def work(js: Any) -> list[str]:
        try:
            await js.stream_info(spec["stream"])
        except NotFoundError:
            await js.add_stream(name=spec["stream"], subjects=[spec["subject"]])
        futures = [await js.publish_async(spec["subject"], body) for body in bodies]
        acks = [await future for future in futures]
        return [str(ack.seq) for ack in acks]

    ids: list[str] = _nats(work)
    return ids


def _nats_dead(stream: Feed) -> dict[str, str]:
    spec = stream.spec

    async def work(js: Any) -> dict[str, str]:
        from nats.js.errors import NotFoundError

        name = f"{spec['stream']}_DEAD"
        try:
            info = await js.stream_info(name)
        except NotFoundError:
            return {}
        found = {}
        for sequence in range(info.state.first_seq, info.state.last_seq + 1):
            message = await js.get_msg(name, sequence)
            headers = message.headers or {}
            found[headers["Rpaml-Message-Id"]] = headers["Rpaml-Reason"]
        return found

    result: dict[str, str] = _nats(work)
    return result


def _nats_unfinished(stream: Feed) -> int:
    spec = stream.spec

    async def work(js: Any) -> int:
        info = await js.consumer_info(spec["stream"], spec.get("durable", "rpaml"))
        return int(info.num_pending + info.num_ack_pending + info.num_redelivered * 0)

    result: int = _nats(work)
    return result


def _nats_drop(stream: Feed) -> None:
    spec = stream.spec

    async def work(js: Any) -> None:
        for name in (spec["stream"], f"{spec['stream']}_DEAD"):
            try:
                await js.delete_stream(name)
            except Exception:  # never created (the test failed before): nothing to drop
                continue

    _nats(work)


_PUBLISH = {"redis_stream": _redis_publish, "rabbitmq": _rabbit_publish, "nats": _nats_publish}
_DEAD = {"redis_stream": _redis_dead, "rabbitmq": _rabbit_dead, "nats": _nats_dead}
_UNFINISHED = {
    "redis_stream": _redis_unfinished,
    "rabbitmq": _rabbit_unfinished,
    "nats": _nats_unfinished,
}
_DROP = {"redis_stream": _redis_drop, "rabbitmq": _rabbit_drop, "nats": _nats_drop}


def claim_bodies(count: int, *, poison_every: int = 97) -> tuple[list[bytes], list[int]]:
    """``count`` message bodies: valid claims, every ``poison_every``-th one poison (not
    JSON, a JSON list, or an object without a claim id, in turn). Returns the bodies and
    the positions of the poison ones."""
    from pipeline_claims import claim

    bodies: list[bytes] = []
    poison: list[int] = []
    for index in range(count):
        if index % poison_every == poison_every - 1:
            poison.append(index)
            kind = len(poison) % 3
            bodies.append(
                b"{not json" if kind == 0 else b"[1, 2]" if kind == 1 else b'{"amount": "5"}'
            )
        else:
            bodies.append(json.dumps(claim(index + 1)).encode())
    return bodies, poison
