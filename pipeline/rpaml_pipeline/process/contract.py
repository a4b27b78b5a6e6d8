"""The data contract section of a process file: fields, their types and constraints, and
cross-field rules."""

from __future__ import annotations

import re

from pydantic import Field, field_validator, model_validator

from rpaml_pipeline.process.section_base import FieldName, FieldType, Section

# --- contract ---------------------------------------------------------------------------


class FieldSpec(Section):
    """One field of the data contract, checked on the *cleaned* (typed) value."""

    type: FieldType
    required: bool = False
    description: str | None = None
    pattern: str | None = None
    """Regular expression the whole (string) value must match."""
    pattern_hint: str | None = None
    """How a person would describe the pattern (``POL-NNNNNN``); used in messages."""
    min: float | None = None
    max: float | None = None
    values: list[str] | None = None
    """Allowed values of a ``category`` field."""
    formats: list[str] | None = None
    """``strptime`` formats a ``date`` field may still be written in after cleaning."""

    @field_validator("pattern")
    @classmethod
    def _pattern_compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression ({exc})") from exc
        return value

    @model_validator(mode="after")
    def _options_fit_type(self) -> FieldSpec:
        if self.type == "category" and not self.values:
            raise ValueError("a category field needs 'values' (the allowed categories)")
        if self.values is not None and self.type != "category":
            raise ValueError("'values' is only allowed on category fields")
        if self.formats is not None and self.type != "date":
            raise ValueError("'formats' is only allowed on date fields")
        if self.pattern is not None and self.type not in ("string", "category"):
            raise ValueError("'pattern' is only allowed on string and category fields")
        numeric = ("integer", "number", "money")
        if (self.min is not None or self.max is not None) and self.type not in numeric:
            raise ValueError("'min'/'max' are only allowed on integer, number and money fields")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"'min' ({self.min}) is greater than 'max' ({self.max})")
        return self


class OrderedRule(Section):
    """A cross-field rule: the fields' values (dates or numbers) never decrease in the order
    listed (``[policy_start_date, incident_date, reported_date]``: the policy starts on or
    before the incident, which is on or before the report). Checked on records whose fields
    all have a typed value; a record breaking it names both fields of the failing pair."""

    name: str = Field(min_length=1)
    ordered: list[FieldName] = Field(min_length=2)
    description: str | None = None
    """What the rule means to a person, added to the quarantine reason."""


class Contract(Section):
    """The data contract: which fields a record has, their types and constraints."""

    natural_key: list[FieldName] = Field(min_length=1)
    fields: dict[FieldName, FieldSpec] = Field(min_length=1)
    rules: list[OrderedRule] = Field(default_factory=list)
    """Cross-field rules, checked after every field's own checks."""

    @model_validator(mode="after")
    def _rules_name_comparable_fields(self) -> Contract:
        for rule in self.rules:
            for name in rule.ordered:
                spec = self.fields.get(name)
                if spec is None:
                    raise ValueError(f"rule {rule.name!r} names {name!r}, not a contract field")
                if spec.type not in ("date", "integer", "number", "money"):
                    raise ValueError(
                        f"rule {rule.name!r}: {name!r} is a {spec.type} field; an ordered "
                        "rule compares dates or numbers"
                    )
            kinds = {self.fields[name].type == "date" for name in rule.ordered}
            if len(kinds) > 1:
                raise ValueError(f"rule {rule.name!r} mixes date and number fields")
        return self
