"""Serving the review app: a socket bound before uvicorn starts (``port 0`` takes a free
port with no window for another process to take it) and a ready announcement, as the
scoring service serves (:mod:`rpaml_service.serving`)."""

from __future__ import annotations

import socket
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from rpaml_service.serving import ReadyServer, bind_socket, url_of
from rpaml_service.serving import serve as serve_until_stopped

__all__ = ["bind_socket", "serve", "url_of"]


def serve(app: FastAPI, sock: socket.socket, *, ready_file: Path | None, log_level: str) -> bool:
    """Serve ``app`` on ``sock`` until stopped; True when it started."""
    config = uvicorn.Config(app, log_level=log_level, access_log=log_level == "debug",
                            timeout_keep_alive=30, loop="auto", http="auto")  # fmt: skip
    server = ReadyServer(config, name="REVIEW", url=url_of(sock), ready_file=ready_file)
    return serve_until_stopped(server, sock)
