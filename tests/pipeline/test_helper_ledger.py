"""The helper ledger with real processes: a dead owner's helpers are stopped, a live
owner's never, and a PID that now names another process is never signalled."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from rpaml_pipeline.helper_ledger import (
    OWNER_KEY,
    HelperEntry,
    HelperLedger,
    helper_environment,
    helper_ledger_dir,
    reap_leftovers,
    unrecorded_helpers,
)
from rpaml_pipeline.host_processes import (
    ProcessIdentity,
    descendants,
    identity_of,
    is_running,
    process_info,
    this_process,
)

SLEEPER = [sys.executable, "-c", "import time; time.sleep(600)"]
# Ignores SIGTERM, as a hung helper would: only SIGKILL stops it.
STUBBORN = [
    sys.executable,
    "-c",
    "import signal, sys, time\n"
    "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "print('ready', flush=True)\n"
    "time.sleep(600)",
]
# Starts a grandchild, as chromedriver starts Chromium and Chromium its renderers.
PARENT_OF_ONE = [
    sys.executable,
    "-c",
    "import subprocess, sys, time\n"
    f"child = subprocess.Popen({SLEEPER!r})\n"
    "print(child.pid, flush=True)\n"
    "time.sleep(600)",
]


# Leads its process group and leaves a child orphaned in it (the middle process exits).
ORPHANING_LEADER = [
    sys.executable,
    "-c",
    "import os, sys, time\n"
    "middle = os.fork()\n"
    "if middle == 0:\n"
    "    if os.fork() == 0:\n"
    "        print(os.getpid(), flush=True)\n"
    "        time.sleep(600)\n"
    "    os._exit(0)\n"
    "os.waitpid(middle, 0)\n"
    "time.sleep(600)",
]


@pytest.fixture
def spawn() -> Iterator[list[subprocess.Popen[str]]]:
    """Start processes for a test; whatever still runs at its end is killed by PID."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for popen in started:
        if popen.poll() is None:
            popen.kill()
        popen.wait(timeout=10)


@pytest.fixture
def ledger(tmp_path: Path) -> HelperLedger:
    return HelperLedger(helper_ledger_dir(tmp_path))


def _die(popen: subprocess.Popen[str]) -> None:
    """The owner dies, as a robot killed with its worker."""
    popen.kill()
    popen.wait(timeout=10)


def _start(started: list[subprocess.Popen[str]], command: list[str]) -> subprocess.Popen[str]:
    popen = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    started.append(popen)
    return popen


def _ours(spawned: list[subprocess.Popen[str]], entries: list[HelperEntry]) -> list[HelperEntry]:
    """The entries of this test's processes: reaping covers the whole host."""
    pids = {popen.pid for popen in spawned}
    return [entry for entry in entries if entry.helper.pid in pids]


def _identity(popen: subprocess.Popen[str]) -> ProcessIdentity:
    identity = identity_of(popen.pid)
    assert identity is not None
    return identity


def _rewrite_entry(ledger: HelperLedger, **changes: str) -> None:
    """Change the one entry of ``ledger`` as another process or boot would have left it."""
    (entry_file,) = ledger.directory.glob("*.json")
    entry_file.write_text(json.dumps({**json.loads(entry_file.read_text()), **changes}))


def test_identity_is_pid_and_start_time_from_proc_stat() -> None:
    me = this_process()
    info = process_info(me.pid)
    assert info is not None and info.running
    assert info.identity == me
    assert is_running(me)
    assert not is_running(ProcessIdentity(me.pid, me.start_ticks + 1))
    assert ProcessIdentity.from_text(me.as_text()) == me


def test_helpers_of_a_dead_owner_are_stopped_and_of_a_live_owner_kept(
    ledger: HelperLedger, spawn: list[subprocess.Popen[str]]
) -> None:
    owner = _start(spawn, SLEEPER)
    helper = _start(spawn, SLEEPER)
    kept = _start(spawn, SLEEPER)
    recorded = ledger.record("xvfb", helper.pid, owner=_identity(owner))
    assert recorded == _identity(helper)
    assert ledger.record("chromium", kept.pid) == _identity(kept)  # owned by this process

    assert _ours(spawn, ledger.reap()) == []  # both owners alive
    assert helper.poll() is None and kept.poll() is None

    _die(owner)
    reaped = _ours(spawn, ledger.reap(grace=10))
    assert [(entry.kind, entry.helper) for entry in reaped] == [("xvfb", recorded)]
    assert helper.wait(timeout=10) < 0  # ended by a signal
    assert kept.poll() is None
    assert [entry.kind for entry in ledger.entries()] == ["chromium"]
    assert "time.sleep(600)" in ledger.entries()[0].command


def test_a_recycled_pid_is_never_signalled(
    ledger: HelperLedger, spawn: list[subprocess.Popen[str]]
) -> None:
    owner = _start(spawn, SLEEPER)
    stranger = _start(spawn, SLEEPER)
    ledger.record("chromium", stranger.pid, owner=_identity(owner))
    # As if an earlier process had held the stranger's PID.
    _rewrite_entry(ledger, helper=f"{stranger.pid}@{_identity(stranger).start_ticks - 1}")
    _die(owner)

    assert _ours(spawn, ledger.reap()) == []
    assert stranger.poll() is None
    assert ledger.entries() == []  # the entry named a process that is gone


def test_a_helper_deaf_to_sigterm_is_killed_with_what_it_started(
    ledger: HelperLedger, spawn: list[subprocess.Popen[str]]
) -> None:
    owner = _start(spawn, SLEEPER)
    stubborn = _start(spawn, STUBBORN)
    parent = _start(spawn, PARENT_OF_ONE)
    assert stubborn.stdout is not None and stubborn.stdout.readline().strip() == "ready"
    assert parent.stdout is not None
    grandchild = identity_of(int(parent.stdout.readline()))
    assert grandchild is not None and grandchild in descendants([_identity(parent)])
    for popen in (stubborn, parent):
        ledger.record("desktop application", popen.pid, owner=_identity(owner))
    _die(owner)

    reaped = _ours(spawn, ledger.reap(grace=1.0))
    assert {entry.helper.pid for entry in reaped} == {stubborn.pid, parent.pid}
    assert stubborn.wait(timeout=10) == -9  # SIGKILL after the grace period
    assert parent.wait(timeout=10) < 0
    assert not is_running(grandchild)


def test_entries_of_another_boot_or_unreadable_are_dropped_without_a_signal(
    ledger: HelperLedger, spawn: list[subprocess.Popen[str]]
) -> None:
    owner = _start(spawn, SLEEPER)
    helper = _start(spawn, SLEEPER)
    ledger.record("chromedriver", helper.pid, owner=_identity(owner))
    _rewrite_entry(ledger, boot="an-earlier-boot")
    (ledger.directory / "1-1.json").write_text("{not json")
    _die(owner)

    assert _ours(spawn, reap_leftovers(ledger.directory.parents[2])) == []
    assert helper.poll() is None
    assert list(ledger.directory.glob("*.json")) == []


def test_release_drops_an_ended_helper_and_keeps_a_running_one(
    ledger: HelperLedger, spawn: list[subprocess.Popen[str]]
) -> None:
    helper = _start(spawn, SLEEPER)
    identity = ledger.record("xvfb", helper.pid)
    assert identity is not None
    assert not ledger.release(identity)
    assert len(ledger.entries()) == 1
    helper.kill()
    helper.wait(timeout=10)
    assert ledger.release(identity)
    assert ledger.entries() == []
    assert ledger.record("xvfb", helper.pid) is None  # gone: nothing to write down


def test_a_helper_not_written_down_is_found_by_the_owner_in_its_environment(
    ledger: HelperLedger, spawn: list[subprocess.Popen[str]]
) -> None:
    # The robot was killed after starting Chromium, before writing it down.
    owner = _start(spawn, SLEEPER)
    owner_text = _identity(owner).as_text()
    helper = subprocess.Popen(SLEEPER, env={**os.environ, OWNER_KEY: owner_text}, text=True)
    living = subprocess.Popen(SLEEPER, env=helper_environment(), text=True)  # owned by us
    spawn += [helper, living]
    helper_identity = _identity(helper)

    assert [entry.helper for entry in _ours(spawn, unrecorded_helpers(set()))] == []  # owners alive
    _die(owner)
    reaped = _ours(spawn, ledger.reap(grace=10))
    assert [(entry.helper, entry.owner.as_text()) for entry in reaped] == [
        (helper_identity, owner_text)
    ]
    assert helper.wait(timeout=10) < 0
    assert living.poll() is None


def test_members_of_a_helpers_process_group_go_with_it(
    ledger: HelperLedger, spawn: list[subprocess.Popen[str]]
) -> None:
    # Chromium leads a process group; a child it left orphaned is no descendant any more.
    owner = _start(spawn, SLEEPER)
    leader = subprocess.Popen(ORPHANING_LEADER, stdout=subprocess.PIPE, text=True,
                              start_new_session=True)  # fmt: skip
    spawn.append(leader)
    assert leader.stdout is not None
    orphan = identity_of(int(leader.stdout.readline()))
    assert orphan is not None
    orphan_info = process_info(orphan.pid)
    assert orphan_info is not None and orphan_info.pgid == leader.pid
    assert orphan not in descendants([_identity(leader)])
    ledger.record("chromium", leader.pid, owner=_identity(owner))
    _die(owner)

    assert [entry.helper.pid for entry in _ours(spawn, ledger.reap(grace=10))] == [leader.pid]
    assert leader.wait(timeout=10) < 0
    assert not is_running(orphan)
