"""Errors of the scoring service.

Every error the service raises itself derives from :class:`ServiceError`; HTTP answers
(401, 403, 404, 413, 422) are FastAPI ``HTTPException`` / ``RequestValidationError``
and never reach this hierarchy.
"""

from __future__ import annotations


class ServiceError(Exception):
    """Base class of the scoring service's own errors."""


class ConfigurationError(ServiceError, ValueError):
    """The service's settings are unusable (no API key, a malformed key entry, ...)."""


class BatcherClosedError(ServiceError, RuntimeError):
    """A request reached a micro-batcher that is shutting down."""
