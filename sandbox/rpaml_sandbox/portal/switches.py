"""Fault switches: a slow, flaky, forgetful or redesigned portal, on demand.

Real back offices are slow at month end, answer 500 now and then, expire sessions and
change their markup without telling anyone. The switches let tests and benchmarks turn
each of these on, at start (settings / command line) or at run time (``/admin/switches``).
Faults are drawn from a seeded generator so that a run can be repeated.
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Awaitable, Callable
from typing import Final, Literal

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, Field

#: classic: the markup robots were built for. redesign: new markup (other ids, other
#: structure), which a robot must recognise as "not the page I know". misaligned: the same
#: markup, but the amount and incident-date values swapped (a template bug), which only a
#: data contract can catch.
Layout = Literal["classic", "redesign", "misaligned"]
LAYOUTS: Final[tuple[Layout, ...]] = ("classic", "redesign", "misaligned")

#: Paths that never see faults: measuring and steering the portal must stay reliable, and
#: the favicon browsers fetch on their own would make the fault sequence depend on timing.
_EXEMPT_PREFIXES: Final = ("/admin", "/healthz", "/favicon.ico")

FAULT_PAGE: Final = (
    "<!DOCTYPE html><html lang='en'><head><title>Service unavailable</title></head>"
    "<body><h1 id='server-error'>Service temporarily unavailable</h1>"
    "<p>The claims system could not answer. Please try again.</p></body></html>"
)


class PortalSwitches(BaseModel):
    """The portal's fault switches; all off by default."""

    model_config = ConfigDict(extra="forbid")

    latency_ms: int = Field(default=0, ge=0, le=60_000, description="Delay added to each page.")
    error_rate: float = Field(
        default=0.0, ge=0.0, le=1.0, description="Share of page requests answered with 500."
    )
    max_consecutive_errors: int = Field(
        default=2,
        ge=1,
        description="At most this many 500s in a row: the errors are transient, not an outage.",
    )
    session_expiry_requests: int = Field(
        default=0,
        ge=0,
        description="A session ends after this many pages (0: sessions last the working day).",
    )
    layout: Layout = Field(default="classic", description="Markup version of the pages.")
    fault_seed: int = Field(default=1, description="Seed of the fault generator.")


class SwitchUpdate(BaseModel):
    """A partial change of the switches (``PATCH``-like body of ``PUT /admin/switches``)."""

    model_config = ConfigDict(extra="forbid")

    latency_ms: int | None = Field(default=None, ge=0, le=60_000)
    error_rate: float | None = Field(default=None, ge=0.0, le=1.0)
    max_consecutive_errors: int | None = Field(default=None, ge=1)
    session_expiry_requests: int | None = Field(default=None, ge=0)
    layout: Layout | None = None
    fault_seed: int | None = None


class SwitchBoard:
    """The current switches and the seeded fault generator, shared by every request."""

    def __init__(self, switches: PortalSwitches) -> None:
        self._lock = threading.Lock()
        self._switches = switches
        self._random = random.Random(switches.fault_seed)
        self._errors_in_a_row = 0
        self.faults_injected = 0
        self._session_pages: dict[str, int] = {}

    @property
    def current(self) -> PortalSwitches:
        return self._switches

    def update(self, change: SwitchUpdate) -> PortalSwitches:
        """Apply ``change``; the fault generator restarts from the (new) seed."""
        with self._lock:
            values = self._switches.model_dump()
            values.update(change.model_dump(exclude_none=True))
            self._switches = PortalSwitches(**values)
            self._random = random.Random(self._switches.fault_seed)
            self._errors_in_a_row = 0
            self.faults_injected = 0
            return self._switches

    def count_session_page(self, session_id: str) -> int:
        """Count one more page of a session and return how many it has had."""
        with self._lock:
            pages = self._session_pages.get(session_id, 0) + 1
            self._session_pages[session_id] = pages
            return pages

    def draw_fault(self) -> bool:
        """Whether the next page request fails: seeded, and never more than
        ``max_consecutive_errors`` in a row."""
        with self._lock:
            switches = self._switches
            if switches.error_rate <= 0.0:
                return False
            fault = self._random.random() < switches.error_rate
            if fault and self._errors_in_a_row >= switches.max_consecutive_errors:
                fault = False
            self._errors_in_a_row = self._errors_in_a_row + 1 if fault else 0
            if fault:
                self.faults_injected += 1
            return fault


def fault_middleware(
    board: SwitchBoard,
) -> Callable[[Request, Callable[[Request], Awaitable[Response]]], Awaitable[Response]]:
    """HTTP middleware adding latency and transient 500s to every page.

    A faulted GET fails before the page runs. A faulted POST fails *after* it ran: the
    work is done but the answer is lost, the hardest case for a robot that must act once.
    """

    async def middleware(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        if request.url.path.startswith(_EXEMPT_PREFIXES):
            return await call_next(request)
        switches = board.current
        if switches.latency_ms:
            await asyncio.sleep(switches.latency_ms / 1000)
        if not board.draw_fault():
            return await call_next(request)
        if request.method != "GET":
            await call_next(request)
        return HTMLResponse(FAULT_PAGE, status_code=500)

    return middleware
