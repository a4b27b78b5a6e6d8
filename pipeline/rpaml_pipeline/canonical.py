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
import re
from collections.abc import Mapping
from typing import Any


def to_jsonable(value: Any) -> Any:
    """Return ``value`` with dates, decimals, sets and tuples turned into JSON types.

    Non-finite floats become the strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"``:
    JSON has no such numbers and PostgreSQL refuses them, while a record holding one must
    still be stored (and then quarantined), never lost.

    Text that is not valid Unicode (lone surrogates, e.g. from a mis-decoded file) cannot be
    encoded as UTF-8, hashed or stored: each such code point becomes U+FFFD, the Unicode
    replacement character, which validation reports (see :data:`REPLACEMENT`).
    """
    # Exact-type fast paths first: this runs on every stored value and event detail.
    kind = type(value)
    if kind is str:
        return value if value.isascii() else readable(value)
    if value is None or kind is int or kind is bool:
        return value
    if kind is dict:
        return {
            (key if type(key) is str and key.isascii() else readable(str(key))): to_jsonable(item)
            for key, item in value.items()
        }
    if kind is list:
        return [to_jsonable(item) for item in value]
    if isinstance(value, str):
        return value if value.isascii() else readable(value)
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, Mapping):
        return {readable(str(key)): to_jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(item) for item in value]
    if isinstance(value, set | frozenset):
        return sorted((to_jsonable(item) for item in value), key=repr)
    return str(value)


REPLACEMENT = "\ufffd"
_SURROGATE = re.compile("[\ud800-\udfff]")
"""What :func:`to_jsonable` puts in place of each code point that is not valid Unicode."""


def readable(text: str) -> str:
    """``text`` with every lone surrogate replaced by :data:`REPLACEMENT`."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub(REPLACEMENT, text)
    return text


def canonical_json(value: Any) -> str:
    """Serialise ``value`` deterministically (sorted keys, compact separators)."""
    return json.dumps(to_jsonable(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sha256_hex(value: Any) -> str:
    """SHA-256 (hex) of the canonical JSON of ``value``."""
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()
