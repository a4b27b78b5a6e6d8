"""Command line: ``python -m rpaml_sandbox.portal --db PATH --port 0 --ready-file F``.

Secrets come from the environment (``RPAML_PORTAL_PASSWORD``, ``RPAML_PORTAL_ADMIN_TOKEN``,
``RPAML_PORTAL_SESSION_SECRET``), never from the command line, where every user of the
machine could read them in the process list.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from rpaml_sandbox.portal.app import create_app
from rpaml_sandbox.portal.server import bind_socket, serve
from rpaml_sandbox.portal.settings import PortalSettings
from rpaml_sandbox.portal.switches import LAYOUTS


def build_parser() -> argparse.ArgumentParser:
    """The portal's argument parser."""
    parser = argparse.ArgumentParser(
        prog="python -m rpaml_sandbox.portal",
        description="Run the sandbox claims portal. Secrets are read from RPAML_PORTAL_* "
        "environment variables.",
    )
    parser.add_argument("--db", type=Path, help="SQLite file (default: RPAML_PORTAL_DB_PATH)")
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port; 0 picks a free one (0)")
    parser.add_argument(
        "--ready-file", type=Path, help="write the base URL here once the portal listens"
    )
    parser.add_argument("--seed", type=int, help="data seed (7)")
    parser.add_argument("--open-claims", type=int, help="open claims (120)")
    parser.add_argument("--closed-claims", type=int, help="closed claims (1500)")
    parser.add_argument("--late-arrivals", type=int, help="hidden late arrivals (5)")
    clock = parser.add_argument_group(
        "business clock", "what each new day brings (also PUT /admin/clock)"
    )
    clock.add_argument("--daily-claims", type=int, help="new claims per business day (40)")
    clock.add_argument(
        "--fraud-ring-from", type=date.fromisoformat, help="first day of the fraud ring (never)"
    )
    faults = parser.add_argument_group(
        "fault switches", "a slow, flaky or changed portal (also PUT /admin/switches)"
    )
    faults.add_argument("--latency-ms", type=int, help="delay added to each page (0)")
    faults.add_argument("--error-rate", type=float, help="share of pages answered 500 (0.0)")
    faults.add_argument(
        "--session-expiry-requests", type=int, help="end a session after N pages (0: never)"
    )
    faults.add_argument("--layout", choices=LAYOUTS, help="markup version (classic)")
    faults.add_argument("--fault-seed", type=int, help="seed of the fault generator (1)")
    parser.add_argument(
        "--log-level",
        default="info",
        choices=["critical", "error", "warning", "info", "debug"],
        help="uvicorn log level (info)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the portal until interrupted; return the process exit code."""
    args = build_parser().parse_args(argv)
    overrides: dict[str, Any] = {
        key: value
        for key, value in (
            ("db_path", args.db),
            ("seed", args.seed),
            ("open_claims", args.open_claims),
            ("closed_claims", args.closed_claims),
            ("late_arrivals", args.late_arrivals),
            ("daily_claims", args.daily_claims),
            ("fraud_ring_from", args.fraud_ring_from),
            ("latency_ms", args.latency_ms),
            ("error_rate", args.error_rate),
            ("session_expiry_requests", args.session_expiry_requests),
            ("layout", args.layout),
            ("fault_seed", args.fault_seed),
        )
        if value is not None
    }
    try:
        settings = PortalSettings(**overrides)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in issue['loc']) or 'settings'}: {issue['msg']}"
            for issue in error.errors()
        )
        print(
            f"portal settings are invalid: {problems} (secrets come from RPAML_PORTAL_PASSWORD, "
            "RPAML_PORTAL_ADMIN_TOKEN and RPAML_PORTAL_SESSION_SECRET)",
            file=sys.stderr,
        )
        return 2
    app = create_app(settings)
    try:
        sock = bind_socket(args.host, args.port)
    except OSError as error:
        print(f"cannot bind {args.host}:{args.port}: {error}", file=sys.stderr)
        return 1
    serve(app, sock, ready_file=args.ready_file, log_level=args.log_level)
    return 0


if __name__ == "__main__":
    sys.exit(main())
