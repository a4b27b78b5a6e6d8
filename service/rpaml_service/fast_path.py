"""The scoring hot path: well-formed scoring requests answered below FastAPI's routing.

FastAPI's routing, dependency solving and exception middleware cost about as much per
request as validating and scoring a record. This ASGI middleware answers the common
case of ``POST /v1/models/{name}/score`` and ``.../score/columns`` itself: a known key
with the score scope, a served model, a body that parses and rows that pass the feature
schema. Anything else is handed to the FastAPI route, so every refusal comes from the
one documented implementation: a missing, unknown or under-scoped key before the body
is read (the route answers 401 or 403 without reading it either), an unknown model, a
malformed body, a failing field or an oversized batch with the body it read. Answers
are built by the same functions the routes use (:mod:`rpaml_service.routers.scoring`).

Small requests go through the micro-batcher, which scores concurrent ones together;
a request of more than ``INLINE_ROWS`` rows is validated, scored and encoded alone in
one thread call (it gains nothing from company, and each thread hand-off costs).

It sits inside :class:`~rpaml_service.middleware.RequestContextMiddleware`, so request
ids and the body size limit apply to it as to every route.
"""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import State
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rpaml_models import LoadedModel, Scored
from rpaml_service.auth import KeyRing
from rpaml_service.batching import INLINE_ROWS, MicroBatcher, score_beside
from rpaml_service.metrics import ServiceMetrics
from rpaml_service.routers.scoring import columns_answer, observe, records_answer, shadow_of
from rpaml_service.schemas import COLUMNAR_SCORE_REQUEST, SCORE_REQUEST
from rpaml_service.settings import ServiceSettings

_SCORING_PATH = re.compile(r"/v1/models/([^/]+)/score(/columns)?")
_HEADERS = [(b"content-type", b"application/json")]


class ScoringFastPath:
    """Answers valid scoring requests directly; hands every other request on.

    Parameters
    ----------
    app : ASGI app
        The rest of the application (FastAPI's router).
    state : starlette.datastructures.State
        The FastAPI app's state (settings, keys, model store, batcher, metrics).
    """

    def __init__(self, app: ASGIApp, *, state: State) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        match = _SCORING_PATH.fullmatch(scope["path"])
        if match is None or not self._may_score(scope):
            # Refused keys are checked before the body is read, so a caller without a
            # key cannot make the service read (up to max_body_bytes) for nothing; the
            # route answers 401 or 403 without reading the body either.
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        answer = await self._answer(match[1], columnar=match[2] is not None, body=body)
        if answer is None:
            await self.app(scope, _replay(body, receive), send)
            return
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [*_HEADERS, (b"content-length", str(len(answer)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": answer})

    def _may_score(self, scope: Scope) -> bool:
        """Whether the request carries a known key with the score scope.

        One digest lookup per request; the refusals (401, 403) are the route's to give.
        """
        keys: KeyRing = self.state.keys
        presented = _header(scope, b"x-api-key")
        key = keys.find(presented) if presented is not None else None
        return key is not None and "score" in key.scopes

    async def _answer(self, name: str, *, columnar: bool, body: bytes) -> bytes | None:
        """The 200 answer's body, or None to let the route answer (and refuse)."""
        state = self.state
        model: LoadedModel | None = state.model_store.get(name)
        if model is None:
            return None
        started = time.perf_counter()
        settings: ServiceSettings = state.settings
        try:
            parsed: Any = (COLUMNAR_SCORE_REQUEST if columnar else SCORE_REQUEST).validate_json(
                body
            )
        except ValidationError:
            return None
        if columnar:
            columns = parsed["columns"]
            ids = parsed.get("ids")
            lengths = {len(values) for values in columns.values()}
            n_rows = lengths.pop() if len(lengths) == 1 else 0
            if not 0 < n_rows <= settings.max_batch or (ids is not None and len(ids) != n_rows):
                return None
        else:
            records = parsed["records"]
            n_rows = len(records)
            if n_rows > settings.max_batch:
                return None
        explain = parsed.get("explain", False)
        shadow = shadow_of(state, model, parsed)
        metrics: ServiceMetrics = state.metrics
        bound = metrics.of(model)
        if n_rows > INLINE_ROWS:
            # A large request gains nothing from sharing a batch: one thread call
            # validates, scores and encodes it, so the loop keeps answering meanwhile
            # and the request pays a single thread hand-off instead of three.
            batcher: MicroBatcher = state.batcher
            done = await run_in_threadpool(
                _score_alone, model, parsed, columnar, explain, shadow, batcher.shadow_pool
            )
            if done is None:
                return None
            results, answer = done
            metrics.observe_batch(model, n_rows)
        else:
            if columnar:
                validated, _ = model.validate_columns(columns, n_rows)
            else:
                validated, _ = model.validate([record["features"] for record in records])
            if validated is None:
                return None
            batcher = state.batcher
            scored = await batcher.score_beside(model, validated, explain=explain, shadow=shadow)
            results = scored.results
            answer = (
                columns_answer(model, ids, results, scored.shadow)
                if columnar
                else records_answer(model, records, results, scored.shadow)
            )
        bound.request_rows.observe(n_rows)
        observe(bound, results, started)
        return answer


def _score_alone(
    model: LoadedModel,
    parsed: Any,
    columnar: bool,
    explain: bool,
    shadow: LoadedModel | None,
    pool: ThreadPoolExecutor | None,
) -> tuple[list[Scored], bytes] | None:
    """Validate, score (with the challenger in ``shadow`` when given) and encode one
    request; None when its rows fail the schema."""
    if columnar:
        columns = parsed["columns"]
        n_rows = len(next(iter(columns.values())))
        validated, _ = model.validate_columns(columns, n_rows)
    else:
        validated, _ = model.validate([record["features"] for record in parsed["records"]])
    if validated is None:
        return None
    scored = score_beside(model, validated, explain=explain, shadow=shadow, pool=pool)
    results = scored.results
    if columnar:
        return results, columns_answer(model, parsed.get("ids"), results, scored.shadow)
    return results, records_answer(model, parsed["records"], results, scored.shadow)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value).decode("latin-1")
    return None


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":  # disconnected: nothing to answer
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive channel that gives ``body`` once, then the client's further messages."""
    given = False

    async def replayed() -> Message:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed
