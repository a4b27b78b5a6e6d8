"""``rpaml review``: the review app, its audit trail, and making an account entry."""

from __future__ import annotations

import sys
from dataclasses import asdict
from pathlib import Path

import click

from rpaml_pipeline.cli import main
from rpaml_pipeline.cli.common import echo_json, friendly_errors, settings_of
from rpaml_pipeline.process import load_process
from rpaml_pipeline.store import Store


@main.group(invoke_without_command=True)
@click.option("--host", help="address to bind (default RPAML_REVIEW_HOST: loopback)")
@click.option("--port", type=click.IntRange(0, 65535), help="port (default 0: a free one)")
@click.option("--ready-file", type=click.Path(path_type=Path), help="write the URL here once up")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["critical", "error", "warning", "info", "debug"]))  # fmt: skip
@click.pass_context
def review(
    ctx: click.Context, host: str | None, port: int | None, ready_file: Path | None, log_level: str
) -> None:
    """Run the review app (with no subcommand), or read its trail or make an account."""
    if ctx.invoked_subcommand is not None:
        return
    from rpaml_review.__main__ import main as review_main

    args = ["--log-level", log_level]
    args += ["--host", host] if host else []
    args += ["--port", str(port)] if port is not None else []
    args += ["--ready-file", str(ready_file)] if ready_file else []
    sys.exit(review_main(args))


@review.command("audit")
@click.option("--record", "record_id", help="only this record's rows")
@click.option("--limit", type=click.IntRange(1), help="only the latest N rows")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@click.pass_context
@friendly_errors
def review_audit(
    ctx: click.Context, record_id: str | None, limit: int | None, as_json: bool
) -> None:
    """Print the review queue's audit trail (every lease, release and decision), oldest first."""
    settings = settings_of(ctx)
    process = load_process(settings.process_file)
    with Store.connect(settings.resolved_store_url) as store:
        rows = store.review_decisions.audit_trail(process.name, record_id=record_id, limit=limit)
    if as_json:
        echo_json([asdict(row) for row in rows])
        return
    if not rows:
        click.echo("No review activity yet.")
    for row in rows:
        detail = ", ".join(f"{key}={value}" for key, value in sorted(row.detail.items()))
        click.echo(
            f"{row.audit_id:>6}  {row.at:%Y-%m-%d %H:%M:%S}  {row.event:<8} {row.reviewer:<16} "
            f"{row.record_id}  {detail}"
        )


@review.command("account")
@click.argument("name")
@click.option(
    "--role", type=click.Choice(["reviewer", "admin"]), default="reviewer", show_default=True
)
@click.password_option(help="the account's password (prompted, twice, when not given)")
@friendly_errors
def review_account(name: str, role: str, password: str) -> None:
    """Print the account entry (name:role:argon2-hash) for RPAML_REVIEW_ACCOUNTS(_FILE)."""
    from rpaml_review.accounts import AccountError, account_line

    try:
        click.echo(account_line(name, role, password))
    except AccountError as error:
        raise click.ClickException(str(error)) from error
