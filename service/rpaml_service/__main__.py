"""Command line entry point: ``python -m rpaml_service --registry DIR [--port 0]``.

The process binds its listening socket itself before uvicorn starts, so ``--port 0``
gets a free port from the kernel with no window in which another process could take
it; the bound URL is printed as ``SERVICE_URL=...`` and written to ``--ready-file``
once the server accepts requests, which is what tests and the project CLI wait for.

API keys are required (``RPAML_SERVICE_API_KEYS`` or ``RPAML_SERVICE_API_KEYS_FILE``,
see :mod:`rpaml_service.auth`): without one the command prints why and exits with
status 2, whatever address it was asked to bind.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import uvicorn

from rpaml_service.app import create_app
from rpaml_service.errors import ConfigurationError
from rpaml_service.middleware import configure_logging
from rpaml_service.serving import ReadyServer, bind_socket, serve, url_of
from rpaml_service.settings import ServiceSettings


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m rpaml_service",
        description="Serve the registry's champion models over HTTP (rpaml scoring API v1).",
    )
    parser.add_argument(
        "--registry",
        type=Path,
        default=None,
        help="model registry folder (default: RPAML_SERVICE_REGISTRY_DIR or models/registry)",
    )
    parser.add_argument(
        "--model",
        dest="models",
        action="append",
        default=None,
        help="serve this model's champion; repeat for several (default: every champion)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback)")
    parser.add_argument("--port", type=int, default=8000, help="port to bind; 0 picks a free one")
    parser.add_argument(
        "--ready-file",
        type=Path,
        default=None,
        help="write the base URL here once the service accepts requests",
    )
    parser.add_argument(
        "--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"]
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the scoring service until interrupted; returns the process exit status."""
    args = _parse_args(argv)
    overrides: dict[str, Any] = {}
    if args.registry is not None:
        overrides["registry_dir"] = args.registry
    if args.models:
        overrides["models"] = args.models
    # Command-line values win; everything else still comes from RPAML_SERVICE_* variables.
    settings = ServiceSettings(**overrides)
    configure_logging(args.log_level)
    try:
        app = create_app(settings)
    except ConfigurationError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        sock = bind_socket(args.host, args.port)
    except OSError as error:
        print(f"error: cannot bind {args.host}:{args.port}: {error}", file=sys.stderr)
        return 2
    config = uvicorn.Config(
        app,
        log_level=args.log_level,
        log_config=None,  # configure_logging set up structured (JSON) logs
        # Keep-alive longer than the client pool's idle time avoids racing a closing
        # connection; the scoring client pools connections.
        timeout_keep_alive=30,
        access_log=args.log_level == "debug",
        # uvloop's event loop and httptools' parser (the service extra installs both)
        # roughly halve the server's cost per small request; "auto" falls back to
        # asyncio and h11 where they are missing, so the service still runs there.
        loop="auto",
        http="auto",
    )
    server = ReadyServer(config, name="SERVICE", url=url_of(sock), ready_file=args.ready_file)
    return 0 if serve(server, sock) else 1


if __name__ == "__main__":
    sys.exit(main())
