"""Who holds a lease or runs a run: ``<kind>-<host>-<pid>``, and whether it is gone.

Robots (``robot-...``) and pipeline stages (``pipeline-...``) name themselves this way in
the leases they take and the runs they open, so that a later worker can tell a run or a
lease whose process died (on this host) from one that is still at work, and close or
release it instead of waiting for a timeout.
"""

from __future__ import annotations

import os
import socket
from typing import Literal

OwnerKind = Literal["robot", "pipeline"]
_KINDS = ("robot", "pipeline")


def process_owner(kind: OwnerKind) -> str:
    """This process's owner name, e.g. ``pipeline-worker1-4242``."""
    return f"{kind}-{socket.gethostname()}-{os.getpid()}"


def owner_is_gone(owner: str | None, *, host: str | None = None) -> bool:
    """True when ``owner`` (``<kind>-<host>-<pid>``) is a process of this host that is gone.

    An owner of another host, or not named this way, is never declared gone: only its
    lease's expiry can free what it holds.
    """
    if not owner:
        return True
    name, _, pid_text = owner.rpartition("-")
    prefix, _, owner_host = name.partition("-")
    if prefix not in _KINDS or not pid_text.isdigit():
        return False
    if owner_host != (host or socket.gethostname()):
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
