"""Content and raw hashes of captured payloads, one record at a time or a column at a time.

``raw_hash`` is the SHA-256 of the payload's canonical JSON exactly as captured;
``content_hash`` the same after every string's surrounding whitespace is stripped and its
inner whitespace runs collapsed (screens re-render the same claim with different padding,
which is not a change). Both use :mod:`rpaml_pipeline.canonical`.

:func:`frame_hashes` computes both for a whole batch of text payloads inside polars (the
canonical JSON of text and nulls is exactly what polars' ``json_encode`` writes, and the
whitespace class below is exactly Python's ``str.split``); :func:`payload_hashes` is the
per-record form every other payload takes. A test checks the two agree.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import Any, cast

import polars as pl
import polars_hash  # noqa: F401 - registers the ``chash`` expression namespace

from rpaml_pipeline.canonical import sha256_of_jsonable, to_jsonable

# Exactly the code points ``str.split()`` splits on (str.isspace), as a regex class: Rust's
# ``\s`` lacks U+001C..U+001F, so the class is spelled out.
_WHITESPACE = "".join(
    f"\\x{{{code:x}}}" for code in range(sys.maxunicode + 1) if chr(code).isspace()
)
WHITESPACE_RUN = f"[{_WHITESPACE}]+"


def content_hash(payload: Mapping[str, Any]) -> str:
    """Hash of the payload's content, insensitive to whitespace padding in its strings."""
    return sha256_of_jsonable(_normalise(to_jsonable(payload)))


def raw_hash(payload: Mapping[str, Any]) -> str:
    """Hash of the payload exactly as captured."""
    return sha256_of_jsonable(to_jsonable(payload))


def payload_hashes(jsonable: Mapping[str, Any]) -> tuple[str, str]:
    """``(content hash, raw hash)`` of a payload :func:`to_jsonable` already converted."""
    return sha256_of_jsonable(_normalise(jsonable)), sha256_of_jsonable(jsonable)


def _normalise(value: Any) -> Any:
    if isinstance(value, str):
        # str.split and the class above agree on every code point.
        return " ".join(value.split())
    if isinstance(value, Mapping):
        return {str(k): _normalise(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_normalise(v) for v in value]
    return value


def sha256(text: pl.Expr) -> pl.Expr:
    """The SHA-256 (hex) of each value of a text expression (polars-hash)."""
    hashed: pl.Expr = cast(Any, text).chash.sha2_256()
    return hashed


def normalised(column: pl.Expr) -> pl.Expr:
    """``" ".join(text.split())`` of every value of a text column."""
    return column.str.replace_all(WHITESPACE_RUN, " ").str.strip_chars(" ")


def frame_hashes(frame: pl.DataFrame) -> tuple[list[str], list[str]] | None:
    """``(content hashes, raw hashes)`` of payloads held as text columns (one payload per
    row, every key present), or None when a column holds anything but text or nulls."""
    if frame.width == 0 or not all(
        dtype in (pl.String, pl.Null) for dtype in frame.schema.values()
    ):
        return None
    names = sorted(frame.columns)  # canonical JSON sorts keys by code point, as sorted()
    text = [pl.col(name).cast(pl.String) for name in names]
    normal = [normalised(column).alias(name) for column, name in zip(text, names, strict=True)]
    exact = [column.alias(name) for column, name in zip(text, names, strict=True)]
    hashed = frame.select(
        sha256(pl.struct(normal).struct.json_encode()).alias("content"),
        sha256(pl.struct(exact).struct.json_encode()).alias("raw"),
    )
    return hashed.get_column("content").to_list(), hashed.get_column("raw").to_list()


def text_frame(payloads: Sequence[Mapping[str, Any]]) -> pl.DataFrame | None:
    """The payloads as a frame of text columns (same keys in the same order, every value
    text or None), or None when they are not all like that."""
    if not payloads:
        return None
    keys = list(payloads[0])
    for payload in payloads:
        if list(payload) != keys:
            return None
        for value in payload.values():
            if value is not None and type(value) is not str:
                return None
    try:
        return pl.DataFrame(
            {key: [payload[key] for payload in payloads] for key in keys},
            schema=dict.fromkeys(keys, pl.String),
        )
    except (UnicodeEncodeError, pl.exceptions.PolarsError):
        return None  # text that is not valid Unicode: the per-record path replaces it
