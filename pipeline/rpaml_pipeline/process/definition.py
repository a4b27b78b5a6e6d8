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

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from rpaml_pipeline.process.decision_spec import CandidateSpec, PolicySpec, SelectionSpec

FieldType = Literal["string", "integer", "number", "money", "date", "boolean", "category"]
FeatureKind = Literal["numeric", "categorical", "boolean"]
Scalar = str | int | float | bool | None

# A field name as it appears in payloads (snake_case keys, as the robots normalise them).
FieldName = Annotated[str, Field(pattern=r"^[a-z_][a-z0-9_]*$")]
_CRON_FIELD = re.compile(r"^[0-9A-Za-z*/,\-?LW#]+$")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


# --- contract ---------------------------------------------------------------------------


class FieldSpec(_Section):
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


class Contract(_Section):
    """The data contract: which fields a record has, their types and constraints."""

    natural_key: list[FieldName] = Field(min_length=1)
    fields: dict[FieldName, FieldSpec] = Field(min_length=1)


# --- cleaning ---------------------------------------------------------------------------


class _Rule(_Section):
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


class DaysBetween(_Section):
    """``name = end - start`` in whole days (both date fields)."""

    op: Literal["days_between"]
    name: FieldName
    start: FieldName
    end: FieldName


class Copy(_Section):
    """``name = source`` (a cleaned field used unchanged as a feature)."""

    op: Literal["copy"]
    name: FieldName
    source: FieldName


Derivation = Annotated[DaysBetween | Copy, Field(discriminator="op")]


class TransformSpec(_Section):
    """How features are derived from the cleaned record."""

    features: list[Derivation] = Field(min_length=1)


# --- labeling ---------------------------------------------------------------------------


class LabelingSpec(_Section):
    """Where a record's known outcome comes from and which label each outcome means."""

    field: FieldName
    labels: dict[str, int] = Field(min_length=1)
    source: str = "outcome"
    """Recorded with every label (e.g. ``portal:closed-claims-export``)."""


ConditionOp = Literal["eq", "ne", "lt", "le", "gt", "ge", "in", "missing", "present"]


class Condition(_Section):
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


class WeakLabelRule(_Section):
    """A rule-based (weak) label for a valid record whose outcome is not known yet.

    Recorded with ``label_source = weak:<name>``; the record stays ``validated`` (it is
    still scored) and training, which reads ``labeled`` records, is not fed guesses.
    """

    name: str = Field(min_length=1)
    label: int
    when: list[Condition] = Field(min_length=1)
    """Every condition must hold; the first rule (in file order) that matches wins."""


# --- quality --------------------------------------------------------------------------


class DriftSpec(_Section):
    """Contract drift: compare each record with what its source delivered in earlier runs
    (see :mod:`rpaml_pipeline.quality.drift`)."""

    min_records: int = Field(default=200, ge=1)
    """Checks start once the source's profile holds this many valid records."""
    range_tolerance: float = Field(default=1.0, gt=0)
    """A value is far outside when it lies beyond the seen range by this many range widths."""
    quarantine: bool = True
    """Quarantine drifted records (otherwise only alert)."""


class QualitySpec(_Section):
    """Data-quality checks beyond the contract."""

    drift: DriftSpec | None = None


# --- enrichment -------------------------------------------------------------------------


class EnrichmentSpec(_Section):
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


class ModelFeature(_Section):
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


class ModelSpec(_Section):
    """The model a process is scored by."""

    name: str = Field(min_length=1)
    target: str = "label"
    features: list[ModelFeature] = Field(min_length=1)
    params: dict[str, Scalar] = Field(default_factory=dict)
    """Parameters of the single gradient-boosting recipe used when no candidates are given."""
    candidates: list[CandidateSpec] = Field(default_factory=list)
    """Recipes training chooses among by cross-validated business cost."""
    selection: SelectionSpec = Field(default_factory=SelectionSpec)


# --- robots and schedules ---------------------------------------------------------------


class RobotsSpec(_Section):
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


class ProcessDefinition(_Section):
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
    model: ModelSpec
    policy: PolicySpec
    robots: RobotsSpec = Field(default_factory=RobotsSpec)
    schedules: dict[str, Cron] = Field(default_factory=dict)
    """Cron expression per job (``collect``, ``process``, ``score``, ``act``...)."""
    sources: list[SourceSpec] = Field(default_factory=list)
    """Sources besides robots (inbox folders, SQL queries, HTTP endpoints); ``rpaml ingest``."""
    delivery: list[DeliveryTarget] = Field(default_factory=list)
    """Where processed records, scores and decisions go; ``rpaml deliver``."""


# --- sources (besides robots) -----------------------------------------------------------
# Paths are relative to the data folder. In URLs and headers, ``{data_dir}`` stands for it
# and ``${NAME}`` for a variable from the environment or the secrets file (never write a
# password or token here: rpaml_pipeline.process.placeholders).


class _SourceBase(_Section):
    name: FieldName
    fields: dict[FieldName, str] = Field(default_factory=dict)
    """Payload field <- source column. Unmapped columns keep their name in snake_case."""


class InboxSource(_SourceBase):
    """Files dropped into a folder: CSV, Excel (``.xlsx``), JSON lines, PDF text.

    Each file is taken once (by content hash) and moved to ``done/`` once its records are
    committed, or to ``failed/`` with a ``.reason.txt`` beside it.
    """

    kind: Literal["inbox"]
    path: str = Field(min_length=1)
    patterns: list[str] = Field(
        default_factory=lambda: ["*.csv", "*.xlsx", "*.jsonl", "*.pdf"], min_length=1
    )
    csv_delimiter: str = Field(default=",", min_length=1, max_length=1)
    encoding: str = "utf-8"
    sheet: str | None = None
    """Excel worksheet to read (the first one when not given)."""
    pdf_record_pattern: str | None = None
    """Regular expression with named groups; each match in a PDF's text is one record."""

    @field_validator("pdf_record_pattern")
    @classmethod
    def _named_groups(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                compiled = re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression ({exc})") from exc
            if not compiled.groupindex:
                raise ValueError("needs named groups, e.g. (?P<claim_id>CLM-\\d{6})")
        return value


class SqlSource(_SourceBase):
    """Rows of a SQL query against any SQLAlchemy URL."""

    kind: Literal["sql"]
    url: str = Field(min_length=1)
    query: str = Field(min_length=1)


class HttpSource(_SourceBase):
    """Records from an HTTP endpoint answering JSON (a list, or a list under ``records_path``)."""

    kind: Literal["http"]
    url: str = Field(pattern=r"^https?://")
    records_path: str | None = None
    """Dotted path to the list of records in the JSON answer (``data.items``)."""
    headers: dict[str, str] = Field(default_factory=dict)
    """Extra request headers, e.g. ``Authorization: "Bearer ${PARTNER_TOKEN}"``."""
    timeout_seconds: float = Field(default=30.0, gt=0)


SourceSpec = Annotated[InboxSource | SqlSource | HttpSource, Field(discriminator="kind")]


# --- delivery ---------------------------------------------------------------------------

DeliverableState = Literal["validated", "scored", "decided", "acting", "acted", "labeled"]
_DELIVERED_BY_DEFAULT: tuple[DeliverableState, ...] = (
    "validated",
    "scored",
    "decided",
    "acting",
    "acted",
)


class _TargetBase(_Section):
    name: FieldName
    states: list[DeliverableState] = Field(
        default_factory=lambda: list(_DELIVERED_BY_DEFAULT), min_length=1
    )
    """Records in these states are delivered (each change of a record once per target)."""


class ParquetTarget(_TargetBase):
    """A Parquet data lake: ``<path>/process=<name>/date=<YYYY-MM-DD>/part-*.parquet``."""

    kind: Literal["parquet"]
    path: str = "lake"


class WarehouseTarget(_TargetBase):
    """A table in any SQLAlchemy database, upserted by the natural key."""

    kind: Literal["warehouse"]
    url: str = Field(min_length=1)
    table: FieldName


class ReportTarget(_TargetBase):
    """A CSV or Excel report per delivery run under ``path``."""

    kind: Literal["report"]
    path: str = "reports"
    format: Literal["csv", "xlsx"] = "csv"


class WebhookTarget(_TargetBase):
    """JSON POSTs of record batches, retried with exponential backoff."""

    kind: Literal["webhook"]
    url: str = Field(pattern=r"^https?://")
    batch_size: int = Field(default=500, ge=1)
    retries: int = Field(default=3, ge=0)
    backoff_seconds: float = Field(default=1.0, ge=0)
    timeout_seconds: float = Field(default=10.0, gt=0)
    headers: dict[str, str] = Field(default_factory=dict)
    """Extra request headers, e.g. ``Authorization: "Bearer ${WEBHOOK_TOKEN}"``."""


DeliveryTarget = Annotated[
    ParquetTarget | WarehouseTarget | ReportTarget | WebhookTarget,
    Field(discriminator="kind"),
]
