"""Record states and the transitions between them."""

from __future__ import annotations

from enum import StrEnum


class RecordState(StrEnum):
    """Where a record is in its life (see DESIGN.md, "The staging store")."""

    COLLECTED = "collected"
    VALIDATED = "validated"
    QUARANTINED = "quarantined"
    SCORED = "scored"
    DECIDED = "decided"
    REVIEW = "review"
    """Decided with the review action (``review.action`` of the process file): waits in
    the review queue for a person, whose choice makes it ``decided`` again."""
    ACTING = "acting"
    ACTED = "acted"
    FAILED = "failed"
    DEAD = "dead"
    LABELED = "labeled"


# A newer revision of a record replaces an older one only while the older one has not
# been acted on: once a robot is acting (or has acted) in the source application, the old
# revision is history that must stay as it is. Dead records are already final.
SUPERSEDABLE_STATES: frozenset[RecordState] = frozenset(
    {
        RecordState.COLLECTED,
        RecordState.VALIDATED,
        RecordState.QUARANTINED,
        RecordState.SCORED,
        RecordState.DECIDED,
        RecordState.FAILED,
        RecordState.LABELED,
    }
)

# When an application failure is retried, the record goes back to the state it was
# claimed from: acting -> decided (the action must be attempted again from the start).
RETRY_STATE: dict[RecordState, RecordState] = {RecordState.ACTING: RecordState.DECIDED}
