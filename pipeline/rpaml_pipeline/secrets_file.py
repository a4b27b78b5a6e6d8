"""The git-ignored ``KEY=value`` secrets file that holds credentials for local runs.

Credentials never live in code, task suites, logs or lineage. On a developer machine
the demo creates this file once with random values (mode 0600); in production the
same keys come from the environment or a secrets manager that writes this file.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Mapping
from pathlib import Path

from rpaml_pipeline.errors import SecretsFileError

SERVICE_KEY = "RPAML_SERVICE_API_KEY"
REVIEW_PASSWORD = "RPAML_REVIEW_PASSWORD"
"""The demo's simulated reviewer's password (the review app stores only its hash)."""
DEMO_SECRET_KEYS = (
    "RPAML_PORTAL_PASSWORD",
    "RPAML_PORTAL_ADMIN_TOKEN",
    "RPAML_PORTAL_SESSION_SECRET",
    SERVICE_KEY,
    REVIEW_PASSWORD,
)


def parse_secrets(text: str, *, source: str = "<secrets>") -> dict[str, str]:
    """Parse ``KEY=value`` lines: blank lines and ``#`` comments are skipped.

    An optional ``export`` prefix and one pair of matching quotes around the value are
    accepted, so a file written for a shell works too. A line without ``=`` is an error
    naming the file and line (never its content: it may hold a secret).

    Raises
    ------
    SecretsFileError
        ``<source>, line <n>: expected KEY=value``.
    """
    values: dict[str, str] = {}
    for number, raw_line in enumerate(text.splitlines(), start=1):
        line = raw_line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :].lstrip()
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not key:
            raise SecretsFileError(f"{source}, line {number}: expected KEY=value")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        values[key] = value
    return values


def read_secrets(path: Path) -> dict[str, str]:
    """The values of the secrets file at ``path`` (see :func:`parse_secrets`)."""
    return parse_secrets(path.read_text(encoding="utf-8"), source=str(path))


def ensure_demo_secrets(path: Path, username: str = "clerk") -> dict[str, str]:
    """Return the demo credentials, creating the file with random values the first time.

    A file that lacks some of the keys (written by an older rpaml) gets random values
    for those appended; values already there are never changed.
    """
    values = read_secrets(path) if path.exists() else {}
    missing = {key: secrets.token_urlsafe(18) for key in DEMO_SECRET_KEYS if key not in values}
    if not path.exists():
        missing = {"RPAML_PORTAL_USERNAME": username, **missing}
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write("# rpaml demo credentials, generated locally; never commit this file\n")
    if missing:
        with path.open("a", encoding="utf-8") as handle:
            handle.writelines(f"{key}={value}\n" for key, value in missing.items())
    return {**values, **missing}


def write_service_keys(data_dir: Path, values: Mapping[str, str]) -> Path:
    """Write the scoring service's keys file for the demo's API key and return its path.

    The service stores only the SHA-256 digest (``name:scopes:sha256``, its documented
    keys-file format); the plain key stays in the secrets file for the client.
    """
    path = data_dir / "service-keys.env"
    digest = hashlib.sha256(values[SERVICE_KEY].encode()).hexdigest()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write("# name:scopes:sha256 of the key (the key itself is in secrets.env)\n")
        handle.write(f"demo:score,admin:{digest}\n")
    return path


def redact(text: str, values: Mapping[str, str]) -> str:
    """Replace every secret value that occurs in ``text`` by ``***``."""
    for key, value in values.items():
        if value and key != "RPAML_PORTAL_USERNAME":
            text = text.replace(value, "***")
    return text
