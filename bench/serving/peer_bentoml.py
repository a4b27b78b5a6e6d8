"""Runs inside bench/serving/.venvs/bentoml: the benchmark pipeline as a BentoML service
with adaptive batching (``batchable=True``), one worker; the latency bound is
wide so that BentoML batches instead of shedding load with 503s.

Started by bench.py as ``bentoml serve peer_bentoml:FraudService``; the pipeline file
comes from ``RPAML_BENCH_PIPELINE``.
"""

from __future__ import annotations

import os
from typing import Any

import bentoml
import joblib
import pandas as pd


@bentoml.service(workers=1)
class FraudService:
    def __init__(self) -> None:
        self.pipeline = joblib.load(os.environ["RPAML_BENCH_PIPELINE"])

    @bentoml.api(batchable=True, max_batch_size=2048, max_latency_ms=10_000)
    def predict(self, rows: list[dict[str, Any]]) -> list[float]:
        frame = pd.DataFrame(rows)
        return self.pipeline.predict_proba(frame)[:, 1].tolist()
