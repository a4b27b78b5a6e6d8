"""Accounts and logins for the review app's tests (HTTP and browser)."""

from __future__ import annotations

import re

import httpx

from rpaml_review.accounts import account_line

PASSWORDS = {"ann": "ann-password-1", "bob": "bob-password-2", "root": "root-password-3"}
ROLES = {"ann": "reviewer", "bob": "reviewer", "root": "admin"}


def account_entries() -> list[str]:
    """One hashed entry per test account."""
    return [account_line(name, ROLES[name], PASSWORDS[name]) for name in PASSWORDS]


def csrf_of(html: str) -> str:
    """The CSRF token a page's forms carry."""
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "the page has no form with a CSRF token"
    return match.group(1)


def hidden(html: str, name: str) -> str:
    """A hidden input's value."""
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match, f"the page has no {name!r} field"
    return match.group(1)


def log_in(client: httpx.Client, name: str, password: str | None = None) -> httpx.Response:
    """Log ``name`` in through the login form; the client keeps the session cookie."""
    page = client.get("/login")
    return client.post(
        "/login",
        data={
            "username": name,
            "password": password or PASSWORDS[name],
            "csrf": csrf_of(page.text),
        },
        follow_redirects=False,
    )
