"""The stage runner: the bookkeeping of every run, whoever starts it.

:func:`run_stage` opens the run in the store (its kind, robot, owner and the process
file's hash), emits OpenLineage ``START``, runs the stage, and closes the run with the
stage's summary, timed, emitting ``COMPLETE`` (or, when the stage failed or raised,
closes it ``failed`` with the reason and emits ``FAIL``). No run is left ``running`` by an
exception; one whose owner is killed is closed by the next worker
(:mod:`rpaml_pipeline.stranded`). The CLI, the demo and the worker all run
stages through here, so a stage does the same thing whoever starts it.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from rpaml_pipeline.lineage.openlineage import Dataset, rpaml_run_facet
from rpaml_pipeline.process import process_hash
from rpaml_pipeline.runtime import Runtime


@dataclass(frozen=True)
class StageOutcome:
    """What a stage's work returns: its summary and the datasets it touched.

    ``failed`` says why a stage that ran to its end still failed (a robot whose tasks
    failed, scoring stopped by the service); the run is then closed ``failed``.
    """

    summary: Mapping[str, Any]
    outputs: Sequence[Dataset] = ()
    inputs: Sequence[Dataset] | None = None
    """The inputs, when the work learned more about them than :meth:`Stage.inputs` knew
    (the model version a scoring run used)."""
    facets: Mapping[str, Any] = field(default_factory=dict)
    failed: str | None = None


class Stage(Protocol):
    """One stage of the loop (collect, enrich, process, score, act, history, train,
    ingest, deliver)."""

    @property
    def kind(self) -> str:
        """The run's kind (``runs.kind``)."""
        ...

    @property
    def robot(self) -> str | None:
        """The robot (task suite) that runs it, if it is a robot stage."""
        ...

    @property
    def job(self) -> str:
        """The OpenLineage job name suffix (``<process>.<job>``)."""
        ...

    def details(self, runtime: Runtime) -> Mapping[str, Any]:
        """What the run records about its configuration when it starts."""
        ...

    def inputs(self, runtime: Runtime) -> list[Dataset]:
        """The datasets the stage reads, as known before it starts."""
        ...

    def run(self, runtime: Runtime, run_id: str) -> StageOutcome:
        """Do the stage's work in run ``run_id``."""
        ...


@dataclass(frozen=True)
class StageResult:
    """A finished stage run."""

    stage: str
    run_id: str
    status: str
    seconds: float
    summary: dict[str, Any]
    error: str | None = None

    @property
    def succeeded(self) -> bool:
        """True when the run closed ``succeeded``."""
        return self.status == "succeeded"

    def as_dict(self) -> dict[str, Any]:
        """The run's figures, JSON-ready (``run_id``, ``status``, the stage's summary)."""
        return {
            "run_id": self.run_id,
            "status": self.status,
            "seconds": round(self.seconds, 3),
            **self.summary,
            **({"error": self.error} if self.error else {}),
        }


def run_stage(runtime: Runtime, stage: Stage, *, run_id: str | None = None) -> StageResult:
    """Run ``stage`` as one run (see the module docstring) and return how it ended.

    Raises whatever the stage raised, after closing its run ``failed``.
    """
    process = runtime.process
    config = process_hash(process)
    store = runtime.store
    run_id = store.start_run(
        process.name,
        stage.kind,
        robot=stage.robot,
        config_hash=config,
        details={"owner": runtime.owner, **dict(stage.details(runtime))},
        run_id=run_id,
    )
    job = f"{process.name}.{stage.job}"
    inputs = stage.inputs(runtime)
    facets = {"rpaml": rpaml_run_facet(process=process.name, process_file_hash=config)}
    runtime.emitter.start(run_id, job, inputs=inputs, run_facets=facets)
    started = time.perf_counter()
    try:
        outcome = stage.run(runtime, run_id)
    except BaseException as error:
        store.finish_run(run_id, "failed", {"error": f"{type(error).__name__}: {error}"})
        runtime.emitter.fail(run_id, job, error, inputs=inputs, run_facets=facets)
        raise
    seconds = time.perf_counter() - started
    summary = dict(outcome.summary)
    status = "failed" if outcome.failed else "succeeded"
    closing = {**summary, **({"error": outcome.failed} if outcome.failed else {})}
    store.finish_run(run_id, status, closing)
    ran_facets = {**facets, **dict(outcome.facets)}
    seen = list(outcome.inputs) if outcome.inputs is not None else inputs
    if outcome.failed:
        runtime.emitter.fail(
            run_id, job, outcome.failed, inputs=seen, outputs=outcome.outputs, run_facets=ran_facets
        )
    else:
        runtime.emitter.complete(
            run_id, job, inputs=seen, outputs=outcome.outputs, run_facets=ran_facets
        )
    return StageResult(stage.kind, run_id, status, seconds, summary, outcome.failed)
