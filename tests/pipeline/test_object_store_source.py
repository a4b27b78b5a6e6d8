"""The object-store source against moto's S3 server on loopback: every format the inbox
reads, taken once by key and ETag, a changed object as a new revision, and an ingest
killed half way through 2,000 objects resuming with nothing staged twice."""

from __future__ import annotations

import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import polars as pl
import yaml
from pipeline_claims import PROCESS_FILE, claim
from test_sources_inbox import PDF_PATTERN, _write_csv, _write_pdf, _write_xlsx

from rpaml_pipeline.lineage import OpenLineageEmitter
from rpaml_pipeline.process import ProcessDefinition, parse_process
from rpaml_pipeline.store import Store
from s3_bucket import bucket
from stage_runs import ingested

OBJECTS = 2_000


def with_source(source: dict[str, Any]) -> ProcessDefinition:
    data = yaml.safe_load(PROCESS_FILE.read_text(encoding="utf-8"))
    data.pop("enrichment", None)
    data["sources"] = [source]
    return parse_process(yaml.safe_dump(data), PROCESS_FILE)


def _bytes_of(writer: Any, tmp_path: Path, name: str, rows: Any) -> bytes:
    path = tmp_path / name
    writer(path, rows)
    return path.read_bytes()


def test_bucket_objects_are_taken_once_by_key_and_etag(store: Store, tmp_path: Path) -> None:
    fields = {"claim_id": "Claim ID", "amount": "Claimed amount"}
    with bucket() as s3:
        s3.put("in/a.csv", _bytes_of(_write_csv, tmp_path, "a.csv", [claim(1), claim(2)]))
        s3.put("in/b.xlsx", _bytes_of(_write_xlsx, tmp_path, "b.xlsx", [claim(3)]))
        s3.put("in/c.jsonl", b'{"Claim ID": "CLM-000004", "Claimed amount": "9.50"}\n')
        frame = pl.DataFrame({"Claim ID": ["CLM-000005"], "Claimed amount": ["7.25"]})
        buffer = io.BytesIO()
        frame.write_parquet(buffer)
        s3.put("in/d.parquet", buffer.getvalue())
        s3.put("in/e.pdf", _bytes_of(_write_pdf, tmp_path, "e.pdf", [6]))
        s3.put("in/bad.csv", b"Claim ID,Claimed amount\n,5\n")
        s3.put("in/notes.txt", b"not a claims file")
        s3.put("elsewhere/f.csv", b"Claim ID\nCLM-000099\n")
        spec = s3.source(prefix="in/", fields=fields, pdf_record_pattern=PDF_PATTERN)
        process = with_source(spec)
        emitter = OpenLineageEmitter.for_data_dir(tmp_path)
        run = ingested(store, process, data_dir=tmp_path, variables=s3.variables, emitter=emitter)
        [report] = run
        assert (report.status, report.new, report.messages, report.dead) == ("succeeded", 6, 6, 1)
        [failure] = report.rejected
        assert failure.startswith("in/bad.csv@") and "no claim_id" in failure
        record = store.latest(process.name, "CLM-000005")
        assert record is not None and record.source == "object_store:bucket"
        etag = s3.client.head_object(Bucket=s3.name, Key="in/d.parquet")["ETag"].strip('"')
        assert record.source_location == f"s3://{s3.name}/in/d.parquet@etag:{etag}#row=1"
        assert record.raw == {"claim_id": "CLM-000005", "amount": "7.25"}
        assert store.latest(process.name, "CLM-000006") is not None  # the PDF's record
        assert store.latest(process.name, "CLM-000099") is None  # outside the prefix
        # The OpenLineage input dataset is the bucket and prefix; no secret in the events.
        text = (tmp_path / "lineage" / "events.jsonl").read_text(encoding="utf-8")
        inputs = {
            (d["namespace"], d["name"])
            for e in map(json.loads, text.splitlines())
            for d in e.get("inputs", [])
        }
        assert (f"s3://{s3.name}", "in/") in inputs
        assert "rpaml-test-secret" not in text

        # Again: nothing is read or staged. Then a changed object is a new revision.
        [again] = ingested(store, process, data_dir=tmp_path, variables=s3.variables)
        assert (again.new, again.revised, again.duplicates, again.dead) == (0, 0, 6, 0)
        s3.put(
            "in/a.csv",
            _bytes_of(_write_csv, tmp_path, "a.csv", [claim(1), claim(2, amount="1.00")]),
        )
        [changed] = ingested(store, process, data_dir=tmp_path, variables=s3.variables)
        assert (changed.revised, changed.unchanged, changed.new) == (1, 1, 0)
        newest = store.latest(process.name, "CLM-000002")
        assert newest is not None and newest.revision == 2 and newest.raw["amount"] == "1.00"


def _taken(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            return int(conn.execute("SELECT count(*) FROM source_messages").fetchone()[0])
    except sqlite3.OperationalError:
        return 0


def test_ingest_killed_half_way_through_the_bucket_resumes(tmp_path: Path) -> None:
    with bucket() as s3:
        s3.put_many(
            {
                f"claims/{n:05d}.jsonl": json.dumps({"claim_id": f"CLM-{n:06d}"}).encode()
                for n in range(1, OBJECTS + 1)
            }
        )
        data = yaml.safe_load(PROCESS_FILE.read_text(encoding="utf-8"))
        data.pop("enrichment", None)
        data["sources"] = [s3.source(prefix="claims/", batch_objects=100)]
        process_file = tmp_path / "process.yaml"
        process_file.write_text(yaml.safe_dump(data), encoding="utf-8")
        db = tmp_path / "store.db"
        env = {
            **os.environ,
            **s3.variables,
            "RPAML_DATA_DIR": str(tmp_path / "data"),
            "RPAML_PROCESS_FILE": str(process_file),
            "RPAML_STORE_URL": f"sqlite:///{db}",
        }
        command = [sys.executable, "-m", "rpaml_pipeline.cli", "ingest", "bucket", "--json"]
        log = (tmp_path / "ingest.log").open("wb")
        first = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        while first.poll() is None and _taken(db) < OBJECTS // 2:
            try:
                first.wait(timeout=0.005)
            except subprocess.TimeoutExpired:
                continue
        first.send_signal(signal.SIGKILL)
        first.wait()
        killed_at = _taken(db)
        assert 0 < killed_at < OBJECTS, killed_at
        print(f"object store: killed with {killed_at} of {OBJECTS} objects taken")
        done = subprocess.run(command, env=env, capture_output=True, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
        [report] = json.loads(done.stdout)
        assert report["duplicates"] == killed_at and report["new"] == OBJECTS - killed_at
        with sqlite3.connect(db) as conn:
            records = conn.execute(
                "SELECT count(*), count(DISTINCT natural_key), max(revision) FROM records"
            ).fetchone()
            statuses = dict(conn.execute("SELECT status, count(*) FROM source_messages GROUP BY 1"))
        assert records == (OBJECTS, OBJECTS, 1)
        assert statuses == {"staged": OBJECTS}
        log.close()
