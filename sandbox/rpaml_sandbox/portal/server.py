"""Serving the portal on a socket bound up front, announcing its URL once it listens."""

from __future__ import annotations

import socket
from pathlib import Path

import uvicorn
from fastapi import FastAPI


def bind_socket(host: str, port: int) -> socket.socket:
    """Bind ``host:port`` (0 = a free port) so the port is known before the server starts.

    Binding here and handing the socket to uvicorn leaves no window in which another
    process could take a port we only looked up.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto must be IPPROTO_TCP, not 0: asyncio only sets TCP_NODELAY on accepted sockets
    # whose proto says TCP, and without it every keep-alive response waits ~40 ms for a
    # delayed ACK (headers and body are written separately).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def base_url(sock: socket.socket) -> str:
    """The URL clients use to reach a bound socket (wildcard hosts become loopback)."""
    host, port = sock.getsockname()[:2]
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


class _AnnouncingServer(uvicorn.Server):
    """A uvicorn server that writes the ready file and prints the URL after startup."""

    def __init__(self, config: uvicorn.Config, url: str, ready_file: Path | None) -> None:
        super().__init__(config)
        self.url = url
        self.ready_file = ready_file

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if not self.started:
            return
        if self.ready_file is not None:
            # Write then rename: a watcher never reads a half-written URL.
            partial = self.ready_file.with_name(self.ready_file.name + ".tmp")
            partial.write_text(self.url + "\n", encoding="utf-8")
            partial.replace(self.ready_file)
        print(f"PORTAL_URL={self.url}", flush=True)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        # Withdraw the URL first: after a SIGTERM uvicorn re-raises the signal once it has
        # shut down, so code after ``run()`` never executes, and a stale ready file would
        # point the next reader at a dead server.
        if self.ready_file is not None:
            self.ready_file.unlink(missing_ok=True)
        await super().shutdown(sockets=sockets)


def serve(
    app: FastAPI, sock: socket.socket, *, ready_file: Path | None, log_level: str = "info"
) -> None:
    """Serve ``app`` on ``sock`` until SIGINT/SIGTERM; announce the URL once listening.

    As uvicorn does, a signal that stopped the server is re-raised after the graceful
    shutdown, so the process ends "terminated by SIGTERM" and its parent can tell.
    """
    config = uvicorn.Config(app, log_level=log_level, lifespan="on")
    server = _AnnouncingServer(config, base_url(sock), ready_file)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
        if ready_file is not None:
            ready_file.unlink(missing_ok=True)
