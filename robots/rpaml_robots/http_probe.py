"""Asking the web server directly what a page answered.

WebDriver does not expose HTTP status codes, and a page that did not load shows a
browser error page instead of raising. When a page does not look as expected, one
plain HTTP request (with the browser's session cookies, without following
redirects) tells apart "the claim does not exist" (404, the record's fault) from
"the portal is down" (refused, 5xx, time-out: the application's fault).
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class ProbeResult:
    """The status the server answered, or why there was no answer."""

    status: int | None
    error: str | None = None

    @property
    def describe(self) -> str:
        if self.status is not None:
            return f"HTTP {self.status}: {self.error}" if self.error else f"HTTP {self.status}"
        return self.error or "no answer"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # A redirect to /login is an answer in itself (the session expired): report it.
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def probe(url: str, cookies: Mapping[str, str] | None = None, timeout: float = 5.0) -> ProbeResult:
    """GET ``url`` once and return its status (redirects are not followed)."""
    request = urllib.request.Request(url, method="GET")
    if cookies:
        request.add_header(
            "Cookie", "; ".join(f"{name}={value}" for name, value in cookies.items())
        )
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(request, timeout=timeout) as response:
            return ProbeResult(status=int(response.status))
    except urllib.error.HTTPError as error:
        return ProbeResult(status=int(error.code))
    except urllib.error.URLError as error:
        reason = error.reason
        text = getattr(reason, "strerror", None) or str(reason)
        return ProbeResult(status=None, error=str(text).lower())
    except (TimeoutError, OSError) as error:
        return ProbeResult(status=None, error=str(error) or type(error).__name__)
