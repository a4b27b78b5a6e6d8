"""``rpaml ingest`` and ``rpaml deliver``: records in from declared sources, out to targets."""

from __future__ import annotations

import click

from rpaml_pipeline.cli import main
from rpaml_pipeline.cli.common import echo_json, friendly_errors, settings_of
from rpaml_pipeline.delivery import deliver
from rpaml_pipeline.lineage.openlineage import OpenLineageEmitter
from rpaml_pipeline.process import load_process
from rpaml_pipeline.sources import ingest_sources
from rpaml_pipeline.store import Store


@main.command("ingest")
@click.argument("source_names", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_context
@friendly_errors
def ingest(ctx: click.Context, source_names: tuple[str, ...], as_json: bool) -> None:
    """Stage records from the process file's sources (all, or SOURCE_NAMES).

    Exits 1 when a source failed or an inbox file was set aside as failed.
    """
    settings = settings_of(ctx)
    process = load_process(settings.process_file)
    with Store.connect(settings.resolved_store_url) as store:
        emitter = OpenLineageEmitter(settings.lineage_file, http_url=settings.lineage_url)
        reports = ingest_sources(
            store,
            process,
            data_dir=settings.data_dir,
            names=source_names,
            emitter=emitter,
            variables=settings.variables(),
        )
    failed = any(
        report.status != "succeeded" or any(f.status == "failed" for f in report.files)
        for report in reports
    )
    if as_json:
        echo_json([report.as_dict() for report in reports])
    else:
        if not reports:
            click.echo(f"process {process.name} declares no sources")
        for report in reports:
            click.echo(
                f"{report.source} ({report.kind}) run {report.run_id[:12]}: {report.status}, "
                f"{report.new} new, {report.revised} revised, {report.unchanged} unchanged"
            )
            if report.error:
                click.echo(f"  error: {report.error}")
            for item in report.files:
                click.echo(
                    f"  {item.status:<9} {item.name} ({item.records} records) -> {item.moved_to}"
                )
                if item.reason:
                    click.echo(f"            {item.reason}")
            for rejected in report.rejected:
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
    settings = settings_of(ctx)
    process = load_process(settings.process_file)
    with Store.connect(settings.resolved_store_url) as store:
        emitter = OpenLineageEmitter(settings.lineage_file, http_url=settings.lineage_url)
        report = deliver(
            store,
            process,
            data_dir=settings.data_dir,
            names=target_names,
            emitter=emitter,
            variables=settings.variables(),
        )
    if as_json:
        echo_json(report.as_dict())
    else:
        click.echo(f"delivery run {report.run_id} ({report.process})")
        for target in report.targets:
            click.echo(
                f"  {target.target} ({target.kind}): {target.status}, {target.delivered} "
                f"delivered, {target.unchanged} unchanged -> {target.location}"
            )
            if target.error:
                click.echo(f"    error: {target.error}")
    if not report.ok:
        ctx.exit(1)
