"""Portal credentials from the environment or a ``KEY=value`` secrets file (read by
:func:`rpaml_pipeline.secrets_file.parse_secrets`, the one parser of that file).

The password is wrapped in Robot Framework's ``Secret`` so that it cannot show up
in a log even if the object itself is logged by accident.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from robot.api.types import Secret

from rpaml_pipeline.errors import SecretsFileError
from rpaml_pipeline.secrets_file import parse_secrets
from rpaml_robots.errors import ConfigurationError

USERNAME_KEY = "RPAML_PORTAL_USERNAME"
PASSWORD_KEY = "RPAML_PORTAL_PASSWORD"
SECRETS_FILE_KEY = "RPAML_SECRETS_FILE"


@dataclass(frozen=True)
class PortalCredentials:
    """A user name and its password; ``repr`` never shows the password."""

    username: str
    password: Secret = field(repr=False)


def load_credentials(environ: Mapping[str, str] | None = None) -> PortalCredentials:
    """Read the portal credentials; the environment wins over the secrets file."""
    env = os.environ if environ is None else environ
    file_values: dict[str, str] = {}
    secrets_file = env.get(SECRETS_FILE_KEY, "").strip()
    if secrets_file:
        path = Path(secrets_file).expanduser()
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as error:
            raise ConfigurationError(
                f"{SECRETS_FILE_KEY} names {path}, which cannot be read: {error.strerror}"
            ) from None
        try:
            file_values = parse_secrets(text, source=str(path))
        except SecretsFileError as error:  # one error family for the robot's caller
            raise ConfigurationError(str(error)) from None
    username = env.get(USERNAME_KEY) or file_values.get(USERNAME_KEY, "")
    password = env.get(PASSWORD_KEY) or file_values.get(PASSWORD_KEY, "")
    missing = [
        key for key, value in ((USERNAME_KEY, username), (PASSWORD_KEY, password)) if not value
    ]
    if missing:
        raise ConfigurationError(
            "Portal credentials are missing: set "
            + " and ".join(missing)
            + f" in the environment or in the file named by {SECRETS_FILE_KEY}"
        )
    return PortalCredentials(username=username, password=Secret(password))
