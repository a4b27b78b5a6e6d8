"""RpamlSettings: environment prefix, derived store URL, paths resolved under the project."""

from __future__ import annotations

from pathlib import Path

import pytest

from rpaml_pipeline.settings import RpamlSettings


def test_defaults_derive_store_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("RPAML_STORE_URL", "RPAML_DATA_DIR", "RPAML_PROJECT_DIR", "RPAML_PROCESS_FILE"):
        monkeypatch.delenv(name, raising=False)
    settings = RpamlSettings()
    assert settings.project_dir == tmp_path.resolve()
    assert settings.data_dir == tmp_path.resolve() / "data"
    assert settings.store_url == f"sqlite:///{tmp_path.resolve() / 'data' / 'rpaml.db'}"
    assert settings.process_file == tmp_path.resolve() / "pipeline/processes/claims_triage.yaml"
    assert settings.lineage_file == settings.data_dir / "lineage" / "events.jsonl"


def test_environment_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RPAML_PROJECT_DIR", str(tmp_path))
    monkeypatch.setenv("RPAML_DATA_DIR", "/srv/rpaml")
    monkeypatch.setenv("RPAML_SERVICE_API_KEY", "s3cret")
    monkeypatch.delenv("RPAML_STORE_URL", raising=False)
    settings = RpamlSettings()
    assert settings.data_dir == Path("/srv/rpaml")
    assert settings.resolved_store_url == "sqlite:////srv/rpaml/rpaml.db"
    assert settings.service_api_key is not None
    assert "s3cret" not in repr(settings)
    monkeypatch.setenv("RPAML_STORE_URL", "postgresql+psycopg://u@db/rpaml")
    assert RpamlSettings().store_url == "postgresql+psycopg://u@db/rpaml"
    env = RpamlSettings().robot_environment()
    assert env["RPAML_STORE_URL"] == "postgresql+psycopg://u@db/rpaml"
    assert "s3cret" not in str(env)
