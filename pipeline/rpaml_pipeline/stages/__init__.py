"""The loop's stages, run the same way by every entry point (:func:`run_stage`).

=============  ===================================================================
``history``    the history robot downloads the closed claims (robot stage)
``collect``    the collect robot stages new claims from the portal (robot stage)
``enrich``     the enrichment robot looks records up in the desktop app (robot stage)
``ingest``     records from a declared source (inbox, SQL, HTTP)
``process``    clean, validate, label, transform (:mod:`rpaml_pipeline.processing`)
``score``      the scoring service decides every validated record
``act``        the act robot applies the decisions in the portal (robot stage)
``train``      a model from the labeled records
``retrain``    a challenger from the labels observed so far, judged by time
``deliver``    processed records, scores and decisions to the delivery targets
``monitor``    the monitoring report, performance alerts and metrics
=============  ===================================================================
"""

from rpaml_pipeline.stages.data import DeliverStage, IngestStage, ScoreStage
from rpaml_pipeline.stages.monitoring import MonitorStage
from rpaml_pipeline.stages.processing import ProcessStage
from rpaml_pipeline.stages.robot import RobotStage, robot_figures, robot_name
from rpaml_pipeline.stages.runner import Stage, StageOutcome, StageResult, run_stage
from rpaml_pipeline.stages.training import RetrainStage, TrainStage

__all__ = [
    "DeliverStage",
    "IngestStage",
    "MonitorStage",
    "ProcessStage",
    "RetrainStage",
    "RobotStage",
    "ScoreStage",
    "Stage",
    "StageOutcome",
    "StageResult",
    "TrainStage",
    "robot_figures",
    "robot_name",
    "run_stage",
]
