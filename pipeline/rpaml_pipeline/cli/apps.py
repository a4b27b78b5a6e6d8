"""``rpaml serve``, ``rpaml sandbox portal`` and ``rpaml docs``: the applications."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from rpaml_pipeline.cli import main
from rpaml_pipeline.cli.common import friendly_errors, settings_of

_PASS_THROUGH = {"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []}


@main.command(context_settings=_PASS_THROUGH)
@click.pass_context
def serve(ctx: click.Context) -> None:
    """Run the scoring service; options go to it (``rpaml serve --help`` lists them)."""
    from rpaml_service.__main__ import main as service_main

    args = list(ctx.args)
    if "--registry" not in args and "--help" not in args:
        args = ["--registry", str(settings_of(ctx).registry_dir), *args]
    sys.exit(service_main(args))


@main.group()
def sandbox() -> None:
    """The demo applications the robots work on."""


@sandbox.command("portal", context_settings=_PASS_THROUGH)
@click.pass_context
def sandbox_portal(ctx: click.Context) -> None:
    """Run the sandbox claims portal; options go to it (``--help`` lists them)."""
    from rpaml_sandbox.portal.__main__ import main as portal_main

    args = list(ctx.args)
    if "--db" not in args and "--help" not in args:
        args = ["--db", str(settings_of(ctx).data_dir / "portal" / "portal.db"), *args]
    sys.exit(portal_main(args))


@sandbox.command("advance")
@click.option("--days", type=click.IntRange(1, 366), default=1, show_default=True)
@click.option("--portal-url", help="the portal (default: the settings' portal_url)")
@click.pass_context
@friendly_errors
def sandbox_advance(ctx: click.Context, days: int, portal_url: str | None) -> None:
    """Move the sandbox portal's business clock on: new claims arrive each day, decided
    claims close with their outcome; the policy application learns the new policies."""
    from rpaml_pipeline.sandbox_clock import advance_sandbox

    settings = settings_of(ctx)
    moved = advance_sandbox(
        portal_url or settings.portal_url,
        days,
        settings.variables(),
        portal_db=settings.data_dir / "portal" / "portal.db",
        policy_data=settings.data_dir / "desktop" / "policies.json",
    )
    for day in moved.days:
        ring = "  (fraud ring active)" if day["fraud_ring"] else ""
        click.echo(f"{day['day']}: {day['arrived']} new claims, {day['closed']} closed{ring}")
    synced = "; policy application synced" if moved.policies_synced else ""
    click.echo(f"business date {moved.business_date}{synced}")


@main.command()
@click.option("--output", type=click.Path(path_type=Path), default=Path("docs/libdoc"))
@friendly_errors
def docs(output: Path) -> None:
    """Build libdoc HTML for every rpaml keyword library."""
    from robot.libdoc import libdoc

    from rpaml_robots import KEYWORD_LIBRARIES

    output.mkdir(parents=True, exist_ok=True)
    for library in KEYWORD_LIBRARIES:
        target = output / f"{library.rsplit('.', 1)[-1]}.html"
        libdoc(library, str(target), quiet=True)
        click.echo(f"{library} -> {target}")
