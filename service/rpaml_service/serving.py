"""Serving a FastAPI app the way rpaml's servers do (the scoring service, the review app).

The process binds its listening socket itself before uvicorn starts, so port 0 gets a
free port from the kernel with no window in which another process could take it; once
the server accepts requests its URL is printed as ``<NAME>_URL=...`` and written to a
ready file, which is what tests and the project CLI wait for. This module imports only
uvicorn, so an app that must not depend on the scoring service may use it.
"""

from __future__ import annotations

import socket
from pathlib import Path

import uvicorn


def bind_socket(host: str, port: int) -> socket.socket:
    """Bind a listening-ready TCP socket; port 0 lets the kernel pick a free one."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def url_of(sock: socket.socket) -> str:
    """The base URL a bound socket serves."""
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class ReadyServer(uvicorn.Server):
    """A uvicorn server that announces its URL once it is serving.

    uvicorn finishes the app's lifespan (model loading, the review app's run) before
    ``startup`` returns, so the announcement means "loaded and accepting connections",
    not just "bound".
    """

    def __init__(
        self, config: uvicorn.Config, *, name: str, url: str, ready_file: Path | None
    ) -> None:
        super().__init__(config)
        self.name = name
        self.url = url
        self.ready_file = ready_file

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if not self.started or self.should_exit:
            return
        if self.ready_file is not None:
            # Written to a temporary name and renamed so a reader never sees half a URL.
            partial = self.ready_file.with_name(self.ready_file.name + ".tmp")
            partial.write_text(self.url + "\n", encoding="utf-8")
            partial.replace(self.ready_file)
        print(f"{self.name}_URL={self.url}", flush=True)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        # Removed here rather than after run(): on SIGTERM uvicorn re-raises the signal
        # once shutdown is done, so code after run() would never execute.
        await super().shutdown(sockets=sockets)
        if self.ready_file is not None:
            self.ready_file.unlink(missing_ok=True)


def serve(server: ReadyServer, sock: socket.socket) -> bool:
    """Run ``server`` on ``sock`` until stopped; True when it started (uvicorn sets
    ``started`` only when the lifespan succeeded)."""
    try:
        # After a graceful shutdown on SIGTERM/SIGINT uvicorn re-raises the signal, so the
        # exit status tells a supervisor the process was stopped by it.
        server.run(sockets=[sock])
    finally:
        sock.close()
    return bool(server.started)
