"""The consumer loop every stream source shares (Redis Streams, RabbitMQ, NATS JetStream).

At least once in, exactly once staged. Per batch of fetched messages:

1. each message's body (one JSON object) becomes a record by the rules every source and
   robot share (:mod:`rpaml_pipeline.incoming_rows`), or a failure with its reason;
2. the good ones are staged and recorded by message id in one transaction
   (:meth:`SourcePositions.stage_messages`: a redelivered message is recognised there);
3. only then are they acknowledged; a crash before that redelivers them, harmlessly;
4. each failure is counted; below ``max_deliveries`` it is released to be delivered again,
   at ``max_deliveries`` it is published to the dead-letter stream or queue with its
   reason and acknowledged.

A broker that goes away is retried with exponential backoff (tenacity, the one retry
library) until ``reconnect_seconds`` pass; unacknowledged messages stay with the broker.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_exponential

from rpaml_pipeline.errors import BrokerUnavailableError, PoisonMessageError
from rpaml_pipeline.incoming_rows import natural_key_of
from rpaml_pipeline.process.sources import StreamSource
from rpaml_pipeline.sources.rows import payload_of
from rpaml_pipeline.store import IncomingRecord, Store
from rpaml_pipeline.store.source_positions import Failure, TakenMessage

RECONNECT_SECONDS = 60.0
"""How long a consumer keeps retrying a broker that does not answer before its run fails."""


@dataclass(frozen=True)
class BrokerMessage:
    """One delivered message: its id (idempotency key), body, where it came from (the
    lineage location) and the broker's own handle to acknowledge it."""

    message_id: str
    body: bytes
    location: str
    handle: Any = field(default=None, compare=False)


class Broker(Protocol):
    """What the loop needs from a broker's client (one adapter per stream kind)."""

    def fetch(self, limit: int, wait_seconds: float) -> list[BrokerMessage]:
        """Up to ``limit`` messages, waiting at most ``wait_seconds`` for the first."""

    def ack(self, messages: Sequence[BrokerMessage]) -> None:
        """Acknowledge: the broker may forget them."""

    def release(self, messages: Sequence[BrokerMessage]) -> None:
        """Give them back to be delivered again (a failed attempt)."""

    def dead_letter(self, message: BrokerMessage, reason: str, attempts: int) -> None:
        """Publish to the dead-letter stream or queue, with the reason and attempts."""

    def reconnect(self) -> None:
        """Drop the connection; the next call opens a new one."""

    def close(self) -> None:
        """Release the connection."""


@dataclass(frozen=True)
class PullLimits:
    """When a pull ends: ``follow=False`` (``rpaml ingest --once``) after the source's
    ``idle_seconds`` without a message; always at ``max_messages``, after ``max_seconds``
    or when ``stop()`` says so (a worker shutting down)."""

    follow: bool = False
    max_messages: int | None = None
    max_seconds: float | None = None
    stop: Callable[[], bool] = field(default=lambda: False, compare=False)
    on_commit: Callable[[Sequence[BrokerMessage]], None] | None = field(default=None, compare=False)
    """Called with each batch right after its commit (the bench's latency probe)."""
    reconnect_seconds: float = RECONNECT_SECONDS


@dataclass
class StreamCounts:
    """What one pull did."""

    messages: int = 0
    new: int = 0
    revised: int = 0
    unchanged: int = 0
    duplicates: int = 0
    failed: int = 0
    dead: int = 0
    dead_letters: list[str] = field(default_factory=list)
    """``<message id>: <reason>`` of the messages dead-lettered in this pull (first 20)."""


def message_record(
    message: BrokerMessage,
    *,
    source: str,
    mapping: dict[str, str],
    key_fields: Sequence[str],
    captured_at: Any,
) -> IncomingRecord:
    """The record a message's body holds; :class:`PoisonMessageError` says why not."""
    try:
        value = json.loads(message.body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise PoisonMessageError(f"not JSON ({exc})") from exc
    if not isinstance(value, dict):
        raise PoisonMessageError(f"a JSON {type(value).__name__}, not an object")
    payload = payload_of(value, mapping)
    key = natural_key_of(payload, key_fields)
    if not key:
        raise PoisonMessageError(f"no {'/'.join(key_fields)}, cannot be staged")
    return IncomingRecord(
        natural_key=key,
        payload=payload,
        source=source,
        source_location=message.location,
        captured_at=captured_at,
    )


def pull(
    store: Store,
    process_name: str,
    key_fields: Sequence[str],
    spec: StreamSource,
    broker: Broker,
    *,
    run_id: str,
    limits: PullLimits,
) -> StreamCounts:
    """Consume ``spec`` through ``broker`` in run ``run_id`` until ``limits`` end it."""
    source = f"{spec.kind}:{spec.name}"
    counts = StreamCounts()
    started = last_message = time.monotonic()
    retrying = Retrying(
        retry=retry_if_exception_type(BrokerUnavailableError),
        wait=wait_exponential(multiplier=0.2, max=5.0),
        stop=stop_after_delay(limits.reconnect_seconds),
        before_sleep=lambda _state: broker.reconnect(),
        reraise=True,
    )
    while not limits.stop():
        now = time.monotonic()
        if limits.max_seconds is not None and now - started >= limits.max_seconds:
            break
        if not limits.follow and now - last_message >= spec.idle_seconds:
            break
        room = spec.batch_size
        if limits.max_messages is not None:
            room = min(room, limits.max_messages - counts.messages)
            if room <= 0:
                break
        batch = retrying(broker.fetch, room, spec.wait_seconds)
        if retrying.statistics.get("attempt_number", 1) > 1:
            last_message = time.monotonic()  # back after an outage: idle time starts anew
        if not batch:
            continue
        last_message = time.monotonic()
        counts.messages += len(batch)
        _handle(store, process_name, key_fields, spec, broker, batch, source, run_id, counts)
        if limits.on_commit is not None:
            limits.on_commit(batch)
    return counts


def _handle(
    store: Store,
    process_name: str,
    key_fields: Sequence[str],
    spec: StreamSource,
    broker: Broker,
    batch: Sequence[BrokerMessage],
    source: str,
    run_id: str,
    counts: StreamCounts,
) -> None:
    captured_at = store.now()
    good: list[tuple[BrokerMessage, IncomingRecord]] = []
    bad: list[tuple[BrokerMessage, str]] = []
    for message in batch:
        try:
            record = message_record(
                message,
                source=source,
                mapping=dict(spec.fields),
                key_fields=key_fields,
                captured_at=captured_at,
            )
        except PoisonMessageError as error:
            bad.append((message, str(error)))
            continue
        good.append((message, record))
    if good:
        result = store.positions.stage_messages(
            process_name,
            source,
            [TakenMessage(m.message_id, [record], m.location) for m, record in good],
            run_id=run_id,
        )
        counts.new += result.new
        counts.revised += result.revised
        counts.unchanged += result.unchanged
        counts.duplicates += result.duplicates
    settled = [message for message, _ in good]
    if bad:
        settled += _fail(store, process_name, spec, broker, bad, source, run_id, counts)
    # Every message of the batch that is not given back is acknowledged last and at once
    # (RabbitMQ then acknowledges them with one frame).
    _quietly(broker.ack, settled)


def _fail(
    store: Store,
    process_name: str,
    spec: StreamSource,
    broker: Broker,
    bad: Sequence[tuple[BrokerMessage, str]],
    source: str,
    run_id: str,
    counts: StreamCounts,
) -> list[BrokerMessage]:
    """Count the failures; give back those with attempts left, dead-letter the others
    (returned, to be acknowledged)."""
    outcomes = store.positions.record_failures(
        process_name,
        source,
        [Failure(m.message_id, reason, m.location) for m, reason in bad],
        run_id=run_id,
        max_deliveries=spec.max_deliveries,
    )
    dead = {outcome.message_id: outcome.attempts for outcome in outcomes if outcome.dead}
    counts.failed += len(bad)
    retry: list[BrokerMessage] = []
    finished: list[BrokerMessage] = []
    for message, reason in bad:
        attempts = dead.get(message.message_id)
        if attempts is None:
            retry.append(message)
            continue
        broker.dead_letter(message, reason, attempts)
        finished.append(message)
        counts.dead += 1
        if len(counts.dead_letters) < 20:
            counts.dead_letters.append(f"{message.message_id}: {reason}")
    _quietly(broker.release, retry)
    return finished


def _quietly(action: Callable[[Sequence[BrokerMessage]], None], batch: list[BrokerMessage]) -> None:
    # The records are committed: an acknowledgement lost with the connection only means
    # the broker delivers the messages again, and the store recognises them.
    if not batch:
        return
    try:
        action(batch)
    except BrokerUnavailableError:
        return
