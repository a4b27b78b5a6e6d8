"""The ``rpaml`` command line: the composition root.

This package is the one place allowed to import every rpaml package; everything else
receives its settings and collaborators from here. Settings are built once per
invocation from the environment (``RPAML_*``) and passed down. Each module holds one
family of commands and registers it on :data:`main`.
"""

from __future__ import annotations

import click

from rpaml_pipeline.settings import RpamlSettings


@click.group()
@click.version_option(package_name="rpaml")
@click.pass_context
def main(ctx: click.Context) -> None:
    """rpaml: software robots and machine learning in one traceable loop."""
    ctx.obj = RpamlSettings()


def _register() -> None:
    # Imported for their side effect: each module adds its commands to ``main``.
    from rpaml_pipeline.cli import (  # noqa: F401
        apps,
        data_commands,
        demo_command,
        io_commands,
        model_commands,
        monitor_commands,
        orchestration_commands,
        quarantine_commands,
        records,
        review_commands,
        stage_commands,
    )


_register()

__all__ = ["main"]
