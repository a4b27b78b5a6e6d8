"""One normalisation: the portal's closed-claims export staged by the history robot's
keywords and dropped in the shipped inbox gives the same payloads, content hashes and raw
hashes; and a row robots staged before the rules moved keeps its hashes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from rpaml_pipeline.incoming_rows import normalise_row
from rpaml_pipeline.process import load_process
from rpaml_pipeline.store import Store, StoredRecord, content_hash, raw_hash
from rpaml_robots.claim_rows import normalise_history_row
from rpaml_robots.portal import ClaimsPortal
from rpaml_robots.staging import Staging
from rpaml_sandbox.portal.database import PortalDatabase
from rpaml_sandbox.portal.export import closed_claims_workbook
from stage_runs import ingested

PROCESS_FILE = Path(__file__).resolve().parents[2] / "pipeline" / "processes" / "claims_triage.yaml"


def _records(store_url: str) -> dict[str, StoredRecord]:
    with Store.connect(store_url) as store:
        return {
            record.natural_key: record
            for chunk in store.iter_records("claims_triage")
            for record in chunk
        }


def test_the_export_staged_by_the_robot_or_dropped_in_the_inbox_is_the_same_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    portal = PortalDatabase(tmp_path / "portal.db")
    portal.ensure_ready(seed=7, open_claims=5, closed_claims=300, late_arrivals=0)
    export = tmp_path / "closed-claims.xlsx"
    export.write_bytes(closed_claims_workbook(portal.closed_claims()))

    # The robot's way: Read Closed Claims History, then Stage Records.
    robot_store = f"sqlite:///{tmp_path / 'robot.db'}"
    monkeypatch.setenv("RPAML_STORE_URL", robot_store)
    monkeypatch.setenv("RPAML_PROCESS_FILE", str(PROCESS_FILE))
    monkeypatch.setenv("RPAML_DATA_DIR", str(tmp_path / "robot-data"))
    monkeypatch.delenv("RPAML_RUN_ID", raising=False)
    staging = Staging()
    staging.start_robot_run("download_history")
    rows = ClaimsPortal().read_closed_claims_history(str(export))
    staged = staging.stage_records(rows, "robot:download_history")
    staging.finish_robot_run("PASS")
    staging.store.close()
    assert staged["new"] == 300 and staged["rejected"] == 0

    # The inbox's way: the same file dropped in the shipped process's inbox.
    data_dir = tmp_path / "inbox-data"
    (data_dir / "inbox" / "claims").mkdir(parents=True)
    shutil.copy(export, data_dir / "inbox" / "claims" / export.name)
    inbox_store = f"sqlite:///{tmp_path / 'inbox.db'}"
    with Store.connect(inbox_store) as store:
        (report,) = ingested(store, load_process(PROCESS_FILE), data_dir=data_dir)
    assert report.error is None and report.new == 300, report

    by_robot, by_inbox = _records(robot_store), _records(inbox_store)
    assert by_robot.keys() == by_inbox.keys()
    # Empty cells (police reports, descriptions) and typed cells (ages, counts) are in
    # the export: the two ways used to part exactly there.
    assert any("police_report" not in record.raw for record in by_robot.values())
    for key, robot_record in by_robot.items():
        inbox_record = by_inbox[key]
        assert inbox_record.raw == robot_record.raw, key
        assert inbox_record.content_hash == robot_record.content_hash, key
        assert inbox_record.raw_hash == robot_record.raw_hash, key
        assert robot_record.source == "robot:download_history"
        assert inbox_record.source != robot_record.source  # the lineage still tells them apart


def test_a_row_robots_staged_before_keeps_its_hashes() -> None:
    # An export row as RPA.Excel gives it (typed cells, empty cells, padding); the hashes
    # were computed with the robots' own normalisation before it moved to the pipeline.
    row = {
        "Claim ID": "CLM-104233", "Policy No.": " POL-870013", "Claimant": "Maria Okafor",
        "Claimant Age": 41, "Amount": "$4,120.00", "Incident Date": "03/02/2026",
        "Reported Date": "05/02/2026", "Policy Start": "2024-07-01", "Channel": "web",
        "Category": "auto", "Region": "north", "Prior Claims": 0, "Police Report": None,
        "Description": "", "Closed Date": "2026-04-01", "Outcome": "paid",
    }  # fmt: skip
    payload = normalise_history_row(row)
    assert normalise_row(payload) == payload  # and Stage Records stages it as it is
    expected = "76d0c628a9573c71f980f60a85ae57adbcf2f08d52a95e7a7dd9da3bc4daed2b"
    assert content_hash(payload) == expected
    assert raw_hash(payload) == expected
