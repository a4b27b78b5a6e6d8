"""The Staging library's pure rules: run statuses, run summaries (natural keys: see
tests/pipeline/test_incoming_rows.py)."""

from __future__ import annotations

import pytest

from rpaml_robots.errors import ConfigurationError
from rpaml_robots.staging import RunTally, run_status


@pytest.mark.parametrize(
    ("given", "expected"),
    [("PASS", "succeeded"), ("FAIL", "failed"), ("succeeded", "succeeded"), ("failed", "failed")],
)
def test_suite_status_maps_to_run_status(given: str, expected: str) -> None:
    assert run_status(given) == expected


def test_unknown_status_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="Unknown run status 'maybe'"):
        run_status("maybe")


def test_summary_holds_only_what_the_run_did() -> None:
    tally = RunTally()
    assert tally.summary() == {}
    tally.acted["applied"] = 2
    tally.business_failures = 1
    assert tally.summary() == {
        "acted": {"applied": 2},
        "failures": {"business": 1, "application": 0},
    }
