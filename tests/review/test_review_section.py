"""The process file's review section is validated on load, each issue with its key."""

from __future__ import annotations

from pathlib import Path

import pytest

from review_queue_items import REVIEW_SECTION, without_review
from rpaml_pipeline.process import ProcessFileError, load_process
from staged_claims import PROCESS_FILE


def _load(tmp_path: Path, section: str) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(without_review(PROCESS_FILE.read_text(encoding="utf-8")) + section, "utf-8")
    load_process(path)


def test_the_shipped_process_sends_its_escalations_to_people() -> None:
    review = load_process(PROCESS_FILE).review
    assert review is not None
    assert (review.action, review.sla_seconds, review.lease_seconds) == ("escalate", 86400, 600)
    assert {name: c.key for name, c in review.choices.items()} == {"approve": "a", "reject": "r"}
    assert {c.action: c.outcome for c in review.choices.values()} == {
        "approve": "legitimate", "reject": "fraud"
    }  # fmt: skip


def test_a_process_without_the_section_acts_on_its_escalations(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(without_review(PROCESS_FILE.read_text(encoding="utf-8")), "utf-8")
    assert load_process(path).review is None


@pytest.mark.parametrize(
    ("change", "key", "message"),
    [
        (("action: escalate", "action: investigate"), "review.action", "not a policy action"),
        (("action: reject, outcome: fraud", "action: escalate, outcome: fraud"),
         "review.choices.reject.action", "a reviewer's choice must end the review"),
        (("outcome: fraud", "outcome: fraudulent"), "review.choices.reject.outcome",
         "not a policy outcome"),
        (("key: r", "key: n"), "review", "the review app's own"),
        (("sla_hours: 24", "sla_hours: -1"), "review.sla_hours", "greater than 0"),
        (("sla_hours: 24", "sla_hours: '24'"), "review.sla_hours", "valid number"),
    ],
)  # fmt: skip
def test_a_wrong_review_section_is_named(
    tmp_path: Path, change: tuple[str, str], key: str, message: str
) -> None:
    with pytest.raises(ProcessFileError) as raised:
        _load(tmp_path, REVIEW_SECTION.replace(*change))
    text = str(raised.value)
    assert key in text and message in text, text


def test_the_readme_example_is_a_valid_review_section(tmp_path: Path) -> None:
    readme = (PROCESS_FILE.parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## The review queue")[1].split("```yaml\n")[1].split("```")[0]
    path = tmp_path / "p.yaml"
    text = without_review(PROCESS_FILE.read_text(encoding="utf-8"))
    path.write_text(text + "\n" + section, encoding="utf-8")
    review = load_process(path).review
    assert review is not None and review.action == "escalate"
