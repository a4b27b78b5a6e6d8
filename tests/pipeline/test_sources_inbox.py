"""Inbox sources: CSV, Excel, JSON lines and PDF files are staged once and moved aside."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import yaml
from click.testing import CliRunner
from fpdf import FPDF
from pipeline_claims import PROCESS_FILE, claim

from rpaml_pipeline.cli import main
from rpaml_pipeline.errors import ProcessFileError
from rpaml_pipeline.process import ProcessDefinition, parse_process
from rpaml_pipeline.processing import process_collected
from rpaml_pipeline.store import Store, raw_hash
from stage_runs import ingested

PDF_PATTERN = (
    r"Claim (?P<claim_id>CLM-\d{6}) policy (?P<policy_number>POL-\d{6}) "
    r"amount (?P<amount>\$[\d,]+\.\d{2})"
)


def inbox_process(**sections: Any) -> ProcessDefinition:
    """The claims process (without enrichment) with ``sections`` replaced."""
    data = yaml.safe_load(PROCESS_FILE.read_text(encoding="utf-8"))
    data.pop("enrichment", None)
    data.update(sections)
    return parse_process(yaml.safe_dump(data), PROCESS_FILE)


INBOX = {
    "name": "claims_inbox",
    "kind": "inbox",
    "path": "inbox/claims",
    "fields": {"claim_id": "Claim ID", "amount": "Claimed amount"},
    "pdf_record_pattern": PDF_PATTERN,
}


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    header = [
        "Claim ID",
        "Claimed amount",
        *[k for k in rows[0] if k not in ("claim_id", "amount")],
    ]
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for row in rows:
            writer.writerow([row["claim_id"], row["amount"], *[row[k] for k in header[2:]]])


def _write_xlsx(path: Path, rows: list[dict[str, Any]]) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    header = [
        "Claim ID",
        "Claimed amount",
        *[k for k in rows[0] if k not in ("claim_id", "amount")],
    ]
    sheet.append(header)
    for row in rows:
        values = [row["claim_id"], row["amount"], *[row[k] for k in header[2:]]]
        # Excel holds numbers as numbers: the prior claims count arrives as an int.
        sheet.append(
            [int(v) if k == "prior_claims" else v for k, v in zip(header, values, strict=True)]
        )
    workbook.save(path)


def _write_pdf(path: Path, numbers: list[int]) -> None:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=11)
    for number in numbers:
        line = f"Claim CLM-{number:06d} policy POL-{number:06d} amount $1,{number:03d}.00"
        pdf.cell(0, 10, line, new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(path))


def test_files_are_staged_with_lineage_and_moved_aside(store: Store, tmp_path: Path) -> None:
    process = inbox_process(sources=[INBOX])
    inbox = tmp_path / "inbox" / "claims"
    inbox.mkdir(parents=True)
    _write_csv(inbox / "a.csv", [claim(1), claim(2)])
    _write_xlsx(inbox / "b.xlsx", [claim(3)])
    (inbox / "c.jsonl").write_text(
        "\n".join(
            json.dumps({"Claim ID": f"CLM-{n:06d}", "Claimed amount": "9.50"}) for n in (4, 5)
        )
        + "\n",
        encoding="utf-8",
    )
    _write_pdf(inbox / "d.pdf", [6, 7])
    # Bad files: a row without a claim id, a workbook that is not one, invalid JSON.
    _write_csv(inbox / "e-bad.csv", [claim(8), claim(9, claim_id="")])
    (inbox / "f-bad.xlsx").write_bytes(b"not a zip")
    (inbox / "g-bad.jsonl").write_text('{"Claim ID": "CLM-000010"}\n{oops\n', encoding="utf-8")
    (inbox / ".h.csv.tmp").write_text("still being written", encoding="utf-8")

    [report] = ingested(store, process, data_dir=tmp_path)

    by_name = {item.name: item for item in report.files}
    assert {n: i.status for n, i in by_name.items()} == {
        "a.csv": "taken",
        "b.xlsx": "taken",
        "c.jsonl": "taken",
        "d.pdf": "taken",
        "e-bad.csv": "failed",
        "f-bad.xlsx": "failed",
        "g-bad.jsonl": "failed",
    }
    assert report.status == "succeeded" and report.new == 7, report.files
    assert "row=2" in (by_name["e-bad.csv"].reason or "") and "claim_id" in (
        by_name["e-bad.csv"].reason or ""
    )
    assert "line 2 is not JSON" in (by_name["g-bad.jsonl"].reason or "")
    # Moved aside, a reason beside each failed file; nothing staged from a failed file.
    assert sorted(p.name for p in inbox.iterdir() if p.is_file()) == [".h.csv.tmp"]
    done = sorted(p.name.split("-", 1)[1] for p in (inbox / "done").iterdir())
    assert done == ["a.csv", "b.xlsx", "c.jsonl", "d.pdf"]
    reasons = sorted((inbox / "failed").glob("*.reason.txt"))
    assert len(reasons) == 3
    assert "not an Excel workbook" in next(r for r in reasons if "f-bad" in r.name).read_text()
    assert store.latest(process.name, "CLM-000008") is None

    csv_record = store.latest(process.name, "CLM-000002")
    assert csv_record is not None
    assert csv_record.source == "inbox:claims_inbox"
    assert csv_record.source_location is not None
    assert csv_record.source_location.startswith(str(inbox / "a.csv"))
    assert csv_record.source_location.endswith("#row=2")
    assert csv_record.raw_hash == raw_hash(csv_record.raw)
    assert csv_record.run_id == report.run_id
    assert csv_record.raw["amount"] == claim(2)["amount"]
    xlsx_record = store.latest(process.name, "CLM-000003")
    assert xlsx_record is not None and xlsx_record.raw["prior_claims"] == "3"
    pdf_record = store.latest(process.name, "CLM-000007")
    assert pdf_record is not None
    assert pdf_record.raw == {
        "claim_id": "CLM-000007",
        "policy_number": "POL-000007",
        "amount": "$1,007.00",
    }
    assert (pdf_record.source_location or "").endswith("#page=1&match=2")
    run = store.get_run(report.run_id)
    assert run.kind == "ingest" and run.status == "succeeded"
    assert run.details["source"] == "claims_inbox"

    # The staged CSV and Excel claims are complete: the pipeline validates them.
    process_run = store.start_run(process.name, "process")
    process_collected(store, process, process_run)
    for key in ("CLM-000001", "CLM-000002", "CLM-000003"):
        staged = store.latest(process.name, key)
        assert staged is not None and staged.state == "validated", staged.reason


def test_a_file_is_taken_once_by_content(store: Store, tmp_path: Path) -> None:
    process = inbox_process(sources=[INBOX])
    inbox = tmp_path / "inbox" / "claims"
    inbox.mkdir(parents=True)
    _write_csv(inbox / "monday.csv", [claim(1), claim(2)])
    content = (inbox / "monday.csv").read_bytes()
    [first] = ingested(store, process, data_dir=tmp_path)
    assert first.new == 2
    (inbox / "monday-again.csv").write_bytes(content)
    [second] = ingested(store, process, data_dir=tmp_path)
    [item] = second.files
    assert item.status == "duplicate" and "monday.csv" in (item.reason or "")
    assert second.new == second.revised == second.unchanged == 0
    assert len(list((inbox / "done").iterdir())) == 2
    [third] = ingested(store, process, data_dir=tmp_path)
    assert third.files == []


def test_cli_ingest_reports_and_exits_1_on_a_failed_file(tmp_path: Path) -> None:
    process_file = tmp_path / "claims.yaml"
    data = yaml.safe_load(PROCESS_FILE.read_text(encoding="utf-8"))
    data["sources"] = [INBOX]
    process_file.write_text(yaml.safe_dump(data), encoding="utf-8")
    inbox = tmp_path / "data" / "inbox" / "claims"
    inbox.mkdir(parents=True)
    _write_csv(inbox / "good.csv", [claim(1)])
    (inbox / "bad.jsonl").write_text("[1, 2]\n", encoding="utf-8")
    env = {"RPAML_DATA_DIR": str(tmp_path / "data"), "RPAML_PROCESS_FILE": str(process_file)}
    result = CliRunner().invoke(main, ["ingest", "--json"], env=env)
    assert result.exit_code == 1, result.output
    [report] = json.loads(result.output)
    assert report["new"] == 1
    assert {f["name"]: f["status"] for f in report["files"]} == {
        "bad.jsonl": "failed",
        "good.csv": "taken",
    }
    text = CliRunner().invoke(main, ["ingest", "claims_inbox"], env=env)
    assert text.exit_code == 0, text.output
    assert "claims_inbox (inbox)" in text.output
    unknown = CliRunner().invoke(main, ["ingest", "nope"], env=env)
    assert unknown.exit_code == 1 and "declares no source nope" in unknown.output


def test_bad_source_declarations_are_reported_with_their_key() -> None:
    with pytest.raises(ProcessFileError) as error:
        inbox_process(sources=[{**INBOX, "pdf_record_pattern": "CLM-(\\d+)"}])
    assert "sources.0.pdf_record_pattern" in str(error.value)
    with pytest.raises(ProcessFileError) as error:
        inbox_process(sources=[{"name": "x", "kind": "ftp"}])
    assert "sources.0" in str(error.value)
