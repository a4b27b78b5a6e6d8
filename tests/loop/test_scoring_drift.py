"""Scoring runs measure drift against the champion's training reference and alert."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from prometheus_client.parser import text_string_to_metric_families

from rpaml_models import ModelRegistry
from rpaml_pipeline.cli import main
from rpaml_pipeline.model_training import TrainingOutcome
from rpaml_pipeline.monitoring.drift_check import ALERTS_KEY, SCORE, DriftMonitor
from rpaml_pipeline.monitoring.references import drift_monitor
from rpaml_pipeline.process import ProcessDefinition
from rpaml_pipeline.process.monitoring_section import MonitoringSpec
from rpaml_pipeline.runtime import Runtime
from rpaml_pipeline.stages import run_stage
from rpaml_pipeline.stages.data import ScoreStage
from rpaml_pipeline.store import Store
from rpaml_sandbox.portal.generator import GeneratedClaim
from staged_claims import process_all, stage


def _reference(trained_registry: tuple[Path, TrainingOutcome]):
    registry_dir, outcome = trained_registry
    metadata = ModelRegistry(registry_dir).metadata(outcome.model, outcome.version)
    assert metadata.reference is not None
    return metadata.reference


def test_a_shifted_feature_alerts_and_a_steady_one_does_not(
    trained_registry: tuple[Path, TrainingOutcome],
) -> None:
    reference = _reference(trained_registry)
    numeric = next(n for n, b in reference.features.items() if b.kind == "numeric")
    binned = reference.features[numeric]
    # Rows drawn from the reference's own bins (steady) and rows all above its last edge.
    rng = np.random.default_rng(3)
    shares = np.asarray(binned.counts) / sum(binned.counts)
    bounds = [binned.edges[0] - 1, *binned.edges, binned.edges[-1] + 1]
    steady = [bounds[i + 1] for i in rng.choice(len(shares), size=5000, p=shares)]
    spec = MonitoringSpec(psi_warn=0.1, psi_alert=0.25, min_rows=100)
    monitor = DriftMonitor(lambda version: reference, spec)
    monitor.add("1", {numeric: steady}, rng.uniform(0, 1, 5000).tolist())
    report = monitor.report()
    figures = report["versions"]["1"]
    assert figures["judged"] and figures["rows"] == 5000
    assert figures["features"][numeric]["psi"] < 0.01
    assert not [a for a in report["alerts"] if a["feature"] == numeric]

    shifted = DriftMonitor(lambda version: reference, spec)
    shifted.add("1", {numeric: [binned.edges[-1] * 10 + 1] * 500}, [0.99] * 500)
    alerts = {a["feature"]: a for a in shifted.report()["alerts"]}
    assert alerts[numeric]["level"] == "alert" and alerts[numeric]["rows"] == 500
    assert alerts[numeric]["psi"] >= 0.25
    assert numeric in alerts[numeric]["message"] and "PSI" in alerts[numeric]["message"]
    assert alerts[SCORE]["level"] == "alert"


def test_too_few_rows_give_figures_without_a_verdict(
    trained_registry: tuple[Path, TrainingOutcome],
) -> None:
    reference = _reference(trained_registry)
    name = next(iter(reference.features))
    monitor = DriftMonitor(lambda version: reference, MonitoringSpec(min_rows=50))
    monitor.add("1", {name: [None] * 10}, [0.5] * 10)
    report = monitor.report()
    assert report["alerts"] == []
    assert report["versions"]["1"]["judged"] is False
    assert "fewer than min_rows 50" in report["versions"]["1"]["note"]
    assert report["versions"]["1"]["features"][name]["psi"] > 1


def test_small_runs_are_judged_with_the_earlier_runs_of_the_window(
    trained_registry: tuple[Path, TrainingOutcome],
) -> None:
    reference = _reference(trained_registry)
    numeric = next(n for n, b in reference.features.items() if b.kind == "numeric")
    far = reference.features[numeric].edges[-1] * 10 + 1
    spec = MonitoringSpec(min_rows=100)
    # Three quarter-hourly runs of 40 shifted rows each: each keeps its own counts.
    stored: list[dict[str, object]] = []
    reports = []
    for _ in range(3):
        monitor = DriftMonitor(
            lambda version: reference, spec, earlier=lambda version: list(reversed(stored))
        )
        monitor.add("1", {numeric: [far] * 40}, [0.9] * 40)
        report = monitor.report()
        reports.append(report["versions"]["1"])
        stored.append(report["versions"]["1"]["counts"])
    first, second, third = reports
    assert first["judged"] is False and first["window_runs"] == 1 and first["rows"] == 40
    assert second["judged"] is False and second["window_runs"] == 2 and second["rows"] == 80
    assert third["judged"] is True and third["window_runs"] == 3 and third["rows"] == 120
    assert third["counts"]["rows"] == 40  # its own counts, for the runs after it
    assert third["features"][numeric]["psi"] >= 0.25
    # Counts of another binning (a run scored before the reference changed) are skipped.
    odd = {"rows": 500, "features": {numeric: [1, 2]}, SCORE: [1]}
    monitor = DriftMonitor(lambda version: reference, spec, earlier=lambda version: [odd])
    monitor.add("1", {numeric: [far] * 40}, [0.9] * 40)
    assert monitor.report()["versions"]["1"]["window_runs"] == 1


def test_a_version_without_reference_is_named_not_an_error() -> None:
    monitor = DriftMonitor(lambda version: None, MonitoringSpec())
    monitor.add("7", {"amount": [1.0, 2.0]}, [0.1, 0.2])
    report = monitor.report()
    assert report["alerts"] == []
    assert report["versions"]["7"]["rows"] == 2
    assert "no training reference" in report["versions"]["7"]["note"]


def test_the_score_stage_records_drift_and_alerts_and_status_shows_them(
    tmp_path: Path,
    store: Store,
    process: ProcessDefinition,
    claims: list[GeneratedClaim],
    trained_registry: tuple[Path, TrainingOutcome],
    service_url: str,
    service_key: str,
) -> None:
    # Thresholds so low that the open claims' sampling noise alone crosses them: the
    # thresholds of the process file are what decides.
    strict = process.model_copy(
        update={"monitoring": MonitoringSpec(psi_warn=1e-6, psi_alert=2e-6, min_rows=10)}
    )
    stage(store, process.name, [c for c in claims if c.status == "open"], "collect")
    process_all(store, strict)
    registry_dir, outcome = trained_registry
    runtime = Runtime.of(
        store, strict, data_dir=tmp_path / "data", registry_dir=registry_dir
    ).with_service(service_url, service_key)
    result = run_stage(runtime, ScoreStage())
    assert result.succeeded, result.error
    drift = result.summary["drift"]
    figures = drift["versions"][outcome.version]
    assert figures["rows"] == result.summary["scored"] > 10
    assert set(figures["features"]) == set(_reference(trained_registry).features)
    assert figures[SCORE]["ks"] is not None
    assert drift["alerts"] and {a["level"] for a in drift["alerts"]} == {"alert"}
    run = store.get_run(result.run_id)
    assert run.details[ALERTS_KEY] == drift["alerts"]
    # The next run of the window finds this run's own counts in the store.
    assert list(drift_monitor(runtime).earlier(outcome.version)) == [figures["counts"]]
    assert figures["counts"]["rows"] == figures["rows"] and figures["window_runs"] == 1
    # The node exporter's textfile holds the same figures.
    text = (tmp_path / "data" / "metrics" / "rpaml.prom").read_text()
    samples = [
        sample for family in text_string_to_metric_families(text) for sample in family.samples
    ]
    psi = {
        s.labels["feature"]: s.value
        for s in samples
        if s.name == "rpaml_drift_psi" and s.labels["version"] == outcome.version
    }
    assert psi.pop(SCORE) == pytest.approx(figures[SCORE]["psi"])
    assert psi == pytest.approx({n: f["psi"] for n, f in figures["features"].items()})
    assert {s.labels["model"] for s in samples if s.name == "rpaml_drift_psi"} == {
        process.model.name
    }
    counted = {
        (s.labels["level"], s.labels["kind"]): s.value
        for s in samples
        if s.name == "rpaml_monitoring_alerts"
    }
    assert counted[("alert", "drift")] == len(drift["alerts"])
    assert counted[("warn", "drift")] == 0
    store.close()
    env = {
        "RPAML_DATA_DIR": str(tmp_path / "data"),
        "RPAML_STORE_URL": f"sqlite:///{tmp_path / 'rpaml.db'}",
        "RPAML_REGISTRY_DIR": str(registry_dir),
    }
    output = CliRunner().invoke(main, ["status"], env=env, catch_exceptions=False).output
    assert "alert: feature " in output and "training reference: PSI" in output
    listed = CliRunner().invoke(main, ["status", "--json"], env=env).output
    run_json = next(r for r in json.loads(listed)["runs"] if r["run_id"] == result.run_id)
    assert run_json["alerts"] == drift["alerts"]


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        ({"psi_warn": 0.3, "psi_alert": 0.2}, "must not exceed psi_alert"),
        ({"psi_warn": -1}, "monitoring.psi_warn"),
        ({"min_rows": "many"}, "monitoring.min_rows"),
    ],
)
def test_bad_monitoring_values_are_refused_naming_file_and_key(
    tmp_path: Path, section: dict[str, object], expected: str
) -> None:
    import yaml

    from rpaml_pipeline.process import ProcessFileError, load_process
    from staged_claims import PROCESS_FILE

    data = yaml.safe_load(PROCESS_FILE.read_text())
    data["monitoring"] = section
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ProcessFileError) as caught:
        load_process(path)
    assert str(path) in str(caught.value) and expected in str(caught.value)


def test_an_unwritable_metrics_folder_does_not_fail_scoring(
    tmp_path: Path,
    store: Store,
    process: ProcessDefinition,
    claims: list[GeneratedClaim],
    trained_registry: tuple[Path, TrainingOutcome],
    service_url: str,
    service_key: str,
) -> None:
    stage(store, process.name, [c for c in claims if c.status == "open"][:10], "collect")
    process_all(store, process)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "metrics").write_text("a file where the folder should be")
    runtime = Runtime.of(
        store, process, data_dir=data_dir, registry_dir=trained_registry[0]
    ).with_service(service_url, service_key)
    result = run_stage(runtime, ScoreStage())
    assert result.succeeded and result.summary["scored"] > 0
    assert "metrics textfile not written" in result.summary["drift"]["metrics_error"]
