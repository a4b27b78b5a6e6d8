"""Pipeline steps: pure functions, applied in this order to each collected record.

``clean -> validate -> label (history rows) -> transform -> weak label (rules, for records
without a known outcome)``. The runner validates a whole chunk at once
(:class:`ContractSchema`, pandera on polars); ``validate`` is the per-record reference.
Each step has a name, a version and a configuration hash (:class:`StepInfo`), written into
every record event.
Cleaning comes before validation because the contract describes typed values; validation
cites the raw value when a cleaned one fails (see :mod:`rpaml_pipeline.steps.clean`).
"""

from rpaml_pipeline.steps.clean import Cleaner, CleaningNote, Unparsed, clean, clean_step
from rpaml_pipeline.steps.contract_schema import ContractSchema
from rpaml_pipeline.steps.field_issue import FieldIssue
from rpaml_pipeline.steps.identity import StepInfo, config_hash
from rpaml_pipeline.steps.label import label, label_step, weak_label, weak_label_step
from rpaml_pipeline.steps.transform import transform, transform_step
from rpaml_pipeline.steps.validate import validate, validate_step

__all__ = [
    "Cleaner",
    "CleaningNote",
    "ContractSchema",
    "FieldIssue",
    "StepInfo",
    "Unparsed",
    "clean",
    "clean_step",
    "config_hash",
    "label",
    "label_step",
    "transform",
    "transform_step",
    "validate",
    "validate_step",
    "weak_label",
    "weak_label_step",
]
