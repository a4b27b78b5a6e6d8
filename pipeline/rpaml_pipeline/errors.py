"""The one error hierarchy of :mod:`rpaml_pipeline`.

Every error the pipeline raises on purpose derives from :class:`RpamlPipelineError`, so an
entry point (the CLI, a robot library) can catch the family in one place and print the
message, which is always written for a person to act on.

::

    RpamlPipelineError
    ├── ProcessFileError          a process file is unreadable or invalid (file, key, expectation)
    ├── MissingVariableError      a URL or header names a ${VARIABLE} that is not set
    ├── StoreError                the staging store refused or failed an operation
    │   ├── MigrationError        the schema could not be brought to the current revision
    │   ├── RecordNotFoundError   no record / run with that id
    │   ├── InvalidTransitionError  the record is not in a state that allows the change
    │   └── LeaseLostError        the caller no longer holds the record's lease
    ├── StepError                 a pipeline step was configured in a way it cannot run
    ├── SourceError               a declared source could not be read
    │   ├── BrokerUnavailableError  a stream's broker or a bucket did not answer (retried)
    │   └── PoisonMessageError    a message cannot become a record (dead-lettered at last)
    ├── LineageError              run-level lineage could not be written
    ├── LaunchError               a child process (service, portal) did not start
    ├── RobotRunError             a robot suite could not be found, run or read back
    ├── SecretsFileError          the secrets file is malformed or incomplete
    ├── TrainingError             labeled records cannot train the process's model
    ├── DemoError                 a stage of the end-to-end demo loop failed
    └── SandboxError              the sandbox portal's clock could not be moved on

The scoring client's errors (``ScoringError`` and its subclasses
``ScoringUnavailableError`` and ``ScoringRejectedError``) derive from
:class:`RpamlPipelineError` too, and live next to the client in
:mod:`rpaml_pipeline.scoring`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


class RpamlPipelineError(Exception):
    """Base class of every error raised on purpose by rpaml_pipeline."""


@dataclass(frozen=True)
class ProcessIssue:
    """One problem in a process file: where it is and what was expected there."""

    key: str
    """Dotted key path, e.g. ``contract.fields.amount.type`` (empty for the whole file)."""
    message: str
    """What was expected, in words (e.g. ``expected one of 'string', 'money' (got 'mony')``)."""
    line: int | None = None
    """1-based line in the file, when known."""

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line is not None else ""
        key = self.key or "<file>"
        return f"{where}{key}: {self.message}"


class ProcessFileError(RpamlPipelineError):
    """A process file could not be read, parsed or validated.

    The message names the file, every offending key path and what was expected there.
    """

    def __init__(self, path: Path | str, issues: Sequence[ProcessIssue]) -> None:
        self.path = Path(path)
        self.issues = list(issues)
        lines = "\n".join(f"  - {issue}" for issue in self.issues)
        count = len(self.issues)
        noun = "problem" if count == 1 else "problems"
        super().__init__(f"process file {self.path}: {count} {noun}\n{lines}")


class MissingVariableError(RpamlPipelineError):
    """A process file's URL or header names a ``${VARIABLE}`` that is set neither in the
    environment nor in the secrets file (the message names the value and the variable)."""


class StoreError(RpamlPipelineError):
    """The staging store refused or failed an operation."""


class MigrationError(StoreError):
    """The store's schema could not be migrated to the current revision."""


class RecordNotFoundError(StoreError):
    """No record (or run) exists with the given id."""


class InvalidTransitionError(StoreError):
    """The record is not in a state that allows the requested change."""


class LeaseLostError(StoreError):
    """The caller does not (or no longer) hold the lease on the record.

    Raised when a lease expired and another worker claimed the record, so acting on it now
    could act twice.
    """


class HeldBatchError(StoreError):
    """A held batch cannot be released or rejected (unknown, not held, already decided)."""


class ReviewError(StoreError):
    """A reviewer's request on the review queue was refused; nothing was changed.

    The message is written for the reviewer (the review app shows it as it is).
    """


class ReviewItemNotFoundError(ReviewError, RecordNotFoundError):
    """No record with that id waits (or waited) in the review queue."""


class ReviewLeaseError(ReviewError):
    """The reviewer does not hold the item's lease: it expired, was released, or is
    another reviewer's (a replayed or forged form carries a lease that is not theirs)."""


class ReviewDecidedError(ReviewError):
    """The item was already decided (by another reviewer, or its record moved on)."""


class StepError(RpamlPipelineError):
    """A pipeline step was configured in a way it cannot run."""


class LineageError(RpamlPipelineError):
    """Run-level lineage events could not be written."""


class ReplayError(RpamlPipelineError):
    """A run cannot be replayed (not a processing run, or its recorded inputs are gone)."""


class SourceError(RpamlPipelineError):
    """A declared data source could not be read (file, SQL query, HTTP endpoint, stream,
    bucket)."""


class BrokerUnavailableError(SourceError):
    """A stream's broker (Redis, RabbitMQ, NATS) or a bucket did not answer; the consumer
    reconnects with backoff and nothing unacknowledged is lost."""


class PoisonMessageError(SourceError):
    """A message cannot become a record (not a JSON object, no natural key); after the
    source's ``max_deliveries`` it is dead-lettered with this reason."""


class DeliveryError(RpamlPipelineError):
    """Processed records could not be delivered to a target (lake, warehouse, report, webhook)."""


class LaunchError(RpamlPipelineError):
    """A child process (scoring service, sandbox portal) did not start or announce itself."""


class RobotRunError(RpamlPipelineError):
    """A robot suite could not be found, did not finish, or left no readable output."""


class SecretsFileError(RpamlPipelineError):
    """The secrets file (``KEY=value`` lines) is malformed or lacks required keys."""


class TrainingError(RpamlPipelineError):
    """Labeled records cannot train the process's model (too few, or not fitting its features)."""


class DemoError(RpamlPipelineError):
    """A stage of the end-to-end demo loop failed; the message names the stage and why."""


class SandboxError(RpamlPipelineError):
    """The sandbox portal did not move its business clock on; the message says why."""
