"""Logged-in sessions, kept in the app's memory and named by a random cookie.

Kept on the server (not in a signed cookie) so logging out and expiry really end a
session: an old cookie names nothing. A session expires after ``idle`` without use and
after ``lifetime`` whatever happens; a restarted app has none (reviewers log in again,
their decisions are in the store). Each session has its CSRF token, which every form
carries back, and remembers the items its reviewer skipped (so ``next`` moves on).
"""

from __future__ import annotations

import datetime as dt
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from rpaml_review.accounts import Account, Role

COOKIE = "rpaml_review_session"
LOGIN_COOKIE = "rpaml_review_login"
"""The login form's own CSRF token (double-submit: the cookie and the form must match)."""
_MAX_SKIPPED = 200


@dataclass
class Session:
    """One reviewer's login."""

    session_id: str
    reviewer: str
    role: Role
    csrf: str
    created: dt.datetime
    last_seen: dt.datetime
    skipped: list[str] = field(default_factory=list)
    flash: str | None = None
    """A message for the next page (what happened to the last request)."""

    @property
    def is_admin(self) -> bool:
        """May read the admin pages."""
        return self.role is Role.ADMIN

    def skip(self, record_id: str) -> None:
        """Remember a skipped item (the newest ``_MAX_SKIPPED``)."""
        if record_id not in self.skipped:
            self.skipped.append(record_id)
            del self.skipped[:-_MAX_SKIPPED]

    def take_flash(self) -> str | None:
        """The pending message, once."""
        message, self.flash = self.flash, None
        return message


class SessionStore:
    """The sessions of one app (thread-safe: handlers run in a thread pool)."""

    def __init__(
        self,
        *,
        idle: dt.timedelta,
        lifetime: dt.timedelta,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self._idle = idle
        self._lifetime = lifetime
        self._clock = clock
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def open(self, account: Account) -> Session:
        """A new session for ``account``."""
        now = self._clock()
        session = Session(
            session_id=secrets.token_urlsafe(32),
            reviewer=account.name,
            role=account.role,
            csrf=secrets.token_urlsafe(32),
            created=now,
            last_seen=now,
        )
        with self._lock:
            self._sessions[session.session_id] = session
        return session

    def get(self, session_id: str | None) -> Session | None:
        """The live session named ``session_id`` (touched), or None when it is unknown or
        expired (an expired one is forgotten)."""
        if not session_id:
            return None
        now = self._clock()
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                return None
            if now - session.last_seen > self._idle or now - session.created > self._lifetime:
                del self._sessions[session_id]
                return None
            session.last_seen = now
            return session

    def close(self, session_id: str) -> None:
        """End a session (logout)."""
        with self._lock:
            self._sessions.pop(session_id, None)
