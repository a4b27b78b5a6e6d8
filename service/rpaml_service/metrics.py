"""Prometheus metrics of one app (its own registry, so two apps never share counters)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from rpaml_models import LoadedModel

_LATENCY_BUCKETS = (0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096, 16384)


class ModelMetrics:
    """One served model version's metric series, with their labels bound once.

    Binding labels (``Counter.labels``) takes a lock and a dict lookup per call; the
    scoring routes observe several series per request, so they use these instead.
    """

    def __init__(self, metrics: ServiceMetrics, model: LoadedModel) -> None:
        name, version = model.name, model.version
        self.ok = metrics.requests.labels(name, version, "200")
        self.invalid = metrics.requests.labels(name, version, "422")
        self.latency = metrics.latency.labels(name, version)
        self.request_rows = metrics.request_rows.labels(name)
        self.batch_rows = metrics.batch_rows.labels(name, version)
        self.decisions: dict[str, Any] = {
            action: metrics.decisions.labels(name, version, action)
            for action in model.policy.actions
        }


class ServiceMetrics:
    """Requests, latency, batch sizes, decisions and load failures."""

    def __init__(self) -> None:
        self._bound: dict[tuple[str, str], ModelMetrics] = {}
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "rpaml_score_requests",
            "Scoring requests by model, version and HTTP status.",
            ["model", "version", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "rpaml_score_latency_seconds",
            "Time to answer a scoring request, by model and version.",
            ["model", "version"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.request_rows = Histogram(
            "rpaml_score_request_rows",
            "Records per scoring request.",
            ["model"],
            buckets=_BATCH_BUCKETS,
            registry=self.registry,
        )
        self.batch_rows = Histogram(
            "rpaml_batch_rows",
            "Rows per micro-batch actually scored together.",
            ["model", "version"],
            buckets=_BATCH_BUCKETS,
            registry=self.registry,
        )
        self.decisions = Counter(
            "rpaml_decisions",
            "Decisions by model, version and action.",
            ["model", "version", "action"],
            registry=self.registry,
        )
        self.load_failures = Counter(
            "rpaml_model_load_failures",
            "Models that could not be loaded (startup or reload).",
            ["model"],
            registry=self.registry,
        )
        self.served = Gauge(
            "rpaml_model_served",
            "1 for the model version being served.",
            ["model", "version", "runtime"],
            registry=self.registry,
        )

    def publish_served(self, models: Mapping[str, LoadedModel]) -> None:
        """Set the served-version gauge to the models now served."""
        self.served.clear()
        for name, model in models.items():
            self.served.labels(name, model.version, model.runtime).set(1)

    def of(self, model: LoadedModel) -> ModelMetrics:
        """The model version's series (bound on first use)."""
        key = (model.name, model.version)
        bound = self._bound.get(key)
        if bound is None:
            bound = self._bound[key] = ModelMetrics(self, model)
        return bound

    def observe_batch(self, model: LoadedModel, rows: int) -> None:
        """Record one scored micro-batch."""
        self.of(model).batch_rows.observe(rows)
