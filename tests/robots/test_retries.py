"""The robots' one retry policy: how many tries, which waits, what is retried, and the
hooks the keyword libraries hang their log lines, screenshots and re-log-ins on."""

from __future__ import annotations

import pytest

from rpaml_robots.errors import ApplicationError, BusinessError
from rpaml_robots.retries import doubling_retries


class Flaky:
    """Fails with ``errors`` in turn, then answers ``done``."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "done"


def test_application_errors_are_retried_with_a_doubling_wait() -> None:
    waits: list[float] = []
    failures: list[tuple[int, str]] = []
    retries: list[int] = []
    action = Flaky(ApplicationError("down"), ApplicationError("still down"))
    result = doubling_retries(
        4,
        0.5,
        retry_on=lambda error: isinstance(error, ApplicationError),
        on_failure=lambda attempt, error: failures.append((attempt, str(error))),
        on_retry=lambda attempt, _: retries.append(attempt),
        sleep=waits.append,
    )(action)
    assert result == "done" and action.calls == 3
    assert waits == [0.5, 1.0]
    assert failures == [(1, "down"), (2, "still down")]
    assert retries == [1, 2]


def test_the_last_error_is_raised_as_it_is_after_the_last_try() -> None:
    waits: list[float] = []
    failures: list[int] = []
    retries: list[int] = []
    action = Flaky(*(ApplicationError(f"down {n}") for n in range(1, 5)))
    with pytest.raises(ApplicationError, match=r"^down 3$"):
        doubling_retries(
            3,
            0.2,
            max_delay=0.3,
            retry_on=lambda error: isinstance(error, ApplicationError),
            on_failure=lambda attempt, _: failures.append(attempt),
            on_retry=lambda attempt, _: retries.append(attempt),
            sleep=waits.append,
        )(action)
    assert action.calls == 3
    assert waits == [0.2, 0.3]  # doubled, then held at max_delay
    assert failures == [1, 2, 3]  # every failed try...
    assert retries == [1, 2]  # ...but only those another try follows


def test_an_error_not_retried_propagates_at_once() -> None:
    action = Flaky(BusinessError("no such claim"))
    with pytest.raises(BusinessError):
        doubling_retries(
            5, 0.1, retry_on=lambda e: isinstance(e, ApplicationError), sleep=lambda _: None
        )(action)
    assert action.calls == 1


def test_before_retry_runs_before_every_try_but_the_first() -> None:
    events: list[str] = []

    def action() -> str:
        events.append("try")
        if events.count("try") < 3:
            raise ApplicationError("lost focus")
        return "found"

    doubling_retries(
        3,
        0.0,
        retry_on=lambda e: isinstance(e, ApplicationError),
        before_retry=lambda: events.append("focus"),
        sleep=lambda _: None,
    )(action)
    assert events == ["try", "focus", "try", "focus", "try"]


def test_stop_early_ends_the_tries_before_the_last() -> None:
    action = Flaky(*(ApplicationError("same page") for _ in range(5)))
    with pytest.raises(ApplicationError):
        doubling_retries(
            5,
            0.0,
            retry_on=lambda e: isinstance(e, ApplicationError),
            stop_early=lambda attempt, error: attempt >= 2 and "same page" in str(error),
            sleep=lambda _: None,
        )(action)
    assert action.calls == 2
