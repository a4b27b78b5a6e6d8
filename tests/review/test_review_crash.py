"""A reviewer's decision survives the review app's crash: it is in the store before the
app answers, and the act robot applies it afterwards, once."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from typing import Any

import httpx

from review_app_client import csrf_of, hidden, log_in
from review_queue_items import queue_claims
from rpaml_pipeline.process import ProcessDefinition
from rpaml_pipeline.store import Store


def test_a_decision_survives_a_crash_of_the_app(
    store: Store, process: ProcessDefinition, review_server: Callable[..., Any]
) -> None:
    queue_claims(store, process, 20)
    with review_server(store.engine.url.render_as_string(hide_password=False)) as server:
        with httpx.Client(base_url=server.url, follow_redirects=True) as client:
            log_in(client, "ann")
            queue = client.get("/")
            leased = client.post("/items/next", data={"csrf": csrf_of(queue.text)})
            record_id = str(leased.url).rsplit("/", 1)[1]
            page = leased.text
            form = {"csrf": csrf_of(page), "lease": hidden(page, "lease"),
                    "shown": hidden(page, "shown"), "choice": "approve", "note": ""}  # fmt: skip
            saved = client.post(f"/items/{record_id}/decision", data=form, follow_redirects=False)
            assert saved.status_code == 303
        # Killed, not stopped: no shutdown code runs.
        assert server.pid is not None
        os.kill(server.pid, signal.SIGKILL)
        server.stop()
    record = store.get_record(record_id)
    assert (record.state, record.decision) == ("decided", "approve")
    assert [label.kind for label in store.labels.of_record(record_id)] == ["review"]
    claimed = store.claim(process.name, "decided", owner="act-robot", limit=100)
    assert record_id in {r.record_id for r in claimed}
    store.mark_acting(record_id, owner="act-robot")
    store.record_action(record_id, receipt="RCPT-9", outcome="applied")
    store.release_many([r.record_id for r in claimed], "act-robot")
    assert record_id not in {
        r.record_id for r in store.claim(process.name, "decided", owner="act-robot", limit=100)
    }
