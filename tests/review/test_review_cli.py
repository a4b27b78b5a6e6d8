"""``rpaml status`` shows the review queue; ``rpaml review audit`` prints the trail;
``rpaml review account`` makes an account entry; ``rpaml review`` refuses to start
without what it needs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from review_queue_items import queue_claims
from rpaml_pipeline.cli import main
from rpaml_pipeline.process import ProcessDefinition
from rpaml_pipeline.store import Store
from rpaml_pipeline.store.review_decisions import ReviewVerdict
from rpaml_review.accounts import AccountBook, parse_account


@pytest.fixture
def env(tmp_path: Path, process_folder: Path) -> dict[str, str]:
    return {
        "RPAML_DATA_DIR": str(tmp_path / "data"),
        "RPAML_STORE_URL": f"sqlite:///{tmp_path / 'rpaml.db'}",
        "RPAML_PROCESS_FILE": str(process_folder / "claims_triage_review.yaml"),
        "RPAML_REVIEW_ACCOUNTS": "[]",
    }


def _run(env: dict[str, str], *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.output


def test_status_and_audit_show_the_queue(env: dict[str, str], process: ProcessDefinition) -> None:
    with Store.connect(env["RPAML_STORE_URL"]) as store:
        queued = queue_claims(store, process, 30)
        first = store.review.lease_next(process.name, "ann", lease_seconds=600)
        second = store.review.lease_next(process.name, "bob", lease_seconds=600)
        assert first is not None and second is not None and first.lease_token
        verdict = ReviewVerdict("approve", "approve", "legitimate", 0, "1" * 64)
        store.review_decisions.decide(first.record_id, "ann", first.lease_token, verdict,
                                      run_id="cli-test")  # fmt: skip
    code, out = _run(env, "status")
    assert code == 0
    assert f"review queue: {len(queued) - 1} open, 1 leased, 0 past SLA, 1 decided today" in out
    code, out = _run(env, "status", "--json")
    assert json.loads(out)["review_queue"]["claims_triage"]["decided_today"] == 1
    code, out = _run(env, "review", "audit")
    lines = out.strip().splitlines()
    assert code == 0 and len(lines) == 3
    assert [line.split()[3] for line in lines] == ["lease", "lease", "decision"]
    code, out = _run(env, "review", "audit", "--record", first.record_id, "--json")
    assert [row["event"] for row in json.loads(out)] == ["lease", "decision"]
    code, out = _run(env, "lineage", first.record_id)
    assert code == 0 and "review.queue" in out and "review" in out


def test_an_account_entry_is_hashed(env: dict[str, str]) -> None:
    code, out = _run(env, "review", "account", "carol", "--role", "admin",
                     "--password", "carol-secret-9")  # fmt: skip
    assert code == 0 and "carol-secret-9" not in out
    account = parse_account(out.strip())
    assert (account.name, account.role.value) == ("carol", "admin")
    assert AccountBook([account]).verify("carol", "carol-secret-9") == account
    assert AccountBook([account]).verify("carol", "carol-secret-8") is None
    code, out = _run(env, "review", "account", "dan", "--password", "short")
    assert code != 0 and "at least 8 characters" in out


def test_the_app_does_not_start_without_accounts(env: dict[str, str]) -> None:
    result = CliRunner().invoke(main, ["review", "--port", "0"], env=env)
    assert result.exit_code == 2
    assert "no review accounts" in result.output
