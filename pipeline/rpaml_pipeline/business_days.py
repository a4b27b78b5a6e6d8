"""The learning loop over simulated business days, on the sandbox (``bench/loop.py``).

The same child processes and stages as the demo (the portal and the scoring service as
processes, the robots in headless Chromium and under Xvfb, the SQLite store), run in the
order the worker's schedules run them, once per business day:

1. the portal's clock moves on a day: new claims arrive, decided claims close with their
   outcome (``rpaml sandbox advance``);
2. the history robot takes the claims closed since its last run, the collect robot the
   new open claims, the enrichment robot looks their policies up;
3. processing cleans, validates and labels them and links outcomes to the decisions they
   judge; scoring decides; the act robot applies the decisions in the portal;
4. the retrain job trains a challenger once enough new labels arrived and promotes it only
   on evidence; the service serves a new champion once it is promoted;
5. monitoring judges drift and realised cost.

Each day's figures come from the store and, for the expected cost of the day's applied
decisions against the oracle, from the sandbox's hidden truth (measuring only).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from typing import Any

import httpx

from rpaml_models import ModelRegistry
from rpaml_pipeline import decision_quality
from rpaml_pipeline.demo import (
    DemoOptions,
    policy_data_file,
    portal_process,
    service_key,
    service_process,
    started,
)
from rpaml_pipeline.errors import DemoError
from rpaml_pipeline.process import load_process
from rpaml_pipeline.runtime import Runtime
from rpaml_pipeline.sandbox_clock import advance_sandbox
from rpaml_pipeline.sandbox_truth import sandbox_truth
from rpaml_pipeline.secrets_file import ensure_demo_secrets
from rpaml_pipeline.settings import RpamlSettings
from rpaml_pipeline.stage_timer import StageTimer
from rpaml_pipeline.stages import (
    MonitorStage,
    ProcessStage,
    RetrainStage,
    RobotStage,
    ScoreStage,
    Stage,
    TrainStage,
    run_stage,
)

Progress = Callable[[str], None]
_RELOAD_WAIT_SECONDS = 30.0


@dataclass(frozen=True)
class LoopOptions:
    """How many days, how many claims a day, and from which day the fraud ring works."""

    days: int = 30
    daily_claims: int = 60
    fraud_ring_day: int | None = 10
    """Business day (1 = the first simulated day) from which the fraud ring works."""
    sandbox: DemoOptions = field(default_factory=lambda: DemoOptions(late_arrivals=0))


@dataclass
class DayFigures:
    """What one business day brought and how good its decisions were."""

    day: int
    business_date: str
    arrived: int
    closed_in_portal: int
    decided: int
    cost_per_claim: float | None
    oracle_cost_per_claim: float | None
    ratio_to_oracle: float | None
    labels_received: int
    alerts: list[str]
    retrain: str
    promoted: str | None
    champion: str | None
    fraud_ring: bool
    seconds: float
    promotion_check: dict[str, Any] | None = None
    """For a promotion: the new and the previous champion's policy decisions on the same
    claims (those decided in the days after it), each costed from the truth."""

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def run_business_days(
    settings: RpamlSettings, options: LoopOptions, progress: Progress = lambda _: None
) -> list[DayFigures]:
    """Set the loop up as the demo does (history, first model, service), then run
    ``options.days`` business days; return each day's figures. Raises :class:`DemoError`."""
    # The loop measures the model's own policy and the labels it earns: escalations are
    # worked by the portal's investigators, so the review section is set aside and no
    # (simulated) reviewer's errors enter the labels or the day's cost.
    process = load_process(settings.process_file).model_copy(update={"review": None})
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    secrets = ensure_demo_secrets(settings.secrets_file)
    variables = {**secrets, **settings.variables()}
    runtime = Runtime.build(settings, process=process)
    timer = StageTimer()
    figures: list[DayFigures] = []
    decided: list[set[str]] = []
    arguments = ("--daily-claims", str(options.daily_claims))
    try:
        with ExitStack() as running:
            portal = running.enter_context(
                started(
                    timer,
                    "start portal",
                    portal_process(settings, options.sandbox, secrets, arguments),
                )
            )
            policy_data = policy_data_file(settings, options.sandbox)
            runtime = runtime.with_robot_env(
                RPAML_PORTAL_URL=portal.url, RPAML_POLICY_DATA=str(policy_data)
            )
            start = _configure_clock(portal.url, variables, options)
            progress(f"portal at {portal.url}, business date {start.isoformat()}")
            for stage in (RobotStage.of(process, "history"), *_enrich(runtime), ProcessStage()):
                _run(runtime, stage)
            trained = _run(runtime, TrainStage())
            progress(str(trained.get("message", "")))
            service = running.enter_context(
                started(timer, "start service", service_process(settings, secrets))
            )
            runtime = runtime.with_service(service.url, service_key(settings, secrets))
            labels_before = _labels(runtime)
            for day in range(1, options.days + 1):
                began = time.monotonic()
                moved = advance_sandbox(
                    portal.url,
                    1,
                    variables,
                    portal_db=settings.data_dir / "portal" / "portal.db",
                    policy_data=policy_data,
                )
                figure = _one_day(runtime, service.url, day, moved.business_date, labels_before)
                labels_before += figure.labels_received
                figure.arrived, figure.closed_in_portal = moved.arrived, moved.closed
                figure.fraud_ring = bool(moved.days and moved.days[-1]["fraud_ring"])
                figure.cost_per_claim, figure.oracle_cost_per_claim, figure.ratio_to_oracle = (
                    _day_cost(runtime, portal.url, secrets, figure.decided_keys)
                )
                figure.seconds = round(time.monotonic() - began, 1)
                figures.append(figure.figures())
                decided.append(figure.decided_keys)
                progress(_line(figures[-1]))
            _check_promotions(runtime, portal.url, secrets, figures, decided, progress)
    finally:
        runtime.close()
    return figures


@dataclass
class _DayWork:
    day: int
    business_date: str
    decided_keys: set[str]
    labels_received: int
    alerts: list[str]
    retrain: str
    promoted: str | None
    champion: str | None
    arrived: int = 0
    closed_in_portal: int = 0
    fraud_ring: bool = False
    cost_per_claim: float | None = None
    oracle_cost_per_claim: float | None = None
    ratio_to_oracle: float | None = None
    seconds: float = 0.0

    def figures(self) -> DayFigures:
        return DayFigures(
            day=self.day,
            business_date=self.business_date,
            arrived=self.arrived,
            closed_in_portal=self.closed_in_portal,
            decided=len(self.decided_keys),
            cost_per_claim=self.cost_per_claim,
            oracle_cost_per_claim=self.oracle_cost_per_claim,
            ratio_to_oracle=self.ratio_to_oracle,
            labels_received=self.labels_received,
            alerts=self.alerts,
            retrain=self.retrain,
            promoted=self.promoted,
            champion=self.champion,
            fraud_ring=self.fraud_ring,
            seconds=self.seconds,
        )


def _one_day(
    runtime: Runtime, service_url: str, day: int, business_date: str, labels_before: int
) -> _DayWork:
    process = runtime.process
    acted_before = _acted_keys(runtime)
    for stage in (
        RobotStage.of(process, "history"),
        RobotStage.of(process, "collect"),
        *_enrich(runtime),
    ):
        _run(runtime, stage)
    processed = _run(runtime, ProcessStage())
    scored = _run(runtime, ScoreStage())
    _run(runtime, RobotStage.of(process, "act"))
    retrained = _run(runtime, RetrainStage())
    promoted = str(retrained["version"]) if retrained.get("promoted") else None
    if promoted is not None:
        _wait_for_champion(runtime, service_url, promoted)
    monitored = _run(runtime, MonitorStage(), strict=False)
    alerts = [
        str(alert.get("message", alert))
        for alert in (
            *processed.get("alerts", []),
            *(scored.get("drift") or {}).get("alerts", []),
            *[a for a in monitored.get("alerts", []) if a.get("kind") == "performance"],
        )
        if isinstance(alert, Mapping) and alert.get("level", "alert") == "alert"
    ]
    reason = "skipped" if retrained.get("skipped") else "trained"
    return _DayWork(
        day=day,
        business_date=business_date,
        decided_keys=_acted_keys(runtime) - acted_before,
        labels_received=_labels(runtime) - labels_before,
        alerts=sorted(set(alerts)),
        retrain=f"{reason}: {retrained.get('reason') or retrained.get('message', '')}",
        promoted=promoted,
        champion=ModelRegistry(runtime.registry_dir).champion(process.model.name),
    )


def _configure_clock(portal_url: str, variables: Mapping[str, str], options: LoopOptions) -> date:
    headers = {"X-Admin-Token": variables["RPAML_PORTAL_ADMIN_TOKEN"]}
    clock = httpx.get(f"{portal_url}/admin/clock", headers=headers, timeout=30).json()
    start = date.fromisoformat(clock["business_date"])
    change: dict[str, Any] = {"daily_claims": options.daily_claims}
    if options.fraud_ring_day is None:
        change["clear_fraud_ring"] = True
    else:
        change["fraud_ring_from"] = (start + timedelta(days=options.fraud_ring_day)).isoformat()
    httpx.put(f"{portal_url}/admin/clock", json=change, headers=headers, timeout=30)
    return start


def _enrich(runtime: Runtime) -> Iterator[Stage]:
    if runtime.process.enrichment is not None:
        yield RobotStage.of(runtime.process, "enrich")


def _run(runtime: Runtime, stage: Stage, *, strict: bool = True) -> dict[str, Any]:
    result = run_stage(runtime, stage)
    if strict and not result.succeeded:
        raise DemoError(f"stage {stage.kind} failed: {result.error}")
    return result.as_dict()


def _acted_keys(runtime: Runtime) -> set[str]:
    return {
        record.natural_key
        for chunk in runtime.store.iter_records(runtime.process.name, "acted")
        for record in chunk
    }


# A promotion is judged on the claims of this many days after it (fewer at the end).
_PROMOTION_DAYS = 3


def _check_promotions(
    runtime: Runtime,
    portal_url: str,
    secrets: Mapping[str, str],
    figures: list[DayFigures],
    decided: list[set[str]],
    progress: Progress,
) -> None:
    """Cost each promotion from the truth: both versions decide the same later claims."""
    registry = ModelRegistry(runtime.registry_dir)
    truth = sandbox_truth(portal_url, secrets)
    for index, figure in enumerate(figures):
        if figure.promoted is None or index == 0:
            continue
        previous = figures[index - 1].champion
        keys = set().union(*decided[index + 1 : index + 1 + _PROMOTION_DAYS])
        if previous is None or not keys:
            continue
        check = decision_quality.versions_on_truth(
            runtime.store,
            runtime.process,
            registry,
            (figure.promoted, previous),
            {key: truth[key] for key in keys if key in truth},
        )
        if check:
            new, old = (check["cost_per_record"][v] for v in (figure.promoted, previous))
            figure.promotion_check = {**check, "previous": previous, "worse": new > old}
            progress(
                f"promotion of v{figure.promoted} on day {figure.day}: {new:.1f} per claim "
                f"against v{previous}'s {old:.1f} on the same {check['records']} later claims"
            )


def _labels(runtime: Runtime) -> int:
    return sum(runtime.store.labels.counts(runtime.process.name).values())


def _day_cost(
    runtime: Runtime, portal_url: str, secrets: Mapping[str, str], keys: set[str]
) -> tuple[float | None, float | None, float | None]:
    if not keys:
        return None, None, None
    truth = sandbox_truth(portal_url, secrets)
    measured = decision_quality.measure(
        runtime.store, runtime.process, {key: truth[key] for key in keys if key in truth}
    )
    if not measured:
        return None, None, None
    costs = measured["cost_per_record"]
    applied, oracle = costs[decision_quality.MODEL_ROW], costs["oracle"]
    return round(applied, 2), round(oracle, 2), round(applied / oracle, 4)


def _wait_for_champion(runtime: Runtime, service_url: str, version: str) -> None:
    """The service checks the registry every few seconds: wait until it serves ``version``."""
    name = runtime.process.model.name
    deadline = time.monotonic() + _RELOAD_WAIT_SECONDS
    headers = {"X-API-Key": runtime.service_api_key or ""}
    while time.monotonic() < deadline:
        answer = httpx.get(f"{service_url}/v1/models/{name}", headers=headers, timeout=10)
        if answer.status_code == 200 and str(answer.json().get("version")) == version:
            return
        time.sleep(0.5)
    raise DemoError(f"the service did not serve {name} v{version} within {_RELOAD_WAIT_SECONDS}s")


def _line(figure: DayFigures) -> str:
    ratio = "-" if figure.ratio_to_oracle is None else f"{figure.ratio_to_oracle:.3f}"
    promoted = f", promoted v{figure.promoted}" if figure.promoted else ""
    return (
        f"day {figure.day:2d} {figure.business_date}: {figure.decided} decided, ratio {ratio}, "
        f"{figure.labels_received} labels, {len(figure.alerts)} alerts{promoted}"
    )
