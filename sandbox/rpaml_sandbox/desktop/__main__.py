"""Command line of the policy-administration application.

``python -m rpaml_sandbox.desktop generate --out policies.json --seed 7 ...`` writes the
data file consistent with the claims portal started with the same seed and counts;
``python -m rpaml_sandbox.desktop run --data policies.json [--ready-file F]`` opens the
window on ``$DISPLAY`` and, once it is shown, writes the window title to the ready file.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import tkinter as tk
from contextlib import closing
from pathlib import Path

from rpaml_sandbox.desktop.app import WINDOW_TITLE, PolicyApp
from rpaml_sandbox.desktop.policies import (
    PolicyDataError,
    PolicyRecord,
    generate_policies,
    load_policies,
    policies_of_claims,
    save_policies,
)
from rpaml_sandbox.portal.schema import claim_of


def build_parser() -> argparse.ArgumentParser:
    """The application's argument parser."""
    parser = argparse.ArgumentParser(
        prog="python -m rpaml_sandbox.desktop",
        description="The sandbox policy-administration desktop application.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    generate = commands.add_parser("generate", help="write the policy data file")
    generate.add_argument("--out", type=Path, required=True, help="data file to write")
    generate.add_argument("--seed", type=int, default=7, help="portal data seed (7)")
    generate.add_argument("--open-claims", type=int, default=120, help="open claims (120)")
    generate.add_argument("--closed-claims", type=int, default=1500, help="closed claims (1500)")
    generate.add_argument("--late-arrivals", type=int, default=5, help="late arrivals (5)")
    sync = commands.add_parser(
        "sync", help="write the data file from a running portal's database (new claims too)"
    )
    sync.add_argument("--out", type=Path, required=True, help="data file to write")
    sync.add_argument("--portal-db", type=Path, required=True, help="the portal's SQLite file")
    run = commands.add_parser("run", help="open the application window on $DISPLAY")
    run.add_argument("--data", type=Path, required=True, help="policy data file")
    run.add_argument("--ready-file", type=Path, help="write the window title here once shown")
    run.add_argument(
        "--export-path",
        type=Path,
        help="path the export dialog proposes (default: policies-export.csv beside --data)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command; return the process exit code."""
    args = build_parser().parse_args(argv)
    if args.command == "generate":
        try:
            policies = generate_policies(
                args.seed, args.open_claims, args.closed_claims, args.late_arrivals
            )
        except ValueError as error:
            print(f"cannot generate policies: {error}", file=sys.stderr)
            return 2
        save_policies(args.out, policies)
        print(f"wrote {len(policies)} policies to {args.out}")
        return 0
    if args.command == "sync":
        try:
            policies = portal_policies(args.portal_db)
        except (OSError, ValueError, sqlite3.Error) as error:
            print(f"cannot read the portal database {args.portal_db}: {error}", file=sys.stderr)
            return 2
        save_policies(args.out, policies)
        print(f"wrote {len(policies)} policies to {args.out}")
        return 0
    try:
        policies_by_number = load_policies(args.data)
    except PolicyDataError as error:
        print(str(error), file=sys.stderr)
        return 2
    if not os.environ.get("DISPLAY"):
        print("DISPLAY is not set: start Xvfb (or a desktop) first", file=sys.stderr)
        return 2
    try:
        root = tk.Tk()
    except tk.TclError as error:
        print(f"cannot open the display {os.environ['DISPLAY']}: {error}", file=sys.stderr)
        return 1
    export_path = args.export_path or args.data.with_name("policies-export.csv")
    PolicyApp(root, policies_by_number, export_path=export_path)
    if args.ready_file is not None:
        ready: Path = args.ready_file

        def announce() -> None:
            ready.parent.mkdir(parents=True, exist_ok=True)
            ready.write_text(WINDOW_TITLE + "\n", encoding="utf-8")

        # Written once the window is mapped, so a robot that waits for it can type at once.
        root.after_idle(lambda: root.after(50, announce))
    root.mainloop()
    return 0


def portal_policies(portal_db: Path) -> list[PolicyRecord]:
    """Every policy behind the claims in a portal database, those that arrived as the
    business clock moved on included: what the policy system of that portal holds."""
    if not portal_db.is_file():
        raise ValueError("no such file")
    with closing(sqlite3.connect(f"file:{portal_db}?mode=ro", uri=True)) as conn:
        conn.row_factory = sqlite3.Row
        seed = conn.execute("SELECT value FROM portal_meta WHERE key = 'seed'").fetchone()
        if seed is None:
            raise ValueError("the portal database was never generated")
        # Insertion order is generation order: a policy's record comes from its first claim.
        rows = conn.execute("SELECT * FROM claims ORDER BY rowid").fetchall()
    return policies_of_claims((claim_of(row) for row in rows), int(seed[0]))


if __name__ == "__main__":
    sys.exit(main())
