"""Runs inside bench/serving/.venvs/mlflow: save the benchmark pipeline as an MLflow model.

    python peer_mlflow.py save PIPELINE.joblib MODEL_DIR

The server itself is ``mlflow models serve`` (started by bench.py, one worker).
"""

from __future__ import annotations

import sys

import joblib
import mlflow.sklearn


def main() -> int:
    _, command, pipeline_file, model_dir = sys.argv
    if command != "save":
        print(f"unknown command {command!r}", file=sys.stderr)
        return 2
    pipeline = joblib.load(pipeline_file)
    mlflow.sklearn.save_model(
        pipeline,
        model_dir,
        pyfunc_predict_fn="predict_proba",
        # skops cannot load the project's FunctionTransformer; the pipeline is trusted here.
        serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_CLOUDPICKLE,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
