"""What identifies a step in a record's lineage: its name, version and configuration hash."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from rpaml_pipeline.canonical import sha256_hex


@dataclass(frozen=True)
class StepInfo:
    """A step as recorded in ``record_events``.

    ``version`` changes whenever the step's code changes what it produces; ``config_hash``
    is the SHA-256 of the rules it was given, so two records processed by the same
    version with different rules can be told apart.
    """

    name: str
    version: str
    config_hash: str


def config_hash(config: Any) -> str:
    """SHA-256 of the canonical JSON of a step's configuration (pydantic models included)."""
    return sha256_hex(_dump(config))


def _dump(config: Any) -> Any:
    if isinstance(config, BaseModel):
        return config.model_dump(mode="json")
    if isinstance(config, list | tuple):
        return [_dump(item) for item in config]
    if isinstance(config, dict):
        return {key: _dump(value) for key, value in config.items()}
    return config
