"""Portal credentials: environment first, then the KEY=value secrets file."""

from __future__ import annotations

from pathlib import Path

import pytest

from rpaml_robots.credentials import load_credentials
from rpaml_robots.errors import ConfigurationError


def test_a_shell_style_secrets_file_is_read(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets.env"
    secrets.write_text(
        "# local credentials\n\nRPAML_PORTAL_USERNAME=clerk\n"
        "export RPAML_PORTAL_PASSWORD='s3cr=t'\n"
    )
    credentials = load_credentials({"RPAML_SECRETS_FILE": str(secrets)})
    assert credentials.username == "clerk"
    assert credentials.password.value == "s3cr=t"


def test_a_malformed_secrets_file_names_the_line_but_not_its_content(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets.env"
    secrets.write_text("RPAML_PORTAL_USERNAME=clerk\nhunter2\n")
    with pytest.raises(ConfigurationError) as caught:
        load_credentials({"RPAML_SECRETS_FILE": str(secrets)})
    message = str(caught.value)
    assert f"{secrets}, line 2" in message
    assert "hunter2" not in message


def test_environment_wins_over_the_secrets_file(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets.env"
    secrets.write_text("RPAML_PORTAL_USERNAME=file-user\nRPAML_PORTAL_PASSWORD=file-pw\n")
    env = {"RPAML_SECRETS_FILE": str(secrets), "RPAML_PORTAL_PASSWORD": "env-pw"}
    credentials = load_credentials(env)
    assert credentials.username == "file-user"
    assert credentials.password.value == "env-pw"


def test_the_password_never_shows_in_repr_or_str() -> None:
    credentials = load_credentials(
        {"RPAML_PORTAL_USERNAME": "clerk", "RPAML_PORTAL_PASSWORD": "hunter2"}
    )
    assert "hunter2" not in repr(credentials)
    assert "hunter2" not in str(credentials)
    assert "hunter2" not in str(credentials.password)


def test_missing_credentials_name_the_variables() -> None:
    with pytest.raises(ConfigurationError, match="RPAML_PORTAL_PASSWORD"):
        load_credentials({"RPAML_PORTAL_USERNAME": "clerk"})


def test_unreadable_secrets_file_is_a_configuration_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.env"
    with pytest.raises(ConfigurationError, match=r"RPAML_SECRETS_FILE names .*nope\.env"):
        load_credentials({"RPAML_SECRETS_FILE": str(missing)})
