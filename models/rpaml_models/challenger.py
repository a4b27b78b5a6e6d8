"""The challenger pointer: the one version scored in shadow beside the champion.

``<name>/challenger.json`` holds a :class:`ChallengerRecord`, written atomically like
``champion.json``. A challenger is a registered version that is not the champion; the
retrain job sets it when the process file asks for shadow mode and the evidence rule
did not promote it. It is cleared by any promotion of ``name`` (the challenger was judged
against a champion that no longer serves, and a promoted challenger is the champion), and
replaced when another version is set. Only the service reads it, and only to score in
shadow: nothing acts on a challenger's decision.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from pydantic import BaseModel, ConfigDict, ValidationError

from rpaml_models.errors import RegistryError
from rpaml_models.metadata import ModelMetadata

CHALLENGER_FILE = "challenger.json"


class ChallengerRecord(BaseModel):
    """A version set to be scored in shadow (``challenger.json``).

    Attributes
    ----------
    version : str
        The challenger version.
    reason : str
        Why it shadows (e.g. the retrain run's verdict).
    champion : str or None
        The champion when it was set.
    set_at : datetime
        When (UTC).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: str
    reason: str
    champion: str | None
    set_at: datetime


class _Registry(Protocol):
    """What the pointer needs of :class:`~rpaml_models.ModelRegistry`."""

    def _model_dir(self, name: str) -> Path: ...

    def metadata(self, name: str, version: str) -> ModelMetadata: ...

    def champion(self, name: str) -> str | None: ...

    def challenger_record(self, name: str) -> ChallengerRecord | None: ...


class ChallengerPointer:
    """Mixed into :class:`~rpaml_models.ModelRegistry`: set, read and clear the challenger."""

    def set_challenger(self: _Registry, name: str, version: str, *, reason: str) -> None:
        """Make ``version`` the challenger of ``name``, replacing any earlier one.

        Raises
        ------
        ModelNotFoundError
            If the version does not exist.
        RegistryError
            If ``version`` is the champion (it cannot shadow itself).
        """
        self.metadata(name, version)
        champion = self.champion(name)
        if champion == version:
            raise RegistryError(
                f"{name} v{version} is the champion; a challenger must be another version"
            )
        record = ChallengerRecord(
            version=version, reason=reason, champion=champion, set_at=datetime.now(UTC)
        )
        # Imported here: registry.py imports this module for its base class.
        from rpaml_models.registry import _write_file

        _write_file(
            self._model_dir(name) / CHALLENGER_FILE, record.model_dump_json(indent=2).encode()
        )

    def challenger_record(self: _Registry, name: str) -> ChallengerRecord | None:
        """The challenger's record, or None when no challenger is set."""
        path = self._model_dir(name) / CHALLENGER_FILE
        if not path.is_file():
            return None
        try:
            return ChallengerRecord.model_validate_json(path.read_bytes())
        except ValidationError as error:
            raise RegistryError(f"{path}: invalid challenger record: {error}") from error

    def challenger(self: _Registry, name: str) -> str | None:
        """The challenger version of ``name``, or None."""
        record = self.challenger_record(name)
        return None if record is None else record.version

    def clear_challenger(self: _Registry, name: str) -> None:
        """Forget the challenger of ``name`` (nothing happens when none is set)."""
        (self._model_dir(name) / CHALLENGER_FILE).unlink(missing_ok=True)
