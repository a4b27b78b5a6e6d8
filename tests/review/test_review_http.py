"""The review app over HTTP: login, sessions, roles, CSRF, leases and every refusal.

A real app (FastAPI's TestClient runs its lifespan) over a real SQLite store whose
clock the tests move, so leases and sessions expire without waiting.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from openlineage_spec import run_event_errors
from review_app_client import account_entries, csrf_of, hidden, log_in
from review_queue_items import queue_claims
from rpaml_pipeline.lineage.openlineage import OpenLineageEmitter, run_uuid
from rpaml_pipeline.process import ProcessDefinition
from rpaml_pipeline.store import Store
from rpaml_pipeline.store.schema import record_labels, records, review_audit, review_items
from rpaml_review.app import create_app
from rpaml_review.errors import ConfigurationError
from rpaml_review.settings import ReviewSettings


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime.now(dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


@pytest.fixture(scope="module")
def accounts() -> list[str]:
    return account_entries()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path: Path, clock: Clock, process: ProcessDefinition) -> Iterator[Store]:
    with Store.connect(f"sqlite:///{tmp_path / 'rpaml.db'}", clock=clock) as opened:
        queue_claims(opened, process, 40)
        yield opened


@pytest.fixture
def app(store: Store, process: ProcessDefinition, accounts: list[str]) -> Any:
    settings = ReviewSettings(accounts=accounts, session_idle_minutes=30)
    return create_app(settings, store, process, portal_url="http://portal.test")


@pytest.fixture
def client(app: Any) -> Iterator[TestClient]:
    with TestClient(app) as opened:
        yield opened


def _snapshot(store: Store) -> list[Any]:
    with store.ctx.read() as conn:
        return [
            sorted(tuple(map(str, row)) for row in conn.execute(select(table)))
            for table in (records, review_items, review_audit, record_labels)
        ]


def _first_item(client: TestClient) -> tuple[str, str]:
    """Start reviewing: the item's URL and page."""
    queue = client.get("/")
    answer = client.post("/items/next", data={"csrf": csrf_of(queue.text)}, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/items/")
    page = client.get(answer.headers["location"])
    assert page.status_code == 200
    return answer.headers["location"], page.text


def _decide(client: TestClient, url: str, page: str, choice: str, **change: str) -> Any:
    form = {"csrf": csrf_of(page), "lease": hidden(page, "lease"), "shown": hidden(page, "shown"),
            "choice": choice, "note": "", **change}  # fmt: skip
    return client.post(f"{url}/decision", data=form, follow_redirects=False)


def test_every_page_but_login_needs_a_session(client: TestClient) -> None:
    for path in ("/", "/admin", "/items/" + "a" * 32):
        answer = client.get(path, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"] == "/login"
    assert client.post("/items/next", data={"csrf": "x"}).status_code == 401
    assert client.get("/login").status_code == 200


def test_login_checks_the_password_and_its_csrf_token(client: TestClient) -> None:
    assert log_in(client, "ann", "wrong password").status_code == 401
    assert log_in(client, "nobody", "whatever-123").status_code == 401
    client.get("/login")
    no_token = client.post("/login", data={"username": "ann", "password": "ann-password-1"})
    assert no_token.status_code == 403 and "CSRF" in no_token.text
    assert log_in(client, "ann").status_code == 303
    assert "Review queue" in client.get("/").text


def test_reviewers_cannot_reach_admin_pages(app: Any) -> None:
    with TestClient(app) as ann, TestClient(app) as root:
        log_in(ann, "ann")
        log_in(root, "root")
        refused = ann.get("/admin")
        assert refused.status_code == 403 and "for admins" in refused.text
        assert root.get("/admin").status_code == 200


def test_sessions_expire_and_logout_ends_them(client: TestClient, clock: Clock) -> None:
    log_in(client, "ann")
    assert client.get("/", follow_redirects=False).status_code == 200
    clock.advance(minutes=31)
    assert client.get("/", follow_redirects=False).status_code == 303
    log_in(client, "ann")
    page = client.get("/")
    cookie = client.cookies.get("rpaml_review_session")
    client.post("/logout", data={"csrf": csrf_of(page.text)})
    client.cookies.set("rpaml_review_session", cookie or "")
    assert client.get("/", follow_redirects=False).status_code == 303


def test_a_decision_is_stored_and_the_next_item_follows(client: TestClient, store: Store) -> None:
    log_in(client, "ann")
    url, page = _first_item(client)
    record_id = url.rsplit("/", 1)[1]
    assert (
        "Expected cost" in page and "approve" in page and "http://portal.test/claims/CLM-" in page
    )
    answer = _decide(client, url, page, "reject", note="invoice forged")
    assert answer.status_code == 303
    assert (
        answer.headers["location"].startswith("/items/")
        and record_id not in answer.headers["location"]
    )
    record = store.get_record(record_id)
    assert (record.state, record.decision) == ("decided", "reject")
    [label] = store.labels.of_record(record_id)
    assert (label.kind, label.label, label.details["note"]) == ("review", 1, "invoice forged")
    assert label.details["shown_hash"] == hidden(page, "shown")
    events = [(e.event, e.record_id) for e in store.review_decisions.audit_trail("claims_triage")]
    assert ("decision", record_id) in events and ("lease", record_id) in events
    assert "saved; the robot will reject it" in client.get(answer.headers["location"]).text


def test_bad_forms_are_refused_and_change_nothing(client: TestClient, store: Store) -> None:
    log_in(client, "ann")
    url, page = _first_item(client)
    before = _snapshot(store)
    cases = [
        ({"csrf": ""}, 403, "no CSRF token"),
        ({"csrf": "forged"}, 403, "not this session"),
        ({"lease": "forged-lease"}, 409, "not from your current lease"),
        ({"shown": "0" * 64}, 409, "not what this form showed"),
        ({"choice": "delete"}, 422, "unknown choice"),
    ]
    for change, status, message in cases:
        answer = _decide(client, url, page, change.pop("choice", "approve"), **change)
        assert (answer.status_code, message in answer.text) == (status, True), answer.text
    unknown = _decide(client, "/items/" + "e" * 32, page, "approve")
    assert unknown.status_code == 404 and "no record" in unknown.text
    assert client.get("/items/not-an-id").status_code == 404
    assert _snapshot(store) == before
    # The form goes through once; replayed, it is refused and nothing changes.
    assert _decide(client, url, page, "approve").status_code == 303
    after = _snapshot(store)
    replay = _decide(client, url, page, "approve")
    assert replay.status_code == 409 and "already decided by ann" in replay.text
    assert _snapshot(store) == after


def test_an_expired_lease_refuses_the_decision(
    client: TestClient, store: Store, clock: Clock
) -> None:
    log_in(client, "ann")
    url, page = _first_item(client)
    clock.advance(minutes=11)
    before = _snapshot(store)
    answer = _decide(client, url, page, "approve")
    assert answer.status_code == 409 and "expired" in answer.text
    assert _snapshot(store) == before


def test_two_reviewers_get_different_items_and_cannot_open_each_others(app: Any) -> None:
    with TestClient(app) as ann, TestClient(app) as bob:
        log_in(ann, "ann")
        log_in(bob, "bob")
        ann_url, _ = _first_item(ann)
        bob_url, _ = _first_item(bob)
        assert ann_url != bob_url
        refused = bob.get(ann_url)
        assert refused.status_code == 409 and "not leased to you" in refused.text


def test_skipping_moves_on_and_returns_the_item(client: TestClient, store: Store) -> None:
    log_in(client, "ann")
    url, page = _first_item(client)
    form = {"csrf": csrf_of(page), "lease": hidden(page, "lease")}
    answer = client.post(f"{url}/skip", data=form, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] != url
    assert store.review.item(url.rsplit("/", 1)[1]).lease_owner is None


def test_the_app_needs_accounts_and_a_review_section(
    store: Store, process: ProcessDefinition, accounts: list[str]
) -> None:
    with pytest.raises(ConfigurationError, match="no review accounts"):
        create_app(ReviewSettings(), store, process, portal_url="http://portal.test")
    plain = process.model_copy(update={"review": None})
    with pytest.raises(ConfigurationError, match="has no review section"):
        create_app(ReviewSettings(accounts=accounts), store, plain, portal_url="")
    with pytest.raises(ConfigurationError, match="role must be reviewer or admin"):
        create_app(ReviewSettings(accounts=["eve:boss:$argon2id$x"]), store, process, portal_url="")


def test_the_apps_run_emits_valid_lineage_with_its_decisions(
    tmp_path: Path, store: Store, process: ProcessDefinition, accounts: list[str]
) -> None:
    emitter = OpenLineageEmitter(tmp_path / "events.jsonl")
    settings = ReviewSettings(accounts=accounts)
    app = create_app(settings, store, process, portal_url="http://portal.test", emitter=emitter)
    with TestClient(app) as client:
        log_in(client, "ann")
        for choice in ("approve", "reject"):
            url, page = _first_item(client)
            assert _decide(client, url, page, choice).status_code == 303
    events = [json.loads(line) for line in emitter.path.read_text().splitlines()]
    assert [e["eventType"] for e in events] == ["START", "COMPLETE"]
    assert all(run_event_errors(e) == [] for e in events)
    [run] = [r for r in store.list_runs(process.name) if r.kind == "review_app"]
    assert {e["run"]["runId"] for e in events} == {run_uuid(run.run_id)}
    assert events[0]["inputs"][0]["name"] == "claims_triage.records.review"
    [decided] = events[1]["outputs"]
    assert decided["name"] == "claims_triage.records.decided"
    assert decided["outputFacets"]["outputStatistics"]["rowCount"] == 2
