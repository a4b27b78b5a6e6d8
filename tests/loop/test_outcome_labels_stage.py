"""Closed claims that rpaml decided come back as outcomes judging those decisions."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

from click.testing import CliRunner

from rpaml_pipeline.cli import main
from rpaml_pipeline.process import ProcessDefinition
from rpaml_pipeline.runtime import Runtime
from rpaml_pipeline.scoring import ScoringClient
from rpaml_pipeline.scoring_stage import score_validated
from rpaml_pipeline.stages import ProcessStage, run_stage
from rpaml_pipeline.store import Store
from rpaml_sandbox.portal.generator import GeneratedClaim
from staged_claims import act_on_all_decided, process_all, stage


def test_the_process_stage_links_outcomes_to_the_decisions_they_judge(
    tmp_path: Path,
    store: Store,
    process: ProcessDefinition,
    claims: list[GeneratedClaim],
    service_url: str,
    service_key: str,
) -> None:
    opened = [c for c in claims if c.status == "open"][:12]
    stage(store, process.name, opened, "collect_claims")
    process_all(store, process)
    run_id = store.start_run(process.name, "score")
    with ScoringClient(service_url, api_key=service_key) as client:
        score_validated(store, process, client, run_id=run_id)
    decided = act_on_all_decided(store, process)

    # Half of them close: the history robot stages them with their outcome.
    closing = opened[:6]
    closed = [
        dataclasses.replace(
            claim,
            status="closed",
            closed_date=dt.date(2026, 4, 20),
            outcome="Fraud confirmed" if n % 2 else "Paid",
        )
        for n, claim in enumerate(closing)
    ]
    stage(store, process.name, closed, "download_history")
    result = run_stage(Runtime.of(store, process, data_dir=tmp_path), ProcessStage())

    assert result.succeeded and result.summary["outcome_labels"] == len(closing)
    for n, claim in enumerate(closing):
        record = decided[claim.claim_id]
        [judged] = store.lineage(record.record_id).labels
        assert judged.label == (1 if n % 2 else 0)
        assert (judged.action, judged.model_version) == (record.decision, record.model_version)
        assert judged.policy_version == record.policy_version == "claims-costs-1"
        # The process file's labeling.source and the field the label was read from.
        assert judged.source == "portal:closed-claims-export#outcome"
        # Judged, not sent round again: the decided revision stays acted.
        assert store.get_record(record.record_id).state == "acted"
    assert store.labels.counts(process.name) == {"outcome": len(closing)}
    # People see it: the decided record's lineage names the outcome, status counts them.
    env = {"RPAML_DATA_DIR": str(tmp_path), "RPAML_REGISTRY_DIR": str(tmp_path / "registry")}
    first = decided[closing[1].claim_id]
    shown = CliRunner().invoke(main, ["lineage", first.record_id], env=env, catch_exceptions=False)
    assert shown.exit_code == 0, shown.output
    assert "outcome    label 1 from portal:closed-claims-export#outcome observed" in shown.output
    assert f"the decision {first.decision} (model v{first.model_version}" in shown.output
    status = CliRunner().invoke(main, ["status"], env=env, catch_exceptions=False)
    assert f"{len(closing)} decision(s) judged by outcome labels" in status.output
    # Processing again finds nothing new to link.
    again = run_stage(Runtime.of(store, process, data_dir=tmp_path), ProcessStage())
    assert again.summary["outcome_labels"] == 0
