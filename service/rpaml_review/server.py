"""Serving the review app: a socket bound before uvicorn starts (``port 0`` takes a free
port with no window for another process to take it) and a ready announcement."""

from __future__ import annotations

import socket
from pathlib import Path

import uvicorn
from fastapi import FastAPI


def bind_socket(host: str, port: int) -> socket.socket:
    """A bound TCP socket; port 0 lets the kernel pick a free one."""
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
    """A uvicorn server that prints ``REVIEW_URL=...`` and writes ``ready_file`` once it
    serves (after the lifespan opened the app's run), and removes the file at shutdown."""

    def __init__(self, config: uvicorn.Config, *, url: str, ready_file: Path | None) -> None:
        super().__init__(config)
        self.url = url
        self.ready_file = ready_file

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if not self.started or self.should_exit:
            return
        if self.ready_file is not None:
            partial = self.ready_file.with_name(self.ready_file.name + ".tmp")
            partial.write_text(self.url + "\n", encoding="utf-8")
            partial.replace(self.ready_file)
        print(f"REVIEW_URL={self.url}", flush=True)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        await super().shutdown(sockets=sockets)
        if self.ready_file is not None:
            self.ready_file.unlink(missing_ok=True)


def serve(app: FastAPI, sock: socket.socket, *, ready_file: Path | None, log_level: str) -> bool:
    """Serve ``app`` on ``sock`` until stopped; True when it started."""
    config = uvicorn.Config(app, log_level=log_level, access_log=log_level == "debug",
                            timeout_keep_alive=30, loop="auto", http="auto")  # fmt: skip
    server = ReadyServer(config, url=url_of(sock), ready_file=ready_file)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
    return bool(server.started)
