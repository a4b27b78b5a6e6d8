"""What validation says about one failing field (or pair of fields) of a record."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FieldIssue:
    """One failing field: which rule, which value, and the sentence to show a person."""

    field: str
    rule: str
    """``required``, ``type``, ``encoding``, ``pattern``, ``values``, ``min``, ``max`` (or
    ``drift``, added by the runner; ``order`` for a cross-field rule, whose ``field`` names
    both fields)."""
    value: Any
    """The raw value as captured (the cleaned one when the raw is unknown)."""
    message: str
    """``<field>: "<raw>" <what is wrong>``."""
    summary: str
    """The message without the value, for counting reasons across records."""
