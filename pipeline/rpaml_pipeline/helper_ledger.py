"""A durable per-host ledger of the helper processes robots start, and reaping them.

A robot starts helpers (chromedriver, Chromium, Xvfb, the desktop application) that
can outlive it: chromedriver starts Chromium in a process group of its own, so killing
the robot's whole process group leaves the browser running; a robot killed alone (its
worker died and took it along) leaves every helper behind. Each helper is therefore
written down when it starts, in ``<data dir>/run/helpers/<host>/``, one file per helper
holding its identity (PID and start time, see :mod:`rpaml_pipeline.host_processes`) and
its owner's (the process that started it). A worker starting, and every robot run
starting, reaps the helpers whose owner is gone: each one still the same process is
stopped (SIGTERM, then SIGKILL) with whatever runs under it or in the process group it
leads, and its entry removed. A helper whose owner still runs is never touched.

A robot killed while Chromium starts has no entry for it yet. Helpers are therefore also
started with their owner's identity in their environment (``RPAML_HELPER_OWNER``), which
the kernel keeps in ``/proc/<pid>/environ`` whatever the process does later; reaping
stops the running processes that name a dead owner there too.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from rpaml_pipeline.host_processes import (
    ProcessIdentity,
    all_processes,
    boot_id,
    command_line,
    environment_of,
    have_proc,
    identity_of,
    is_running,
    stop_process_trees,
    this_process,
)

LOGGER = logging.getLogger(__name__)

#: The environment variable naming a helper's owner (``<pid>@<start ticks>``).
OWNER_KEY = "RPAML_HELPER_OWNER"


def helper_environment(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment to start a helper with: ``base`` (default: this process's), with
    this process named as the helper's owner."""
    return {**(os.environ if base is None else base), OWNER_KEY: this_process().as_text()}


@contextlib.contextmanager
def owning_helpers() -> Iterator[None]:
    """Within the block, what this process starts with its own environment (Selenium
    starts chromedriver so, and chromedriver Chromium) names this process as its owner."""
    before = os.environ.get(OWNER_KEY)
    os.environ[OWNER_KEY] = this_process().as_text()
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(OWNER_KEY, None)
        else:
            os.environ[OWNER_KEY] = before


def helper_ledger_dir(data_dir: Path | str | None) -> Path:
    """This host's ledger under ``data_dir`` (a temporary folder when there is none)."""
    root = Path(data_dir) if data_dir else Path(tempfile.gettempdir()) / "rpaml"
    return root / "run" / "helpers" / socket.gethostname()


def ledger_from_environment(env: Mapping[str, str] | None = None) -> HelperLedger:
    """The ledger of the data folder ``RPAML_DATA_DIR`` names (in ``env`` or this
    process's environment): what a robot process and its worker agree on."""
    source = os.environ if env is None else env
    return HelperLedger(helper_ledger_dir(source.get("RPAML_DATA_DIR")))


@dataclass(frozen=True)
class HelperEntry:
    """One helper process, as its ledger file holds it."""

    kind: str
    helper: ProcessIdentity
    owner: ProcessIdentity
    boot: str
    command: str

    def as_json(self) -> str:
        return json.dumps(
            {
                "kind": self.kind,
                "helper": self.helper.as_text(),
                "owner": self.owner.as_text(),
                "boot": self.boot,
                "command": self.command,
            },
            indent=1,
        )

    @classmethod
    def from_json(cls, text: str) -> HelperEntry:
        data = json.loads(text)
        return cls(
            kind=str(data["kind"]),
            helper=ProcessIdentity.from_text(data["helper"]),
            owner=ProcessIdentity.from_text(data["owner"]),
            boot=str(data["boot"]),
            command=str(data.get("command", "")),
        )

    def describe(self) -> str:
        """``chromium (PID 4242) of dead owner PID 4100``, for logs and progress lines."""
        return f"{self.kind} (PID {self.helper.pid}) of dead owner PID {self.owner.pid}"


class HelperLedger:
    """The helpers this host's robots started, one JSON file each under ``directory``.

    One file per helper needs no lock: writers never share a file (a helper has one
    owner), a file appears whole (written aside, then renamed), and two reapers removing
    the same file, or signalling the same verified process, do no harm.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _path(self, helper: ProcessIdentity) -> Path:
        return self.directory / f"{helper.pid}-{helper.start_ticks}.json"

    def record(
        self, kind: str, pid: int, *, owner: ProcessIdentity | None = None
    ) -> ProcessIdentity | None:
        """Write down the running process ``pid`` as a ``kind`` helper of ``owner``
        (default: this process); return its identity, or None when it is already gone."""
        helper = identity_of(pid)
        if helper is None:
            return None
        entry = HelperEntry(
            kind=kind,
            helper=helper,
            owner=owner or this_process(),
            boot=boot_id(),
            command=command_line(pid)[:300],
        )
        self.directory.mkdir(parents=True, exist_ok=True)
        target = self._path(helper)
        partial = target.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(entry.as_json(), encoding="utf-8")
        partial.replace(target)
        return helper

    def release(self, helper: ProcessIdentity) -> bool:
        """Remove the entry of ``helper`` once it has ended and return True; an entry of
        a helper still running is kept (a reaper stops it once its owner is gone)."""
        if is_running(helper):
            return False
        self._path(helper).unlink(missing_ok=True)
        return True

    def entries(self) -> list[HelperEntry]:
        """Every entry of the ledger that can be read."""
        return [entry for entry, _ in self._entries() if entry is not None]

    def _entries(self) -> list[tuple[HelperEntry | None, Path]]:
        if not self.directory.is_dir():
            return []
        found: list[tuple[HelperEntry | None, Path]] = []
        for path in sorted(self.directory.glob("*.json")):
            try:
                found.append((HelperEntry.from_json(path.read_text(encoding="utf-8")), path))
            except FileNotFoundError:  # another reaper removed it meanwhile
                continue
            except (OSError, ValueError, KeyError, TypeError) as error:
                LOGGER.warning("Unreadable helper ledger entry %s: %s", path, error)
                found.append((None, path))
        return found

    def reap(self, *, grace: float = 5.0) -> list[HelperEntry]:
        """Stop every helper whose owner is gone, written down or named so in its
        environment, and remove its entry; return those that were stopped. Entries of
        another boot, of helpers that already ended, and unreadable ones are removed
        without stopping anything."""
        if not have_proc():  # no robot has run here: they need Linux
            return []
        doomed: list[tuple[HelperEntry, Path | None]] = []
        this_boot = boot_id()
        for entry, path in self._entries():
            if entry is None or entry.boot != this_boot or not is_running(entry.helper):
                path.unlink(missing_ok=True)
            elif not is_running(entry.owner):
                doomed.append((entry, path))
        known = {entry.helper for entry, _ in doomed}
        doomed += [(entry, None) for entry in unrecorded_helpers(known)]
        if not doomed:
            return []
        stopped = set(stop_process_trees([entry.helper for entry, _ in doomed], grace=grace))
        reaped = []
        for helper, written in doomed:
            if helper.helper in stopped:
                reaped.append(helper)
                LOGGER.info("Reaped %s", helper.describe())
            if written is not None:
                written.unlink(missing_ok=True)
        return reaped


def unrecorded_helpers(recorded: set[ProcessIdentity]) -> list[HelperEntry]:
    """The running processes of this host, not in ``recorded``, whose environment names
    an owner that is gone: helpers whose robot died before it could write them down."""
    found = []
    for info in all_processes():
        text = environment_of(info.pid).get(OWNER_KEY) if info.running else None
        if not text or info.identity in recorded:
            continue
        try:
            owner = ProcessIdentity.from_text(text)
        except ValueError:
            continue
        if not is_running(owner):
            command = command_line(info.pid)[:300]
            found.append(HelperEntry(info.name, info.identity, owner, boot_id(), command))
    return found


def reap_leftovers(data_dir: Path | str | None) -> list[HelperEntry]:
    """Reap the helpers that dead robots of this host left under ``data_dir`` (see
    :meth:`HelperLedger.reap`): what a worker and a robot run do when they start."""
    return HelperLedger(helper_ledger_dir(data_dir)).reap()
