"""Replay of processing runs, the full `rpaml lineage` trail and OpenLineage run events
with schema and rpaml facets, validated against the 2-0-2 spec."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from pipeline_claims import PROCESS_FILE, claim, history_row

from openlineage_spec import SPEC_DIR
from rpaml_pipeline.cli import main
from rpaml_pipeline.errors import ReplayError
from rpaml_pipeline.lineage import OpenLineageEmitter
from rpaml_pipeline.process import ProcessDefinition, parse_process, process_hash
from rpaml_pipeline.processing import process_collected
from rpaml_pipeline.replay import replay_run
from rpaml_pipeline.stages import ProcessStage
from rpaml_pipeline.store import IncomingRecord, Store
from stage_runs import staged_run

PROCESS = "claims_triage"


def _stage(store: Store) -> list[str]:
    payloads = [claim(n) for n in range(1, 6)] + [claim(9, policy_number="PO-1")]
    payloads.append(history_row(20, "Fraud confirmed"))
    run = store.start_run(PROCESS, "collect", "collect_claims")
    items = [IncomingRecord(p["claim_id"], p, "robot:collect_claims") for p in payloads]
    return store.ingest(PROCESS, items, run_id=run).record_ids


def _changed(process: ProcessDefinition) -> ProcessDefinition:
    data = yaml.safe_load(PROCESS_FILE.read_text(encoding="utf-8"))
    data.pop("enrichment", None)  # the staged claims carry the looked-up fields
    # Day-first dates are no longer accepted: some records now fail validation.
    for rule in data["cleaning"]:
        if rule["rule"] == "parse_date":
            rule["formats"] = ["%Y-%m-%d", "%b %d, %Y"]
    changed = parse_process(yaml.safe_dump(data))
    assert process_hash(changed) != process_hash(process)
    return changed


def test_replay_reproduces_a_run_and_names_what_a_change_alters(
    store: Store, process_def: ProcessDefinition
) -> None:
    _stage(store)
    run = store.start_run(PROCESS, "process")
    process_collected(store, process_def, run)
    same = replay_run(store, run)
    assert len(same.records) == 7 and same.identical and same.config_changes == []
    assert all(r.stored_hash == r.replayed_hash for r in same.records)

    changed = replay_run(store, run, _changed(process_def))
    assert not changed.identical
    assert changed.config_changes[0].startswith("cleaning changed")
    differing = {r.natural_key: r for r in changed.records if not r.identical}
    # claim(1) has incident date "14/03/2026"; every claim has policy start "01/06/2024".
    assert "CLM-000001" in differing
    assert "state: 'validated' -> 'quarantined'" in differing["CLM-000001"].differences
    assert any(
        d.startswith("features: {") and d.endswith("-> None")
        for d in differing["CLM-000001"].differences
    )
    with pytest.raises(ReplayError, match="only processing runs"):
        replay_run(store, store.start_run(PROCESS, "collect"))


def _validator() -> Any:
    import jsonschema
    from referencing import Registry, Resource

    main_schema = json.loads((SPEC_DIR / "OpenLineage.json").read_text(encoding="utf-8"))
    resources = [(main_schema["$id"], Resource.from_contents(main_schema))]
    for path in (SPEC_DIR / "facets").glob("*.json"):
        facet = json.loads(path.read_text(encoding="utf-8"))
        resources.append((facet["$id"], Resource.from_contents(facet)))
    registry: Registry[Any] = Registry().with_resources(resources)
    cls = jsonschema.validators.validator_for(main_schema)

    def check(instance: Any, ref: str) -> list[str]:
        validator = cls({"$ref": ref}, registry=registry, format_checker=cls.FORMAT_CHECKER)
        return [error.message for error in validator.iter_errors(instance)]

    return check


def test_run_events_carry_schema_and_rpaml_facets_and_validate(
    store: Store, process_def: ProcessDefinition, tmp_path: Path
) -> None:
    _stage(store)
    emitter = OpenLineageEmitter.for_data_dir(tmp_path)
    staged_run(store, process_def, ProcessStage(), tmp_path, emitter=emitter)
    check = _validator()
    events = [json.loads(line) for line in emitter.path.read_text().splitlines()]
    assert [e["eventType"] for e in events] == ["START", "COMPLETE"]
    schema_ref = (
        "https://openlineage.io/spec/facets/1-2-0/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet"
    )
    for event in events:
        assert (
            check(event, "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent") == []
        )
        for dataset in event["inputs"] + event["outputs"]:
            assert check(dataset["facets"]["schema"], schema_ref) == []
    complete = events[1]
    facet = complete["run"]["facets"]["rpaml"]
    assert facet["processFileHash"] == process_hash(process_def)
    assert facet["modelName"] == "claims_fraud" and len(facet["robotRuns"]) == 1
    fields = {f["name"]: f["type"] for f in complete["outputs"][0]["facets"]["schema"]["fields"]}
    assert fields["amount"] == "money" and fields["incident_date"] == "date"


def test_lineage_and_replay_commands(tmp_path: Path) -> None:
    data = yaml.safe_load(PROCESS_FILE.read_text(encoding="utf-8"))
    data.pop("enrichment", None)  # the staged claims carry the looked-up fields
    process_file = tmp_path / "process.yaml"
    process_file.write_text(yaml.safe_dump(data), encoding="utf-8")
    env = {
        "RPAML_PROJECT_DIR": str(Path(__file__).resolve().parents[2]),
        "RPAML_DATA_DIR": str(tmp_path / "data"),
        "RPAML_PROCESS_FILE": str(process_file),
    }
    url = f"sqlite:///{tmp_path / 'data' / 'rpaml.db'}"
    with Store.connect(url) as store:
        ids = _stage(store)
        store.add_enrichment(
            ids[0],
            source="robot:enrich_policies",
            location="Policy Manager - POL-000007",
            search_term="POL-000007",
            payload={"coverage": "full"},
            run_id=None,
        )
    runner = CliRunner()
    result = runner.invoke(main, ["pipeline", "run", "--json"], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    run_id = json.loads(result.output)["run_id"]
    bad = next(i for i in ids if Store.connect(url).get_record(i).natural_key == "CLM-000009")
    text = runner.invoke(main, ["lineage", bad], env=env).output
    assert "quarantined" in text and "issue: policy_number" in text and "rule pattern" in text
    text = runner.invoke(main, ["lineage", ids[0]], env=env).output
    assert "enrichment" in text and "Policy Manager - POL-000007" in text and "coverage" in text
    trail = json.loads(runner.invoke(main, ["lineage", ids[0], "--json"], env=env).output)
    assert trail["enrichments"][0]["payload"] == {"coverage": "full"}
    ok = runner.invoke(main, ["pipeline", "replay", run_id], env=env)
    assert ok.exit_code == 0 and "7 of 7 records identical" in ok.output
    changed = tmp_path / "changed.yaml"
    for rule in data["cleaning"]:
        if rule["rule"] == "parse_date":
            rule["formats"] = ["%Y-%m-%d"]
    changed.write_text(yaml.safe_dump(data), encoding="utf-8")
    diff = runner.invoke(
        main, ["pipeline", "replay", run_id, "--process-file", str(changed), "--json"], env=env
    )
    assert diff.exit_code == 1
    report = json.loads(diff.output)
    assert not report["identical"] and report["differing"]
