"""Long-lived stream consumers of ``rpaml worker``: one thread per stream source.

A consumer is a sequence of ingest stage runs (each one :func:`run_stage`, so each has
its run, lineage events and summary like any other ingest), each following the stream
for at most ``pull_seconds``. They are not DBOS workflows: a consumer has no end to
resume, and at-least-once delivery with the claimed ingest already makes a restart safe.

Backpressure: before each pull the consumer counts the records still waiting to be
processed (``collected``); above the source's ``max_backlog`` it pauses, so a store that
falls behind is not buried, and the broker keeps the messages meanwhile. A pull takes at
most the room left under the limit.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from rpaml_pipeline.process.sources import (
    NatsSource,
    RabbitMqSource,
    RedisStreamSource,
    StreamSource,
)
from rpaml_pipeline.runtime import Runtime
from rpaml_pipeline.sources.streams import PullLimits
from rpaml_pipeline.stages import IngestStage, run_stage
from rpaml_pipeline.store import RecordState

Progress = Callable[[str], None]
PULL_SECONDS = 30.0
PAUSE_SECONDS = 1.0
"""How long a paused or failed consumer waits before it looks again."""


def stream_sources(runtime: Runtime) -> list[StreamSource]:
    """The process's stream sources (each gets a consumer in every worker)."""
    return [
        spec
        for spec in runtime.process.sources
        if isinstance(spec, RedisStreamSource | RabbitMqSource | NatsSource)
    ]


def backlog(runtime: Runtime) -> int:
    """Records of the process waiting to be processed."""
    states = runtime.store.counts(runtime.process.name).get(runtime.process.name, {})
    return int(states.get(RecordState.COLLECTED.value, 0))


@dataclass
class StreamConsumers:
    """The consumer threads of one worker."""

    runtime: Runtime
    stop: threading.Event
    progress: Progress = lambda _: None
    pull_seconds: float = PULL_SECONDS
    threads: list[threading.Thread] = field(default_factory=list)
    paused: dict[str, int] = field(default_factory=dict)
    """Times each source's consumer paused for backpressure (for status and tests)."""

    def start(self) -> list[str]:
        """Start one consumer per stream source; returns their names."""
        for spec in stream_sources(self.runtime):
            thread = threading.Thread(
                target=self.consume, args=(spec,), name=f"consumer-{spec.name}", daemon=True
            )
            thread.start()
            self.threads.append(thread)
            self.progress(f"  consumer {spec.kind}:{spec.name} (backlog limit {spec.max_backlog})")
        return [thread.name for thread in self.threads]

    def consume(self, spec: StreamSource) -> None:
        """Pull ``spec`` until the worker stops (see the module docstring)."""
        while not self.stop.is_set():
            room = spec.max_backlog - backlog(self.runtime)
            if room <= 0:
                self.paused[spec.name] = self.paused.get(spec.name, 0) + 1
                self.stop.wait(PAUSE_SECONDS)
                continue
            limits = PullLimits(
                follow=True,
                max_messages=room,
                max_seconds=self.pull_seconds,
                stop=self.stop.is_set,
            )
            result = run_stage(self.runtime, IngestStage(spec, limits=limits))
            if not result.succeeded:
                self.progress(f"consumer {spec.name}: {result.summary.get('error')}")
                self.stop.wait(PAUSE_SECONDS)

    def join(self, timeout: float = 30.0) -> None:
        """Wait for the consumers to finish their current batch and stop."""
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout)
