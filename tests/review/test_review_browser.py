"""The review app in real headless Chromium (Debian's, driven by Playwright): a reviewer
works items by keyboard alone, two reviewers never see the same item, and every bad input
is refused with a message while nothing changes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from sqlalchemy import select, update

from review_app_client import PASSWORDS
from review_queue_items import queue_claims
from rpaml_pipeline.process import ProcessDefinition
from rpaml_pipeline.store import Store
from rpaml_pipeline.store.schema import record_labels, records, review_audit, review_items

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (make system)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def sqlite_store(tmp_path: Path, process: ProcessDefinition) -> Iterator[Store]:
    with Store.connect(f"sqlite:///{tmp_path / 'rpaml.db'}") as store:
        queue_claims(store, process, 40)
        yield store


@pytest.fixture
def app_url(sqlite_store: Store, review_server: Callable[..., Any]) -> Iterator[str]:
    with review_server(sqlite_store.engine.url.render_as_string(hide_password=False)) as server:
        yield server.url


def _log_in_by_keyboard(page: Page, url: str, name: str) -> None:
    page.goto(f"{url}/login")
    # The name field takes the focus (autofocus), which Chromium applies after the load
    # event it may return on: typing before that would go nowhere.
    page.wait_for_function("document.activeElement && document.activeElement.name === 'username'")
    page.keyboard.type(name)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORDS[name])
    page.keyboard.press("Enter")
    page.wait_for_selector("text=Review queue")


def _shown_key(page: Page) -> str:
    return page.inner_text("#natural-key")


def _press_and_wait(page: Page, key: str) -> None:
    """Press ``key`` and wait until the answer (the next item, the queue or a refusal)
    has replaced the page's content (review.js counts its swaps on the body)."""
    before = page.evaluate("Number(document.body.dataset.swaps || 0)")
    page.keyboard.press(key)
    page.wait_for_function("(n) => Number(document.body.dataset.swaps || 0) > n", arg=before)


def _snapshot(store: Store) -> list[Any]:
    with store.ctx.read() as conn:
        return [
            sorted(tuple(map(str, row)) for row in conn.execute(select(table)))
            for table in (records, review_items, review_audit, record_labels)
        ]


def test_a_reviewer_works_three_items_by_keyboard(
    browser: Browser, app_url: str, sqlite_store: Store
) -> None:
    page = browser.new_context().new_page()
    _log_in_by_keyboard(page, app_url, "ann")
    _press_and_wait(page, "n")  # start reviewing
    page.wait_for_selector("#costs")
    page.keyboard.press("?")
    assert page.is_visible("#help")
    page.keyboard.press("?")
    assert not page.is_visible("#help")
    seen = []
    for key in ("a", "r", "a"):
        seen.append((_shown_key(page), page.url.rsplit("/", 1)[1], key))
        _press_and_wait(page, key)
        page.wait_for_selector("#natural-key")
        assert "saved; the robot will" in page.inner_text(".flash")
    assert len({key for key, _, _ in seen}) == 3
    for natural_key, record_id, key in seen:
        record = sqlite_store.get_record(record_id)
        assert record.natural_key == natural_key
        assert (record.state, record.decision) == ("decided", {"a": "approve", "r": "reject"}[key])
        [label] = sqlite_store.labels.of_record(record_id)
        assert (label.kind, label.source, label.details["reviewer"]) == ("review", "review", "ann")
        assert label.label == (1 if key == "r" else 0)
        events = [e.event for e in sqlite_store.review_decisions.audit_trail(
            "claims_triage", record_id=record_id)]  # fmt: skip
        assert events == ["lease", "decision"]


def test_two_reviewers_never_see_the_same_item(
    browser: Browser, app_url: str, sqlite_store: Store
) -> None:
    ann = browser.new_context().new_page()
    bob = browser.new_context().new_page()
    _log_in_by_keyboard(ann, app_url, "ann")
    _log_in_by_keyboard(bob, app_url, "bob")
    _press_and_wait(ann, "n")
    _press_and_wait(bob, "n")
    shown: dict[str, list[str]] = {"ann": [], "bob": []}
    for _ in range(4):
        for name, page in (("ann", ann), ("bob", bob)):
            shown[name].append(_shown_key(page))
            _press_and_wait(page, "a")
    assert not set(shown["ann"]) & set(shown["bob"])
    assert len(set(shown["ann"])) == len(shown["ann"]) == 4
    # Bob cannot open the item Ann holds.
    bob.goto(ann.url)
    assert "not leased to you" in bob.inner_text("#message")


def _submit_changed(page: Page, script: str) -> str:
    """Change the decision form with ``script`` (as a forger would), submit it by key."""
    page.evaluate(script)
    _press_and_wait(page, "a")
    return page.inner_text("#message")


def test_bad_input_is_refused_and_changes_nothing(
    browser: Browser, app_url: str, sqlite_store: Store
) -> None:
    page = browser.new_context().new_page()
    _log_in_by_keyboard(page, app_url, "ann")
    _press_and_wait(page, "n")
    item_url = page.url
    record_id = item_url.rsplit("/", 1)[1]
    before = _snapshot(sqlite_store)
    cases = [
        ("document.querySelector('#decision [name=csrf]').remove()", "no CSRF token"),
        ("document.querySelector('#decision [name=csrf]').value = 'forged'", "not this session"),
        ("document.querySelector('#decision [name=lease]').value = 'forged'",
         "not from your current lease"),
        ("document.querySelector('#decision [name=shown]').value = '0'.repeat(64)",
         "not what this form showed"),
    ]  # fmt: skip
    for script, message in cases:
        page.goto(item_url)
        assert message in _submit_changed(page, script)
    page.goto(f"{app_url}/items/{'e' * 32}")
    assert "no record" in page.inner_text("#message")
    assert _snapshot(sqlite_store) == before
    # Replayed: the same form, submitted again after it was decided.
    page.goto(item_url)
    form = page.evaluate("Object.fromEntries(new FormData(document.querySelector('#decision')))")
    _press_and_wait(page, "a")
    after = _snapshot(sqlite_store)
    page.goto(item_url)
    assert "already decided" in page.inner_text("#message")
    replay = page.request.post(
        f"{item_url}/decision", form={**form, "choice": "reject"}, max_redirects=0
    )
    assert replay.status == 409 and "already decided by ann" in replay.text()
    assert _snapshot(sqlite_store) == after
    assert sqlite_store.get_record(record_id).decision == "approve"


def test_an_expired_lease_and_another_reviewers_decision_are_refused(
    browser: Browser, app_url: str, sqlite_store: Store
) -> None:
    ann = browser.new_context().new_page()
    bob = browser.new_context().new_page()
    _log_in_by_keyboard(ann, app_url, "ann")
    _press_and_wait(ann, "n")
    record_id = ann.url.rsplit("/", 1)[1]
    old_form = ann.evaluate("Object.fromEntries(new FormData(document.querySelector('#decision')))")
    # Ann's lease runs out (moved into the past rather than waited for).
    with sqlite_store.ctx.write() as conn:
        conn.execute(
            update(review_items)
            .where(review_items.c.record_id == record_id)
            .values(lease_expires_at=sqlite_store.now().replace(year=2020))
        )
    before = _snapshot(sqlite_store)
    _press_and_wait(ann, "a")
    assert "expired" in ann.inner_text("#message")
    assert _snapshot(sqlite_store) == before
    # Bob takes the returned item and decides it; Ann's old form is refused.
    _log_in_by_keyboard(bob, app_url, "bob")
    _press_and_wait(bob, "n")
    assert bob.url.rsplit("/", 1)[1] == record_id
    _press_and_wait(bob, "r")
    decided = _snapshot(sqlite_store)
    late = ann.request.post(
        f"{app_url}/items/{record_id}/decision",
        form={**old_form, "choice": "approve"},
        max_redirects=0,
    )
    assert late.status == 409 and "already decided by bob" in late.text()
    assert _snapshot(sqlite_store) == decided
    ann.goto(f"{app_url}/")
    assert ann.inner_text("#decided-today") == "1 decided today"
    assert sqlite_store.get_record(record_id).decision == "reject"
