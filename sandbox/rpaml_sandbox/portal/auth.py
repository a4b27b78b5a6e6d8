"""Who may use the portal: the clerk's session and the admin token."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Annotated, Final

from fastapi import Header, HTTPException, Request, status

from rpaml_sandbox.portal.settings import PortalSettings

SESSION_USER_KEY: Final = "user"


class LoginRequiredError(Exception):
    """Raised by page handlers when nobody is logged in; answered with a redirect to /login."""


def current_user(request: Request) -> str | None:
    """Return the logged-in user's name, or None."""
    user = request.session.get(SESSION_USER_KEY)
    return user if isinstance(user, str) else None


def require_user(request: Request) -> str:
    """FastAPI dependency: the logged-in user, or LoginRequiredError."""
    user = current_user(request)
    if user is None:
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
