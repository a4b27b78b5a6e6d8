"""The processing steps of one process definition, identified for lineage."""

from __future__ import annotations

from dataclasses import dataclass, field

from rpaml_pipeline.process.definition import ProcessDefinition
from rpaml_pipeline.steps.clean import Cleaner, clean_step
from rpaml_pipeline.steps.identity import StepInfo
from rpaml_pipeline.steps.label import label_step, weak_label_step
from rpaml_pipeline.steps.transform import transform_step
from rpaml_pipeline.steps.validate import validate_step


@dataclass(frozen=True)
class PipelineSteps:
    """The step identities of one process definition, and its compiled cleaner (built once
    per run: the cleaner remembers what repeated values cleaned to)."""

    clean: StepInfo
    validate: StepInfo
    label: StepInfo | None
    transform: StepInfo
    cleaner: Cleaner = field(compare=False)
    weak_label: StepInfo | None = None

    @classmethod
    def of(cls, process: ProcessDefinition) -> PipelineSteps:
        """Identify each step with its version and the hash of this process's rules."""
        return cls(
            clean=clean_step(process.cleaning),
            validate=validate_step(process.contract),
            label=label_step(process.labeling) if process.labeling is not None else None,
            transform=transform_step(process.transform),
            weak_label=weak_label_step(process.weak_labels) if process.weak_labels else None,
            cleaner=Cleaner(process.cleaning),
        )

    def in_order(self) -> list[StepInfo]:
        """The steps a valid record goes through, in order (a record's lineage lists a
        prefix of them: a quarantined record stops after validation)."""
        order = [self.clean, self.validate]
        if self.label is not None:
            order.append(self.label)
        order.append(self.transform)
        if self.weak_label is not None:
            order.append(self.weak_label)
        return order
