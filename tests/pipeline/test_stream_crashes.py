"""Crashes of a stream consumer: 10,000 messages (some poison), SIGKILL at three random
points while `rpaml ingest feed --once` works, restart: exactly the good messages staged,
each once, and the poison ones dead-lettered with their reasons.

The kill points are drawn from a seeded generator (the seed is printed, and
``RPAML_CRASH_SEED`` replays one); each is a number of messages the store must have
taken before the consumer is killed, so the kill lands mid-stream whatever the speed.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from pipeline_claims import PROCESS_FILE

from stream_brokers import KINDS, Feed, claim_bodies, feed

MESSAGES = 10_000
KILLS = 3


def _project(tmp_path: Path, source: dict[str, Any]) -> dict[str, str]:
    data = yaml.safe_load(PROCESS_FILE.read_text(encoding="utf-8"))
    data.pop("enrichment", None)
    data["sources"] = [source]
    process_file = tmp_path / "process.yaml"
    process_file.write_text(yaml.safe_dump(data), encoding="utf-8")
    return {
        **os.environ,
        "RPAML_DATA_DIR": str(tmp_path / "data"),
        "RPAML_PROCESS_FILE": str(process_file),
        "RPAML_STORE_URL": f"sqlite:///{tmp_path / 'store.db'}",
    }


def _consumer(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "rpaml_pipeline.cli", "ingest", "feed", "--once", "--json"]
    with log.open("ab") as out:
        return subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)


def _taken(db: Path) -> int:
    """Messages the store has taken (staged, failing or dead), read without a write lock."""
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            return int(conn.execute("SELECT count(*) FROM source_messages").fetchone()[0])
    except sqlite3.OperationalError:  # not migrated yet
        return 0


def _kill_at(process: subprocess.Popen[bytes], db: Path, threshold: int) -> int:
    """SIGKILL ``process`` once the store has taken ``threshold`` messages."""
    while process.poll() is None:
        taken = _taken(db)
        if taken >= threshold:
            process.send_signal(signal.SIGKILL)
            process.wait()
            return taken
        # Polls the store, not the clock: nothing here asserts how long anything takes.
        try:
            process.wait(timeout=0.005)
        except subprocess.TimeoutExpired:
            continue
    raise AssertionError(f"the consumer ended (rc {process.returncode}) before {threshold}")


def _finish(env: dict[str, str], log: Path, stream: Feed, db: Path) -> None:
    """Run bounded pulls until every message is staged or dead (and none is left)."""
    for _ in range(30):
        process = _consumer(env, log)
        assert process.wait(timeout=300) == 0, log.read_text()
        if _taken(db) >= MESSAGES and stream.unfinished() == 0:
            return
    raise AssertionError(f"not finished: {_taken(db)} taken\n{log.read_text()[-3000:]}")


@pytest.mark.parametrize("kind", KINDS)
def test_sigkilled_consumer_stages_each_good_message_once(kind: str, tmp_path: Path) -> None:
    seed = int(os.environ.get("RPAML_CRASH_SEED", random.randrange(1 << 30)))
    print(f"{kind}: kill points seeded with RPAML_CRASH_SEED={seed}")
    rng = random.Random(seed)
    # Each life takes a random number of messages more than the one before it, so every
    # kill lands while the consumer works (never during its start-up, never after the end).
    steps = [rng.randrange(200, MESSAGES // (KILLS + 1)) for _ in range(KILLS)]
    with feed(kind) as stream:
        bodies, poison = claim_bodies(MESSAGES)
        ids = stream.publish(bodies)
        env = _project(tmp_path, stream.spec)
        db, log = tmp_path / "store.db", tmp_path / "consumer.log"
        killed_at: list[int] = []
        for step in steps:
            killed_at.append(_kill_at(_consumer(env, log), db, _taken(db) + step))
        assert killed_at == sorted(set(killed_at)) and killed_at[-1] < MESSAGES, killed_at
        print(f"{kind}: killed at {killed_at} messages taken")
        _finish(env, log, stream, db)

        poison_ids = {ids[index] for index in poison}
        with sqlite3.connect(db) as conn:
            records = conn.execute(
                "SELECT count(*), count(DISTINCT natural_key), max(revision) FROM records"
            ).fetchone()
            statuses = dict(
                conn.execute("SELECT status, count(*) FROM source_messages GROUP BY status")
            )
            dead = dict(
                conn.execute("SELECT message_id, reason FROM source_messages WHERE status='dead'")
            )
            staged_ids = {
                row[0]
                for row in conn.execute(
                    "SELECT message_id FROM source_messages WHERE status='staged'"
                )
            }
        good = MESSAGES - len(poison)
        assert records == (good, good, 1), records
        assert statuses == {"staged": good, "dead": len(poison)}, statuses
        assert staged_ids == set(ids) - poison_ids
        assert set(dead) == poison_ids
        reasons = set(dead.values())
        assert all(r.startswith(("not JSON", "a JSON list", "no claim_id")) for r in reasons)
        # The dead-letter stream or queue holds every poison message with its reason.
        letters = stream.dead_letters()
        assert set(letters) == poison_ids
        assert {letters[key] for key in letters} <= set(dead.values())
        assert stream.unfinished() == 0
