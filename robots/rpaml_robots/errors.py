"""Failure classes the robots act on, as Robocorp's work items classify them.

A *business* error is about one record (the claim does not exist, its data is
refused): the robot records it against that record and goes on with the next one.
An *application* error is about the application (the portal is down, a page did not
load or does not look as expected): the robot records it, retries later and fails
the run, because going on would only repeat the same failure.
"""

from __future__ import annotations

from typing import Literal

FailureKind = Literal["business", "application"]


class RobotError(Exception):
    """Base class of every failure an rpaml robot raises on purpose."""

    kind: FailureKind = "application"


class BusinessError(RobotError):
    """The record is bad (e.g. the claim does not exist): skip it, go on."""

    kind: FailureKind = "business"


class ApplicationError(RobotError):
    """The application failed (down, slow, changed): retry later, fail the run."""

    kind: FailureKind = "application"


class PageLayoutError(ApplicationError):
    """A page answered but does not look as the robot knows it: the layout changed.

    Nothing read from such a page is staged; the run fails until the robot is updated.
    """


class ConfigurationError(ApplicationError):
    """The robot is not set up to run (missing URL or credentials)."""


def failure_kind(error: BaseException) -> FailureKind:
    """Classify any exception: only a ``BusinessError`` is the record's fault.

    Anything unexpected (a Selenium timeout, a lost session) is treated as an
    application error, so that it is retried rather than blamed on the record.
    """
    if isinstance(error, RobotError):
        return error.kind
    return "application"
