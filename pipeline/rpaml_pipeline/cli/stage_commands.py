"""``rpaml pipeline run|score``, ``rpaml train`` and ``rpaml robot run``: one stage each."""

from __future__ import annotations

import click

from rpaml_pipeline.cli import main
from rpaml_pipeline.cli.common import api_key, echo_json, friendly_errors, settings_of
from rpaml_pipeline.lineage.openlineage import OpenLineageEmitter
from rpaml_pipeline.model_training import train_from_store
from rpaml_pipeline.process import load_process
from rpaml_pipeline.scoring import ScoringClient
from rpaml_pipeline.stages import process_stage, robot_name, robot_stage, score_stage
from rpaml_pipeline.store import Store


@main.group()
def pipeline() -> None:
    """Run pipeline stages on the staged records."""


@pipeline.command("run")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.pass_context
@friendly_errors
def pipeline_run(ctx: click.Context, as_json: bool) -> None:
    """Clean, validate, label and transform every collected record."""
    settings = settings_of(ctx)
    process = load_process(settings.process_file)
    with Store.connect(settings.resolved_store_url) as store:
        emitter = OpenLineageEmitter(settings.lineage_file, http_url=settings.lineage_url)
        figures = process_stage(store, process, emitter)
    if as_json:
        echo_json(figures)
        return
    click.echo(
        f"processed {figures['processed']}: {figures['validated']} validated, "
        f"{figures['labeled']} labeled, {figures['quarantined']} quarantined"
    )
    for reason, count in figures["top_reasons"]:
        click.echo(f"  {count:>4} x {reason}")


@pipeline.command("score")
@click.option("--service-url", help="Scoring service URL (default: RPAML_SERVICE_URL).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.pass_context
@friendly_errors
def pipeline_score(ctx: click.Context, service_url: str | None, as_json: bool) -> None:
    """Score every validated record through the scoring service and store the decisions."""
    settings = settings_of(ctx)
    process = load_process(settings.process_file)
    with (
        Store.connect(settings.resolved_store_url) as store,
        ScoringClient(
            service_url or settings.service_url, api_key=api_key(settings), columnar=True
        ) as client,
    ):
        figures = score_stage(store, process, client)
    if as_json:
        echo_json(figures)
    else:
        click.echo(
            f"scored {figures['scored']}: {figures['decisions']}; {figures['waiting']} waiting"
        )
    if figures["error"]:
        raise click.ClickException(f"scoring stopped: {figures['error']}")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
@click.pass_context
@friendly_errors
def train(ctx: click.Context, as_json: bool) -> None:
    """Train the process's model from its labeled records and register it."""
    settings = settings_of(ctx)
    process = load_process(settings.process_file)
    with Store.connect(settings.resolved_store_url) as store:
        run_id = store.start_run(process.name, "train")
        try:
            outcome = train_from_store(store, process, settings.registry_dir, run_id=run_id)
        except Exception as error:
            store.finish_run(run_id, "failed", {"error": str(error)})
            raise
        store.finish_run(run_id, "succeeded", outcome.as_dict())
    if as_json:
        echo_json(outcome.as_dict())
    else:
        click.echo(outcome.message)
        click.echo(f"{outcome.model} v{outcome.version}: {outcome.metrics}")


@main.group()
def robot() -> None:
    """Run the robots."""


@robot.command("run")
@click.argument("name")
@click.option("--portal-url", help="Portal URL (default: RPAML_PORTAL_URL).")
@click.option("--json", "as_json", is_flag=True, help="Print the run's figures as JSON.")
@click.pass_context
@friendly_errors
def robot_run(ctx: click.Context, name: str, portal_url: str | None, as_json: bool) -> None:
    """Run robot NAME (robots/tasks/NAME.robot) against the portal.

    NAME may also be a role of the process (history, collect, act): the process file
    names the robot that plays it.
    """
    settings = settings_of(ctx)
    process = load_process(settings.process_file)
    env = settings.robot_environment()
    if portal_url:
        env["RPAML_PORTAL_URL"] = portal_url
    with Store.connect(settings.resolved_store_url) as store:
        result, figures = robot_stage(
            store,
            robot_name(process, name),
            robots_dir=settings.project_dir / "robots",
            output_root=settings.data_dir / "robot-runs",
            env=env,
        )
    if as_json:
        echo_json({**figures, "log": str(result.log_html), "passed": result.succeeded})
    else:
        click.echo(
            f"{result.suite}: {result.passed} passed, {result.failed} failed; "
            f"log: {result.log_html}"
        )
    for message in result.failure_messages:
        click.echo(f"  {message}", err=True)
    if not result.succeeded:
        raise SystemExit(1)
