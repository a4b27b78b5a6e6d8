"""Windows and the clipboard of an X display, through xdotool and xclip.

Under Xvfb there is no window manager: nothing focuses a new window, so the robot finds
it by title and focuses it itself, waiting until the server has done so.
"""

from __future__ import annotations

import subprocess
import time

from rpaml_robots.errors import ApplicationError


def find_window(title: str, timeout: float) -> str:
    """The id of the window titled exactly ``title``, waiting up to ``timeout`` s for it."""
    deadline = time.monotonic() + timeout
    while True:
        found = subprocess.run(
            ["xdotool", "search", "--name", f"^{title}$"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.split()
        if found:
            return found[0]
        if time.monotonic() > deadline:
            raise ApplicationError(f"no window titled {title!r} on the display")
        time.sleep(0.05)


def focus_window(window_id: str) -> None:
    """Give ``window_id`` the keyboard focus and wait until it has it."""
    done = subprocess.run(
        ["xdotool", "windowfocus", "--sync", window_id],
        capture_output=True,
        text=True,
        check=False,
        timeout=10,
    )
    if done.returncode != 0:
        raise ApplicationError(f"cannot focus window {window_id}: {done.stderr.strip()}")


def read_clipboard() -> str:
    """The clipboard's text ('' when it holds none)."""
    done = subprocess.run(
        ["xclip", "-selection", "clipboard", "-o"],
        capture_output=True,
        check=False,
        timeout=5,
    )
    return done.stdout.decode("utf-8", errors="replace") if done.returncode == 0 else ""
