"""A durable RabbitMQ queue (pika's blocking connection: the stage runner is synchronous).

Messages are consumed with a prefetch window of a few batches and acknowledged together
after their records commit (one multiple-ack, after the failed ones were given back). A
failed message is rejected with requeue (delivered again at once); an unacknowledged one
(its consumer died) is requeued by the broker when the connection drops. The dead-letter
queue is a durable queue beside it, published with confirms.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections.abc import Iterator, Sequence
from typing import Any

import pika
import pika.exceptions
from pika.adapters.blocking_connection import BlockingChannel

from rpaml_pipeline.errors import BrokerUnavailableError
from rpaml_pipeline.process.sources import RabbitMqSource
from rpaml_pipeline.sources.streams import BrokerMessage

_DOWN = (pika.exceptions.AMQPError, OSError)
_Delivery = tuple[Any, Any, Any]


class RabbitMqBroker:
    """The :class:`~rpaml_pipeline.sources.streams.Broker` of a ``rabbitmq`` source."""

    def __init__(self, spec: RabbitMqSource, url: str, shown_url: str) -> None:
        self._spec = spec
        self._url = url
        self._where = f"{shown_url.rstrip('/')}/{spec.queue}"
        self._dead_queue = spec.dead_letter_queue or f"{spec.queue}.dead"
        self._connection: pika.BlockingConnection | None = None
        self._channel: BlockingChannel | None = None
        self._deliveries: Iterator[_Delivery] | None = None

    def _open(self) -> tuple[BlockingChannel, Iterator[_Delivery]]:
        if self._channel is None or self._deliveries is None:
            parameters = pika.URLParameters(self._url)
            parameters.heartbeat = 30
            parameters.blocked_connection_timeout = 30
            connection = pika.BlockingConnection(parameters)
            channel = connection.channel()
            channel.queue_declare(self._spec.queue, durable=True)
            channel.queue_declare(self._dead_queue, durable=True)
            channel.basic_qos(prefetch_count=self._spec.batch_size * 2)
            channel.confirm_delivery()
            self._connection, self._channel = connection, channel
            self._deliveries = channel.consume(
                self._spec.queue, inactivity_timeout=self._spec.wait_seconds
            )
        return self._channel, self._deliveries

    def fetch(self, limit: int, wait_seconds: float) -> list[BrokerMessage]:
        """Up to ``limit`` delivered messages, waiting at most ``wait_seconds`` in all."""
        found: list[BrokerMessage] = []
        try:
            _, deliveries = self._open()
            deadline = time.monotonic() + wait_seconds
            while len(found) < limit:
                # Yields (None, None, None) after the inactivity timeout (no busy wait).
                method, properties, body = next(deliveries)
                if method is None:
                    break
                message_id = properties.message_id or hashlib.sha256(body).hexdigest()
                location = f"{self._where}#{message_id}"
                found.append(BrokerMessage(message_id, body, location, method.delivery_tag))
                if time.monotonic() >= deadline:
                    break  # a trickle must not hold a batch back for long
        except _DOWN as exc:
            self.reconnect()
            raise BrokerUnavailableError(f"{self._where} did not answer ({exc!r})") from exc
        return found

    def ack(self, messages: Sequence[BrokerMessage]) -> None:
        """One ``basic.ack`` with ``multiple`` up to the batch's last delivery tag.

        The loop settles a batch whole before it fetches the next, and gives back (nacks)
        the failed ones before it acknowledges the rest, so every delivery up to that tag
        still outstanding is one of ``messages``."""
        last = max(message.handle for message in messages)
        self._each([messages[0]], lambda channel, _tag: channel.basic_ack(last, multiple=True))

    def release(self, messages: Sequence[BrokerMessage]) -> None:
        """``basic.nack`` with requeue: delivered again."""
        self._each(messages, lambda channel, tag: channel.basic_nack(tag, requeue=True))

    def _each(self, messages: Sequence[BrokerMessage], action: Any) -> None:
        try:
            channel, _ = self._open()
            for message in messages:
                action(channel, message.handle)
        except _DOWN as exc:
            # The channel's unacknowledged deliveries go back to the queue with it.
            self.reconnect()
            raise BrokerUnavailableError(f"{self._where} did not answer ({exc!r})") from exc

    def dead_letter(self, message: BrokerMessage, reason: str, attempts: int) -> None:
        """Publish it (persistent, confirmed) to the dead-letter queue with its reason."""
        properties = pika.BasicProperties(
            message_id=message.message_id,
            delivery_mode=2,
            headers={"reason": reason, "attempts": attempts, "source": self._spec.name},
        )
        try:
            channel, _ = self._open()
            channel.basic_publish("", self._dead_queue, message.body, properties)
        except _DOWN as exc:
            self.reconnect()
            raise BrokerUnavailableError(f"{self._where} did not answer ({exc!r})") from exc

    def reconnect(self) -> None:
        """Drop the connection; the next call opens a new one."""
        connection = self._connection
        self._connection, self._channel, self._deliveries = None, None, None
        if connection is not None and connection.is_open:
            try:
                connection.close()
            except _DOWN:  # already broken: the broker requeues what was unacknowledged
                return

    def close(self) -> None:
        """Cancel the consumer (requeuing what was prefetched) and close the connection."""
        if self._channel is not None and self._channel.is_open:
            with contextlib.suppress(*_DOWN):  # broken already: the broker requeues anyway
                self._channel.cancel()
        self.reconnect()
