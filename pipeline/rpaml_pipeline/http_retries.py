"""HTTP requests retried with tenacity: the one policy of the scoring client, the webhook
target and the OpenLineage endpoint.

A request is tried ``attempts`` times in all. A connection error (of the kinds the caller
names) or an answer whose status the caller calls transient is retried after
``backoff * 2**(n - 1)`` seconds (n: the attempt that failed), or after the
``Retry-After`` seconds the server asked for when that is longer and the caller honours
it. Any other answer ends the tries at once and is returned, for the caller to judge.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Container
from dataclasses import dataclass

import httpx
from tenacity import (
    RetryCallState,
    RetryError,
    Retrying,
    retry_if_exception_type,
    retry_if_result,
    stop_after_attempt,
    wait_exponential,
)

#: What servers answer when a later try may succeed: too many requests, server errors.
TRANSIENT_STATUSES: Container[int] = frozenset({429, *range(500, 600)})
#: The longest ``Retry-After`` honoured: a server asking for more is treated as down.
MAX_RETRY_AFTER_SECONDS = 60.0


@dataclass(frozen=True)
class HttpOutcome:
    """How the tries of one request ended."""

    response: httpx.Response | None
    """The last answer; None when the last try raised ``error``."""
    error: Exception | None
    attempts: int
    gave_up: bool
    """True when every try failed transiently (``response`` or ``error`` is the last)."""

    def problem(self, detail: Callable[[httpx.Response], str] | None = None) -> str:
        """The last failure as people read it: ``ConnectError: ...`` or ``HTTP 503``
        (followed by ``: <detail(response)>`` when ``detail`` is given)."""
        if self.error is not None:
            return f"{type(self.error).__name__}: {self.error}"
        assert self.response is not None
        code = f"HTTP {self.response.status_code}"
        return f"{code}: {detail(self.response)}" if detail is not None else code


def send_with_retries(
    send: Callable[[], httpx.Response],
    *,
    attempts: int,
    backoff: float,
    transient_statuses: Container[int] = TRANSIENT_STATUSES,
    transient_errors: type[Exception] | tuple[type[Exception], ...] = httpx.HTTPError,
    honour_retry_after: bool = False,
    sleep: Callable[[float], None] = time.sleep,
) -> HttpOutcome:
    """Call ``send`` until it answers with a status not in ``transient_statuses``, or
    ``attempts`` tries have failed. Errors other than ``transient_errors`` propagate."""
    doubling = wait_exponential(multiplier=backoff)

    def wait(state: RetryCallState) -> float:
        base = float(doubling(state))
        outcome = state.outcome
        if not honour_retry_after or outcome is None or outcome.failed:
            return base
        return max(base, _retry_after(outcome.result()))

    retrying = Retrying(
        stop=stop_after_attempt(max(1, attempts)),
        wait=wait,
        retry=retry_if_exception_type(transient_errors)
        | retry_if_result(lambda response: response.status_code in transient_statuses),
        sleep=sleep,
    )
    tries = 0

    def attempt() -> httpx.Response:
        nonlocal tries
        tries += 1
        return send()

    try:
        response: httpx.Response = retrying(attempt)
    except RetryError as exhausted:
        last = exhausted.last_attempt
        if last.failed:
            error = last.exception()
            assert isinstance(error, Exception)
            return HttpOutcome(None, error, tries, gave_up=True)
        return HttpOutcome(last.result(), None, tries, gave_up=True)
    return HttpOutcome(response, None, tries, gave_up=False)


def _retry_after(response: httpx.Response) -> float:
    try:
        seconds = float(response.headers.get("Retry-After", "0"))
    except ValueError:  # an HTTP date, or nonsense: the backoff alone decides
        return 0.0
    return min(seconds, MAX_RETRY_AFTER_SECONDS)
