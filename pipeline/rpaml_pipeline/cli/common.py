"""What every ``rpaml`` command shares: settings from the context, errors, JSON output."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any, ParamSpec, TypeVar

import click

from rpaml_models import RegistryError
from rpaml_pipeline.errors import RpamlPipelineError
from rpaml_pipeline.runtime import Runtime
from rpaml_pipeline.settings import RpamlSettings

P = ParamSpec("P")
R = TypeVar("R")


def friendly_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Report rpaml's own errors as one readable message and exit code 1, no traceback."""

    @wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except (RpamlPipelineError, RegistryError) as error:
            raise click.ClickException(str(error)) from error

    return wrapper


def settings_of(ctx: click.Context) -> RpamlSettings:
    """The settings the ``rpaml`` group built for this invocation."""
    settings = ctx.find_object(RpamlSettings)
    assert settings is not None  # created by the group callback
    return settings


def runtime_of(ctx: click.Context) -> Runtime:
    """The runtime this invocation's stages run with (built from its settings; close it)."""
    return Runtime.build(settings_of(ctx))


def echo_json(data: Any) -> None:
    """Print ``data`` as indented JSON (dates and paths as strings)."""
    click.echo(json.dumps(data, indent=2, default=str))
