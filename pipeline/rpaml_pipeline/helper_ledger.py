"""A durable per-host ledger of the helper processes robots start, and reaping them.

A robot starts helpers (chromedriver, Chromium, Xvfb, the desktop application) that
can outlive it: chromedriver starts Chromium in a process group of its own, so killing
the robot's whole process group leaves the browser running; a robot killed alone (its
worker died and took it along) leaves every helper behind. Each helper is therefore
written down when it starts, in ``<data dir>/run/helpers/<host>/``, one file per helper
holding its identity (PID and start time, see :mod:`rpaml_pipeline.host_processes`) and
its owner's (the process that started it). A worker starting, and every robot run
starting, reaps the helpers whose owner is gone: each one still the same process is
stopped (SIGTERM, then SIGKILL) with whatever runs under it, and its entry removed.
A helper whose owner still runs is never touched, whoever reaps.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from rpaml_pipeline.host_processes import (
    ProcessIdentity,
    boot_id,
    command_line,
    descendants,
    identity_of,
    is_running,
    stop_processes,
    this_process,
)

LOGGER = logging.getLogger(__name__)


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
        """Stop every helper whose owner is gone and remove its entry; return those
        that were stopped. Entries of another boot, of helpers that already ended, and
        unreadable ones are removed without stopping anything."""
        doomed: list[tuple[HelperEntry, Path]] = []
        this_boot = boot_id()
        for entry, path in self._entries():
            if entry is None or entry.boot != this_boot or not is_running(entry.helper):
                path.unlink(missing_ok=True)
            elif not is_running(entry.owner):
                doomed.append((entry, path))
        if not doomed:
            return []
        helpers = [entry.helper for entry, _ in doomed]
        # What the helpers started (Chromium's zygotes and renderers) goes with them.
        stopped = set(stop_processes([*helpers, *descendants(helpers)], grace=grace))
        reaped = []
        for entry, path in doomed:
            if entry.helper in stopped:
                reaped.append(entry)
                LOGGER.info("Reaped %s", entry.describe())
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        return reaped


def reap_leftovers(data_dir: Path | str | None) -> list[HelperEntry]:
    """Reap the helpers that dead robots of this host left under ``data_dir`` (see
    :meth:`HelperLedger.reap`): what a worker and a robot run do when they start."""
    return HelperLedger(helper_ledger_dir(data_dir)).reap()
