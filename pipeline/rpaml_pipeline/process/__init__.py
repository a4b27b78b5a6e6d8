"""Process definitions: the declarative file a user writes for one business process.

``load_process(path)`` returns a validated :class:`ProcessDefinition`; a second process is
added by writing a new YAML file, never by changing library code.
"""

from rpaml_pipeline.errors import ProcessFileError, ProcessIssue
from rpaml_pipeline.process.decision_spec import (
    CandidateSpec,
    CostCellSpec,
    PolicySpec,
    SelectionSpec,
    Thresholds,
)
from rpaml_pipeline.process.definition import (
    CleaningRule,
    Contract,
    Copy,
    DaysBetween,
    DefaultRule,
    EnrichmentSpec,
    FieldSpec,
    LabelingSpec,
    LowerRule,
    MapRule,
    ModelFeature,
    ModelSpec,
    ParseBoolRule,
    ParseDateRule,
    ParseIntRule,
    ParseMoneyRule,
    ParseNumberRule,
    ProcessDefinition,
    RobotsSpec,
    TransformSpec,
    TrimRule,
    UpperRule,
)
from rpaml_pipeline.process.loader import load_process, parse_process, process_hash
from rpaml_pipeline.process.review_section import ReviewChoice, ReviewSpec

__all__ = [
    "CandidateSpec",
    "CleaningRule",
    "Contract",
    "Copy",
    "CostCellSpec",
    "DaysBetween",
    "DefaultRule",
    "EnrichmentSpec",
    "FieldSpec",
    "LabelingSpec",
    "LowerRule",
    "MapRule",
    "ModelFeature",
    "ModelSpec",
    "ParseBoolRule",
    "ParseDateRule",
    "ParseIntRule",
    "ParseMoneyRule",
    "ParseNumberRule",
    "PolicySpec",
    "ProcessDefinition",
    "ProcessFileError",
    "ProcessIssue",
    "ReviewChoice",
    "ReviewSpec",
    "RobotsSpec",
    "SelectionSpec",
    "Thresholds",
    "TransformSpec",
    "TrimRule",
    "UpperRule",
    "load_process",
    "parse_process",
    "process_hash",
]
