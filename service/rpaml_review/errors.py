"""Errors of the review app.

Every error the app raises itself derives from :class:`ReviewAppError`. A reviewer's
request the queue refuses is the store's :class:`rpaml_pipeline.errors.ReviewError`
(shown as it is, with nothing changed); the app's own refusals are below.
"""

from __future__ import annotations


class ReviewAppError(Exception):
    """Base class of the review app's own errors."""


class ConfigurationError(ReviewAppError, ValueError):
    """The app's settings are unusable (no account, a malformed account line, no review
    section in the process file...)."""


class RefusedError(ReviewAppError):
    """A request refused before it reached the queue; ``status`` is its HTTP status and
    the message is written for the reviewer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
