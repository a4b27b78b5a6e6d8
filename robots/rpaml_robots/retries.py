"""How the robots retry: one tenacity policy with a doubling delay for every keyword
library (page loads, log-ins, decisions, desktop lookups).

A policy tries ``attempts`` times in all and waits ``first_delay * 2**(n - 1)`` seconds
(at most ``max_delay``) after the n-th failed try; only the errors ``retry_on`` accepts
are retried, any other propagates at once. When the last try fails its error is raised
as it is, for the caller to word its final message.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from tenacity import (
    RetryCallState,
    Retrying,
    after_nothing,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
)
from tenacity.stop import stop_base

#: ``(attempt number, error)`` of a failed try.
FailedTry = Callable[[int, BaseException], object]


def doubling_retries(
    attempts: int,
    first_delay: float,
    *,
    retry_on: Callable[[BaseException], bool],
    max_delay: float | None = None,
    on_failure: FailedTry | None = None,
    on_retry: FailedTry | None = None,
    before_retry: Callable[[], object] | None = None,
    stop_early: Callable[[int, BaseException], bool] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Retrying:
    """A tenacity ``Retrying`` for one robot action; call it with the action.

    ``on_failure`` hears of every failed try, ``on_retry`` only of those another try
    follows (just before the wait), ``before_retry`` runs before each try but the first
    (log in again, focus the window again), and ``stop_early`` ends the tries before
    the last when it answers True (a changed page that waiting will not bring back).
    ``sleep`` waits between tries.

    Example::

        page = doubling_retries(3, 0.5, retry_on=lambda e: isinstance(e, TimeoutError))(
            load_page, url
        )
    """

    def failed(hook: FailedTry | None) -> Callable[[RetryCallState], None]:
        if hook is None:
            return after_nothing

        def call(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome is not None else None
            if error is not None:
                hook(state.attempt_number, error)

        return call

    def before(state: RetryCallState) -> None:
        if before_retry is not None and state.attempt_number > 1:
            before_retry()

    stop: stop_base = stop_after_attempt(max(1, attempts))
    if stop_early is not None:
        stop = stop | _StopWhen(stop_early)
    return Retrying(
        stop=stop,
        wait=wait_exponential(multiplier=first_delay)
        if max_delay is None
        else wait_exponential(multiplier=first_delay, max=max_delay),
        retry=retry_if_exception(lambda error: isinstance(error, Exception) and retry_on(error)),
        after=failed(on_failure),
        before_sleep=failed(on_retry),
        before=before,
        sleep=sleep,
        reraise=True,
    )


class _StopWhen(stop_base):
    """Stop when ``decide(attempt number, error)`` of the failed try says so."""

    def __init__(self, decide: Callable[[int, BaseException], bool]) -> None:
        self.decide = decide

    def __call__(self, retry_state: RetryCallState) -> bool:
        outcome = retry_state.outcome
        error = outcome.exception() if outcome is not None else None
        return error is not None and self.decide(retry_state.attempt_number, error)
