"""``rpaml status`` and ``rpaml lineage``: what the store knows."""

from __future__ import annotations

from dataclasses import asdict

import click

from rpaml_pipeline.cli import main
from rpaml_pipeline.cli.common import echo_json, friendly_errors, settings_of
from rpaml_pipeline.store import Store


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.pass_context
@friendly_errors
def status(ctx: click.Context, as_json: bool) -> None:
    """Show records per state per process, and the latest runs."""
    with Store.connect(settings_of(ctx).resolved_store_url) as store:
        counts = store.counts()
        runs = store.list_runs(limit=10)
    if as_json:
        echo_json(
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
        click.echo(f"{process}: {sum(states.values())} records")
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


@main.command()
@click.argument("record_id")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.pass_context
@friendly_errors
def lineage(ctx: click.Context, record_id: str, as_json: bool) -> None:
    """Print a record's trail: source, every step, model, decision, action and receipt."""
    with Store.connect(settings_of(ctx).resolved_store_url) as store:
        trail = store.lineage(record_id)
    if as_json:
        echo_json(asdict(trail))
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
