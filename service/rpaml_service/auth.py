"""API keys: stored as SHA-256 digests, sent in the ``X-API-Key`` header, with scopes.

Every route but the health probes (``/v1/health``, ``/v1/health/ready``) needs a key:

* ``score``: list and describe models, score records;
* ``admin``: reload models, read ``/metrics``;
* any known key, whatever its scopes: the OpenAPI document and the interactive docs.

A missing or unknown key is answered 401, a key without the route's scope 403, each
with a ``detail`` saying what to send. There is no open mode: the service refuses to
start without at least one key (:func:`key_ring`).

Keys come from the settings (``RPAML_SERVICE_API_KEYS``) or from a secrets file
(``RPAML_SERVICE_API_KEYS_FILE``), one key per line::

    # name:scope[,scope]:sha256-hex-of-the-key
    pipeline:score:9f86d081884c7d65...
    ops:admin,score:60303ae22b998861...

``python -m rpaml_service.auth NAME SCOPES`` prints a new random key and its line. The
plain key never has to be stored by the service, and is never logged.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

from rpaml_service.errors import ConfigurationError
from rpaml_service.settings import ServiceSettings

Scope = Literal["score", "admin"]
SCOPES: tuple[Scope, ...] = get_args(Scope)
_DIGEST = re.compile(r"[0-9a-f]{64}")
_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")


@dataclass(frozen=True, slots=True)
class ApiKey:
    """One accepted key: its name (for logs), digest and scopes."""

    name: str
    sha256: str
    scopes: frozenset[Scope]


def digest(key: str) -> str:
    """SHA-256 hex digest of a presented key."""
    return hashlib.sha256(key.encode()).hexdigest()


def parse_entry(entry: str, *, where: str) -> ApiKey:
    """Parse ``name:scope[,scope]:sha256`` into an :class:`ApiKey`.

    Raises
    ------
    ConfigurationError
        Naming ``where`` and what was wrong (never the digest itself).
    """
    parts = entry.strip().split(":")
    if len(parts) != 3:
        raise ConfigurationError(f"{where}: expected name:scopes:sha256, got {len(parts)} part(s)")
    name, scope_text, sha = parts
    if not _NAME.fullmatch(name):
        raise ConfigurationError(f"{where}: invalid key name {name!r}")
    scopes = {scope.strip() for scope in scope_text.split(",") if scope.strip()}
    unknown = sorted(scopes - set(SCOPES))
    if unknown or not scopes:
        raise ConfigurationError(
            f"{where}: key {name!r} has unknown or no scopes {unknown}; use {list(SCOPES)}"
        )
    if not _DIGEST.fullmatch(sha.lower()):
        raise ConfigurationError(f"{where}: key {name!r} needs a 64-digit hex SHA-256")
    return ApiKey(name, sha.lower(), frozenset(scopes))  # type: ignore[arg-type]


def read_keys_file(path: Path) -> list[ApiKey]:
    """Keys from a secrets file (blank lines and ``#`` comments ignored)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigurationError(f"cannot read API keys file {path}: {error}") from error
    return [
        parse_entry(line, where=f"{path}:{number}")
        for number, line in enumerate(text.splitlines(), start=1)
        if line.strip() and not line.lstrip().startswith("#")
    ]


class KeyRing:
    """The accepted keys (at least one), looked up by the digest of the presented key.

    Raises
    ------
    ConfigurationError
        If ``keys`` is empty or two entries share a digest.
    """

    def __init__(self, keys: Iterable[ApiKey]) -> None:
        self._by_digest: dict[str, ApiKey] = {}
        for key in keys:
            if key.sha256 in self._by_digest:
                raise ConfigurationError(f"API key {key.name!r} duplicates another key")
            self._by_digest[key.sha256] = key
        if not self._by_digest:
            raise ConfigurationError("an API key ring needs at least one key")

    def __len__(self) -> int:
        return len(self._by_digest)

    def find(self, presented: str) -> ApiKey | None:
        """The key matching ``presented``, or None.

        One SHA-256 and one dict lookup, about half a microsecond: cheap next to the
        request. Deliberately not memoised by the presented key, since such a cache
        would keep plain keys in memory, which the service otherwise never stores.
        """
        return self._by_digest.get(digest(presented))

    def names(self) -> Mapping[str, frozenset[Scope]]:
        """Key names and scopes (no digests), for logs."""
        return {key.name: key.scopes for key in self._by_digest.values()}


NO_KEYS_HELP = (
    "the scoring service needs at least one API key: set RPAML_SERVICE_API_KEYS (a JSON "
    "list of 'name:scopes:sha256' entries) or RPAML_SERVICE_API_KEYS_FILE (a file of such "
    "lines); `python -m rpaml_service.auth NAME SCOPES` prints a new key and its line. "
    "(RPAML_SERVICE_API_KEY is the pipeline client's plain key; the service never reads it.)"
)


def key_ring(settings: ServiceSettings) -> KeyRing:
    """Every accepted API key: the hashed entries of the settings and of the keys file.

    Raises
    ------
    ConfigurationError
        If an entry or the file is malformed, or no key is configured at all (the
        message names both settings and how to make a key).
    """
    keys: list[ApiKey] = [
        parse_entry(entry, where=f"RPAML_SERVICE_API_KEYS[{index}]")
        for index, entry in enumerate(settings.api_keys)
    ]
    if settings.api_keys_file is not None:
        from_file = read_keys_file(settings.api_keys_file)
        if not from_file and not keys:
            raise ConfigurationError(f"{settings.api_keys_file} holds no key; {NO_KEYS_HELP}")
        keys.extend(from_file)
    if not keys:
        raise ConfigurationError(NO_KEYS_HELP)
    return KeyRing(keys)


def new_key_line(name: str, scopes: str) -> tuple[str, str]:
    """A new random key and the keys-file line that accepts it."""
    key = secrets.token_urlsafe(32)
    line = f"{name}:{scopes}:{digest(key)}"
    parse_entry(line, where="new key")
    return key, line


def main(argv: list[str] | None = None) -> int:
    """``python -m rpaml_service.auth NAME SCOPES``: print a new key and its file line."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m rpaml_service.auth NAME score|admin|admin,score", file=sys.stderr)
        return 2
    try:
        key, line = new_key_line(args[0], args[1])
    except ConfigurationError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"RPAML_SERVICE_KEY={key}")
    print(f"KEYS_FILE_LINE={line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
