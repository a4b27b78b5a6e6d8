"""NATS JetStream through a durable pull consumer (nats-py, the official client).

nats-py is asyncio only; the stage runner is synchronous, so the broker owns a private
event loop and runs each call to completion on it (one consumer per thread). The message
id is the stream sequence, unique and stable for the life of the stream. A failed message
is ``nak``-ed (delivered again at once); one not acknowledged within ``ack_wait_seconds``
(its consumer died) is delivered again by the server.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Sequence
from typing import Any, TypeVar

import nats
from nats.aio.client import Client
from nats.errors import ConnectionClosedError, NoServersError
from nats.errors import Error as NatsError
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig
from nats.js.errors import NotFoundError

from rpaml_pipeline.errors import BrokerUnavailableError
from rpaml_pipeline.process.sources import NatsSource
from rpaml_pipeline.sources.streams import BrokerMessage

_T = TypeVar("_T")
_DOWN = (ConnectionClosedError, NoServersError, OSError, NatsError)


class NatsBroker:
    """The :class:`~rpaml_pipeline.sources.streams.Broker` of a ``nats`` source."""

    def __init__(self, spec: NatsSource, url: str, shown_url: str) -> None:
        self._spec = spec
        self._url = url
        self._where = f"{shown_url.rstrip('/')}/{spec.stream}"
        self._dead_subject = spec.dead_letter_subject or f"rpaml.dead.{spec.stream}"
        self._loop = asyncio.new_event_loop()
        self._client: Client | None = None
        self._js: JetStreamContext | None = None
        self._sub: JetStreamContext.PullSubscription | None = None

    def _run(self, work: Coroutine[Any, Any, _T]) -> _T:
        try:
            return self._loop.run_until_complete(work)
        except NatsTimeout:
            raise
        except _DOWN as exc:
            self.reconnect()
            raise BrokerUnavailableError(f"{self._where} did not answer ({exc!r})") from exc

    async def _connect(self) -> JetStreamContext.PullSubscription:
        if self._sub is not None:
            return self._sub
        # No reconnect inside the client: the consumer loop retries with backoff itself.
        client = await nats.connect(
            self._url, allow_reconnect=False, connect_timeout=5, max_reconnect_attempts=0
        )
        js = client.jetstream()
        spec = self._spec
        for stream, subject in (
            (spec.stream, spec.subject),
            (f"{spec.stream}_DEAD", self._dead_subject),
        ):
            try:
                await js.stream_info(stream)
            except NotFoundError:
                await js.add_stream(name=stream, subjects=[subject])
        config = ConsumerConfig(
            durable_name=spec.durable,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=spec.ack_wait_seconds,
            max_ack_pending=max(1000, spec.batch_size * 4),
        )
        self._sub = await js.pull_subscribe(
            spec.subject, durable=spec.durable, stream=spec.stream, config=config
        )
        self._client, self._js = client, js
        return self._sub

    def fetch(self, limit: int, wait_seconds: float) -> list[BrokerMessage]:
        """Up to ``limit`` messages of the durable consumer."""

        async def fetch() -> list[Any]:
            sub = await self._connect()
            try:
                return await sub.fetch(limit, timeout=wait_seconds)
            except NatsTimeout:
                return []

        found = []
        for msg in self._run(fetch()):
            sequence = str(msg.metadata.sequence.stream)
            found.append(BrokerMessage(sequence, msg.data, f"{self._where}#{sequence}", msg))
        return found

    def ack(self, messages: Sequence[BrokerMessage]) -> None:
        """Acknowledge each message (then flush, so the server has them all)."""

        async def ack() -> None:
            for message in messages:
                await message.handle.ack()
            if self._client is not None:
                await self._client.flush()

        self._run(ack())

    def release(self, messages: Sequence[BrokerMessage]) -> None:
        """``nak`` each message: delivered again at once."""

        async def nak() -> None:
            for message in messages:
                await message.handle.nak()

        self._run(nak())

    def dead_letter(self, message: BrokerMessage, reason: str, attempts: int) -> None:
        """Publish it to the dead-letter subject, with its reason and attempts as headers."""

        async def publish() -> None:
            await self._connect()
            assert self._js is not None
            headers = {
                "Rpaml-Reason": reason.replace("\n", " "),
                "Rpaml-Message-Id": message.message_id,
                "Rpaml-Attempts": str(attempts),
                "Rpaml-Source": self._spec.name,
            }
            await self._js.publish(self._dead_subject, message.body, headers=headers)

        self._run(publish())

    def reconnect(self) -> None:
        """Drop the connection; the next call opens a new one."""
        client, self._client, self._js, self._sub = self._client, None, None, None
        if client is not None and not client.is_closed:
            try:
                self._loop.run_until_complete(client.close())
            except Exception:  # closing a broken connection: nothing more to save
                return

    def close(self) -> None:
        """Close the connection and the private event loop."""
        self.reconnect()
        self._loop.close()
