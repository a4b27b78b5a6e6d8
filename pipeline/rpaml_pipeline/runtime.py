"""The runtime: what every stage runs with, built once at an entry point.

The CLI, the demo, the worker and the robots' ``Staging`` library each build one
:class:`Runtime` from the typed settings and hand it to the stages
(:mod:`rpaml_pipeline.stages`): the store, the process definition, where models are
registered, the lineage emitter, how to reach the scoring service and the environment the
robots run in. Nothing is built at import, and no stage builds its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import TracebackType
from typing import Self

from rpaml_pipeline.lineage.openlineage import OpenLineageEmitter
from rpaml_pipeline.owners import process_owner
from rpaml_pipeline.process import ProcessDefinition, load_process
from rpaml_pipeline.scoring import ScoringClient
from rpaml_pipeline.settings import RpamlSettings
from rpaml_pipeline.store import Store


@dataclass
class Runtime:
    """The collaborators of the stages.

    Attributes
    ----------
    process : ProcessDefinition
    store : Store
    emitter : OpenLineageEmitter
        Run-level lineage (every stage run emits START and COMPLETE or FAIL).
    data_dir, project_dir, registry_dir : Path
    owner : str
        Who opens the runs (``pipeline-<host>-<pid>``): a later worker closes the runs of
        an owner that died (:mod:`rpaml_pipeline.owners`).
    robot_env : dict of str to str
        The environment of robot subprocesses (never credentials: robots read them from
        the secrets file or inherit them).
    service_url : str
    variables : mapping of str to str
        What ``${NAME}`` in the process file's URLs and headers stands for.
    """

    process: ProcessDefinition
    store: Store
    emitter: OpenLineageEmitter
    data_dir: Path
    project_dir: Path
    registry_dir: Path
    service_url: str
    owner: str = field(default_factory=lambda: process_owner("pipeline"))
    robot_env: dict[str, str] = field(default_factory=dict)
    variables: Mapping[str, str] = field(default_factory=dict, repr=False)
    service_api_key: str | None = field(default=None, repr=False)

    @classmethod
    def build(cls, settings: RpamlSettings, *, process: ProcessDefinition | None = None) -> Runtime:
        """Connect the store and gather everything the stages need from ``settings``."""
        definition = process or load_process(settings.process_file)
        key = settings.service_api_key
        return cls(
            process=definition,
            store=Store.connect(settings.resolved_store_url),
            emitter=OpenLineageEmitter(settings.lineage_file, http_url=settings.lineage_url),
            data_dir=settings.data_dir,
            project_dir=settings.project_dir,
            registry_dir=settings.registry_dir,
            service_url=settings.service_url,
            robot_env=settings.robot_environment(),
            variables=settings.variables(),
            service_api_key=key.get_secret_value() if key is not None else None,
        )

    @classmethod
    def of(
        cls,
        store: Store,
        process: ProcessDefinition,
        *,
        data_dir: Path,
        project_dir: Path | None = None,
        registry_dir: Path | None = None,
        emitter: OpenLineageEmitter | None = None,
        service_url: str = "http://127.0.0.1:8000",
        variables: Mapping[str, str] | None = None,
    ) -> Runtime:
        """A runtime around an open store (embedding rpaml in a program of one's own, or
        a test): lineage to ``<data_dir>/lineage/events.jsonl`` unless ``emitter`` says."""
        return cls(
            process=process,
            store=store,
            emitter=emitter or OpenLineageEmitter.for_data_dir(data_dir),
            data_dir=data_dir,
            project_dir=project_dir or Path.cwd(),
            registry_dir=registry_dir or data_dir / "registry",
            service_url=service_url,
            variables=dict(variables or {}),
        )

    def with_robot_env(self, **extra: str) -> Runtime:
        """This runtime with more robot environment (e.g. the portal's URL)."""
        return replace(self, robot_env={**self.robot_env, **extra})

    def with_service(self, url: str, api_key: str | None) -> Runtime:
        """This runtime scoring through the service at ``url`` with ``api_key``."""
        return replace(self, service_url=url, service_api_key=api_key)

    def scoring_client(self) -> ScoringClient:
        """The one way stages reach the scoring service: the columnar bulk path, with the
        model's reasons (stored with each decision), and the challenger's decisions when
        the process file turns shadow mode on."""
        return ScoringClient(
            self.service_url,
            api_key=self.service_api_key,
            columnar=True,
            shadow=self.process.model.shadow.enabled,
        )

    @property
    def robots_dir(self) -> Path:
        """Where the task suites are (``robots/tasks/<name>.robot``)."""
        return self.project_dir / "robots"

    def close(self) -> None:
        """Release the store's connections."""
        self.store.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
