"""The demo's review step: the review app and the simulated reviewer robot empty the
queue of escalations, as ``rpaml demo`` runs them for a process with a review section."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from robot_harness import PROCESS, ROOT, RunningPortal, decide, running_portal

from review_queue_items import review_process
from rpaml_pipeline.demo_review import REVIEWER, render_review, review_escalations
from rpaml_pipeline.runtime import Runtime
from rpaml_pipeline.settings import RpamlSettings

pytestmark = pytest.mark.browser
COSTS = {"approve": 900.0, "escalate": 150.0, "reject": 1750.0}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("demo-review")


@pytest.fixture(scope="module")
def portal(workdir: Path) -> Iterator[RunningPortal]:
    with running_portal(workdir, "--open-claims", "10", "--closed-claims", "20") as running:
        yield running


def test_the_simulated_reviewer_empties_the_queue(workdir: Path, portal: RunningPortal) -> None:
    review_process(workdir)
    data = workdir / "data"
    data.mkdir()
    values = {"RPAML_PORTAL_ADMIN_TOKEN": portal.admin_token,
              "RPAML_REVIEW_PASSWORD": secrets.token_urlsafe(18)}  # fmt: skip
    (data / "secrets.env").write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    settings = RpamlSettings(
        project_dir=ROOT, data_dir=data, store_url=f"sqlite:///{workdir / 'store.db'}",
        process_file=workdir / "claims_triage_review.yaml",
    )  # fmt: skip
    with Runtime.build(settings) as runtime:
        claims = sorted(portal.open_claims())[:3]
        ids = decide(runtime.store, dict.fromkeys(claims, "escalate"))
        with runtime.store.ctx.write() as conn:
            runtime.store.review.enqueue(
                conn, PROCESS, dict.fromkeys(ids.values(), COSTS), review_action="escalate",
                sla_seconds=86400, run_id=None, now=runtime.store.now(),
            )  # fmt: skip
        figures = review_escalations(runtime, settings, values, portal.url, error_rate=0.0)
        assert (figures["reviewed"], figures["simulated"], figures["still_open"]) == (3, 3, 0)
        assert figures["waited_seconds_max"] is not None
        truth = {c["claim_id"]: int(c["is_fraud"]) for c in portal.admin("claims")}
        for claim, record_id in ids.items():
            [label] = runtime.store.labels.of_record(record_id)
            assert (label.source, label.label) == ("review:simulated", truth[claim])
            assert label.details["reviewer"] == REVIEWER
        assert "Reviewed      3 escalated claims" in render_review(figures)[0]
        runs = runtime.store.list_runs(PROCESS, kind="review")
        assert runs and runs[0].status == "succeeded"
