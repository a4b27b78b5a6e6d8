"""The models the service serves, loaded once from the registry at startup.

Beside each champion, the registry's challenger (``challenger.json``) is loaded too when
one is set: it is scored in shadow for requests that ask (``"shadow": true``), and never
answers as the decision. A challenger that fails to load is recorded and skipped; it never
keeps its champion from serving.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from rpaml_models import LoadedModel, ModelRegistry, RegistryError

logger = logging.getLogger(__name__)


class ModelStore:
    """Holds the loaded models and the reasons the others could not be loaded.

    Created by the app factory (empty, not ready) and filled by the app's lifespan.
    Request handlers only read ``models``; loading and reloading build a new dict and
    replace it in one assignment, so a request sees the old or the new models, never
    a mix, and requests in flight finish on the model they started with.

    Parameters
    ----------
    registry_dir : Path
        Root of the model registry.
    names : sequence of str
        Models whose champions to load; empty means every model that has a champion.
    """

    def __init__(
        self,
        registry_dir: Path,
        names: Sequence[str] = (),
        *,
        on_failure: Callable[[str], None] | None = None,
    ) -> None:
        self.on_failure = on_failure
        self.registry_dir = registry_dir
        self.names = tuple(names)
        self.models: dict[str, LoadedModel] = {}
        self.failures: dict[str, str] = {}
        self.challengers: dict[str, LoadedModel] = {}
        self.challenger_failures: dict[str, str] = {}
        # The challenger pointer each served model had when last loaded: a pointer that
        # moves (set, replaced, cleared) makes the model stale, a failed load does not.
        self._pointers: dict[str, str | None] = {}
        self.registry_error: str | None = None
        self.loaded = False

    def __repr__(self) -> str:
        return (
            f"ModelStore({str(self.registry_dir)!r}, models={sorted(self.models)}, "
            f"failures={sorted(self.failures)}, loaded={self.loaded})"
        )

    @property
    def ready(self) -> bool:
        """True once loading finished and at least one model can be served."""
        return self.loaded and bool(self.models)

    def load(self) -> None:
        """Load every requested champion; a model that fails is recorded, not fatal.

        A tampered artifact or a library mismatch affects one model: the service still
        starts, serves the others and reports the failure in its health answer.
        """
        registry = ModelRegistry(self.registry_dir)
        models: dict[str, LoadedModel] = {}
        failures: dict[str, str] = {}
        try:
            names = self.names or tuple(
                summary.name for summary in registry.list_models() if summary.champion
            )
        except (OSError, RegistryError, ValueError) as error:
            # An unreadable registry leaves nothing to serve; readiness stays false.
            self.registry_error = f"{type(error).__name__}: {error}"
            logger.error("cannot read registry %s: %s", self.registry_dir, self.registry_error)
            names = ()
        for name in names:
            try:
                model = registry.load(name)
            except Exception as error:
                # Whatever goes wrong with one model (tampering, a library mismatch, an
                # unreadable file) must not take the others down with it.
                failures[name] = f"{type(error).__name__}: {error}"
                logger.error("model %r not served: %s", name, failures[name])
                if self.on_failure is not None:
                    self.on_failure(name)
                continue
            models[name] = model
            logger.info(
                "serving model %r version %s (policy %s, runtime %s: %s)",
                name,
                model.version,
                model.policy.version,
                model.runtime,
                model.runtime_reason,
            )
        if not names:
            logger.warning("no champion model found in %s; nothing to serve", self.registry_dir)
        self.challengers, self.challenger_failures = self._challengers(registry, models, {})
        self.models = models
        self.failures = failures
        self.loaded = True

    def _challengers(
        self,
        registry: ModelRegistry,
        models: dict[str, LoadedModel],
        previous: dict[str, LoadedModel],
    ) -> tuple[dict[str, LoadedModel], dict[str, str]]:
        """The challengers of the served ``models`` (reusing ``previous`` ones unchanged)."""
        loaded: dict[str, LoadedModel] = {}
        failures: dict[str, str] = {}
        self._pointers = {}
        for name, champion in models.items():
            try:
                version = registry.challenger(name)
                self._pointers[name] = version
                if version is None or version == champion.version:
                    continue
                current = previous.get(name)
                if current is not None and current.version == version:
                    loaded[name] = current
                    continue
                loaded[name] = registry.load(name, version)
            except Exception as error:
                # Like a champion's: whatever goes wrong stays with this challenger.
                failures[name] = f"{type(error).__name__}: {error}"
                logger.error("challenger of %r not scored in shadow: %s", name, failures[name])
                continue
            logger.info("scoring %r version %s in shadow of %s", name, version, champion.version)
        return loaded, failures

    def challenger(self, name: str) -> LoadedModel | None:
        """The challenger scored in shadow beside ``name``'s champion, or None."""
        return self.challengers.get(name)

    def stale(self) -> list[str]:
        """Served models whose registry champion, or challenger, is no longer the one
        served."""
        registry = ModelRegistry(self.registry_dir)
        changed = []
        for name, model in self.models.items():
            try:
                champion = registry.champion(name)
                challenger = registry.challenger(name)
            except (OSError, RegistryError, ValueError):
                continue
            if (
                champion is not None and champion != model.version
            ) or challenger != self._pointers.get(name):
                changed.append(name)
        return changed

    def reload(self) -> dict[str, str]:
        """Load the current champions and swap them in atomically.

        A model whose new champion fails to load keeps serving its previous version
        (the failure is recorded); returns model name -> served version.
        """
        previous = dict(self.models)
        registry = ModelRegistry(self.registry_dir)
        try:
            names = self.names or tuple(
                summary.name for summary in registry.list_models() if summary.champion
            )
        except (OSError, RegistryError, ValueError) as error:
            logger.error("cannot read registry %s: %s", self.registry_dir, error)
            return {name: model.version for name, model in previous.items()}
        models: dict[str, LoadedModel] = {}
        failures: dict[str, str] = {}
        for name in names:
            current = previous.get(name)
            try:
                champion = registry.champion(name)
                if current is not None and champion == current.version:
                    models[name] = current
                    continue
                models[name] = registry.load(name)
            except Exception as error:
                failures[name] = f"{type(error).__name__}: {error}"
                logger.error("reload of model %r failed: %s", name, failures[name])
                if self.on_failure is not None:
                    self.on_failure(name)
                if current is not None:
                    models[name] = current
                continue
            logger.info("now serving model %r version %s", name, models[name].version)
        previous_challengers = dict(self.challengers)
        self.challengers, self.challenger_failures = self._challengers(
            registry, models, previous_challengers
        )
        self.models = models
        self.failures = failures
        self.loaded = True
        return {name: model.version for name, model in models.items()}

    def get(self, name: str) -> LoadedModel | None:
        """The served model called ``name``, or None."""
        return self.models.get(name)

    def clear(self) -> None:
        """Forget the models (at shutdown), so their memory can be released."""
        self.models = {}
        self.challengers = {}
        self.loaded = False
