"""Robot benchmark: how much work the robots get through against the sandbox.

    .venv/bin/python bench/robots.py                 # about a minute
    .venv/bin/python bench/robots.py --no-pabot      # skip the pabot comparison

Measured with headless Debian Chromium against a portal subprocess on loopback, and
with the Tk policy application on a private Xvfb display:

- list collection: records per second read from the claims list, pages of 200 rows,
  one JavaScript call per page (browser already open and logged in);
- detail pages: records per second read from claim detail pages (one page per claim);
- decisions: decisions per second applied through the bulk screen, and one by one;
- desktop: policy lookups per second through keyboard and clipboard, and records per
  second through the export;
- pabot: the collection and history task suites run one after the other by ``robot``
  and side by side by ``pabot --processes 2``.

Prints the figures and writes ``bench/results/robots-<time>.json`` (and the latest run
as ``bench/results/robots.json``).

pabot on this 2-core machine (2026-11-26, recorded under "pabot" in the results file):
the two independent suites took 18.8 s one after the other and 11.7 s side by side
(1.61x), so pabot helps where suites are independent (collection and history). The
loop's other suites depend on each other (collect -> enrich -> score -> apply) and gain
nothing from it; the list and bulk paths are fast enough in one process.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from rpaml_pipeline.child_processes import sandbox_portal

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
TASKS = ROOT / "robots" / "tasks"
PROCESS_FILE = ROOT / "pipeline" / "processes" / "claims_triage.yaml"

#: Goals of issue 5.
LIST_GOAL_PER_SECOND = 1000.0
DECISIONS_GOAL_PER_SECOND = 10.0


@dataclass(frozen=True)
class Portal:
    url: str
    admin_token: str
    password: str

    def admin(self, path: str) -> Any:
        response = httpx.get(
            f"{self.url}/admin/{path}", headers={"X-Admin-Token": self.admin_token}, timeout=30
        )
        response.raise_for_status()
        return response.json()

    def open_claims(self) -> list[str]:
        return sorted(
            claim["claim_id"]
            for claim in self.admin("claims")
            if claim["status"] == "open" and not claim["hidden"]
        )


@contextmanager
def portal_process(workdir: Path, open_claims: int, closed_claims: int) -> Iterator[Portal]:
    """The sandbox portal in its own process, as in production (not sharing our GIL)."""
    password, admin_token = secrets.token_urlsafe(12), secrets.token_urlsafe(12)
    env = {
        **os.environ,
        "RPAML_PORTAL_PASSWORD": password,
        "RPAML_PORTAL_ADMIN_TOKEN": admin_token,
        "RPAML_PORTAL_SESSION_SECRET": secrets.token_urlsafe(24),
    }
    arguments = ["--open-claims", str(open_claims), "--closed-claims", str(closed_claims)]
    portal = sandbox_portal(
        workdir / "portal.db",
        ready_file=workdir / "portal.url",
        log_file=workdir / "portal.log",
        env=env,
        arguments=[*arguments, "--late-arrivals", "0", "--log-level", "warning"],
        start_timeout=120,
    )
    with portal:
        yield Portal(portal.url.rstrip("/"), admin_token, password)


def timed(work: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    result = work()
    return result, time.perf_counter() - started


def rate(count: int, seconds: float) -> float:
    return round(count / seconds, 1) if seconds > 0 else 0.0


def bench_portal(portal: Portal, details: int, bulk: int, single: int) -> dict[str, Any]:
    from rpaml_robots.portal import ClaimsPortal

    os.environ["RPAML_PORTAL_USERNAME"] = "clerk"
    os.environ["RPAML_PORTAL_PASSWORD"] = portal.password
    library = ClaimsPortal()
    figures: dict[str, Any] = {}
    (_, start_seconds) = timed(lambda: library.open_claims_portal(portal.url))
    library.log_in_to_claims_portal()
    figures["browser_start_seconds"] = round(start_seconds, 2)
    try:
        # Warm-up: the first page pays for Chromium's caches and the portal's first queries.
        library.collect_open_claims(per_page=200)
        rows, seconds = timed(lambda: library.collect_open_claims(per_page=200))
        stats = library.collection_statistics()
        figures["list_collection"] = {
            "records": len(rows),
            "pages": stats["pages"],
            "rows_per_page": 200,
            "seconds": round(seconds, 3),
            "records_per_second": rate(len(rows), seconds),
            "goal_per_second": LIST_GOAL_PER_SECOND,
        }
        claim_ids = [row["claim_id"] for row in rows]
        chosen = [{"claim_id": claim_id} for claim_id in claim_ids[:details]]
        merged, seconds = timed(lambda: library.add_claim_details(chosen))
        figures["detail_pages"] = {
            "records": len(merged),
            "seconds": round(seconds, 3),
            "records_per_second": rate(len(merged), seconds),
        }
        actions = ("approve", "escalate", "reject")
        work = [
            {"record_id": str(index), "claim_id": claim_id, "decision": actions[index % 3]}
            for index, claim_id in enumerate(claim_ids[details : details + bulk])
        ]
        results, seconds = timed(lambda: library.apply_decisions_in_bulk(work))
        applied = sum(1 for result in results if result["outcome"] == "applied")
        figures["decisions_bulk"] = {
            "decisions": applied,
            "chunk_size": 100,
            "seconds": round(seconds, 3),
            "decisions_per_second": rate(applied, seconds),
            "goal_per_second": DECISIONS_GOAL_PER_SECOND,
        }
        singles = claim_ids[details + bulk : details + bulk + single]

        def one_by_one() -> int:
            return sum(
                library.apply_decision(claim_id, "approve")["outcome"] == "applied"
                for claim_id in singles
            )

        applied, seconds = timed(one_by_one)
        figures["decisions_single"] = {
            "decisions": applied,
            "seconds": round(seconds, 3),
            "decisions_per_second": rate(applied, seconds),
        }
        # The portal's own record: every decision exactly once.
        taken = [action["claim_id"] for action in portal.admin("actions")]
        figures["exactly_once"] = len(taken) == len(set(taken)) == len(work) + len(singles)
    finally:
        library.close_claims_portal()
    return figures


def bench_desktop(workdir: Path, lookups: int) -> dict[str, Any]:
    from rpaml_robots.policy_desktop import PolicyDesktop
    from rpaml_sandbox.desktop.policies import generate_policies, save_policies

    policies = generate_policies(7, 400, 600)
    data = workdir / "policies.json"
    save_policies(data, policies)
    saved_display = os.environ.pop("DISPLAY", None)  # a private Xvfb display
    library = PolicyDesktop()
    try:
        library.start_policy_application(str(data))
        library.look_up_policy(policies[0].policy_number)  # warm-up
        chosen = [policy.policy_number for policy in policies[1 : lookups + 1]]
        _, seconds = timed(lambda: [library.look_up_policy(number) for number in chosen])
        export_path = str(workdir / "export.csv")

        def export() -> int:
            return len(library.read_policy_export(library.export_policies(export_path)))

        exported, export_seconds = timed(export)
    finally:
        library.close_policy_application()
        if saved_display is not None:
            os.environ["DISPLAY"] = saved_display
    return {
        "keyboard_lookups": {
            "lookups": len(chosen),
            "seconds": round(seconds, 3),
            "lookups_per_second": rate(len(chosen), seconds),
        },
        "export": {
            "records": exported,
            "seconds": round(export_seconds, 3),
            "records_per_second": rate(exported, export_seconds),
        },
    }


def bench_pabot(portal: Portal, workdir: Path) -> dict[str, Any]:
    """Two independent task suites: ``robot`` one after the other vs ``pabot`` side by side."""
    if shutil.which("pabot", path=str(Path(sys.executable).parent)) is None:
        return {"measured": False, "reason": "pabot is not installed"}
    suites = [str(TASKS / "collect_claims.robot"), str(TASKS / "download_history.robot")]

    def run(runner: list[str], name: str, suites: list[str]) -> float:
        out = workdir / name
        env = {
            **os.environ,
            "SE_OFFLINE": "true",
            "RPAML_PORTAL_URL": portal.url,
            "RPAML_PORTAL_USERNAME": "clerk",
            "RPAML_PORTAL_PASSWORD": portal.password,
            "RPAML_STORE_URL": f"sqlite:///{workdir / name}.db",
            "RPAML_PROCESS_FILE": str(PROCESS_FILE),
            "RPAML_DATA_DIR": str(out / "data"),
            # pabot starts ``robot`` from PATH: the virtualenv's.
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]),
        }
        started = time.perf_counter()
        completed = subprocess.run(
            [*runner, "--outputdir", str(out), *suites],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        seconds = time.perf_counter() - started
        if completed.returncode != 0:
            raise RuntimeError(f"{name} failed:\n{completed.stdout[-2000:]}{completed.stderr}")
        return seconds

    bin_dir = Path(sys.executable).parent
    # One robot process per suite, one after the other, as the demo runs them (a robot
    # process records one run in the store).
    serial = sum(
        run([sys.executable, "-m", "robot"], f"serial-{index}", [suite])
        for index, suite in enumerate(suites)
    )
    # No PabotLib: the suites share nothing, and it would listen on a fixed port.
    parallel = run([str(bin_dir / "pabot"), "--no-pabotlib", "--processes", "2"], "pabot", suites)
    return {
        "measured": True,
        "suites": [Path(suite).name for suite in suites],
        "robot_serial_seconds": round(serial, 2),
        "pabot_2_processes_seconds": round(parallel, 2),
        "speed_up": round(serial / parallel, 2),
        # Within noise (10 %) it does not help: keep it only above that.
        "helps": parallel < serial * 0.9,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--open-claims", type=int, default=3000)
    parser.add_argument("--details", type=int, default=50)
    parser.add_argument("--bulk", type=int, default=600)
    parser.add_argument("--single", type=int, default=10)
    parser.add_argument("--lookups", type=int, default=30)
    parser.add_argument("--no-pabot", action="store_true", help="skip the pabot comparison")
    args = parser.parse_args(argv)

    figures: dict[str, Any] = {
        "benchmark": "robots",
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }
    with tempfile.TemporaryDirectory(prefix="rpaml-bench-robots-") as temporary:
        workdir = Path(temporary)
        with portal_process(workdir, args.open_claims, 0) as portal:
            figures["portal"] = bench_portal(portal, args.details, args.bulk, args.single)
        figures["desktop"] = bench_desktop(workdir, args.lookups)
        if not args.no_pabot:
            pabot_dir = workdir / "pabot"
            pabot_dir.mkdir()
            with portal_process(pabot_dir, 200, 1500) as portal:
                figures["pabot"] = bench_pabot(portal, pabot_dir)

    print(json.dumps(figures, indent=2))
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS / f"robots-{stamp}.json"
    text = json.dumps(figures, indent=2) + "\n"
    path.write_text(text)
    # The latest run under a fixed name too, for tools that compare runs.
    (RESULTS / "robots.json").write_text(text)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
