"""Deliver rows to a webhook: JSON POSTs in batches, retried with exponential backoff.

A batch is retried on connection errors, HTTP 429 and 5xx, waiting ``backoff_seconds *
2**(attempt - 1)`` between attempts (or the ``Retry-After`` seconds the server asks for,
if longer); any other 4xx is final. Each batch carries an ``Idempotency-Key`` header (the
hash of its rows), so a receiver can drop a batch it already took when a retry follows a
lost answer.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import httpx

from rpaml_pipeline.canonical import sha256_hex, to_jsonable
from rpaml_pipeline.errors import DeliveryError
from rpaml_pipeline.http_retries import send_with_retries


def post_batch(
    client: httpx.Client,
    url: str,
    body: dict[str, Any],
    *,
    retries: int,
    backoff_seconds: float,
    sleep: Callable[[float], None] = time.sleep,
    headers: Mapping[str, str] | None = None,
    shown_url: str | None = None,
) -> int:
    """POST ``body`` until it is accepted; return the number of attempts it took.

    ``headers`` are sent with every attempt (credentials: never in messages); errors name
    ``shown_url`` (the URL as written, placeholders unexpanded) when given.

    Raises :class:`DeliveryError` with the last failure when every attempt failed.
    """
    payload = to_jsonable(body)
    key = sha256_hex(payload)
    sent = {**(headers or {}), "Idempotency-Key": key}
    url_text = shown_url or url
    outcome = send_with_retries(
        lambda: client.post(url, json=payload, headers=sent),
        attempts=retries + 1,
        backoff=backoff_seconds,
        honour_retry_after=True,
        sleep=sleep,
    )
    if outcome.gave_up:
        raise DeliveryError(
            f"webhook {url_text} did not take the batch after {retries + 1} attempts: "
            f"{outcome.problem()}"
        )
    assert outcome.response is not None
    if outcome.response.status_code >= 300:
        raise DeliveryError(f"webhook {url_text} refused the batch: {outcome.problem()}")
    return outcome.attempts


def batches(rows: Sequence[dict[str, Any]], size: int) -> list[Sequence[dict[str, Any]]]:
    """``rows`` cut into batches of at most ``size``."""
    return [rows[start : start + size] for start in range(0, len(rows), size)]
