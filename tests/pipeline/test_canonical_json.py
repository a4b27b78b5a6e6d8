"""The fast canonical JSON writes exactly what the standard library writes, so every
content, raw and configuration hash stays the same whichever path produced it."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from rpaml_pipeline.canonical import canonical_json, dump_json, load_json, sha256_hex, to_jsonable


def reference(value: Any) -> str:
    return json.dumps(to_jsonable(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=600, deadline=None)
@given(values)
def test_canonical_json_matches_the_standard_library(value: Any) -> None:
    assert canonical_json(value) == reference(value)


def test_floats_where_orjson_writes_differently_take_the_standard_form() -> None:
    for value in (1e-05, -7.7e-09, 0.00001234, 100.00001, 1e16, 1.5e300, 2**65, {"k": 3e-7}):
        assert canonical_json(value) == reference(value)


def test_text_that_looks_like_a_small_float_is_written_unchanged() -> None:
    payload = {"channel": "e-mail", "note": "ratio 0.00001 and 1e-5"}
    assert canonical_json(payload) == reference(payload)
    assert sha256_hex(payload) == sha256_hex(dict(reversed(payload.items())))


def test_an_integer_too_long_to_write_is_stored_as_a_note_of_its_size() -> None:
    # Junk parsed as a number: beyond the interpreter's 4,300-digit limit for int-to-text.
    huge = 1 << 20_000
    text = dump_json({"amount": huge, "nested": [1, {"n": huge}], "wide": 2**70})
    stored = load_json(text)
    assert stored["amount"] == "<integer of 20001 bits, too long to write>"
    assert stored["nested"] == [1, {"n": "<integer of 20001 bits, too long to write>"}]
    # Integers that can be written stay exact, beyond 64 bits too.
    assert stored["wide"] == 2**70
