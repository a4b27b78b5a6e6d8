"""OpenLineage run events validate against the 2-0-2 JSON schema (tests/support/openlineage)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from openlineage_spec import SPEC
from rpaml_pipeline.errors import LineageError
from rpaml_pipeline.lineage import SCHEMA_URL, Dataset, OpenLineageEmitter, run_uuid


def _validator() -> Any:
    import jsonschema

    schema = json.loads(SPEC.read_text(encoding="utf-8"))
    run_event = {"$ref": "#/$defs/RunEvent", "$defs": schema["$defs"]}
    validator_cls = jsonschema.validators.validator_for(schema)
    return validator_cls(run_event, format_checker=validator_cls.FORMAT_CHECKER)


def test_events_match_the_spec(tmp_path: Path) -> None:
    validator = _validator()
    emitter = OpenLineageEmitter.for_data_dir(tmp_path)
    run_id = uuid.uuid4().hex
    store = Dataset("sqlite:///data/rpaml.db", "claims_triage.records.collected")
    emitter.start(run_id, "claims_triage.process", inputs=[store])
    emitter.complete(
        run_id,
        "claims_triage.process",
        inputs=[store],
        outputs=[
            Dataset("sqlite:///data/rpaml.db", "claims_triage.records.validated", row_count=3)
        ],
    )
    emitter.fail(run_id, "claims_triage.process", ValueError("boom"))
    lines = (tmp_path / "lineage" / "events.jsonl").read_text().splitlines()
    assert len(lines) == 3
    for line in lines:
        event = json.loads(line)
        errors = sorted(validator.iter_errors(event), key=str)
        assert not errors, [e.message for e in errors]
        assert event["schemaURL"] == SCHEMA_URL
        assert event["run"]["runId"] == str(uuid.UUID(hex=run_id))
        assert event["job"]["namespace"] == "rpaml"


def test_run_uuid_for_any_run_id() -> None:
    assert run_uuid("0" * 32) == "00000000-0000-0000-0000-000000000000"
    assert uuid.UUID(run_uuid("not-a-uuid"))
    assert run_uuid("not-a-uuid") == run_uuid("not-a-uuid")


def test_unwritable_path_raises_lineage_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    emitter = OpenLineageEmitter(blocker / "events.jsonl")
    with pytest.raises(LineageError, match="cannot write"):
        emitter.start("r", "claims_triage.process")
