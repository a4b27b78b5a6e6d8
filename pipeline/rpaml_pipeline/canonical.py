"""Canonical JSON and SHA-256 hashes: the one way rpaml fingerprints content.

Payload content hashes, step configuration hashes and process hashes all use the same
canonical form (sorted keys, no insignificant whitespace, UTF-8), so a hash computed today
can be recomputed from the stored JSON tomorrow.
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json
import math
from collections.abc import Mapping
from typing import Any


def to_jsonable(value: Any) -> Any:
    """Return ``value`` with dates, decimals, sets and tuples turned into JSON types.

    Non-finite floats become the strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"``:
    JSON has no such numbers and PostgreSQL refuses them, while a record holding one must
    still be stored (and then quarantined), never lost.
    """
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, Mapping):
        return {str(key): to_jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(item) for item in value]
    if isinstance(value, set | frozenset):
        return sorted((to_jsonable(item) for item in value), key=repr)
    return str(value)


def canonical_json(value: Any) -> str:
    """Serialise ``value`` deterministically (sorted keys, compact separators)."""
    return json.dumps(to_jsonable(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sha256_hex(value: Any) -> str:
    """SHA-256 (hex) of the canonical JSON of ``value``."""
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()
