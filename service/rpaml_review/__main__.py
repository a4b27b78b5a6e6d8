"""``python -m rpaml_review [--host H] [--port 0] [--ready-file F]``: run the review app.

The entry point builds everything once: rpaml's settings (store, process file, portal
URL), the review app's own (:func:`rpaml_review.settings.get_settings`: accounts, sessions,
address), the store; then the app. Without an account or a review section in the process
file it prints why and exits with status 2.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from rpaml_pipeline.errors import RpamlPipelineError
from rpaml_pipeline.lineage.openlineage import OpenLineageEmitter
from rpaml_pipeline.process import load_process
from rpaml_pipeline.settings import RpamlSettings
from rpaml_pipeline.store import Store
from rpaml_review.app import create_app
from rpaml_review.errors import ConfigurationError
from rpaml_review.server import bind_socket, serve
from rpaml_review.settings import get_settings


def main(argv: list[str] | None = None) -> int:
    """Run the review app until interrupted; returns the exit status."""
    parser = argparse.ArgumentParser(prog="rpaml review", description="Run the review app.")
    parser.add_argument(
        "--host", default=None, help="address (default RPAML_REVIEW_HOST, loopback)"
    )
    parser.add_argument("--port", type=int, default=None, help="port (default 0: a free one)")
    parser.add_argument(
        "--ready-file", type=Path, default=None, help="write the URL here once serving"
    )
    parser.add_argument("--log-level", default="info",
                        choices=["critical", "error", "warning", "info", "debug"])  # fmt: skip
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = get_settings()
    rpaml = RpamlSettings()
    host = args.host or settings.host
    port = settings.port if args.port is None else args.port
    try:
        process = load_process(rpaml.process_file)
        store = Store.connect(rpaml.resolved_store_url)
    except RpamlPipelineError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        emitter = OpenLineageEmitter(rpaml.lineage_file, http_url=rpaml.lineage_url)
        app = create_app(settings, store, process, portal_url=rpaml.portal_url, emitter=emitter)
        sock = bind_socket(host, port)
    except (ConfigurationError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        store.close()
        return 2
    try:
        return 0 if serve(app, sock, ready_file=args.ready_file, log_level=args.log_level) else 1
    finally:
        store.close()


if __name__ == "__main__":
    sys.exit(main())
