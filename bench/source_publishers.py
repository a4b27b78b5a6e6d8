"""Publishers for bench/sources.py: put claims on Redis, RabbitMQ and NATS JetStream.

Each publisher runs in a process of its own (so it never competes with the consumer for
the interpreter lock), publishes ``count`` messages at ``rate`` per second (0: as fast as
it can) and writes ``<message id> <publish time>`` lines to ``times_file``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path

REDIS_URL = "redis://127.0.0.1:6379/0"
RABBIT_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"
NATS_URL = "nats://127.0.0.1:4222"
BATCH = 100


def body(number: int) -> bytes:
    """One claim as a message body (JSON object)."""
    return json.dumps(
        {
            "claim_id": f"CLM-{number:08d}",
            "policy_number": f"POL-{number % 1_000_000:06d}",
            "amount": f"{100 + number % 9000}.50",
            "incident_date": "2026-03-14",
            "channel": ["web", "phone", "agent"][number % 3],
            "category": ["auto", "home", "travel"][number % 3],
            "description": "Rear-ended at a junction",
        }
    ).encode()


def _paced(count: int, rate: float, send: Callable[[int, int], list[str]], out: Path) -> None:
    started = time.monotonic()
    with out.open("w") as times:
        for start in range(0, count, BATCH):
            if rate:
                due = started + start / rate
                while (delay := due - time.monotonic()) > 0:
                    time.sleep(delay)
            ids = send(start, min(BATCH, count - start))
            now = time.time()
            times.writelines(f"{message_id} {now}\n" for message_id in ids)


def publish_redis(stream: str, count: int, rate: float, out: Path) -> None:
    """XADD ``count`` claims to ``stream``."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)

    def send(start: int, size: int) -> list[str]:
        pipe = client.pipeline(transaction=False)
        for number in range(start, start + size):
            pipe.xadd(stream, {"data": body(number)})
        return [value.decode() for value in pipe.execute()]

    _paced(count, rate, send, out)
    client.close()


def publish_rabbit(queue: str, count: int, rate: float, out: Path) -> None:
    """Publish ``count`` persistent claims to the durable ``queue``."""
    import pika

    connection = pika.BlockingConnection(pika.URLParameters(RABBIT_URL))
    channel = connection.channel()
    channel.queue_declare(queue, durable=True)

    def send(start: int, size: int) -> list[str]:
        ids = [f"m{number}" for number in range(start, start + size)]
        for number, message_id in zip(range(start, start + size), ids, strict=True):
            properties = pika.BasicProperties(message_id=message_id, delivery_mode=2)
            channel.basic_publish("", queue, body(number), properties)
        connection.process_data_events(0)
        return ids

    _paced(count, rate, send, out)
    connection.close()


def publish_nats(stream: str, subject: str, count: int, rate: float, out: Path) -> None:
    """Publish ``count`` claims to ``subject`` (JetStream ``stream``), acknowledged."""
    import nats

    async def run() -> None:
        client = await nats.connect(NATS_URL)
        js = client.jetstream()
        started = time.monotonic()
        with out.open("w") as times:
            for start in range(0, count, BATCH):
                if rate:
                    delay = started + start / rate - time.monotonic()
                    if delay > 0:
                        await asyncio.sleep(delay)
                futures = [
                    await js.publish_async(subject, body(number))
                    for number in range(start, min(start + BATCH, count))
                ]
                acks = [await future for future in futures]
                now = time.time()
                times.writelines(f"{ack.seq} {now}\n" for ack in acks)
        await client.close()

    asyncio.run(run())
