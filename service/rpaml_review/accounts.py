"""Reviewers' accounts: names, roles and Argon2 password hashes, never passwords.

An account is one ``name:role:hash`` entry (``RPAML_REVIEW_ACCOUNTS`` as a JSON list, or
one per line in the secrets file named by ``RPAML_REVIEW_ACCOUNTS_FILE``, ``#`` comments
allowed). Make an entry with ``python -m rpaml_review.accounts NAME ROLE`` (reads the
password from standard input) or ``rpaml review account NAME --role ROLE``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from rpaml_review.errors import ConfigurationError

AccountError = ConfigurationError
"""What a bad account entry or password raises (the CLI catches it under this name)."""

# One hasher for the process: Argon2id with the library's (RFC 9106 low-memory) defaults.
_HASHER = PasswordHasher()
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789._-")


class Role(StrEnum):
    """What an account may do: reviewers decide items, admins also read the audit pages."""

    REVIEWER = "reviewer"
    ADMIN = "admin"


@dataclass(frozen=True)
class Account:
    """One reviewer's account."""

    name: str
    role: Role
    password_hash: str


def hash_password(password: str) -> str:
    """The Argon2id hash of ``password`` (what an account entry stores)."""
    if len(password) < 8:
        raise ConfigurationError("a password needs at least 8 characters")
    return _HASHER.hash(password)


def account_line(name: str, role: str, password: str) -> str:
    """The ``name:role:hash`` entry of a new account."""
    parse_account(f"{name}:{role}:$argon2id$placeholder")  # names and roles checked first
    return f"{name}:{role}:{hash_password(password)}"


def parse_account(entry: str, *, where: str = "account entry") -> Account:
    """One ``name:role:hash`` entry (the hash is never echoed in an error)."""
    name, _, rest = entry.strip().partition(":")
    role, _, password_hash = rest.partition(":")
    if not name or set(name) - _NAME_CHARS:
        raise ConfigurationError(
            f"{where}: the name must be lower-case letters, digits, '.', '_' or '-'"
        )
    if role not in {r.value for r in Role}:
        raise ConfigurationError(f"{where}: role must be reviewer or admin, not {role!r}")
    if not password_hash.startswith("$argon2"):
        raise ConfigurationError(f"{where}: expected an Argon2 hash after name:role:")
    return Account(name, Role(role), password_hash)


class AccountBook:
    """The accounts the app accepts, and password checks against their hashes."""

    def __init__(self, accounts: Iterable[Account]) -> None:
        self._accounts: dict[str, Account] = {}
        for account in accounts:
            if account.name in self._accounts:
                raise ConfigurationError(f"account {account.name!r} is given twice")
            self._accounts[account.name] = account
        if not self._accounts:
            raise ConfigurationError(
                "no review accounts: set RPAML_REVIEW_ACCOUNTS or RPAML_REVIEW_ACCOUNTS_FILE "
                "(make an entry with: rpaml review account NAME --role reviewer)"
            )
        # Verifying an unknown name against a real hash costs the same as a wrong
        # password, so response times do not tell which names exist.
        self._decoy = _HASHER.hash("decoy password, never valid")

    @classmethod
    def load(cls, entries: Sequence[str], file: Path | None) -> AccountBook:
        """From the settings' entries and the accounts file."""
        accounts = [
            parse_account(entry, where=f"account {i + 1}") for i, entry in enumerate(entries)
        ]
        if file is not None:
            try:
                lines = file.read_text(encoding="utf-8").splitlines()
            except OSError as exc:
                raise ConfigurationError(f"cannot read the accounts file {file}: {exc}") from exc
            for number, line in enumerate(lines, start=1):
                if line.strip() and not line.lstrip().startswith("#"):
                    accounts.append(parse_account(line, where=f"{file}, line {number}"))
        return cls(accounts)

    def verify(self, name: str, password: str) -> Account | None:
        """The account when ``password`` is its password, else None."""
        account = self._accounts.get(name)
        try:
            _HASHER.verify(account.password_hash if account else self._decoy, password)
        except (VerificationError, InvalidHashError):
            return None
        return account

    def names(self) -> list[str]:
        """The account names (for the startup log; never the hashes)."""
        return sorted(self._accounts)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m rpaml_review.accounts NAME ROLE``: print an account entry."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2:
        print(
            "usage: python -m rpaml_review.accounts NAME ROLE  (password on stdin)", file=sys.stderr
        )
        return 2
    try:
        print(account_line(args[0], args[1], sys.stdin.readline().rstrip("\n")))
    except ConfigurationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
