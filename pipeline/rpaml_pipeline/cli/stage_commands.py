"""``rpaml pipeline run|score``, ``rpaml train`` and ``rpaml robot run``: one stage each."""

from __future__ import annotations

import click

from rpaml_pipeline.cli import main
from rpaml_pipeline.cli.common import echo_json, friendly_errors, runtime_of
from rpaml_pipeline.stages import (
    ProcessStage,
    RetrainStage,
    RobotStage,
    ScoreStage,
    TrainStage,
    run_stage,
)


@main.group()
def pipeline() -> None:
    """Run pipeline stages on the staged records."""


@pipeline.command("run")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.pass_context
@friendly_errors
def pipeline_run(ctx: click.Context, as_json: bool) -> None:
    """Clean, validate, label and transform every collected record."""
    with runtime_of(ctx) as runtime:
        figures = run_stage(runtime, ProcessStage()).as_dict()
    if as_json:
        echo_json(figures)
        return
    click.echo(
        f"processed {figures['processed']}: {figures['validated']} validated, "
        f"{figures['labeled']} labeled, {figures['quarantined']} quarantined"
    )
    for reason, count in figures["top_reasons"]:
        click.echo(f"  {count:>4} x {reason}")
    for held in figures.get("held_batches", []):
        click.echo(
            f"HELD batch {held['batch']} from {held['source']} ({held['records']} records): "
            f"{held['reason']}\n  release or reject it: rpaml quarantine release|reject "
            f"{held['batch']} --reason ..."
        )


@pipeline.command("score")
@click.option("--service-url", help="Scoring service URL (default: RPAML_SERVICE_URL).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.pass_context
@friendly_errors
def pipeline_score(ctx: click.Context, service_url: str | None, as_json: bool) -> None:
    """Score every validated record through the scoring service and store the decisions."""
    with runtime_of(ctx) as built:
        runtime = built.with_service(service_url or built.service_url, built.service_api_key)
        result = run_stage(runtime, ScoreStage())
    figures = result.as_dict()
    if as_json:
        echo_json(figures)
    else:
        click.echo(
            f"scored {figures['scored']}: {figures['decisions']}; {figures['waiting']} waiting"
        )
    if result.error:
        raise click.ClickException(result.error)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
@click.pass_context
@friendly_errors
def train(ctx: click.Context, as_json: bool) -> None:
    """Train the process's model from its labeled records and register it."""
    with runtime_of(ctx) as runtime:
        outcome = run_stage(runtime, TrainStage()).summary
    if as_json:
        echo_json(outcome)
    else:
        click.echo(outcome["message"])
        click.echo(f"{outcome['model']} v{outcome['version']}: {outcome['metrics']}")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
@click.pass_context
@friendly_errors
def retrain(ctx: click.Context, as_json: bool) -> None:
    """Train a challenger on the labels observed so far and judge it by time.

    Skipped, saying why, while fewer than the process file's model.retrain.min_new_labels
    labeled records arrived since the champion was trained.
    """
    with runtime_of(ctx) as runtime:
        outcome = run_stage(runtime, RetrainStage()).summary
    if as_json:
        echo_json(outcome)
        return
    click.echo(outcome["reason"])
    if not outcome["skipped"]:
        click.echo(
            f"{outcome['model']} v{outcome['version']} (champion v{outcome['champion']}), "
            f"trained on labels up to {outcome.get('cutoff') or 'now'}"
        )


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
    with runtime_of(ctx) as built:
        runtime = built.with_robot_env(RPAML_PORTAL_URL=portal_url) if portal_url else built
        stage = RobotStage.of(runtime.process, name)
        result = run_stage(runtime, stage)
    figures = result.as_dict()
    if as_json:
        echo_json({**figures, "passed": result.succeeded})
    else:
        click.echo(f"{stage.robot}: {result.status}; log: {figures['log']}")
    if result.error:
        click.echo(f"  {result.error}", err=True)
    if not result.succeeded:
        raise SystemExit(1)
