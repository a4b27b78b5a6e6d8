"""``rpaml monitor``: one HTML page (plots embedded) and its facts as JSON.

The facts are read from the store and the registry only: each scoring run's ``drift``
summary (PSI per feature and of the score, KS, rows, alerts), the champion's reference
(or that it has none), and the decision weeks' outcome figures
(:func:`rpaml_pipeline.monitoring.outcomes.weekly_outcomes`). The plots: feature PSI over
the scoring runs with the warn and alert lines, the score's PSI and KS over the runs,
realised cost per labelled decision per week against each always-one-action baseline,
and mean score against observed rate (with ECE) per week. A process with no labels yet
gets its drift plots and a line saying the outcome plots wait for labels.
"""

from __future__ import annotations

import base64
import html
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display: the report is drawn to files, on servers too

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.ticker import MaxNLocator

from rpaml_models import ModelRegistry
from rpaml_models.errors import RegistryError
from rpaml_pipeline.model_spec import decision_policy
from rpaml_pipeline.monitoring.drift_check import SCORE
from rpaml_pipeline.monitoring.outcome_frame import decision_outcomes
from rpaml_pipeline.monitoring.outcomes import weekly_outcomes
from rpaml_pipeline.process import ProcessDefinition
from rpaml_pipeline.store import Store

Plot = Callable[[Axes, dict[str, Any]], None]
_RUNS = 200


def monitor_facts(store: Store, process: ProcessDefinition, registry_dir: Path) -> dict[str, Any]:
    """Everything the report shows, JSON-ready."""
    spec = process.monitoring
    runs = []
    for run in reversed(store.list_runs(process.name, kind="score", limit=_RUNS)):
        drift = (run.summary or {}).get("drift")
        if not isinstance(drift, dict):
            continue
        for version, figures in (drift.get("versions") or {}).items():
            runs.append(
                {
                    "run_id": run.run_id,
                    "started_at": run.started_at.isoformat(),
                    "version": version,
                    "rows": figures.get("rows", 0),
                    "judged": figures.get("judged", False),
                    "note": figures.get("note"),
                    "features": {n: f["psi"] for n, f in (figures.get("features") or {}).items()},
                    "score_psi": (figures.get(SCORE) or {}).get("psi"),
                    "score_ks": (figures.get(SCORE) or {}).get("ks"),
                    "alerts": [
                        a for a in drift.get("alerts", []) if a.get("model_version") == version
                    ],
                }
            )
    weeks = [
        week.as_dict()
        for week in weekly_outcomes(
            decision_outcomes(store, process), decision_policy(process), spec
        )
    ]
    performance = [alert for week in weeks for alert in week["alerts"]]
    return {
        "process": process.name,
        "model": process.model.name,
        "champion": _champion(registry_dir, process.model.name),
        "thresholds": spec.model_dump(mode="json"),
        "scoring_runs": runs,
        "weeks": weeks,
        "alerts": {
            "drift": [alert for run in runs for alert in run["alerts"]],
            "performance": performance,
        },
        "labels": sum(week["labels"] for week in weeks),
    }


def _champion(registry_dir: Path, name: str) -> dict[str, Any]:
    registry = ModelRegistry(registry_dir)
    try:
        version = registry.champion(name)
        if version is None:
            return {"version": None, "note": f"model {name} has no champion yet"}
        reference = registry.metadata(name, version).reference
    except (RegistryError, OSError) as error:
        return {"version": None, "note": f"registry unreadable: {error}"}
    if reference is None:
        return {
            "version": version,
            "reference": False,
            "note": (
                f"v{version} was registered without a training reference: "
                "retrain to monitor its drift"
            ),
        }
    return {"version": version, "reference": True, "reference_rows": reference.rows}


def write_report(facts: dict[str, Any], folder: Path) -> tuple[Path, Path]:
    """Write ``monitor-<process>.html`` and ``.json`` into ``folder``; return both paths."""
    folder.mkdir(parents=True, exist_ok=True)
    page = folder / f"monitor-{facts['process']}.html"
    data = folder / f"monitor-{facts['process']}.json"
    page.write_text(render_html(facts), encoding="utf-8")
    data.write_text(json.dumps(facts, indent=2, default=str), encoding="utf-8")
    return page, data


def render_html(facts: dict[str, Any]) -> str:
    """The report page: alerts, plots (PNG embedded), then the figures as tables."""
    e = html.escape
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>Monitoring: {e(facts['process'])}</title>",
        "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px}"
        "figure{display:inline-block;margin:4px}.alert{color:#b00}.warn{color:#a60}</style>",
        f"</head><body><h1>Monitoring: {e(facts['process'])} ({e(facts['model'])})</h1>",
    ]
    champion = facts["champion"]
    parts.append(
        f"<p>Champion: v{e(str(champion.get('version')))}. {e(champion.get('note') or '')}</p>"
    )
    alerts = [*facts["alerts"]["drift"], *facts["alerts"]["performance"]]
    parts.append(f"<h2>Alerts ({len(alerts)})</h2><ul>")
    parts.extend(
        f"<li class='{e(a['level'])}'>{e(a['level'])}: {e(a['message'])}</li>" for a in alerts
    )
    parts.append("</ul>" if alerts else "</ul><p>No alerts.</p>")
    parts.append("<h2>Plots</h2>")
    plots: list[tuple[str, Plot]] = []
    if facts["scoring_runs"]:
        plots += [("Feature drift (PSI per scoring run)", _feature_psi),
                  ("Score drift (PSI and KS per scoring run)", _score_drift)]  # fmt: skip
    else:
        parts.append("<p>No scoring run with drift figures yet.</p>")
    if facts["labels"]:
        plots += [("Realised cost per labelled decision, by decision week", _weekly_cost),
                  ("Calibration by decision week", _calibration)]  # fmt: skip
    else:
        parts.append(
            "<p>No labels yet: realised cost and calibration appear once outcomes of "
            "decided records come back.</p>"
        )
    for title, plot in plots:
        image = _png(plot, facts, title)
        parts.append(f"<figure><img alt='{e(title)}' src='data:image/png;base64,{image}'></figure>")
    parts.append(_runs_table(facts["scoring_runs"]))
    parts.append(_weeks_table(facts["weeks"]))
    parts.append("</body></html>")
    return "\n".join(parts)


def _png(plot: Plot, facts: dict[str, Any], title: str) -> str:
    figure, axes = plt.subplots(figsize=(5.2, 3.6), dpi=100)
    try:
        plot(axes, facts)
        axes.set_title(title, fontsize=10)
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
    finally:
        plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _thresholds(axes: Axes, facts: dict[str, Any]) -> None:
    limits = facts["thresholds"]
    axes.axhline(limits["psi_warn"], color="orange", linestyle="--", linewidth=1, label="warn")
    axes.axhline(limits["psi_alert"], color="red", linestyle="--", linewidth=1, label="alert")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))


def _feature_psi(axes: Axes, facts: dict[str, Any]) -> None:
    runs = facts["scoring_runs"]
    names = sorted({name for run in runs for name in run["features"]})
    for name in names:
        axes.plot(range(1, len(runs) + 1), [run["features"].get(name) for run in runs],
                  marker="o", markersize=3, label=name)  # fmt: skip
    _thresholds(axes, facts)
    axes.set_xlabel("scoring run")
    axes.set_ylabel("PSI")
    axes.legend(fontsize=6, ncol=2)


def _score_drift(axes: Axes, facts: dict[str, Any]) -> None:
    runs = facts["scoring_runs"]
    x = range(1, len(runs) + 1)
    axes.plot(x, [run["score_psi"] for run in runs], marker="o", label="score PSI")
    axes.plot(x, [run["score_ks"] for run in runs], marker="s", label="score KS")
    _thresholds(axes, facts)
    axes.set_xlabel("scoring run")
    axes.legend(fontsize=7)


def _weekly_cost(axes: Axes, facts: dict[str, Any]) -> None:
    weeks = [week for week in facts["weeks"] if week["cost_per_decision"] is not None]
    x = range(len(weeks))
    axes.plot(x, [w["cost_per_decision"] for w in weeks], marker="o", linewidth=2, label="applied")
    for action in sorted({a for w in weeks for a in w["baselines"]}):
        axes.plot(
            x, [w["baselines"].get(action) for w in weeks], linestyle=":", label=f"always {action}"
        )
    axes.set_xticks(list(x), [w["week"] for w in weeks], fontsize=7, rotation=30)
    axes.set_ylabel("cost per labelled decision")
    axes.legend(fontsize=7)


def _calibration(axes: Axes, facts: dict[str, Any]) -> None:
    weeks = [week for week in facts["weeks"] if week["mean_score"] is not None]
    x = range(len(weeks))
    axes.plot(x, [w["mean_score"] for w in weeks], marker="o", label="mean score")
    axes.plot(x, [w["observed_rate"] for w in weeks], marker="s", label="observed rate")
    axes.bar(x, [w["ece"] for w in weeks], alpha=0.3, label="ECE")
    axes.set_xticks(list(x), [w["week"] for w in weeks], fontsize=7, rotation=30)
    axes.legend(fontsize=7)


def _runs_table(runs: list[dict[str, Any]]) -> str:
    e = html.escape
    if not runs:
        return ""
    names = sorted({name for run in runs for name in run["features"]})
    head = "".join(
        f"<th>{e(n)}</th>" for n in ["run", "version", "rows", *names, "score PSI", "score KS"]
    )
    body = "".join(
        "<tr>"
        + "".join(
            f"<td>{e(_fmt(v))}</td>"
            for v in [
                run["started_at"][:19],
                run["version"],
                run["rows"],
                *(run["features"].get(n) for n in names),
                run["score_psi"],
                run["score_ks"],
            ]
        )
        + "</tr>"
        for run in runs
    )
    return f"<h2>Drift per scoring run</h2><table><tr>{head}</tr>{body}</table>"


def _weeks_table(weeks: list[dict[str, Any]]) -> str:
    e = html.escape
    if not weeks:
        return "<h2>Decision weeks</h2><p>No decisions yet.</p>"
    columns = ["week", "decisions", "labels", "cost_per_decision", "mean_score",
               "observed_rate", "ece", "auc"]  # fmt: skip
    head = "".join(f"<th>{e(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{e(_fmt(week[c]))}</td>" for c in columns) + "</tr>"
        for week in weeks
    )
    return f"<h2>Decision weeks</h2><table><tr>{head}</tr>{body}</table>"


def _fmt(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
