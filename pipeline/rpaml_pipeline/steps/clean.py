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
    """Apply ``rules`` in order to a copy of ``raw``; return the cleaned record and notes.

    For many records, build one :class:`Cleaner` and call :meth:`Cleaner.clean`: it
    remembers what each field's values cleaned to.
    """
    return Cleaner(rules).clean(raw)


_Step = tuple[int, int, CleaningRule]
"""A rule applied to one field: the rule's index, the field's position in the rule's
``fields`` (-1 for ``"*"``: the field's position in the record) and the rule."""
_Note = tuple[int, int, CleaningNote]
_Outcome = tuple[bool, Any, tuple[_Note, ...], tuple[int, int] | None]
"""A field's fold: present after cleaning, its value, its notes, and (for a field cleaning
added) the rule index and position at which it was added."""

_MEMO_PROBE = 2_000
"""Lookups after which a field whose values rarely repeat (an id) stops being memoised."""
_MEMO_MIN_HIT_RATE = 0.5
_MEMO_MAX_ENTRIES = 50_000
"""Per field: bounds memory whatever the input."""


class Cleaner:
    """The cleaning rules of a process, compiled per field and memoised.

    The rules apply to each field independently: what a field becomes depends only on the
    rules naming it (or ``"*"``), its value and whether it is present. So a record is
    cleaned field by field, and a field's result for a value is remembered: real data
    repeats its dates, amounts and categories, so a chunk of claims costs a dictionary
    lookup per field instead of a parse. A field whose values do not repeat (an id) stops
    being remembered after :data:`_MEMO_PROBE` lookups. The values, the notes and their
    order are exactly those of applying each rule in turn to the whole record (a test
    checks this against that loop).
    """

    def __init__(self, rules: Sequence[CleaningRule]) -> None:
        self.rules = list(rules)
        self._star: list[_Step] = [
            (index, -1, rule) for index, rule in enumerate(self.rules) if "*" in rule.fields
        ]
        named: dict[str, list[_Step]] = {}
        for index, rule in enumerate(self.rules):
            if "*" not in rule.fields:
                for position, name in enumerate(rule.fields):
                    named.setdefault(name, []).append((index, position, rule))
        self._named = named
        self._plans: dict[str, list[_Step]] = {}
        # Fields the rules name that a record may lack: cleaning may add them (defaults).
        self._absent = {name: self._fold(name, False, None) for name in named}
        self._memo: dict[str, dict[tuple[type, Any], _Outcome] | None] = {}
        self._lookups: dict[str, list[int]] = {}

    def clean(self, raw: Mapping[str, Any]) -> tuple[dict[str, Any], list[CleaningNote]]:
        """Clean one record (see :func:`clean`)."""
        values: dict[str, Any] = {}
        notes: list[tuple[int, int, int, CleaningNote]] = []
        for position, (name, value) in enumerate(raw.items()):
            present, after, field_notes, _ = self._outcome(name, value)
            if present:
                values[name] = after
            for index, at, note in field_notes:
                notes.append((index, position if at < 0 else at, len(notes), note))
        added = sorted(
            (outcome[3], name, outcome)
            for name, outcome in self._absent.items()
            if name not in raw and outcome[3] is not None
        )
        # Keys a rule added come after the record's own, in the order the rules added them.
        for offset, (_, name, (_, after, field_notes, _)) in enumerate(added):
            values[name] = after
            for index, at, note in field_notes:
                notes.append((index, len(raw) + offset if at < 0 else at, len(notes), note))
        notes.sort(key=lambda item: item[:3])
        return values, [note for *_, note in notes]

    def _outcome(self, name: str, value: Any) -> _Outcome:
        kind = type(value)
        if not (kind is str or kind is int or kind is float or value is None):
            return self._fold(name, True, value)  # unhashable or unusual: not remembered
        memo = self._memo.get(name, {})
        if memo is None:
            return self._fold(name, True, value)
        if name not in self._memo:
            self._memo[name] = memo
            self._lookups[name] = [0, 0]
        counts = self._lookups[name]
        counts[0] += 1
        found = memo.get((kind, value))
        if found is not None:
            counts[1] += 1
            return found
        found = self._fold(name, True, value)
        if counts[0] >= _MEMO_PROBE and counts[1] < counts[0] * _MEMO_MIN_HIT_RATE:
            self._memo[name] = None  # its values do not repeat: stop remembering them
        elif len(memo) < _MEMO_MAX_ENTRIES:
            memo[(kind, value)] = found
        return found

    def _plan(self, name: str) -> list[_Step]:
        plan = self._plans.get(name)
        if plan is None:
            plan = sorted(self._star + self._named.get(name, []), key=lambda step: step[0])
            self._plans[name] = plan
        return plan

    def _fold(self, name: str, present: bool, value: Any) -> _Outcome:
        """Apply the field's rules in order: the rule loop of :func:`clean`, for one field."""
        notes: list[_Note] = []
        first: tuple[int, int] | None = None
        for index, position, rule in self._plan(name):
            if position < 0 and not (present and isinstance(value, str)):
                continue  # "*" targets the fields that hold text at this point
            before = value if present else None
            if isinstance(before, Unparsed):
                continue  # already failed; later rules must not hide that
            after = _apply(rule, before)
            message = None
            if isinstance(rule, DefaultRule):
                if before is None and after is not None:
                    message = f"missing, set to {after!r}"
                if not present and after is None:
                    continue
            elif isinstance(rule, MapRule) and after != before:
                message = f"{before!r} mapped to {after!r}"
            if message is not None:
                notes.append((index, position, CleaningNote(name, rule.rule, message, rule.name)))
            if isinstance(after, Unparsed):
                message = f"{before!r} is not {after.expected}"
                notes.append((index, position, CleaningNote(name, rule.rule, message, rule.name)))
            if present or after is not None:
                if not present:
                    first = (index, position)
                present, value = True, after
        return present, value, tuple(notes), first


def _apply(rule: CleaningRule, value: Any) -> Any:
    if isinstance(rule, TrimRule):
        if not isinstance(value, str):
            return value
        # Collapse whitespace runs and strip (str.split and re's \s agree on every code
        # point; several times faster than re.sub).
        trimmed = " ".join(value.split())
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
