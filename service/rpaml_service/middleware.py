"""ASGI middleware: a request id on every request and log line, and a body size limit.

Pure ASGI (not ``BaseHTTPMiddleware``) so it adds no task or stream per request.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = "x-request-id"
request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
_VALID_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


class _BodyTooLargeError(Exception):
    pass


class RequestContextMiddleware:
    """Tags each request with an id and refuses bodies over ``max_body_bytes`` (413).

    The id is taken from the ``X-Request-ID`` header when it is a plain token, else
    generated; it is echoed in the response and added to every log record.
    """

    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = ""
        length = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                request_id = value.decode("latin-1")
            elif name == b"content-length":
                length = value
        if not _VALID_ID.fullmatch(request_id):
            request_id = uuid.uuid4().hex
        token = request_id_var.set(request_id)
        encoded_id = request_id.encode()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"x-request-id", encoded_id)]
            await send(message)

        try:
            if length is not None and (not length.isdigit() or int(length) > self.max_body_bytes):
                await self._too_large(send_with_id)
                return
            received = 0

            async def limited_receive() -> Message:
                nonlocal received
                message = await receive()
                if message["type"] == "http.request":
                    received += len(message.get("body", b""))
                    if received > self.max_body_bytes:
                        raise _BodyTooLargeError
                return message

            try:
                await self.app(scope, limited_receive, send_with_id)
            except _BodyTooLargeError:
                await self._too_large(send_with_id)
        finally:
            request_id_var.reset(token)

    async def _too_large(self, send: Send) -> None:
        body = json.dumps(
            {"detail": f"request body larger than {self.max_body_bytes} bytes; split the batch"}
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to every log record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, request id, message."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "request_id": getattr(record, "request_id", request_id_var.get()),
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(level: str) -> None:
    """Structured (JSON lines) logs on stderr for the service's loggers."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    for name in ("rpaml_service", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers = [handler]
        logger.setLevel(level.upper())
        logger.propagate = False
