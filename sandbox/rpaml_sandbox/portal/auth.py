"""Who may use the portal: the clerk's session and the admin token."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Annotated, Final

from fastapi import Header, HTTPException, Request, status

from rpaml_sandbox.portal.settings import PortalSettings
from rpaml_sandbox.portal.switches import SwitchBoard

SESSION_USER_KEY: Final = "user"
SESSION_ID_KEY: Final = "sid"


class LoginRequiredError(Exception):
    """Raised by page handlers when nobody is logged in; answered with a redirect to /login."""


def current_user(request: Request) -> str | None:
    """Return the logged-in user's name, or None."""
    user = request.session.get(SESSION_USER_KEY)
    return user if isinstance(user, str) else None


def require_user(request: Request) -> str:
    """FastAPI dependency: the logged-in user, or LoginRequiredError.

    With the ``session_expiry_requests`` switch on, a session ends after that many pages,
    as sessions of real back offices end in the middle of a robot's run.
    """
    user = current_user(request)
    if user is None:
        raise LoginRequiredError
    board: SwitchBoard | None = getattr(request.app.state, "switches", None)
    limit = board.current.session_expiry_requests if board is not None else 0
    if limit and board is not None:
        # Counted on the server, as real portals do: requests sent at once on one session
        # all count, whatever cookie they carried.
        session_id = request.session.get(SESSION_ID_KEY)
        if not isinstance(session_id, str) or board.count_session_page(session_id) > limit:
            request.session.clear()
            raise LoginRequiredError
    return user


def credentials_match(settings: PortalSettings, username: str, password: str) -> bool:
    """Check a login in constant time (both comparisons always run)."""
    user_ok = secrets.compare_digest(username.encode(), settings.username.encode())
    password_ok = secrets.compare_digest(
        password.encode(), settings.password.get_secret_value().encode()
    )
    return user_ok and password_ok


def admin_guard(settings: PortalSettings) -> Callable[[str | None], None]:
    """Build a dependency that answers 401 unless ``X-Admin-Token`` holds the admin token."""
    expected = settings.admin_token.get_secret_value().encode()

    def check(x_admin_token: Annotated[str | None, Header()] = None) -> None:
        if x_admin_token is None or not secrets.compare_digest(x_admin_token.encode(), expected):
            raise HTTPException(
                status_code=status.HTTP_401_UNAUTHORIZED,
                detail="missing or invalid X-Admin-Token header",
            )

    return check
