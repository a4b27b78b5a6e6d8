"""A real uvicorn server for the service tests, on a loopback port the kernel picks."""

from __future__ import annotations

import threading
import time

import uvicorn

from rpaml_service.app import create_app
from rpaml_service.settings import ServiceSettings


class LiveServer:
    """A real uvicorn server on loopback port 0, in a thread of this test.

    ``settings`` must carry an API key (see ``service_keys.keyed_settings``): the service
    does not start without one.
    """

    def __init__(self, settings: ServiceSettings) -> None:
        config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=0, log_level="error")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.02)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
