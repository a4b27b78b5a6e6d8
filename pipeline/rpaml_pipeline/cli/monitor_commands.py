"""``rpaml monitor``: the monitoring report of a process, as one run of the monitor stage."""

from __future__ import annotations

from pathlib import Path

import click

from rpaml_pipeline.cli import main
from rpaml_pipeline.cli.common import echo_json, friendly_errors, settings_of
from rpaml_pipeline.process import load_process
from rpaml_pipeline.runtime import Runtime
from rpaml_pipeline.stages import MonitorStage, run_stage


@main.command()
@click.option(
    "--process",
    "process_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Process file (default: RPAML_PROCESS_FILE).",
)
@click.option(
    "--output",
    type=click.Path(path_type=Path, file_okay=False),
    help="Folder for the report (default: <data>/monitoring).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.pass_context
@friendly_errors
def monitor(
    ctx: click.Context, process_file: Path | None, output: Path | None, as_json: bool
) -> None:
    """Write the monitoring report: feature and score drift over the scoring runs,
    realised cost per decision week against always-one-action baselines, calibration."""
    settings = settings_of(ctx)
    process = load_process(process_file) if process_file is not None else None
    with Runtime.build(settings, process=process) as runtime:
        result = run_stage(runtime, MonitorStage(output=output))
    summary = result.summary
    if as_json:
        echo_json(result.as_dict())
        return
    click.echo(
        f"monitoring report: {summary['report']} ({summary['scoring_runs']} scoring runs, "
        f"{summary['weeks']} decision weeks, {summary['labels']} labels)"
    )
    if summary["champion"].get("note"):
        click.echo(f"  {summary['champion']['note']}")
    for alert in summary["alerts"]:
        click.echo(f"  {alert['level']}: {alert['message']}")
    click.echo(f"metrics: {summary['metrics']}")
