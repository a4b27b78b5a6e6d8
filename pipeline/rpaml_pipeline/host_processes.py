"""The processes of this host as Linux's ``/proc`` shows them, and stopping them safely.

A PID alone does not name a process: once it exits, the kernel hands its number to the
next process started. A process is therefore named by its PID *and* its start time
(``starttime`` in ``/proc/<pid>/stat``, clock ticks since boot), which no later process
with the same PID can share, plus the boot it belongs to. Stopping goes through a pidfd
opened before the identity is checked, so a PID recycled between the check and the
signal can never be hit.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

PROC = Path("/proc")


def have_proc() -> bool:
    """Whether this host shows its processes in ``/proc`` (Linux; robots need it anyway)."""
    return (PROC / "self" / "stat").exists()


@cache
def boot_id() -> str:
    """This boot's id: start times count from boot, so they only compare within one."""
    return (PROC / "sys" / "kernel" / "random" / "boot_id").read_text().strip()


@dataclass(frozen=True)
class ProcessIdentity:
    """One process for as long as this host runs: its PID and its start time."""

    pid: int
    start_ticks: int

    def as_text(self) -> str:
        """``4242@1234567``: PID and start time, as ledgers and logs write it."""
        return f"{self.pid}@{self.start_ticks}"

    @classmethod
    def from_text(cls, text: str) -> ProcessIdentity:
        """The identity :meth:`as_text` wrote; ``ValueError`` for anything else."""
        pid, _, start = text.partition("@")
        return cls(int(pid), int(start))


@dataclass(frozen=True)
class ProcessInfo:
    """What ``/proc/<pid>/stat`` says of a process (fields 3 to 6 and 22)."""

    identity: ProcessIdentity
    name: str
    state: str
    ppid: int
    pgid: int
    sid: int

    @property
    def pid(self) -> int:
        return self.identity.pid

    @property
    def running(self) -> bool:
        """False for a zombie (exited, waiting for its parent) or a dead process."""
        return self.state not in ("Z", "X", "x")


def process_info(pid: int) -> ProcessInfo | None:
    """The process ``pid`` now, or None when there is none."""
    try:
        text = (PROC / str(pid) / "stat").read_text(errors="replace")
    except OSError:  # gone, or never was
        return None
    # The name (field 2) is in parentheses and may itself hold spaces and parentheses.
    head, _, rest = text.rpartition(")")
    fields = rest.split()
    if len(fields) < 20:
        return None
    return ProcessInfo(
        identity=ProcessIdentity(pid, int(fields[19])),
        name=head.partition("(")[2],
        state=fields[0],
        ppid=int(fields[1]),
        pgid=int(fields[2]),
        sid=int(fields[3]),
    )


def identity_of(pid: int) -> ProcessIdentity | None:
    """The identity of the running process ``pid``, or None."""
    info = process_info(pid)
    return info.identity if info is not None and info.running else None


def this_process() -> ProcessIdentity:
    """The identity of the calling process."""
    identity = identity_of(os.getpid())
    assert identity is not None  # a running process can always read its own stat
    return identity


def is_running(identity: ProcessIdentity) -> bool:
    """True while the very process ``identity`` names runs (not a successor of its PID)."""
    return identity_of(identity.pid) == identity


def all_processes() -> Iterator[ProcessInfo]:
    """Every process of the host that is still there when its stat is read."""
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            info = process_info(int(entry.name))
            if info is not None:
                yield info


def children_of(pid: int) -> list[ProcessInfo]:
    """The running processes whose parent is ``pid``."""
    return [info for info in all_processes() if info.ppid == pid and info.running]


def descendants(roots: Iterable[ProcessIdentity]) -> list[ProcessIdentity]:
    """The running processes started, directly or not, by ``roots`` (not the roots)."""
    children: dict[int, list[ProcessInfo]] = {}
    for info in all_processes():
        if info.running:
            children.setdefault(info.ppid, []).append(info)
    found: list[ProcessIdentity] = []
    pending = [root.pid for root in roots]
    while pending:
        for child in children.get(pending.pop(), []):
            found.append(child.identity)
            pending.append(child.pid)
    return found


def environment_of(pid: int) -> Mapping[str, str]:
    """The environment ``pid`` was started with (empty when it cannot be read).

    Some programs (Chromium's zygote children) write their titles over this memory, so
    an empty or odd answer does not prove a process inherited nothing.
    """
    try:
        raw = (PROC / str(pid) / "environ").read_bytes()
    except OSError:
        return {}
    pairs = (item.decode(errors="replace").partition("=") for item in raw.split(b"\0") if item)
    return {name: value for name, _, value in pairs}


def command_line(pid: int) -> str:
    """The command line of ``pid``, arguments separated by spaces ('' when gone)."""
    try:
        raw = (PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()


def stop_processes(
    identities: Iterable[ProcessIdentity], *, grace: float = 5.0
) -> list[ProcessIdentity]:
    """Stop each process that is still the one named: SIGTERM, then SIGKILL after
    ``grace`` seconds. Returns the identities that were signalled."""
    handles: dict[ProcessIdentity, int] = {}
    for identity in identities:
        fd = _open_if_same(identity)
        if fd is not None:
            handles[identity] = fd
    try:
        for fd in handles.values():
            _signal(fd, signal.SIGTERM)
        left = _wait_for_exit(handles, grace)
        for identity in left:
            _signal(handles[identity], signal.SIGKILL)
        _wait_for_exit({identity: handles[identity] for identity in left}, grace)
    finally:
        for fd in handles.values():
            os.close(fd)
    return list(handles)


def stop_process_trees(
    roots: Iterable[ProcessIdentity], *, grace: float = 5.0
) -> list[ProcessIdentity]:
    """Stop each root that is still the process named, what it started, and the members
    of a process group it leads; return the roots that were signalled.

    Chromium is such a leader (chromedriver gives it a group of its own) and its children
    can outlive it: a utility process it forks while it shuts down, or one orphaned
    before, is no descendant any more but still a member of its group. Members that
    appear while the group is being stopped are stopped in a further round.
    """
    live = [root for root in roots if is_running(root)]
    groups = {
        root.pid for root in live if (info := process_info(root.pid)) and info.pgid == root.pid
    }
    signalled = set(stop_processes([*live, *descendants(live), *_members(groups)], grace=grace))
    for _ in range(3):
        late = _members(groups)
        if not late:
            break
        stop_processes(late, grace=grace)
    return [root for root in live if root in signalled]


def _members(groups: set[int]) -> list[ProcessIdentity]:
    if not groups:
        return []
    return [info.identity for info in all_processes() if info.pgid in groups and info.running]


def _open_if_same(identity: ProcessIdentity) -> int | None:
    """A pidfd on ``identity``'s process, or None when its PID now names another one.

    The pidfd is opened first and the start time checked after: the pidfd then holds the
    process that was checked, even if it exits and its PID is reused straight away.
    """
    try:
        fd = os.pidfd_open(identity.pid)
    except OSError:  # no such process
        return None
    if identity_of(identity.pid) != identity:
        os.close(fd)
        return None
    return fd


def _signal(fd: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):  # it exited meanwhile: nothing to do
        signal.pidfd_send_signal(fd, signum)


def _wait_for_exit(handles: Mapping[ProcessIdentity, int], timeout: float) -> list[ProcessIdentity]:
    """Wait up to ``timeout`` s for the processes to exit; return those still running.

    A pidfd turns readable when its process exits, whoever its parent is.
    """
    waiting = dict(handles)
    deadline = time.monotonic() + timeout
    while waiting:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        readable, _, _ = select.select(list(waiting.values()), [], [], remaining)
        for identity in [key for key, fd in waiting.items() if fd in readable]:
            del waiting[identity]
    return list(waiting)
