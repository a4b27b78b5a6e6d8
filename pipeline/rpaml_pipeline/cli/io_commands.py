"""``rpaml ingest`` and ``rpaml deliver``: records in from declared sources, out to targets."""

from __future__ import annotations

import click

from rpaml_pipeline.cli import main
from rpaml_pipeline.cli.common import echo_json, friendly_errors, runtime_of
from rpaml_pipeline.sources import declared_sources
from rpaml_pipeline.sources.streams import PullLimits
from rpaml_pipeline.stages import DeliverStage, IngestStage, run_stage


@main.command("ingest")
@click.argument("source_names", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option(
    "--once",
    is_flag=True,
    help="Streams: one bounded pull, until the stream is idle (the default; long-lived "
    "consumers run in `rpaml worker`).",
)
@click.option("--max-messages", type=click.IntRange(min=1), help="Streams: stop after N messages.")
@click.pass_context
@friendly_errors
def ingest(
    ctx: click.Context,
    source_names: tuple[str, ...],
    as_json: bool,
    once: bool,
    max_messages: int | None,
) -> None:
    """Stage records from the process file's sources (all, or SOURCE_NAMES).

    Exits 1 when a source failed or an inbox file was set aside as failed.
    """
    del once  # a pull from the command line is always bounded
    limits = PullLimits(max_messages=max_messages)
    with runtime_of(ctx) as runtime:
        process = runtime.process
        chosen = declared_sources(process, source_names)
        reports = [run_stage(runtime, IngestStage(spec, limits=limits)).summary for spec in chosen]
    failed = any(
        report["status"] != "succeeded" or any(f["status"] == "failed" for f in report["files"])
        for report in reports
    )
    if as_json:
        echo_json(reports)
    else:
        if not reports:
            click.echo(f"process {process.name} declares no sources")
        for report in reports:
            click.echo(
                f"{report['source']} ({report['kind']}) run {report['run_id'][:12]}: "
                f"{report['status']}, {report['new']} new, {report['revised']} revised, "
                f"{report['unchanged']} unchanged"
            )
            if report["error"]:
                click.echo(f"  error: {report['error']}")
            for item in report["files"]:
                click.echo(
                    f"  {item['status']:<9} {item['name']} ({item['records']} records) "
                    f"-> {item['moved_to']}"
                )
                if item["reason"]:
                    click.echo(f"            {item['reason']}")
            if report["messages"]:
                click.echo(
                    f"  {report['messages']} messages: {report['duplicates']} taken before, "
                    f"{report['failed']} failed, {report['dead']} dead-lettered"
                )
            for dead in report["dead_letters"]:
                click.echo(f"  dead      {dead}")
            for rejected in report["rejected"]:
                click.echo(f"  rejected  {rejected}")
    if failed:
        ctx.exit(1)


@main.command("deliver")
@click.argument("target_names", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_context
@friendly_errors
def deliver_command(ctx: click.Context, target_names: tuple[str, ...], as_json: bool) -> None:
    """Deliver processed records, scores and decisions to the process file's targets
    (all, or TARGET_NAMES). Exits 1 when a target did not take its rows."""
    with runtime_of(ctx) as runtime:
        result = run_stage(runtime, DeliverStage(target_names))
    report = result.summary
    if as_json:
        echo_json(report)
    else:
        click.echo(f"delivery run {result.run_id} ({report['process']})")
        for target in report["targets"]:
            click.echo(
                f"  {target['target']} ({target['kind']}): {target['status']}, "
                f"{target['delivered']} delivered, {target['unchanged']} unchanged "
                f"-> {target['location']}"
            )
            if target["error"]:
                click.echo(f"    error: {target['error']}")
    if not result.succeeded:
        ctx.exit(1)
