"""Processing: collected records through clean, validate, label and transform, batch by
batch (:mod:`.run`), with the per-record reference path (:mod:`.record`)."""

from rpaml_pipeline.processing.record import (
    RawRecord,
    RecordOutcome,
    merged_raw,
    process_record,
    storable,
)
from rpaml_pipeline.processing.run import ProcessSummary, process_collected
from rpaml_pipeline.processing.steps import PipelineSteps

__all__ = [
    "PipelineSteps",
    "ProcessSummary",
    "RawRecord",
    "RecordOutcome",
    "merged_raw",
    "process_collected",
    "process_record",
    "storable",
]
