"""How an incoming row becomes a payload, whoever brings it: a robot reading a screen or
an export, an inbox file, a query, an HTTP answer, a stream message.

One set of rules, so the same spreadsheet staged by a robot or dropped in the inbox gives
the same payload, and therefore the same content and raw hashes:

- **Header -> field name.** A header the caller knows the field of (the application's
  label, e.g. ``"Policy No."`` -> ``policy_number``) is matched ignoring case and runs of
  whitespace; any other becomes snake_case (``"Adjuster Name"`` -> ``adjuster_name``,
  ``"claimId"`` -> ``claim_id``), so a new column still arrives, under a name one can
  predict.
- **Cell -> raw text, "values as shown".** Cleaning is the pipeline's job, and the raw
  hash must describe what was seen: text is kept as it reads, less surrounding
  whitespace (``"$12,345.67"``, ``"14/03/2026"``); a typed cell reads as a person sees it
  (``34.0`` -> ``"34"``, a midnight datetime -> ``"2026-03-14"``, ``True`` -> ``"true"``);
  nested structures (JSON sources) stay structures, so validation can say what is wrong
  with them. These are the robots' rules since the first record was staged: the hashes
  of robot-staged records do not change.
- **An empty cell is an absent field.** ``None``, ``""`` and whitespace alone leave the
  field out of the payload, so "not shown" and "shown blank" are one thing, and
  validation reports a required one as missing.
- **Natural key.** The key fields' text joined by ``|``; no key when one is absent.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from typing import Any

from rpaml_pipeline.canonical import to_jsonable

_NOT_WORD = re.compile(r"[^0-9a-zA-Z]+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def snake_case(header: str) -> str:
    """``"Claim ID"`` / ``"claimId"`` / ``"claim-id"`` / ``"Policy No."`` -> ``claim_id`` /
    ``claim_id`` / ``claim_id`` / ``policy_no``."""
    spaced = _CAMEL.sub("_", str(header).strip())
    return _NOT_WORD.sub("_", spaced).strip("_").lower()


def field_name(header: object, labels: Mapping[str, str] | None = None) -> str:
    """The field name of a column: its field in ``labels`` ({label shown: field}),
    matched ignoring case and runs of whitespace, else the header in snake_case."""
    cleaned = " ".join(str(header).split())
    if labels:
        wanted = cleaned.lower()
        for label, name in labels.items():
            if " ".join(label.split()).lower() == wanted:
                return name
    return snake_case(cleaned)


def raw_value(value: object) -> Any:
    """A cell's value as it is shown: text, a nested structure, or None when the cell is
    empty (the field is then left out)."""
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0, 0) and value.tzinfo is None:
            return value.date().isoformat()  # spreadsheets hold dates as midnight datetimes
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Mapping | list | tuple | set):
        return to_jsonable(value)
    return str(value).strip() or None


def normalise_row(
    row: Mapping[Any, object], labels: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """A row's payload: field names for its headers (see :func:`field_name`), values as
    shown, empty cells and nameless columns left out. When two headers name one field
    the later one wins."""
    payload: dict[str, Any] = {}
    for header, value in row.items():
        name = field_name(header, labels)
        shown = raw_value(value)
        if name and shown is not None:
            payload[name] = shown
    return payload


def natural_key_of(payload: Mapping[str, Any], key_fields: Sequence[str]) -> str:
    """The natural key: the key fields' text joined by ``|`` ("" when one is absent or
    not text, and the row then cannot be staged)."""
    values = [payload.get(name) for name in key_fields]
    if not all(isinstance(value, str) and value.strip() for value in values):
        return ""
    return "|".join(str(value).strip() for value in values)
