"""Canonical JSON and SHA-256 hashes: the one way rpaml fingerprints content.

Payload content hashes, step configuration hashes and process hashes all use the same
canonical form (sorted keys, no insignificant whitespace, UTF-8), so a hash computed today
can be recomputed from the stored JSON tomorrow.

The form is the standard library's ``json.dumps(sort_keys=True, separators=(",", ":"),
ensure_ascii=False)``; orjson writes the same bytes about ten times faster (this runs twice
per ingested record), except for floats below 1e-4 (``1e-05`` against ``1e-5`` or
``0.00001``) and what orjson refuses (integers beyond 64 bits): those fall back to the
standard library, so every hash stays what it was.
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

import orjson


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
        out: dict[str, Any] = {}
        for key, item in value.items():
            if type(key) is not str or not key.isascii():
                key = readable(str(key))
            # Scalars inline: a record is mostly flat, and a call per field is most of
            # the cost of this function.
            item_kind = type(item)
            if item_kind is str:
                out[key] = item if item.isascii() else readable(item)
            elif (
                item is None
                or item_kind is int
                or item_kind is bool
                or (item_kind is float and math.isfinite(item))
            ):
                out[key] = item
            else:
                out[key] = to_jsonable(item)
        return out
    if kind is list:
        return [
            item if type(item) is str and item.isascii() else to_jsonable(item) for item in value
        ]
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


_ORJSON_DIFFERS = re.compile(rb"\de-\d(?!\d)|0\.0000")
"""Where orjson's float form may differ from the standard library's: an exponent of one
digit (``1e-5``) or a small float written out (``0.00001``). A string that happens to
match only costs the slower path."""


def canonical_json_bytes(value: Any) -> bytes:
    """The canonical JSON of ``value`` as UTF-8 bytes (see the module docstring)."""
    return _canonical_bytes(to_jsonable(value))


def _canonical_bytes(jsonable: Any) -> bytes:
    try:
        encoded = orjson.dumps(jsonable, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # orjson.JSONEncodeError: e.g. an integer beyond 64 bits
        encoded = None
    if encoded is None or (
        (b"e-" in encoded or b"0.0000" in encoded) and _ORJSON_DIFFERS.search(encoded)
    ):
        text = json.dumps(jsonable, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return text.encode("utf-8")
    return encoded


def canonical_json(value: Any) -> str:
    """Serialise ``value`` deterministically (sorted keys, compact separators)."""
    return canonical_json_bytes(value).decode("utf-8")


def sha256_hex(value: Any) -> str:
    """SHA-256 (hex) of the canonical JSON of ``value``."""
    return hashlib.sha256(canonical_json_bytes(value)).hexdigest()


def sha256_of_jsonable(value: Any) -> str:
    """:func:`sha256_hex` of a value :func:`to_jsonable` already returned (it would return
    it unchanged): saves walking a record's payload once more per hash."""
    return hashlib.sha256(_canonical_bytes(value)).hexdigest()


_LONG_INTEGER = re.compile(r"\d{19}")
"""orjson reads integers beyond 64 bits as floats; text with such a digit run is read by the
standard library, which keeps them exact."""


def dump_json(value: Any) -> str:
    """JSON text of ``value`` for storage (the store's JSON columns): orjson, or the
    standard library for what orjson refuses. Not canonical: use :func:`canonical_json`
    for anything that is hashed."""
    try:
        return orjson.dumps(value).decode("utf-8")
    except TypeError:  # orjson.JSONEncodeError: e.g. an integer beyond 64 bits
        try:
            return json.dumps(value)
        except ValueError:
            # An integer beyond the interpreter's limit for integer text (4,300 digits,
            # sys.int_info) cannot be written at all: junk parsed as a number (such a
            # value never passes a contract); it is stored as a note of its size.
            return json.dumps(_writable(value))


def _writable(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        if value.bit_length() > _INT_TEXT_BITS:
            return f"<integer of {value.bit_length()} bits, too long to write>"
        return value
    if isinstance(value, Mapping):
        return {key: _writable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_writable(item) for item in value]
    return value


# Integers of up to this many bits are below the 4,300-digit limit of int-to-text.
_INT_TEXT_BITS = 14_000


def load_json(text: str | bytes) -> Any:
    """Read JSON written by :func:`dump_json` (or by the standard library: ``NaN`` too)."""
    probe = text if isinstance(text, str) else text.decode("utf-8")
    if not _LONG_INTEGER.search(probe):
        try:
            return orjson.loads(probe)
        except orjson.JSONDecodeError:
            pass  # e.g. NaN, which the standard library writes and reads
    return json.loads(probe)
