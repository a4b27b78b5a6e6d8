"""Fixtures of the orchestration tests (defined in orchestration_harness, which the test
modules import their helpers from: a module named conftest is ambiguous across folders)."""

from orchestration_harness import (  # noqa: F401 - pytest finds fixtures by name here
    data_dir,
    make_workers,
    pg_database,
    portal,
    registry_dir,
    secrets,
    service_key,
    service_url,
)
