"""Credentials stay out of the process file: ``${NAME}`` in a source's or target's URL and
headers comes from the environment or the secrets file, reaches the remote system, and is
never written to the store, the run details or the lineage events."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from pipeline_claims import PROCESS_FILE, claim
from sqlalchemy import create_engine, text

from loopback_http import QuietHandler, answer_json, loopback
from rpaml_pipeline.cli import main
from rpaml_pipeline.errors import MissingVariableError
from rpaml_pipeline.lineage import OpenLineageEmitter
from rpaml_pipeline.process import ProcessDefinition, parse_process
from rpaml_pipeline.process.placeholders import expand, shown
from rpaml_pipeline.processing import process_collected
from rpaml_pipeline.settings import RpamlSettings
from rpaml_pipeline.sources.remote import masked
from rpaml_pipeline.store import IncomingRecord, Store
from stage_runs import delivered, ingested

TOKEN = "s3cret-token-7f2a"


def with_sections(**sections: Any) -> ProcessDefinition:
    data = yaml.safe_load(PROCESS_FILE.read_text(encoding="utf-8"))
    data.pop("enrichment", None)
    data.update(sections)
    return parse_process(yaml.safe_dump(data), PROCESS_FILE)


@dataclass
class Partner:
    """A loopback partner system that wants ``Authorization: Bearer <TOKEN>``."""

    url: str
    seen: list[str | None] = field(default_factory=list)
    posted: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture
def partner() -> Iterator[Partner]:
    body = {"records": [claim(61), claim(62)]}
    state = Partner(url="")

    class Handler(QuietHandler):
        def _authorised(self) -> bool:
            given = self.headers.get("Authorization")
            state.seen.append(given)
            if given != f"Bearer {TOKEN}":
                self.send_response(401)
                self.end_headers()
                return False
            return True

        def do_GET(self) -> None:
            if self._authorised():
                answer_json(self, body)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            payload = json.loads(self.rfile.read(length))
            if not self._authorised():
                return
            state.posted.append(payload)
            self.send_response(204)
            self.end_headers()

    with loopback(Handler) as url:
        state.url = url
        yield state


def partner_source(partner: Partner) -> dict[str, Any]:
    """The partner's claims endpoint as an ``http`` source, its token a placeholder."""
    return {
        "name": "partner_api",
        "kind": "http",
        "url": partner.url + "/claims",
        "records_path": "records",
        "headers": {"Authorization": "Bearer ${PARTNER_TOKEN}"},
    }


def everything_written(store: Store, tmp_path: Path) -> str:
    """The whole store and every lineage event, as text."""
    dumped = []
    with store.engine.connect() as conn:
        for table in ("runs", "records", "record_events"):
            dumped.extend(str(row) for row in conn.execute(text(f"SELECT * FROM {table}")))
    events = tmp_path / "lineage" / "events.jsonl"
    if events.exists():
        dumped.append(events.read_text(encoding="utf-8"))
    return "\n".join(dumped)


def test_an_http_source_sends_the_token_from_the_variables(
    store: Store, tmp_path: Path, partner: Partner
) -> None:
    process = with_sections(sources=[partner_source(partner)])
    emitter = OpenLineageEmitter.for_data_dir(tmp_path)
    [report] = ingested(
        store, process, data_dir=tmp_path, emitter=emitter, variables={"PARTNER_TOKEN": TOKEN}
    )
    assert report.status == "succeeded" and report.new == 2
    assert partner.seen == [f"Bearer {TOKEN}"]
    assert TOKEN not in everything_written(store, tmp_path)


def test_a_missing_variable_fails_that_source_by_name_and_the_others_still_run(
    store: Store, tmp_path: Path, partner: Partner
) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'claims-system.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE claims (claim_id TEXT, amount TEXT)"))
        conn.execute(text("INSERT INTO claims VALUES ('CLM-000071', '$10.00')"))
    engine.dispose()
    process = with_sections(
        sources=[
            partner_source(partner),
            {
                "name": "claims_system",
                "kind": "sql",
                "url": "sqlite:///${CLAIMS_DIR}/claims-system.db",
                "query": "SELECT claim_id, amount FROM claims",
            },
        ]
    )
    down, system = ingested(
        store, process, data_dir=tmp_path, variables={"CLAIMS_DIR": str(tmp_path)}
    )
    assert down.status == "failed"
    assert "${PARTNER_TOKEN}" in (down.error or "")
    assert "partner_api" in (down.error or "") and "environment or in the secrets file" in (
        down.error or ""
    )
    assert partner.seen == []  # nothing was sent without the token
    assert system.status == "succeeded" and system.new == 1
    # The location keeps the placeholder, not the expanded path.
    assert "${CLAIMS_DIR}" in store.get_run(system.run_id).details["location"]


def test_a_webhook_target_sends_its_token_and_never_records_it(
    store: Store, tmp_path: Path, partner: Partner
) -> None:
    process = with_sections(
        delivery=[
            {
                "name": "partner",
                "kind": "webhook",
                "url": partner.url + "/claims",
                "headers": {"Authorization": "Bearer ${PARTNER_TOKEN}"},
                "states": ["validated"],
            }
        ]
    )
    run_id = store.start_run(process.name, "collect", robot="collect_claims")
    store.ingest(
        process.name,
        [IncomingRecord(f"CLM-{n:06d}", claim(n), "robot:collect_claims", None) for n in (1, 2)],
        run_id=run_id,
    )
    process_collected(store, process, store.start_run(process.name, "process"))
    emitter = OpenLineageEmitter.for_data_dir(tmp_path)
    report = delivered(
        store, process, data_dir=tmp_path, emitter=emitter, variables={"PARTNER_TOKEN": TOKEN}
    )
    assert report.ok and report.targets[0].delivered == 2
    assert partner.seen == [f"Bearer {TOKEN}"]
    assert len(partner.posted[0]["records"]) == 2
    assert TOKEN not in everything_written(store, tmp_path)
    with pytest.raises(MissingVariableError, match=r"delivery target partner: Authorization"):
        delivered(store, process, data_dir=tmp_path, variables={})


def test_the_cli_takes_variables_from_the_secrets_file_and_the_environment(
    tmp_path: Path, partner: Partner, monkeypatch: pytest.MonkeyPatch
) -> None:
    process_file = tmp_path / "claims.yaml"
    data = yaml.safe_load(PROCESS_FILE.read_text(encoding="utf-8"))
    data.pop("enrichment", None)
    data["sources"] = [partner_source(partner)]
    process_file.write_text(yaml.safe_dump(data), encoding="utf-8")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "secrets.env").write_text(f"PARTNER_TOKEN={TOKEN}\n", encoding="utf-8")
    monkeypatch.setenv("RPAML_PROJECT_DIR", str(tmp_path))
    monkeypatch.setenv("RPAML_PROCESS_FILE", str(process_file))
    monkeypatch.delenv("PARTNER_TOKEN", raising=False)
    result = CliRunner().invoke(main, ["ingest", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)[0]["new"] == 2
    # The environment wins over the secrets file.
    monkeypatch.setenv("PARTNER_TOKEN", "wrong")
    result = CliRunner().invoke(main, ["ingest", "--json"])
    assert result.exit_code == 1
    assert "401" in json.loads(result.output)[0]["error"]
    assert partner.seen == [f"Bearer {TOKEN}", "Bearer wrong"]


def test_settings_variables_merge_the_secrets_file_under_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = RpamlSettings(project_dir=tmp_path)
    settings.data_dir.mkdir(parents=True)
    settings.secrets_file.write_text("A_TOKEN=from-file\nB_TOKEN=file\n", encoding="utf-8")
    monkeypatch.setenv("B_TOKEN", "from-env")
    found = settings.variables()
    assert found["A_TOKEN"] == "from-file" and found["B_TOKEN"] == "from-env"


def test_expand_replaces_every_placeholder_and_names_what_is_missing(tmp_path: Path) -> None:
    value = "postgresql+psycopg://${USER_NAME}:${PASSWORD}@db/{data_dir}"
    assert (
        expand(
            value, data_dir=tmp_path, variables={"USER_NAME": "u", "PASSWORD": "p@ss"}, where="w"
        )
        == f"postgresql+psycopg://u:p@ss@db/{tmp_path}"
    )
    with pytest.raises(MissingVariableError, match=r"w needs \$\{PASSWORD\}, \$\{USER_NAME\}"):
        expand(value, data_dir=tmp_path, variables={}, where="w")
    assert expand("no placeholders $HOME {x}", data_dir=tmp_path, variables={}, where="w") == (
        "no placeholders $HOME {x}"
    )
    # Shown: the placeholders as written, a literal password masked.
    literal = "postgresql+psycopg://u:hunter2@db:5432/${DB_NAME}"
    assert shown(literal, data_dir=tmp_path, mask=masked) == (
        "postgresql+psycopg://u:***@db:5432/${DB_NAME}"
    )
