"""``rpaml pipeline replay``: reproduce a processing run from its stored raw records."""

from __future__ import annotations

from pathlib import Path

import click

from rpaml_pipeline.cli.common import echo_json, friendly_errors, settings_of
from rpaml_pipeline.cli.stage_commands import pipeline
from rpaml_pipeline.process import load_process
from rpaml_pipeline.replay import replay_run
from rpaml_pipeline.store import Store


@pipeline.command("replay")
@click.argument("run_id")
@click.option(
    "--process-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Replay with this process file instead of the configuration the run recorded.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_context
@friendly_errors
def pipeline_replay(
    ctx: click.Context, run_id: str, process_file: Path | None, as_json: bool
) -> None:
    """Re-run processing run RUN_ID's steps on its raw records and compare the outputs.

    Exits 0 when every record's outcome is identical (same hashes), 1 otherwise.
    """
    process = load_process(process_file) if process_file is not None else None
    with Store.connect(settings_of(ctx).resolved_store_url) as store:
        report = replay_run(store, run_id, process)
    if as_json:
        echo_json(report.as_dict())
    else:
        same = sum(1 for record in report.records if record.identical)
        click.echo(
            f"run {report.run_id} ({report.process}): {same} of {len(report.records)} records "
            f"identical; configuration {report.recorded_config_hash[:12]} -> "
            f"{report.config_hash[:12]}"
        )
        for change in report.config_changes:
            click.echo(f"  config: {change}")
        for record in report.records:
            if record.identical:
                continue
            click.echo(
                f"  {record.natural_key} {record.record_id}: "
                f"{record.stored_hash[:12]} -> {record.replayed_hash[:12]}"
            )
            for difference in record.differences:
                click.echo(f"    {difference}")
    if not report.identical:
        ctx.exit(1)
