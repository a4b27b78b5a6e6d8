"""What every section of the process file's typed model shares: strict, frozen, no unknown
keys, and the names and kinds a section refers to."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

FieldType = Literal["string", "integer", "number", "money", "date", "boolean", "category"]
FeatureKind = Literal["numeric", "categorical", "boolean"]
Scalar = str | int | float | bool | None

# A field name as it appears in payloads (snake_case keys, as the robots normalise them).
FieldName = Annotated[str, Field(pattern=r"^[a-z_][a-z0-9_]*$")]


class Section(BaseModel):
    """A section of the process file (``extra="forbid"``, ``strict=True``, frozen)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
