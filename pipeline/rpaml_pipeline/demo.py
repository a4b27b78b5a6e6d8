"""The demo: the whole loop once, on the embedded default (SQLite, local processes).

Starts the sandbox claims portal, has a robot download the history of closed claims and
trains the first model from it, starts the scoring service, has a robot collect the new
claims, processes and scores them, has a simulated reviewer decide the escalated ones in
the review app (when the process file has a review section), and has a robot apply each
decision in the portal.
Everything is idempotent: run it again and nothing is collected or acted on twice.

This module starts the portal, the service and the robots as child processes (by module
name), so it imports none of those packages.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rpaml_models import ModelRegistry
from rpaml_models.model_card import write_card
from rpaml_pipeline import decision_quality
from rpaml_pipeline.child_processes import ManagedProcess, sandbox_portal
from rpaml_pipeline.demo_review import render_review, review_escalations
from rpaml_pipeline.errors import DemoError
from rpaml_pipeline.process import ProcessDefinition, load_process
from rpaml_pipeline.runtime import Runtime
from rpaml_pipeline.sandbox_truth import outcomes, probabilities, sandbox_claims
from rpaml_pipeline.secrets_file import SERVICE_KEY, ensure_demo_secrets, write_service_keys
from rpaml_pipeline.settings import RpamlSettings
from rpaml_pipeline.stage_timer import StageTimer
from rpaml_pipeline.stages import (
    DeliverStage,
    MonitorStage,
    ProcessStage,
    RobotStage,
    ScoreStage,
    Stage,
    TrainStage,
    run_stage,
)
from rpaml_pipeline.store import Store

Progress = Callable[[str], None]


@dataclass(frozen=True)
class DemoOptions:
    """Size of the sandbox data (used when the portal database is first created)."""

    seed: int = 7
    open_claims: int = 120
    closed_claims: int = 1500
    late_arrivals: int = 5
    review_error_rate: float = 0.1
    """How often the simulated reviewer answers wrong on purpose (a process with review)."""


@dataclass
class DemoSummary:
    """Everything the demo did, for people (``render``) and machines (``as_dict``)."""

    process: str
    store: str
    data_dir: str
    portal_url: str = ""
    service_url: str = ""
    history: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    collected: dict[str, Any] = field(default_factory=dict)
    enrichment: dict[str, Any] = field(default_factory=dict)
    processing: dict[str, Any] = field(default_factory=dict)
    scoring: dict[str, Any] = field(default_factory=dict)
    review: dict[str, Any] = field(default_factory=dict)
    """The simulated reviewer's work on the escalations (a process with a review section)."""
    acting: dict[str, Any] = field(default_factory=dict)
    delivery: dict[str, Any] = field(default_factory=dict)
    decision_quality: dict[str, Any] = field(default_factory=dict)
    states: dict[str, int] = field(default_factory=dict)
    stage_seconds: dict[str, float] = field(default_factory=dict)
    robot_logs: dict[str, str] = field(default_factory=dict)
    model_card: str = ""
    monitoring: dict[str, Any] = field(default_factory=dict)
    """The monitor stage's summary: the report's path, its alerts."""

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def run_demo(
    settings: RpamlSettings, options: DemoOptions, progress: Progress = lambda _: None
) -> DemoSummary:
    """Run the whole loop once and return its summary. Raises :class:`DemoError`."""
    process = load_process(settings.process_file)
    data_dir = settings.data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    secrets = ensure_demo_secrets(settings.secrets_file)
    runtime = Runtime.build(settings, process=process)
    timer = StageTimer()
    summary = DemoSummary(process=process.name, store=runtime.store.url, data_dir=str(data_dir))
    try:
        with ExitStack() as running:
            portal = running.enter_context(
                started(timer, "start portal", portal_process(settings, options, secrets))
            )
            summary.portal_url = portal.url
            progress(f"claims portal at {portal.url}")
            runtime = runtime.with_robot_env(RPAML_PORTAL_URL=portal.url)

            with timer.stage("download history"):
                summary.history = _stage(runtime, RobotStage.of(process, "history"), summary)
                progress("history downloaded and staged")
            if process.enrichment is not None:
                runtime = runtime.with_robot_env(
                    RPAML_POLICY_DATA=str(policy_data_file(settings, options))
                )
                with timer.stage("enrich history"):
                    summary.history["enrichment"] = _stage(
                        runtime, RobotStage.of(process, "enrich"), summary
                    )
            with timer.stage("process history"):
                summary.history["processing"] = _stage(runtime, ProcessStage(), summary)
            with timer.stage("train"):
                summary.training = _stage(runtime, TrainStage(), summary)
                progress(str(summary.training.get("message", "")))
            champion = summary.training.get("champion")
            if champion:
                page, _ = write_card(
                    ModelRegistry(runtime.registry_dir),
                    process.model.name,
                    str(champion),
                    settings.data_dir / "cards",
                )
                summary.model_card = str(page)
                progress(f"model card at {page}")

            service = running.enter_context(
                started(timer, "start service", service_process(settings, secrets))
            )
            summary.service_url = service.url
            progress(f"scoring service at {service.url}")
            runtime = runtime.with_service(service.url, service_key(settings, secrets))
            with timer.stage("collect claims"):
                summary.collected = _stage(runtime, RobotStage.of(process, "collect"), summary)
                progress("new claims collected")
            if process.enrichment is not None:
                with timer.stage("enrich claims"):
                    summary.enrichment = _stage(runtime, RobotStage.of(process, "enrich"), summary)
                    progress("claims enriched from the policy application")
            with timer.stage("process claims"):
                summary.processing = _stage(runtime, ProcessStage(), summary)
            with timer.stage("score"):
                summary.scoring = _stage(runtime, ScoreStage(), summary)
            if process.review is not None:
                with timer.stage("review escalations"):
                    summary.review = review_escalations(
                        runtime, settings, secrets, portal.url,
                        error_rate=options.review_error_rate,
                    )  # fmt: skip
                    progress(f"{summary.review['reviewed']} escalations reviewed")
            with timer.stage("apply decisions"):
                summary.acting = _stage(runtime, RobotStage.of(process, "act"), summary)
                progress("decisions applied")
            if process.delivery:
                with timer.stage("deliver"):
                    summary.delivery = _stage(runtime, DeliverStage(), summary, strict=False)
                    progress("records, scores and decisions delivered")
            summary.decision_quality = _decision_quality(
                runtime.store, process, portal.url, secrets
            )
            with timer.stage("monitor"):
                summary.monitoring = _stage(runtime, MonitorStage(), summary, strict=False)
                progress(f"monitoring report at {summary.monitoring.get('report')}")
    finally:
        summary.stage_seconds = timer.seconds
        summary.states = runtime.store.counts(process.name).get(process.name, {})
        runtime.close()
    return summary


@contextmanager
def started(timer: StageTimer, stage: str, child: ManagedProcess) -> Iterator[ManagedProcess]:
    """Start ``child`` (timed as ``stage``), yield it, and always stop it afterwards."""
    with timer.stage(stage):
        child.start()
    try:
        yield child
    finally:
        child.stop()


def _stage(
    runtime: Runtime, stage: Stage, summary: DemoSummary, *, strict: bool = True
) -> dict[str, Any]:
    """Run ``stage``; a stage that failed stops the demo (``strict``), naming why."""
    result = run_stage(runtime, stage)
    figures = result.as_dict()
    if "log" in figures and stage.robot is not None:
        summary.robot_logs[stage.robot] = str(figures["log"])
    if strict and not result.succeeded:
        raise DemoError(f"stage {stage.kind} failed: {result.error}")
    return figures


def policy_data_file(settings: RpamlSettings, options: DemoOptions) -> Path:
    """Write the desktop application's data file, consistent with the portal's claims
    (same seed and counts), unless it exists; return its path."""
    path = settings.data_dir / "desktop" / "policies.json"
    if path.is_file():
        return path
    command = [
        sys.executable, "-m", "rpaml_sandbox.desktop", "generate", "--out", str(path),
        "--seed", str(options.seed), "--open-claims", str(options.open_claims),
        "--closed-claims", str(options.closed_claims),
        "--late-arrivals", str(options.late_arrivals),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise DemoError(f"cannot write the policy data file {path}: {done.stderr.strip()}")
    return path


def portal_process(
    settings: RpamlSettings,
    options: DemoOptions,
    secrets: Mapping[str, str],
    extra_arguments: tuple[str, ...] = (),
) -> ManagedProcess:
    """The sandbox portal over ``data_dir/portal/portal.db`` (generated with ``options``
    on first start), not started yet."""
    return sandbox_portal(
        settings.data_dir / "portal" / "portal.db",
        ready_file=settings.data_dir / "run" / "portal.url",
        log_file=settings.data_dir / "logs" / "portal.log",
        env=_child_env(secrets),
        arguments=[
            "--seed",
            str(options.seed),
            "--open-claims",
            str(options.open_claims),
            "--closed-claims",
            str(options.closed_claims),
            "--late-arrivals",
            str(options.late_arrivals),
            *extra_arguments,
        ],
    )


def service_process(settings: RpamlSettings, secrets: Mapping[str, str]) -> ManagedProcess:
    """The scoring service over the settings' registry, not started yet."""
    run_dir = settings.data_dir / "run"
    return ManagedProcess(
        "scoring service",
        [
            sys.executable,
            "-m",
            "rpaml_service",
            "--registry",
            str(settings.registry_dir),
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--ready-file",
            str(run_dir / "service.url"),
        ],
        ready_file=run_dir / "service.url",
        log_file=settings.data_dir / "logs" / "service.log",
        env=_child_env({"RPAML_SERVICE_API_KEYS_FILE": str(_service_keys_file(settings, secrets))}),
    )


def service_key(settings: RpamlSettings, secrets: Mapping[str, str]) -> str:
    """The API key the demo scores with: ``RPAML_SERVICE_API_KEY`` when set, else the
    secrets file's (the service is started accepting exactly this key)."""
    key = settings.service_api_key
    return key.get_secret_value() if key else secrets[SERVICE_KEY]


def _service_keys_file(settings: RpamlSettings, secrets: Mapping[str, str]) -> Path:
    """The service's keys file, accepting the key the demo scores with: the service has
    no open mode, and a key from the environment may differ from the secrets file's."""
    return write_service_keys(
        settings.data_dir, {**secrets, SERVICE_KEY: service_key(settings, secrets)}
    )


def _child_env(extra: Mapping[str, str]) -> dict[str, str]:
    return {**os.environ, **extra}


def _decision_quality(
    store: Store, process: ProcessDefinition, portal_url: str, secrets: Mapping[str, str]
) -> dict[str, Any]:
    """Compare the decisions with the sandbox's hidden truth (only a sandbox has one)."""
    claims = sandbox_claims(portal_url, secrets)
    return decision_quality.measure(store, process, probabilities(claims), outcomes(claims))


def render(summary: DemoSummary) -> str:
    """The summary as readable text."""
    lines = [f"rpaml demo: process {summary.process}", ""]
    collected = summary.collected
    lines.append(
        f"Collected     {collected.get('new', 0)} new claims staged "
        f"({collected.get('on_screen', 0)} open claims on screen, "
        f"{collected.get('duplicates', 0)} rows seen twice while paging, "
        f"{collected.get('revised', 0)} revised)"
    )
    enrichment = summary.enrichment
    if enrichment:
        lines.append(
            f"Enriched      {enrichment.get('enriched', 0)} claims from the policy application, "
            f"{enrichment.get('quarantined', 0)} quarantined (policy not found)"
        )
    processing = summary.processing
    lines.append(
        f"Validated     {processing.get('validated', 0)}    "
        f"Quarantined {processing.get('quarantined', 0)}"
    )
    for reason, count in processing.get("top_reasons", []):
        lines.append(f"  {count:>4} x {reason}")
    for held in processing.get("held_batches", []):
        lines.append(
            f"  HELD batch {held['batch']} ({held['records']} records from {held['source']}): "
            f"rpaml quarantine list"
        )
    scoring = summary.scoring
    decisions = ", ".join(f"{n} {a}" for a, n in sorted(scoring.get("decisions", {}).items()))
    lines.append(f"Scored        {scoring.get('scored', 0)}  ({decisions or 'no decisions'})")
    lines.extend(render_review(summary.review))
    acting = summary.acting
    lines.append(
        f"Acted         {acting.get('applied', 0)} applied in the portal, "
        f"{acting.get('already_decided', 0)} already decided there, "
        f"{acting.get('failed', 0)} failed"
    )
    for target in summary.delivery.get("targets", []):
        lines.append(
            f"Delivered     {target['delivered']} to {target['target']} ({target['kind']}, "
            f"{target['status']}) at {target['location']}"
        )
    training = summary.training
    if training:
        metrics = training.get("metrics", {})
        lines.append(
            f"Model         {training['model']} v{training['version']} "
            f"(champion v{training.get('champion')}; out-of-fold ROC AUC "
            f"{metrics.get('roc_auc', float('nan')):.3f}, calibration error "
            f"{metrics.get('ece', float('nan')):.3f}); {training['message']}"
        )
    lines.extend(decision_quality.render(summary.decision_quality))
    if summary.model_card:
        lines.append(f"Model card    {summary.model_card}")
    lines.append("")
    lines.append(
        "Records by state  " + ", ".join(f"{k} {v}" for k, v in sorted(summary.states.items()))
    )
    lines.append("Time per stage")
    lines.extend(
        f"  {name:<18} {seconds:7.2f} s" for name, seconds in summary.stage_seconds.items()
    )
    lines.append("")
    lines.append(f"Store         {summary.store}")
    for robot, log in summary.robot_logs.items():
        lines.append(f"Robot log     {robot}: {log}")
    return "\n".join(lines)
