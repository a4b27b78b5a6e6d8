"""Micro-batching: concurrent scoring requests are scored together.

Each request validates and encodes its own rows (so one bad request never fails
another), then waits on a future. One worker task per app takes the first waiting
request, adds every request that arrived meanwhile (up to ``max_rows``, optionally
waiting ``wait`` seconds for more) and scores them in one call. Under load, requests
arriving while a batch is scored form the next batch, so throughput grows with
concurrency while an idle service adds no wait at all.

Requests validated with different model objects (a reload happened in between) are
scored by the model they were validated with, so a swap never mixes versions. A request
that asks for the challenger in shadow is batched with the others that ask for the same
one: the challenger scores the whole batch once, in the same call
(:func:`rpaml_models.shadow.score_in_shadow`). For a batch too large to score on the event
loop, the challenger predicts on the batcher's own shadow thread while the champion
predicts and decides (ONNX Runtime and NumPy release the GIL), so on a machine with a
core to spare the shadow adds little to the request's time; its CPU is spent all the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from rpaml_models import LoadedModel, Scored, ValidatedRows
from rpaml_models.shadow import ShadowScores, score_in_shadow
from rpaml_service.errors import BatcherClosedError

logger = logging.getLogger(__name__)

# Batches at most this large are scored on the event loop; larger ones in a thread, so
# the loop keeps answering health checks while a large batch is scored.
INLINE_ROWS = 64


@dataclass(frozen=True, slots=True)
class BatchAnswer:
    """The champion's results for one request, and the challenger's when asked."""

    results: list[Scored]
    shadow: ShadowScores | None = None


def score_beside(
    model: LoadedModel,
    rows: ValidatedRows,
    *,
    explain: bool,
    shadow: LoadedModel | None,
    pool: ThreadPoolExecutor | None = None,
) -> BatchAnswer:
    """The champion's results and, with ``shadow``, the challenger's decisions.

    With ``pool`` and more than ``INLINE_ROWS`` rows the challenger scores on the pool
    meanwhile; a smaller batch is not worth the thread hand-off.
    """
    pending: Future[ShadowScores | None] | None = None
    if shadow is not None and pool is not None and len(rows) > INLINE_ROWS:
        pending = pool.submit(score_in_shadow, shadow, model, rows)
    results = model.score_validated(rows, explain=explain)
    if pending is not None:
        return BatchAnswer(results, pending.result())
    beside = None if shadow is None else score_in_shadow(shadow, model, rows)
    return BatchAnswer(results, beside)


@dataclass(slots=True)
class _Pending:
    model: LoadedModel
    rows: ValidatedRows
    explain: bool
    shadow: LoadedModel | None
    future: asyncio.Future[BatchAnswer] = field(repr=False)


class MicroBatcher:
    """Collects validated requests and scores them in batches.

    Parameters
    ----------
    max_rows : int
        Most rows per scoring call (a single larger request is scored alone).
    wait : float
        Seconds to wait for more requests after the first one of a batch.
    on_batch : callable, optional
        Called with (model, rows) after each scored batch (metrics).
    """

    def __init__(
        self,
        *,
        max_rows: int,
        wait: float = 0.0,
        on_batch: Callable[[LoadedModel, int], None] | None = None,
    ) -> None:
        self.max_rows = max_rows
        self.wait = wait
        self.on_batch = on_batch
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self._shadow_pool: ThreadPoolExecutor | None = None

    @property
    def shadow_pool(self) -> ThreadPoolExecutor | None:
        """The thread challengers score large batches on (None until started)."""
        return self._shadow_pool

    def start(self) -> None:
        """Start the worker on the running event loop, and the shadow thread."""
        if self._worker is None:
            self._worker = asyncio.get_running_loop().create_task(self._run())
        if self._shadow_pool is None:
            self._shadow_pool = ThreadPoolExecutor(1, thread_name_prefix="rpaml-shadow")

    async def close(self) -> None:
        """Stop the worker; requests still queued are failed, not left hanging."""
        pool, self._shadow_pool = self._shadow_pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker
        while not self._queue.empty():
            pending = self._queue.get_nowait()
            if not pending.future.done():
                pending.future.set_exception(BatcherClosedError("service shutting down"))

    async def score(
        self, model: LoadedModel, rows: ValidatedRows, *, explain: bool = False
    ) -> list[Scored]:
        """Score ``rows`` with ``model`` in the next batch; returns their results.

        ``explain`` adds the model's reasons (requests asking for them are batched
        together, apart from those that do not).
        """
        return (await self.score_beside(model, rows, explain=explain)).results

    async def score_beside(
        self,
        model: LoadedModel,
        rows: ValidatedRows,
        *,
        explain: bool = False,
        shadow: LoadedModel | None = None,
    ) -> BatchAnswer:
        """:meth:`score`, and the challenger ``shadow``'s decisions for the same rows."""
        if self._worker is None:
            raise BatcherClosedError("the micro-batcher is not running")
        future: asyncio.Future[BatchAnswer] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Pending(model, rows, explain, shadow, future))
        return await future

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self._queue.get()]
            size = len(batch[0].rows)
            if self.wait > 0 and size < self.max_rows:
                deadline = loop.time() + self.wait
                while size < self.max_rows:
                    remaining = deadline - loop.time()
                    if remaining <= 0:
                        break
                    try:
                        item = await asyncio.wait_for(self._queue.get(), remaining)
                    except TimeoutError:
                        break
                    batch.append(item)
                    size += len(item.rows)
            while size < self.max_rows and not self._queue.empty():
                item = self._queue.get_nowait()
                batch.append(item)
                size += len(item.rows)
            groups: dict[tuple[int, bool, int], list[_Pending]] = {}
            for item in batch:
                key = (id(item.model), item.explain, id(item.shadow))
                groups.setdefault(key, []).append(item)
            for group in groups.values():
                await self._score_group(group, size)

    async def _score_group(self, group: list[_Pending], size: int) -> None:
        model, explain, shadow = group[0].model, group[0].explain, group[0].shadow
        combined = ValidatedRows.concat([item.rows for item in group])
        try:
            if size <= INLINE_ROWS:
                answer = score_beside(model, combined, explain=explain, shadow=shadow)
            else:
                answer = await asyncio.to_thread(
                    score_beside,
                    model,
                    combined,
                    explain=explain,
                    shadow=shadow,
                    pool=self._shadow_pool,
                )
        except Exception as error:  # delivered to every waiting request
            logger.exception("scoring a batch of %d rows failed", len(combined))
            for item in group:
                if not item.future.done():
                    item.future.set_exception(error)
            return
        if self.on_batch is not None:
            self.on_batch(model, len(combined))
        start = 0
        for item in group:
            end = start + len(item.rows)
            if not item.future.done():  # the client may have gone away
                beside = None if answer.shadow is None else answer.shadow.part(start, end)
                item.future.set_result(BatchAnswer(answer.results[start:end], beside))
            start = end
