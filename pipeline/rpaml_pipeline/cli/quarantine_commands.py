"""``rpaml quarantine list|release|reject``: a person decides on the batches the gate held."""

from __future__ import annotations

import getpass
from typing import Any

import click

from rpaml_pipeline.cli import main
from rpaml_pipeline.cli.common import echo_json, friendly_errors, runtime_of
from rpaml_pipeline.processing.held_batches import Decision, decide, held_batches


@main.group()
def quarantine() -> None:
    """Batches the batch gate held: list them, release or reject one."""


@quarantine.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.pass_context
@friendly_errors
def quarantine_list(ctx: click.Context, as_json: bool) -> None:
    """Every held batch, with the gate's figures."""
    with runtime_of(ctx) as runtime:
        found = held_batches(runtime.store, runtime.process.name)
    rows: list[dict[str, Any]] = [
        {
            "batch": batch.batch_id,
            "source": batch.source,
            "records": batch.rows,
            "created_at": batch.created_at,
            "gate": batch.gate,
        }
        for batch in found
    ]
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo("no batch is held")
    for row in rows:
        click.echo(f"{row['batch']}  {row['source']}  {row['records']} records")
        for finding in (row["gate"] or {}).get("findings", []):
            click.echo(f"  {finding['message']}")


def _decide(ctx: click.Context, batch: str, decision: Decision, reason: str, by: str) -> None:
    with runtime_of(ctx) as runtime:
        done = decide(runtime.store, batch, decision, by=by, reason=reason)
    click.echo(
        f"{_DONE[decision]} batch {done.batch_id}: {done.restored} records back to work, "
        f"{done.quarantined} stay quarantined"
    )


_DONE = {"release": "released", "reject": "rejected"}
_REASON = click.option("--reason", required=True, help="Why (recorded in lineage).")
_BY = click.option(
    "--by", default=getpass.getuser, show_default="you", help="Who decides (recorded)."
)


@quarantine.command("release")
@click.argument("batch")
@_REASON
@_BY
@click.pass_context
@friendly_errors
def quarantine_release(ctx: click.Context, batch: str, reason: str, by: str) -> None:
    """Release a held BATCH: the records the steps found valid go on to be scored."""
    _decide(ctx, batch, "release", reason, by)


@quarantine.command("reject")
@click.argument("batch")
@_REASON
@_BY
@click.pass_context
@friendly_errors
def quarantine_reject(ctx: click.Context, batch: str, reason: str, by: str) -> None:
    """Reject a held BATCH: every record stays quarantined."""
    _decide(ctx, batch, "reject", reason, by)
