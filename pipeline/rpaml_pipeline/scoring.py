"""Client of the rpaml scoring service (HTTP API v1).

The pipeline reaches the service only over HTTP, through :class:`ScoringClient`: one pooled
``httpx.Client``, batches cut into chunks, transient failures (connection errors, 5xx)
retried with exponential backoff, and a circuit breaker: after ``breaker_threshold``
requests in a row fail even with their retries, further calls fail at once (no network,
no waiting) for ``breaker_reset`` seconds, then one trial request decides whether the
service is back. The client never drops a record: either every item comes back with a
result, in input order and with its id, or an exception says why not (the scoring stage
then leaves the records in their state for the next run).

``columnar=True`` uses the service's bulk path (``/score/columns``): one JSON list per
feature instead of one object per record, which makes large batches much cheaper.
``explain=True`` (the default here, unlike the service's) asks for the model's reasons
after the policy's, which the scoring stage stores with each decision. ``shadow=True``
asks for the challenger's decision too (:mod:`rpaml_pipeline.shadow_results`).

Example::

    with ScoringClient("http://127.0.0.1:8000") as client:
        results = client.score("claims_fraud", [("CLM-1", {"amount": 120.0, ...})])
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote

import httpx

from rpaml_pipeline.http_retries import send_with_retries
from rpaml_pipeline.scoring_answers import (
    RejectedField,
    ScoreResult,
    ScoringCircuitOpenError,
    ScoringError,
    ScoringRejectedError,
    ScoringUnavailableError,
    costs_of,
    describe_field,
    detail_of,
    json_object_of,
    rejected_fields_of,
    score_result_of,
    unexpected_answer,
)
from rpaml_pipeline.shadow_results import shadow_columns

__all__ = [
    "RejectedField",
    "ScoreResult",
    "ScoringCircuitOpenError",
    "ScoringClient",
    "ScoringError",
    "ScoringRejectedError",
    "ScoringUnavailableError",
]

# Statuses worth another try: the request may succeed unchanged once the service (or a
# proxy in front of it) recovers. Scoring is idempotent, so repeating it is safe.
_RETRYABLE_STATUSES = frozenset({500, 502, 503, 504})
# Header the service checks when it is configured with an API key.
API_KEY_HEADER = "X-API-Key"


@dataclass(slots=True)
class _ChunkOutcome:
    results: list[ScoreResult] = field(default_factory=list)
    issues: list[RejectedField] = field(default_factory=list)


class ScoringClient:
    """Talks to one scoring service over a pooled HTTP connection.

    Parameters
    ----------
    base_url : str
        The service's root, e.g. ``http://127.0.0.1:8000``.
    api_key : str, optional
        Sent in the ``X-API-Key`` header when given.
    chunk_size : int, default=500
        Most items per request.
    retries : int, default=3
        Further attempts after a connection error or a 5xx answer.
    backoff : float, default=0.2
        Seconds before the first retry; doubled for each later one.
    timeout : float, default=10.0
        Seconds allowed for connecting and for each read or write.
    breaker_threshold : int, default=3
        Requests failing in a row (each after its retries) that open the breaker.
    breaker_reset : float, default=30.0
        Seconds the breaker stays open before one trial request is let through.
    columnar : bool, default=False
        Send chunks column by column to ``/score/columns`` (the bulk path).
    max_connections : int, default=10
        Size of the connection pool.
    explain : bool, default=True
        Ask for the model's reasons (the features that raised the score) after the
        policy's; without, each result carries the policy's reason alone and scoring
        costs the service up to ``n_features`` times less.
    shadow : bool, default=False
        Ask for the challenger's decision beside each result (shadow mode).
    """

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        chunk_size: int = 500,
        retries: int = 3,
        backoff: float = 0.2,
        timeout: float = 10.0,
        breaker_threshold: int = 3,
        breaker_reset: float = 30.0,
        columnar: bool = False,
        max_connections: int = 10,
        explain: bool = True,
        shadow: bool = False,
    ) -> None:
        if breaker_threshold < 1:
            raise ValueError(f"breaker_threshold must be at least 1, got {breaker_threshold}")
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
        if retries < 0:
            raise ValueError(f"retries must not be negative, got {retries}")
        if backoff < 0:
            raise ValueError(f"backoff must not be negative, got {backoff}")
        self.base_url = base_url.rstrip("/")
        self.chunk_size = chunk_size
        self.retries = retries
        self.backoff = backoff
        self.breaker_threshold = breaker_threshold
        self.breaker_reset = breaker_reset
        self.columnar = columnar
        self.explain = explain
        self.shadow = shadow
        self._failures_in_a_row = 0
        self._open_until = 0.0
        headers = {"Accept": "application/json"}
        if api_key is not None:
            headers[API_KEY_HEADER] = api_key
        self._http = httpx.Client(
            base_url=self.base_url,
            headers=headers,
            timeout=timeout,
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
        )

    @property
    def circuit_open(self) -> bool:
        """True while calls fail at once because the service kept failing."""
        return time.monotonic() < self._open_until

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the pooled connections."""
        self._http.close()

    def __repr__(self) -> str:
        # No headers: the API key must never reach a log line.
        return f"ScoringClient({self.base_url!r}, chunk_size={self.chunk_size})"

    def health(self) -> dict[str, Any]:
        """The service's ``GET /v1/health`` answer.

        Raises
        ------
        ScoringUnavailableError
            If the service cannot be reached after the retries.
        """
        response = self._send("GET", "/v1/health")
        if response.status_code != 200:
            raise unexpected_answer(response)
        return json_object_of(response)

    def score(
        self, model: str, items: Sequence[tuple[str, Mapping[str, object]]]
    ) -> list[ScoreResult]:
        """Score ``items`` with the service's ``model``.

        Parameters
        ----------
        model : str
            Name of a model the service serves.
        items : sequence of (id, features)
            Each item's id and its feature values by name.

        Returns
        -------
        list of ScoreResult
            One per item, in the order of ``items``, each carrying its item's id.

        Raises
        ------
        ScoringRejectedError
            If the service refused the features of some items (every issue is listed).
        ScoringUnavailableError
            If the service cannot be reached, or keeps failing, after the retries.
        ScoringError
            For any other refusal (unknown model, bad API key) or a response that does
            not match the request.
        """
        results: list[ScoreResult] = []
        issues: list[RejectedField] = []
        for start in range(0, len(items), self.chunk_size):
            chunk = items[start : start + self.chunk_size]
            outcome = self._score_chunk(model, chunk, offset=start)
            results.extend(outcome.results)
            issues.extend(outcome.issues)
        if issues:
            failing = len({issue.index for issue in issues})
            raise ScoringRejectedError(
                f"model {model!r} refused {failing} of {len(items)} item(s): "
                + "; ".join(describe_field(issue) for issue in issues[:5])
                + (f"; and {len(issues) - 5} more issue(s)" if len(issues) > 5 else ""),
                issues=issues,
                scored=results,
            )
        return results

    def _score_chunk(
        self,
        model: str,
        chunk: Sequence[tuple[str, Mapping[str, object]]],
        *,
        offset: int,
    ) -> _ChunkOutcome:
        ids = [item_id for item_id, _ in chunk]
        path = f"/v1/models/{quote(model, safe='')}/score"
        if self.columnar:
            names = list(dict.fromkeys(name for _, features in chunk for name in features))
            # A feature missing from an item is sent as absent-marker None only if every
            # item has it; otherwise the record path reports it precisely.
            if all(len(features) == len(names) for _, features in chunk):
                return self._score_columns(path + "/columns", chunk, ids, names, offset)
        payload = {
            "records": [{"id": item_id, "features": dict(f)} for item_id, f in chunk],
            "explain": self.explain,
            **self._shadow_flag(),
        }
        response = self._send("POST", path, json=payload)
        if response.status_code == 422:
            return _ChunkOutcome(issues=rejected_fields_of(response, ids, offset))
        if response.status_code != 200:
            raise unexpected_answer(response)
        body = json_object_of(response)
        raw_results = body.get("results")
        if not isinstance(raw_results, list) or len(raw_results) != len(chunk):
            count = len(raw_results) if isinstance(raw_results, list) else "no"
            raise ScoringError(
                f"service returned {count} results for {len(chunk)} items "
                f"(items {offset}..{offset + len(chunk) - 1}); refusing a partial answer",
                status_code=response.status_code,
            )
        results: list[ScoreResult] = []
        for position, (item_id, raw) in enumerate(zip(ids, raw_results, strict=True)):
            result = score_result_of(raw)
            # The service answers in request order; checking each id turns any
            # misalignment into an error instead of a decision applied to the wrong item.
            if result is None or result.id != item_id:
                raise ScoringError(
                    f"result {offset + position} does not match item {item_id!r}: {raw!r}",
                    status_code=response.status_code,
                )
            results.append(result)
        return _ChunkOutcome(results=results)

    def _score_columns(
        self,
        path: str,
        chunk: Sequence[tuple[str, Mapping[str, object]]],
        ids: list[str],
        names: list[str],
        offset: int,
    ) -> _ChunkOutcome:
        columns = {name: [features[name] for _, features in chunk] for name in names}
        response = self._send(
            "POST",
            path,
            json={"ids": ids, "columns": columns, "explain": self.explain, **self._shadow_flag()},
        )
        if response.status_code == 422:
            return _ChunkOutcome(issues=rejected_fields_of(response, ids, offset))
        if response.status_code != 200:
            raise unexpected_answer(response)
        body = json_object_of(response)
        try:
            answered = [str(item) for item in body["ids"]]
            scores = [float(score) for score in body["scores"]]
            decisions = [str(decision) for decision in body["decisions"]]
            reasons = [tuple(str(r) for r in row) for row in body["reasons"]]
            costs = body.get("expected_costs") or [None] * len(ids)
            expected = [costs_of(row) for row in costs]
            versions = (str(body["model_version"]), str(body["policy_version"]))
            shadows = shadow_columns(body, len(ids))
        except (KeyError, TypeError, ValueError) as error:
            raise ScoringError(
                f"malformed columnar answer: {error}", status_code=response.status_code
            ) from error
        if answered != ids or not len(scores) == len(decisions) == len(reasons) == len(ids):
            raise ScoringError(
                f"columnar answer for items {offset}..{offset + len(ids) - 1} does not "
                "match the request; refusing a partial or misaligned answer",
                status_code=response.status_code,
            )
        return _ChunkOutcome(
            results=[
                ScoreResult(item_id, score, decision, reason, *versions, costs_row, shadow)
                for item_id, score, decision, reason, costs_row, shadow in zip(
                    ids, scores, decisions, reasons, expected, shadows, strict=True
                )
            ]
        )

    def _shadow_flag(self) -> dict[str, bool]:
        # Sent only when asked, so a request without shadow mode is what it always was.
        return {"shadow": True} if self.shadow else {}

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send one request through the circuit breaker, retrying transient failures."""
        now = time.monotonic()
        if now < self._open_until:
            raise ScoringCircuitOpenError(
                f"scoring service at {self.base_url} failed {self._failures_in_a_row} "
                f"request(s) in a row; not calling it for another "
                f"{self._open_until - now:.1f} s"
            )
        try:
            response = self._send_with_retries(method, path, **kwargs)
        except ScoringUnavailableError:
            self._failures_in_a_row += 1
            if self._failures_in_a_row >= self.breaker_threshold:
                self._open_until = time.monotonic() + self.breaker_reset
            raise
        self._failures_in_a_row = 0
        self._open_until = 0.0
        return response

    def _send_with_retries(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send one request, retrying transient failures with exponential backoff.

        Connection refused, reset or timed out, and 5xx answers, are retried: the service
        may be starting or restarting, which a short wait often outlasts.
        """
        outcome = send_with_retries(
            lambda: self._http.request(method, path, **kwargs),
            attempts=self.retries + 1,
            backoff=self.backoff,
            transient_statuses=_RETRYABLE_STATUSES,
            transient_errors=httpx.TransportError,
        )
        if not outcome.gave_up:
            assert outcome.response is not None
            return outcome.response
        raise ScoringUnavailableError(
            f"scoring service at {self.base_url} unavailable for {method} {path} after "
            f"{self.retries + 1} attempt(s); last problem: {outcome.problem(detail_of)}"
        )
