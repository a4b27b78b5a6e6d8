"""The ``rpaml`` command line: the composition root.

This is the one module allowed to import every rpaml package; everything else receives
its settings and collaborators from here. Settings are built once per invocation from the
environment (``RPAML_*``) and passed down.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import click

from rpaml_pipeline.errors import RpamlPipelineError
from rpaml_pipeline.settings import RpamlSettings

P = ParamSpec("P")
R = TypeVar("R")


def _friendly_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Report rpaml's own errors as one readable message and exit code 1, no traceback."""

    @wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        from rpaml_models import RegistryError

        try:
            return command(*args, **kwargs)
        except (RpamlPipelineError, RegistryError) as error:
            raise click.ClickException(str(error)) from error

    return wrapper


def _settings(ctx: click.Context) -> RpamlSettings:
    settings = ctx.find_object(RpamlSettings)
    assert settings is not None  # created by the group callback
    return settings


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str, sort_keys=False))


@click.group()
@click.version_option(package_name="rpaml")
@click.pass_context
def main(ctx: click.Context) -> None:
    """rpaml: software robots and machine learning in one traceable loop."""
    ctx.obj = RpamlSettings()


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--seed", default=7, show_default=True, help="Seed of the sandbox data.")
@click.option("--open-claims", default=120, show_default=True, help="New claims in the portal.")
@click.option("--closed-claims", default=1500, show_default=True, help="Closed claims (history).")
@click.pass_context
@_friendly_errors
def demo(
    ctx: click.Context, as_json: bool, seed: int, open_claims: int, closed_claims: int
) -> None:
    """Run the whole loop once on the embedded default (SQLite, local processes)."""
    from rpaml_pipeline.demo import DemoOptions, render, run_demo

    def progress(message: str) -> None:
        if not as_json:
            click.echo(f"... {message}", err=True)

    options = DemoOptions(seed=seed, open_claims=open_claims, closed_claims=closed_claims)
    summary = run_demo(_settings(ctx), options, progress)
    if as_json:
        _echo_json(summary.as_dict())
    else:
        click.echo(render(summary))


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.pass_context
@_friendly_errors
def status(ctx: click.Context, as_json: bool) -> None:
    """Show records per state per process, and the latest runs."""
    from rpaml_pipeline.store import Store

    with Store.connect(_settings(ctx).resolved_store_url) as store:
        counts = store.counts()
        runs = store.list_runs(limit=10)
    if as_json:
        _echo_json(
            {
                "records": counts,
                "runs": [
                    {
                        "run_id": run.run_id,
                        "process": run.process,
                        "kind": run.kind,
                        "robot": run.robot,
                        "status": run.status,
                        "started_at": run.started_at,
                        "finished_at": run.finished_at,
                    }
                    for run in runs
                ],
            }
        )
        return
    if not counts:
        click.echo("No records yet.")
    for process, states in sorted(counts.items()):
        total = sum(states.values())
        click.echo(f"{process}: {total} records")
        for state, count in sorted(states.items()):
            click.echo(f"  {state:<12} {count:>7}")
    if runs:
        click.echo("Latest runs:")
        for run in runs:
            what = run.robot or run.kind
            click.echo(
                f"  {run.started_at:%Y-%m-%d %H:%M:%S}  {run.process:<16} {what:<18} "
                f"{run.status:<10} {run.run_id}"
            )


@main.group()
def pipeline() -> None:
    """Run pipeline stages on the staged records."""


@pipeline.command("run")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.pass_context
@_friendly_errors
def pipeline_run(ctx: click.Context, as_json: bool) -> None:
    """Clean, validate, label and transform every collected record."""
    from rpaml_pipeline.lineage.openlineage import OpenLineageEmitter
    from rpaml_pipeline.process import load_process, process_hash
    from rpaml_pipeline.runner import process_collected
    from rpaml_pipeline.store import Store

    settings = _settings(ctx)
    process = load_process(settings.process_file)
    with Store.connect(settings.resolved_store_url) as store:
        run_id = store.start_run(process.name, "process", config_hash=process_hash(process))
        try:
            result = process_collected(
                store, process, run_id, emitter=OpenLineageEmitter(settings.lineage_file)
            )
        except Exception:
            store.finish_run(run_id, "failed")
            raise
        store.finish_run(run_id, "succeeded", result.as_dict())
    data = {"run_id": run_id, **result.as_dict()}
    if as_json:
        _echo_json(data)
        return
    click.echo(
        f"processed {result.processed}: {result.validated} validated, {result.labeled} labeled, "
        f"{result.quarantined} quarantined"
    )
    for reason, count in result.top_reasons:
        click.echo(f"  {count:>4} x {reason}")


@pipeline.command("score")
@click.option("--service-url", help="Scoring service URL (default: RPAML_SERVICE_URL).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.pass_context
@_friendly_errors
def pipeline_score(ctx: click.Context, service_url: str | None, as_json: bool) -> None:
    """Score every validated record through the scoring service and store the decisions."""
    from rpaml_pipeline.process import load_process, process_hash
    from rpaml_pipeline.scoring import ScoringClient
    from rpaml_pipeline.scoring_stage import score_validated
    from rpaml_pipeline.store import Store

    settings = _settings(ctx)
    process = load_process(settings.process_file)
    api_key = settings.service_api_key.get_secret_value() if settings.service_api_key else None
    with (
        Store.connect(settings.resolved_store_url) as store,
        ScoringClient(service_url or settings.service_url, api_key=api_key) as client,
    ):
        run_id = store.start_run(process.name, "score", config_hash=process_hash(process))
        result = score_validated(store, process, client, run_id=run_id)
        store.finish_run(run_id, "failed" if result.error else "succeeded", result.as_dict())
    if as_json:
        _echo_json({"run_id": run_id, **result.as_dict()})
    else:
        click.echo(f"scored {result.scored}: {result.decisions}; {result.waiting} waiting")
    if result.error:
        raise click.ClickException(f"scoring stopped: {result.error}")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
@click.pass_context
@_friendly_errors
def train(ctx: click.Context, as_json: bool) -> None:
    """Train the process's model from its labeled records and register it."""
    from rpaml_pipeline.model_training import train_from_store
    from rpaml_pipeline.process import load_process
    from rpaml_pipeline.store import Store

    settings = _settings(ctx)
    process = load_process(settings.process_file)
    with Store.connect(settings.resolved_store_url) as store:
        run_id = store.start_run(process.name, "train")
        outcome = train_from_store(store, process, settings.registry_dir, run_id=run_id)
        store.finish_run(run_id, "succeeded", outcome.as_dict())
    if as_json:
        _echo_json(outcome.as_dict())
    else:
        click.echo(outcome.message)
        click.echo(f"{outcome.model} v{outcome.version}: {outcome.metrics}")


@main.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.pass_context
def serve(ctx: click.Context) -> None:
    """Run the scoring service (options: see ``rpaml serve --help-service``)."""
    from rpaml_service.__main__ import main as service_main

    settings = _settings(ctx)
    args = list(ctx.args)
    if "--registry" not in args:
        args = ["--registry", str(settings.registry_dir), *args]
    sys.exit(service_main(args))


@main.group()
def sandbox() -> None:
    """The demo applications the robots work on."""


@sandbox.command(
    "portal", context_settings={"ignore_unknown_options": True, "allow_extra_args": True}
)
@click.pass_context
def sandbox_portal(ctx: click.Context) -> None:
    """Run the sandbox claims portal (options are passed to it; try ``--help``)."""
    from rpaml_sandbox.portal.__main__ import main as portal_main

    settings = _settings(ctx)
    args = list(ctx.args)
    if "--db" not in args:
        args = ["--db", str(settings.data_dir / "portal" / "portal.db"), *args]
    sys.exit(portal_main(args))


@main.group()
def robot() -> None:
    """Run the robots."""


@robot.command("run")
@click.argument("name")
@click.option("--portal-url", help="Portal URL (default: RPAML_PORTAL_URL).")
@click.pass_context
@_friendly_errors
def robot_run(ctx: click.Context, name: str, portal_url: str | None) -> None:
    """Run the task suite robots/tasks/NAME.robot against the portal."""
    import uuid

    from rpaml_pipeline.robot_runs import run_robot, suite_path

    settings = _settings(ctx)
    env = settings.robot_environment()
    if portal_url:
        env["RPAML_PORTAL_URL"] = portal_url
    secrets = settings.data_dir / "secrets.env"
    if secrets.exists():
        env.setdefault("RPAML_SECRETS_FILE", str(secrets))
    run_id = uuid.uuid4().hex
    env["RPAML_RUN_ID"] = run_id
    output_dir = settings.data_dir / "robot-runs" / f"{name}-{run_id[:8]}"
    result = run_robot(
        suite_path(settings.project_dir / "robots", name), output_dir=output_dir, env=env
    )
    click.echo(f"{name}: {result.passed} passed, {result.failed} failed; log: {result.log_html}")
    for message in result.failure_messages:
        click.echo(f"  {message}", err=True)
    if not result.succeeded:
        raise SystemExit(1)


@main.command()
@click.argument("record_id")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.pass_context
@_friendly_errors
def lineage(ctx: click.Context, record_id: str, as_json: bool) -> None:
    """Print a record's trail: source, every step, model, decision, action and receipt."""
    from dataclasses import asdict

    from rpaml_pipeline.store import Store

    with Store.connect(_settings(ctx).resolved_store_url) as store:
        trail = store.lineage(record_id)
    if as_json:
        _echo_json(asdict(trail))
        return
    record = trail.record
    click.echo(
        f"record {record.record_id}: {record.process} {record.natural_key} "
        f"rev {record.revision} [{record.state}]"
    )
    click.echo(f"  source     {record.source} {record.source_location or ''}")
    click.echo(f"  captured   {record.captured_at:%Y-%m-%d %H:%M:%S} raw {record.raw_hash[:16]}")
    if trail.run is not None:
        click.echo(f"  run        {trail.run.run_id} ({trail.run.robot or trail.run.kind})")
    for event in trail.events:
        change = f"{event.from_state} -> {event.to_state}" if event.to_state else ""
        version = f"v{event.step_version}" if event.step_version else ""
        config = f"cfg {event.config_hash[:12]}" if event.config_hash else ""
        click.echo(f"  {event.at:%H:%M:%S} {event.step:<10} {version:<18} {config:<17} {change}")
    if record.reason:
        click.echo(f"  reason     {record.reason}")
    if record.decision:
        click.echo(
            f"  decision   {record.decision} (score {record.score:.3f}, model "
            f"{record.model_name} v{record.model_version}, policy {record.policy_version})"
        )
    if record.receipt:
        click.echo(f"  receipt    {record.receipt}")


@main.command()
@click.option("--output", type=click.Path(path_type=Path), default=Path("docs/libdoc"))
@_friendly_errors
def docs(output: Path) -> None:
    """Build libdoc HTML for every rpaml keyword library."""
    from robot.libdoc import libdoc

    from rpaml_robots import KEYWORD_LIBRARIES

    output.mkdir(parents=True, exist_ok=True)
    for library in KEYWORD_LIBRARIES:
        target = output / f"{library.rsplit('.', 1)[-1]}.html"
        libdoc(library, str(target), quiet=True)
        click.echo(f"{library} -> {target}")


if __name__ == "__main__":
    main()
