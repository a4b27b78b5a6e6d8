"""Cleaning: turn the raw strings a robot read off a screen into typed values.

Pure function, ordered rules. A value a parse rule cannot read is not dropped and does not
raise: it becomes :class:`Unparsed` (keeping the raw text and what was expected) so that
validation, which runs next, can report it in words and the record is quarantined.

Why cleaning comes before validation: the contract speaks of typed values ("amount is money
between 0 and 10,000,000", "channel is one of web, phone..."), while screens show
``"USD 12,345.67"`` and ``" Web "``. Validating raw text would either reject every messy
but correct value or need every rule written twice. So cleaning normalises and parses,
validation checks the result against the contract and cites the raw value when it fails.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from rpaml_pipeline.process.definition import (
    CleaningRule,
    DefaultRule,
    LowerRule,
    MapRule,
    ParseBoolRule,
    ParseDateRule,
    ParseIntRule,
    ParseMoneyRule,
    ParseNumberRule,
    TrimRule,
    UpperRule,
)
from rpaml_pipeline.steps.identity import StepInfo, config_hash

NAME = "clean"
VERSION = "1.0.0"

_WHITESPACE = re.compile(r"\s+")
_SAMPLE_DATE = dt.date(2026, 3, 14)
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)


@dataclass(frozen=True)
class Unparsed:
    """A value a parse rule could not read: the raw text and what was expected."""

    raw: Any
    expected: str
    """E.g. ``an amount of money``; completes "<raw> is not ..."."""
    rule: str


@dataclass(frozen=True)
class CleaningNote:
    """Something cleaning did that a person may want to know (a mapping, a default, a
    value it could not parse)."""

    field: str
    rule: str
    message: str
    rule_name: str | None = None
    """The rule's ``name`` in the process file, when it has one."""

    def __str__(self) -> str:
        """``field: message (rule <name or kind>)``, as recorded in lineage."""
        return f"{self.field}: {self.message} (rule {self.rule_name or self.rule})"


def clean_step(rules: Sequence[CleaningRule]) -> StepInfo:
    """The step identity for these rules."""
    return StepInfo(NAME, VERSION, config_hash(list(rules)))


def clean(
    raw: Mapping[str, Any], rules: Sequence[CleaningRule]
) -> tuple[dict[str, Any], list[CleaningNote]]:
    """Apply ``rules`` in order to a copy of ``raw``; return the cleaned record and notes."""
    values: dict[str, Any] = dict(raw)
    notes: list[CleaningNote] = []
    for rule in rules:
        names = _targets(rule.fields, values)
        for name in names:
            before = values.get(name)
            if isinstance(before, Unparsed):
                continue  # already failed; later rules must not hide that
            after = _apply(rule, before)
            if isinstance(rule, DefaultRule):
                if before is None and after is not None:
                    notes.append(
                        CleaningNote(name, rule.rule, f"missing, set to {after!r}", rule.name)
                    )
                if name not in values and after is None:
                    continue
            elif isinstance(rule, MapRule) and after != before:
                notes.append(
                    CleaningNote(name, rule.rule, f"{before!r} mapped to {after!r}", rule.name)
                )
            if isinstance(after, Unparsed):
                notes.append(
                    CleaningNote(name, rule.rule, f"{before!r} is not {after.expected}", rule.name)
                )
            if name in values or after is not None:
                values[name] = after
    return values, notes


def _targets(fields: Sequence[str], values: Mapping[str, Any]) -> list[str]:
    if "*" in fields:
        return [name for name, value in values.items() if isinstance(value, str)]
    return list(fields)


def _apply(rule: CleaningRule, value: Any) -> Any:
    if isinstance(rule, TrimRule):
        if not isinstance(value, str):
            return value
        trimmed = _WHITESPACE.sub(" ", value).strip()
        return None if (rule.empty_as_missing and not trimmed) else trimmed
    if isinstance(rule, LowerRule):
        return value.lower() if isinstance(value, str) else value
    if isinstance(rule, UpperRule):
        return value.upper() if isinstance(value, str) else value
    if isinstance(rule, MapRule):
        if isinstance(value, str) and value in rule.mapping:
            return rule.mapping[value]
        return value
    if isinstance(rule, DefaultRule):
        return rule.value if value is None else value
    if value is None or (isinstance(value, str) and not value.strip()):
        return None  # missing stays missing; "required" is validation's business
    if isinstance(rule, ParseMoneyRule):
        return parse_money(value, rule)
    if isinstance(rule, ParseDateRule):
        return parse_date(value, rule.formats)
    if isinstance(rule, ParseIntRule):
        return parse_int(value)
    if isinstance(rule, ParseNumberRule):
        return parse_number(value)
    if isinstance(rule, ParseBoolRule):
        return parse_bool(value, rule)
    raise AssertionError(f"unhandled cleaning rule {rule!r}")  # pragma: no cover


def parse_money(value: Any, rule: ParseMoneyRule) -> float | Unparsed:
    """``$12,345.67`` / ``USD 12,345.67`` / ``12345.67`` -> ``12345.67``."""
    expected = "an amount of money"
    if isinstance(value, bool):
        return Unparsed(value, expected, rule.rule)
    if isinstance(value, int | float):
        return float(value)
    if not isinstance(value, str):
        return Unparsed(value, expected, rule.rule)
    text = value.strip()
    negative = text.startswith("-")
    text = text.removeprefix("-").strip()
    for marker in sorted(rule.currency_markers, key=len, reverse=True):
        if text.upper().startswith(marker.upper()):
            text = text[len(marker) :].strip()
            break
        if text.upper().endswith(marker.upper()):
            text = text[: -len(marker)].strip()
            break
    grouped, plain = _money_patterns(rule.thousands_separator, rule.decimal_separator)
    if not (grouped.match(text) or plain.match(text)):
        return Unparsed(value, expected, rule.rule)
    text = text.replace(rule.thousands_separator, "").replace(rule.decimal_separator, ".")
    try:
        amount = Decimal(text)
    except InvalidOperation:  # pragma: no cover - the regexes above exclude it
        return Unparsed(value, expected, rule.rule)
    return float(-amount if negative else amount)


@functools.lru_cache(maxsize=16)
def _money_patterns(thousands: str, decimal: str) -> tuple[re.Pattern[str], re.Pattern[str]]:
    sep, dec = re.escape(thousands), re.escape(decimal)
    return re.compile(rf"^\d{{1,3}}({sep}\d{{3}})+({dec}\d+)?$"), re.compile(rf"^\d+({dec}\d+)?$")


def parse_date(value: Any, formats: Sequence[str]) -> dt.date | Unparsed:
    """Try each ``strptime`` format in order; the first that reads the whole text wins."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        text = value.strip()
        if formats[0] == "%Y-%m-%d" and _ISO_DATE.fullmatch(text):
            # Same result as strptime for this exact shape, at a fraction of the cost.
            try:
                return dt.date.fromisoformat(text)
            except ValueError:
                pass  # e.g. month 13: strptime below gives the same verdict
        for fmt in formats:
            try:
                return dt.datetime.strptime(text, fmt).date()
            except ValueError:
                continue
    examples = ", ".join(_SAMPLE_DATE.strftime(fmt) for fmt in formats)
    return Unparsed(value, f"a date (written like {examples})", "parse_date")


def parse_int(value: Any) -> int | Unparsed:
    """``"3"``, ``"3.0"``, ``"1,200"`` -> integer; ``"3.5"`` is not a whole number."""
    expected = "a whole number"
    if isinstance(value, bool):
        return Unparsed(value, expected, "parse_int")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else Unparsed(value, expected, "parse_int")
    if isinstance(value, str):
        text = value.strip().replace(",", "")
        if re.fullmatch(r"[+-]?\d+(\.0+)?", text):
            return int(Decimal(text))
    return Unparsed(value, expected, "parse_int")


def parse_number(value: Any) -> float | Unparsed:
    """Decimal text (``"1,234.5"``) -> float."""
    expected = "a number"
    if isinstance(value, bool):
        return Unparsed(value, expected, "parse_number")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        text = value.strip().replace(",", "")
        if re.fullmatch(r"[+-]?(\d+(\.\d*)?|\.\d+)", text):
            return float(Decimal(text))
    return Unparsed(value, expected, "parse_number")


def parse_bool(value: Any, rule: ParseBoolRule) -> bool | Unparsed:
    """yes/no text -> boolean, comparing case-insensitively."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in (item.lower() for item in rule.true_values):
        return True
    if text in (item.lower() for item in rule.false_values):
        return False
    allowed = "/".join(rule.true_values[:1] + rule.false_values[:1])
    return Unparsed(value, f"a yes/no answer ({allowed})", rule.rule)
