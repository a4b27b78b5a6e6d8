"""The typed model of a process file (one business process, one YAML file).

Every section is a pydantic model with ``extra="forbid"`` (an unknown key is an error,
never silently ignored) and ``strict=True`` (``"12"`` is not an integer; YAML already gives
numbers and booleans their types). Cross-section references (a cleaning rule naming a field
that the contract does not define, a model feature no transform produces...) are checked
by :func:`rpaml_pipeline.process.loader.reference_issues` so each can be reported with its
own key path.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

# The sections other modules hold, importable from here as before (the public model).
from rpaml_pipeline.process.contract import Contract, FieldSpec, OrderedRule
from rpaml_pipeline.process.decision_spec import (
    CandidateSpec,
    PolicySpec,
    RetrainSpec,
    SelectionSpec,
    ShadowSpec,
)
from rpaml_pipeline.process.delivery_targets import (
    DeliverableState,
    DeliveryTarget,
    ParquetTarget,
    ReportTarget,
    WarehouseTarget,
    WebhookTarget,
)
from rpaml_pipeline.process.monitoring_section import MonitoringSpec
from rpaml_pipeline.process.quality_sections import DriftSpec, GateSpec, QualitySpec
from rpaml_pipeline.process.review_section import ReviewChoice, ReviewSpec
from rpaml_pipeline.process.section_base import (
    FeatureKind,
    FieldName,
    FieldType,
    Scalar,
    Section,
)
from rpaml_pipeline.process.sources import (
    HttpSource,
    InboxSource,
    NatsSource,
    ObjectStoreSource,
    RabbitMqSource,
    RedisStreamSource,
    SourceSpec,
    SqlSource,
)

_CRON_FIELD = re.compile(r"^[0-9A-Za-z*/,\-?LW#]+$")

# --- cleaning ---------------------------------------------------------------------------


class _Rule(Section):
    name: str | None = None
    """Optional human name of the rule, shown in cleaning notes."""
    fields: list[str] = Field(min_length=1)
    """Fields the rule applies to; ``"*"`` means every string field of the payload."""


class TrimRule(_Rule):
    """Strip surrounding whitespace and collapse inner runs of whitespace."""

    rule: Literal["trim"]
    empty_as_missing: bool = True
    """An empty string after trimming becomes missing (``None``)."""


class LowerRule(_Rule):
    """Lower-case string values."""

    rule: Literal["lower"]


class UpperRule(_Rule):
    """Upper-case string values."""

    rule: Literal["upper"]


class MapRule(_Rule):
    """Replace values found in ``mapping`` (exact match); other values pass unchanged."""

    rule: Literal["map"]
    mapping: dict[str, Scalar]


class ParseMoneyRule(_Rule):
    """Parse ``$12,345.67``, ``USD 12,345.67``, ``12345.67`` into a number."""

    rule: Literal["parse_money"]
    currency_markers: list[str] = Field(default_factory=lambda: ["$", "USD", "US$"])
    thousands_separator: str = ","
    decimal_separator: str = "."


class ParseDateRule(_Rule):
    """Parse a date trying each ``strptime`` format in order (formats must be explicit)."""

    rule: Literal["parse_date"]
    formats: list[str] = Field(min_length=1)


class ParseIntRule(_Rule):
    """Parse integer text (``"3"``, ``"3.0"``, ``"1,200"``) into an integer."""

    rule: Literal["parse_int"]


class ParseNumberRule(_Rule):
    """Parse decimal text into a number."""

    rule: Literal["parse_number"]


class ParseBoolRule(_Rule):
    """Parse yes/no text into a boolean (case-insensitive)."""

    rule: Literal["parse_bool"]
    true_values: list[str] = Field(default_factory=lambda: ["yes", "y", "true", "1"])
    false_values: list[str] = Field(default_factory=lambda: ["no", "n", "false", "0"])


class DefaultRule(_Rule):
    """Fill a missing (``None`` or absent) field with ``value``."""

    rule: Literal["default"]
    value: Scalar


CleaningRule = Annotated[
    TrimRule
    | LowerRule
    | UpperRule
    | MapRule
    | ParseMoneyRule
    | ParseDateRule
    | ParseIntRule
    | ParseNumberRule
    | ParseBoolRule
    | DefaultRule,
    Field(discriminator="rule"),
]


# --- transform --------------------------------------------------------------------------


class DaysBetween(Section):
    """``name = end - start`` in whole days (both date fields)."""

    op: Literal["days_between"]
    name: FieldName
    start: FieldName
    end: FieldName


class Copy(Section):
    """``name = source`` (a cleaned field used unchanged as a feature)."""

    op: Literal["copy"]
    name: FieldName
    source: FieldName


Derivation = Annotated[DaysBetween | Copy, Field(discriminator="op")]


class TransformSpec(Section):
    """How features are derived from the cleaned record."""

    features: list[Derivation] = Field(min_length=1)


# --- labeling ---------------------------------------------------------------------------


class LabelingSpec(Section):
    """Where a record's known outcome comes from and which label each outcome means."""

    field: FieldName
    labels: dict[str, int] = Field(min_length=1)
    source: str = "outcome"
    """Recorded with every label (e.g. ``portal:closed-claims-export``)."""


ConditionOp = Literal["eq", "ne", "lt", "le", "gt", "ge", "in", "missing", "present"]


class Condition(Section):
    """``<field> <op> <value>`` on a valid record's cleaned fields and features."""

    field: FieldName
    op: ConditionOp
    value: Scalar | list[Scalar] = None

    @model_validator(mode="after")
    def _value_fits_op(self) -> Condition:
        if self.op == "in" and not isinstance(self.value, list):
            raise ValueError("'in' needs a list 'value'")
        if self.op in ("missing", "present") and self.value is not None:
            raise ValueError(f"'{self.op}' takes no 'value'")
        if self.op in ("lt", "le", "gt", "ge") and not isinstance(self.value, int | float):
            raise ValueError(f"'{self.op}' needs a number 'value'")
        return self


class WeakLabelRule(Section):
    """A rule-based (weak) label for a valid record whose outcome is not known yet.

    Recorded with ``label_source = weak:<name>``; the record stays ``validated`` (it is
    still scored) and training, which reads ``labeled`` records, is not fed guesses.
    """

    name: str = Field(min_length=1)
    label: int
    when: list[Condition] = Field(min_length=1)
    """Every condition must hold; the first rule (in file order) that matches wins."""


# --- enrichment -------------------------------------------------------------------------


class EnrichmentSpec(Section):
    """Fields a robot looks up for each record in another application (``Store.add_enrichment``).

    The runner merges the newest enrichment's ``fields`` (every payload field when the list
    is empty) over the record's raw fields before cleaning; the raw record is not changed.
    """

    robot: str = Field(min_length=1)
    """The robot task suite that captures the enrichment (``robots/tasks/<robot>.robot``)."""
    required: bool = True
    """A collected record without an enrichment waits (stays ``collected``) for the robot."""
    fields: list[FieldName] = Field(default_factory=list)


# --- model and policy -------------------------------------------------------------------


class ModelFeature(Section):
    """One model input; categorical features list their categories."""

    name: FieldName
    kind: FeatureKind
    categories: list[str] | None = None

    @model_validator(mode="after")
    def _categories_fit_kind(self) -> ModelFeature:
        if self.kind == "categorical" and not self.categories:
            raise ValueError("a categorical feature needs 'categories'")
        if self.kind != "categorical" and self.categories is not None:
            raise ValueError("'categories' is only allowed on categorical features")
        return self


class ModelSpec(Section):
    """The model a process is scored by."""

    name: str = Field(min_length=1)
    target: str = "label"
    features: list[ModelFeature] = Field(min_length=1)
    params: dict[str, Scalar] = Field(default_factory=dict)
    """Parameters of the single gradient-boosting recipe used when no candidates are given."""
    candidates: list[CandidateSpec] = Field(default_factory=list)
    """Recipes training chooses among by cross-validated business cost."""
    selection: SelectionSpec = Field(default_factory=SelectionSpec)
    retrain: RetrainSpec = Field(default_factory=RetrainSpec)
    shadow: ShadowSpec = Field(default_factory=ShadowSpec)


# --- robots and schedules ---------------------------------------------------------------


class RobotsSpec(Section):
    """The robot task suite (``robots/tasks/<name>.robot``) playing each role."""

    history: str | None = None
    collect: str | None = None
    act: str | None = None


def _check_cron(value: str) -> str:
    parts = value.split()
    if len(parts) != 5 or not all(_CRON_FIELD.match(part) for part in parts):
        raise ValueError(
            f"{value!r} is not a cron expression (5 fields: minute hour day month weekday)"
        )
    return value


Cron = Annotated[str, AfterValidator(_check_cron)]


class ProcessDefinition(Section):
    """A whole business process, as declared in its YAML file."""

    name: FieldName
    version: str = Field(min_length=1)
    description: str = ""
    contract: Contract
    cleaning: list[CleaningRule] = Field(default_factory=list)
    transform: TransformSpec
    labeling: LabelingSpec | None = None
    weak_labels: list[WeakLabelRule] = Field(default_factory=list)
    enrichment: EnrichmentSpec | None = None
    quality: QualitySpec | None = None
    monitoring: MonitoringSpec = Field(default_factory=MonitoringSpec)
    """Drift thresholds of scoring runs against the champion's training reference."""
    model: ModelSpec
    policy: PolicySpec
    review: ReviewSpec | None = None
    """The human review queue: which decisions wait for a person (``rpaml review``)."""
    robots: RobotsSpec = Field(default_factory=RobotsSpec)
    schedules: dict[str, Cron] = Field(default_factory=dict)
    """Cron expression per job (``collect``, ``process``, ``score``, ``act``...)."""
    sources: list[SourceSpec] = Field(default_factory=list)
    """Sources besides robots (inbox folders, SQL queries, HTTP endpoints); ``rpaml ingest``."""
    delivery: list[DeliveryTarget] = Field(default_factory=list)
    """Where processed records, scores and decisions go; ``rpaml deliver``."""


__all__ = [
    "CleaningRule",
    "Condition",
    "Contract",
    "DaysBetween",
    "DefaultRule",
    "DeliverableState",
    "DeliveryTarget",
    "DriftSpec",
    "FeatureKind",
    "FieldName",
    "FieldSpec",
    "FieldType",
    "GateSpec",
    "HttpSource",
    "InboxSource",
    "LabelingSpec",
    "MapRule",
    "MonitoringSpec",
    "NatsSource",
    "ObjectStoreSource",
    "OrderedRule",
    "ParquetTarget",
    "ProcessDefinition",
    "QualitySpec",
    "RabbitMqSource",
    "RedisStreamSource",
    "ReportTarget",
    "ReviewChoice",
    "ReviewSpec",
    "Scalar",
    "Section",
    "SourceSpec",
    "SqlSource",
    "TransformSpec",
    "TrimRule",
    "WarehouseTarget",
    "WeakLabelRule",
    "WebhookTarget",
]
