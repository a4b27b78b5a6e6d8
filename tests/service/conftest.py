"""Fixtures for the scoring service tests: a small real registry trained once per session."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from claims_registry import build_registry
from fastapi.testclient import TestClient
from service_keys import HEADERS, keyed_settings

from rpaml_service.app import create_app


@pytest.fixture(scope="session")
def registry_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's registry (see :func:`claims_registry.build_registry`); read-only."""
    return build_registry(tmp_path_factory.mktemp("registry"))


@pytest.fixture
def registry_copy(registry_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the registry that a test may damage."""
    copy = tmp_path / "registry"
    shutil.copytree(registry_dir, copy)
    return copy


@pytest.fixture(scope="module")
def client(registry_dir: Path) -> Iterator[TestClient]:
    """A started app (lifespan run) serving every champion of the session registry; its
    requests carry a key with both scopes."""
    app = create_app(keyed_settings(registry_dir=registry_dir))
    with TestClient(app, headers=HEADERS) as test_client:
        yield test_client
