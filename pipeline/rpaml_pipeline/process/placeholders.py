"""Placeholders in a process file's connection values: ``{data_dir}`` and ``${NAME}``.

A process file is committed with the project, so it must not hold passwords or tokens.
Its URLs and HTTP headers may name them instead::

    sources:
      - name: claims_db
        kind: sql
        url: "postgresql+psycopg://reader:${CLAIMS_DB_PASSWORD}@db/claims"
      - name: partner_api
        kind: http
        url: "https://partner.example/claims"
        headers: {Authorization: "Bearer ${PARTNER_TOKEN}"}

``${NAME}`` is replaced by the variable ``NAME`` from the environment or from the secrets
file (the environment wins; see :meth:`rpaml_pipeline.settings.RpamlSettings.variables`),
``{data_dir}`` by the project's data folder. Expansion happens when a source is read or a
target written, never when the file is loaded, so the expanded values are never stored,
hashed into the process hash or written to lineage (locations are masked). A missing
variable is an error naming the value and the variable, never an empty string.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path

from rpaml_pipeline.errors import MissingVariableError

_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def expand(value: str, *, data_dir: Path, variables: Mapping[str, str], where: str) -> str:
    """``value`` with ``{data_dir}`` and every ``${NAME}`` replaced.

    Raises
    ------
    MissingVariableError
        When a named variable is not set (``where`` says which value needed it).
    """
    missing = sorted({name for name in _VARIABLE.findall(value) if name not in variables})
    if missing:
        names = ", ".join(f"${{{name}}}" for name in missing)
        raise MissingVariableError(
            f"{where} needs {names}: set it in the environment or in the secrets file"
        )
    expanded = _VARIABLE.sub(lambda match: variables[match.group(1)], value)
    return expanded.replace("{data_dir}", str(data_dir))


def shown(value: str, *, data_dir: Path, mask: Callable[[str], str]) -> str:
    """``value`` as run details and lineage may show it: ``{data_dir}`` expanded, each
    ``${NAME}`` kept as written (never its value), the rest through ``mask`` (which hides
    a password written in the URL itself)."""
    tokens = {}
    text = value
    for index, match in enumerate(_VARIABLE.finditer(value)):
        token = f"rpamlvariable{index}x"  # survives URL parsing and quoting unchanged
        tokens[token] = match.group(0)
        text = text.replace(match.group(0), token, 1)
    text = mask(text.replace("{data_dir}", str(data_dir)))
    for token, original in tokens.items():
        text = text.replace(token, original)
    return text
