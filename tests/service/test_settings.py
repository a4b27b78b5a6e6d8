"""Service settings come from RPAML_SERVICE_* variables unless passed explicitly."""

from __future__ import annotations

from pathlib import Path

import pytest

from rpaml_service.settings import ServiceSettings, get_settings


def test_settings_read_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RPAML_SERVICE_REGISTRY_DIR", str(tmp_path))
    monkeypatch.setenv("RPAML_SERVICE_MODELS", '["claims_fraud"]')
    monkeypatch.setenv("RPAML_SERVICE_MAX_BATCH", "50")
    monkeypatch.setenv("RPAML_SERVICE_API_KEYS", '["robot:score:' + "0" * 64 + '"]')
    monkeypatch.setenv("RPAML_SERVICE_API_KEYS_FILE", str(tmp_path / "keys.env"))

    settings = ServiceSettings()

    assert settings.registry_dir == tmp_path
    assert settings.models == ["claims_fraud"]
    assert settings.max_batch == 50
    assert settings.api_keys == ["robot:score:" + "0" * 64]
    assert settings.api_keys_file == tmp_path / "keys.env"


def test_get_settings_is_cached(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RPAML_SERVICE_REGISTRY_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        assert get_settings() is get_settings()
        assert get_settings().registry_dir == tmp_path
    finally:
        get_settings.cache_clear()
