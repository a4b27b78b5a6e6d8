"""Redis Streams through a consumer group (redis-py).

The consumer is named after the host, so a consumer restarted on the same host first
takes back its own pending messages (``XREADGROUP ... 0``); messages left pending by a
consumer that died elsewhere are reclaimed with ``XAUTOCLAIM`` once idle for the source's
``claim_idle_ms``, which is also how a failed message is delivered again (it stays
pending, unacknowledged, until reclaimed).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import redis

from rpaml_pipeline.errors import BrokerUnavailableError, SourceError
from rpaml_pipeline.process.sources import RedisStreamSource
from rpaml_pipeline.sources.streams import BrokerMessage

_DOWN = (redis.ConnectionError, redis.TimeoutError)


class RedisStreamBroker:
    """The :class:`~rpaml_pipeline.sources.streams.Broker` of a ``redis_stream`` source."""

    def __init__(self, spec: RedisStreamSource, url: str, consumer: str, shown_url: str) -> None:
        self._spec = spec
        self._url = url
        self._consumer = consumer
        self._where = f"{shown_url.rstrip('/')}/{spec.stream}"
        self._dead_stream = spec.dead_letter_stream or f"{spec.stream}.dead"
        self._client: redis.Redis | None = None
        self._own_pending = True
        self._claim_cursor = "0-0"
        self._claimed_at = 0.0

    def _redis(self) -> redis.Redis:
        if self._client is None:
            client = redis.Redis.from_url(self._url, socket_timeout=10, socket_connect_timeout=5)
            try:
                client.xgroup_create(self._spec.stream, self._spec.group, id="0", mkstream=True)
            except redis.ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise SourceError(f"{self._where}: cannot create group ({exc})") from exc
            except _DOWN as exc:
                client.close()
                raise BrokerUnavailableError(f"{self._where} did not answer ({exc})") from exc
            self._client = client
        return self._client

    def fetch(self, limit: int, wait_seconds: float) -> list[BrokerMessage]:
        """Own pending first (after a restart), then stale pending of others, then new."""
        try:
            client = self._redis()
            spec = self._spec
            if self._own_pending:
                entries = self._read(client, "0", limit, None)
                if entries:
                    return entries
                self._own_pending = False
            now = time.monotonic()
            if now - self._claimed_at >= min(spec.claim_idle_ms / 2000, 1.0):
                self._claimed_at = now
                cursor, claimed, *_ = client.xautoclaim(
                    spec.stream,
                    spec.group,
                    self._consumer,
                    min_idle_time=spec.claim_idle_ms,
                    start_id=self._claim_cursor,
                    count=limit,
                )
                self._claim_cursor = _text(cursor)
                if claimed:
                    return self._messages(claimed)
            return self._read(client, ">", limit, max(1, int(wait_seconds * 1000)))
        except _DOWN as exc:
            raise BrokerUnavailableError(f"{self._where} did not answer ({exc})") from exc

    def _read(
        self, client: redis.Redis, start: str, limit: int, block: int | None
    ) -> list[BrokerMessage]:
        answer: Any = client.xreadgroup(
            self._spec.group, self._consumer, {self._spec.stream: start}, count=limit, block=block
        )
        if not answer:
            return []
        return self._messages(answer[0][1])

    def _messages(self, entries: Sequence[Any]) -> list[BrokerMessage]:
        found = []
        for entry_id, fields in entries:
            message_id = _text(entry_id)
            # A pending entry deleted from the stream (XDEL, trimming) has no fields left.
            body = (fields or {}).get(self._spec.field.encode(), b"")
            found.append(BrokerMessage(message_id, body, f"{self._where}#{message_id}", entry_id))
        return found

    def ack(self, messages: Sequence[BrokerMessage]) -> None:
        """``XACK`` the messages."""
        try:
            self._redis().xack(self._spec.stream, self._spec.group, *[m.handle for m in messages])
        except _DOWN as exc:
            self.reconnect()
            raise BrokerUnavailableError(f"{self._where} did not answer ({exc})") from exc

    def release(self, messages: Sequence[BrokerMessage]) -> None:
        """Nothing: an unacknowledged message stays pending until ``XAUTOCLAIM`` takes it."""

    def dead_letter(self, message: BrokerMessage, reason: str, attempts: int) -> None:
        """``XADD`` it to the dead-letter stream with its reason and attempts."""
        entry = {
            self._spec.field: message.body,
            "reason": reason,
            "message_id": message.message_id,
            "attempts": str(attempts),
            "source": self._spec.name,
        }
        try:
            self._redis().xadd(self._dead_stream, entry)  # type: ignore[arg-type]
        except _DOWN as exc:
            self.reconnect()
            raise BrokerUnavailableError(f"{self._where} did not answer ({exc})") from exc

    def reconnect(self) -> None:
        """Drop the connection; the next call opens a new one (and rereads own pending)."""
        self.close()
        self._own_pending = True

    def close(self) -> None:
        """Close the connection pool."""
        if self._client is not None:
            client, self._client = self._client, None
            client.close()


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
