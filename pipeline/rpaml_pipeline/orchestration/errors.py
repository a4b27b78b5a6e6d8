"""The errors of the orchestration layer (one hierarchy under :class:`OrchestrationError`)."""

from __future__ import annotations

from rpaml_pipeline.errors import RpamlPipelineError


class OrchestrationError(RpamlPipelineError):
    """A job, schedule, queue or worker could not do what was asked."""


class UnknownJobError(OrchestrationError):
    """A schedule or command names a job rpaml does not know."""


class JobFailedError(OrchestrationError):
    """A stage of a job failed; DBOS retries the stage, then the workflow ends in ERROR."""
