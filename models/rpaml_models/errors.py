"""Errors raised by the model registry.

Every registry failure derives from :class:`RegistryError` so callers (the scoring
service, the CLI) can catch one type and still tell the causes apart.
"""

from __future__ import annotations

from pathlib import Path


class RegistryError(Exception):
    """Base class of every error raised by :class:`~rpaml_models.ModelRegistry`."""


class ModelNotFoundError(RegistryError, LookupError):
    """A model name, version or champion that the registry does not hold."""


class InvalidNameError(RegistryError, ValueError):
    """A model name or version that could address a path outside the registry."""


class ArtifactIntegrityError(RegistryError):
    """The artifact on disk is not the one that was registered.

    Parameters
    ----------
    path : Path
        The artifact file.
    expected : str
        SHA-256 recorded in the model's metadata.
    actual : str
        SHA-256 of the file as found.
    """

    def __init__(self, path: Path, expected: str, actual: str) -> None:
        self.path = path
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"{path}: SHA-256 mismatch (expected {expected}, found {actual}); "
            "refusing to load a modified artifact"
        )


class LibraryMismatchError(RegistryError):
    """The model was built with a library release that differs from the installed one.

    Parameters
    ----------
    library : str
        Distribution name, e.g. ``"scikit-learn"``.
    built_with : str
        Version recorded when the model was registered.
    installed : str
        Version importable now.
    """

    def __init__(self, library: str, built_with: str, installed: str) -> None:
        self.library = library
        self.built_with = built_with
        self.installed = installed
        super().__init__(
            f"model was built with {library} {built_with} but {installed} is installed; "
            f"retrain the model or install {library} {built_with}"
        )


class CompilationError(RegistryError):
    """A model cannot be compiled (or a compiled artifact loaded) for the fast path.

    Registration and loading catch it and fall back to scikit-learn, recording why.
    """
