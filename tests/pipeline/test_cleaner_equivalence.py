"""The memoised, per-field :class:`Cleaner` gives exactly what applying each cleaning rule
in turn to the whole record gives: same values, same key order, same notes in the same
order, for the claims rules and for random rule lists over random records."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from rpaml_pipeline.process import ProcessDefinition
from rpaml_pipeline.process.definition import CleaningRule, DefaultRule, MapRule
from rpaml_pipeline.steps.clean import Cleaner, CleaningNote, Unparsed, _apply


def rule_loop(
    raw: Mapping[str, Any], rules: Sequence[CleaningRule]
) -> tuple[dict[str, Any], list[CleaningNote]]:
    """The specification: every rule in order over the whole record (rpaml 0.1's clean)."""
    values: dict[str, Any] = dict(raw)
    notes: list[CleaningNote] = []
    for rule in rules:
        if "*" in rule.fields:
            names = [name for name, value in values.items() if isinstance(value, str)]
        else:
            names = list(rule.fields)
        for name in names:
            before = values.get(name)
            if isinstance(before, Unparsed):
                continue
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


def same(cleaner: Cleaner, raw: Mapping[str, Any]) -> None:
    expected = rule_loop(raw, cleaner.rules)
    got = cleaner.clean(raw)
    assert list(got[0].items()) == list(expected[0].items())
    assert got[1] == expected[1]


NAMES = ["a", "b", "c", "amount", "when"]
texts = st.sampled_from(
    [
        " x ",
        "X",
        "",
        "  ",
        "e-mail",
        "$1,200.50",
        "12,3x4",
        "3",
        "3.5",
        "yes",
        "No",
        "2026-03-14",
        "14/03/2026",
        "Mar 14, 2026",
        "31/02/2026",
        "web",
    ]
) | st.text(max_size=8)
values = st.none() | texts | st.integers(-5, 5) | st.floats(allow_nan=False) | st.booleans()
records = st.dictionaries(st.sampled_from(NAMES) | st.text(max_size=3), values, max_size=6)
fields = st.lists(st.sampled_from(NAMES), min_size=1, max_size=3) | st.just(["*"])
rule_dicts = st.one_of(
    st.fixed_dictionaries(
        {"rule": st.just("trim"), "fields": fields, "empty_as_missing": st.booleans()}
    ),
    st.fixed_dictionaries(
        {
            "rule": st.sampled_from(["lower", "upper", "parse_int", "parse_number", "parse_bool"]),
            "fields": fields,
        }
    ),
    st.fixed_dictionaries(
        {
            "rule": st.just("map"),
            "fields": fields,
            "mapping": st.just({"e-mail": "email", "x": "y", "X": None}),
        }
    ),
    st.fixed_dictionaries({"rule": st.just("parse_money"), "fields": fields}),
    st.fixed_dictionaries(
        {
            "rule": st.just("parse_date"),
            "fields": fields,
            "formats": st.just(["%Y-%m-%d", "%d/%m/%Y", "%b %d, %Y"]),
        }
    ),
    st.fixed_dictionaries(
        {
            "rule": st.just("default"),
            "fields": fields,
            "value": st.sampled_from([False, "n/a", 0, " pad "]),
        }
    ),
)
rule_lists = st.lists(rule_dicts, min_size=1, max_size=6).map(
    TypeAdapter(list[CleaningRule]).validate_python
)


@settings(max_examples=400, deadline=None)
@given(rule_lists, st.lists(records, min_size=1, max_size=8))
def test_the_cleaner_is_the_rule_loop(
    rules: list[CleaningRule], raws: list[dict[str, Any]]
) -> None:
    cleaner = Cleaner(rules)
    for raw in raws + raws:  # the second pass is answered from memory
        same(cleaner, raw)


@settings(max_examples=200, deadline=None)
@given(st.lists(records, min_size=1, max_size=10))
def test_the_claims_cleaner_is_the_rule_loop(
    process_def: ProcessDefinition, raws: list[dict[str, Any]]
) -> None:
    cleaner = Cleaner(process_def.cleaning)
    for raw in raws + raws:
        same(cleaner, raw)


def test_a_field_whose_values_never_repeat_stops_being_remembered(
    process_def: ProcessDefinition,
) -> None:
    cleaner = Cleaner(process_def.cleaning)
    for number in range(5_000):
        same(cleaner, {"claim_id": f" CLM-{number:06d} ", "channel": " Web "})
    assert cleaner._memo["claim_id"] is None
    assert len(cleaner._memo["channel"] or {}) == 1
