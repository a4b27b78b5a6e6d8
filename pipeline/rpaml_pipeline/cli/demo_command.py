"""``rpaml demo``: the whole loop once on the embedded default."""

from __future__ import annotations

import click

from rpaml_pipeline.cli import main
from rpaml_pipeline.cli.common import echo_json, friendly_errors, settings_of
from rpaml_pipeline.demo import DemoOptions, render, run_demo


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--seed", default=7, show_default=True, help="Seed of the sandbox data.")
@click.option("--open-claims", default=120, show_default=True, help="New claims in the portal.")
@click.option("--closed-claims", default=1500, show_default=True, help="Closed claims (history).")
@click.option(
    "--review-error-rate", default=0.1, show_default=True, type=click.FloatRange(0, 1),
    help="How often the simulated reviewer answers wrong (a process with a review section).",
)  # fmt: skip
@click.pass_context
@friendly_errors
def demo(
    ctx: click.Context,
    as_json: bool,
    seed: int,
    open_claims: int,
    closed_claims: int,
    review_error_rate: float,
) -> None:
    """Run the whole loop once on the embedded default (SQLite, local processes).

    The sandbox data are created on the first run (with --seed and the claim counts)
    and kept under the data folder, so a second run works on the same data.
    """

    def progress(message: str) -> None:
        if not as_json:
            click.echo(f"... {message}", err=True)

    options = DemoOptions(
        seed=seed,
        open_claims=open_claims,
        closed_claims=closed_claims,
        review_error_rate=review_error_rate,
    )
    summary = run_demo(settings_of(ctx), options, progress)
    if as_json:
        echo_json(summary.as_dict())
    else:
        click.echo(render(summary))
