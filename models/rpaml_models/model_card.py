"""The model card: one page a person responsible for the decisions can read.

What the model decides and at which costs, the data it was trained on, the candidates and
why the winner won, how well its probabilities and decisions do (plots drawn with
matplotlib, embedded in the page), and its limits. The same facts are written as JSON.
Everything comes from the registry: the card can be drawn for any version, any time.
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

matplotlib.use("Agg")  # no display: the card is drawn to files, on servers too

import matplotlib.pyplot as plt
from matplotlib.axes import Axes

from rpaml_models.registry import ModelRegistry

Plot = Callable[[Axes, dict[str, Any]], None]


def card_facts(registry: ModelRegistry, name: str, version: str) -> dict[str, Any]:
    """Everything the card shows, as JSON-ready data."""
    metadata = registry.metadata(name, version)
    policy = registry.load(name, version).policy
    evaluation = metadata.evaluation or {}
    champion = registry.champion_record(name)
    promotion = next((p for p in registry.promotions(name) if p.version == version), None)
    compilation = metadata.compilation
    return {
        "model": name,
        "version": version,
        "champion": champion is not None and champion.version == version,
        "created_at": metadata.created_at.isoformat(timespec="seconds"),
        "decision": policy.model_dump(mode="json"),
        "training_data": {
            **evaluation.get("training_data", {}),
            "records": evaluation.get("records"),
            "training_data_hash": metadata.training_data_hash,
            "lineage_run_id": metadata.lineage_run_id,
            "library_versions": metadata.library_versions,
            "features": [f.name for f in metadata.feature_schema.features],
        },
        "selection": {
            "method": evaluation.get("method"),
            "winner": evaluation.get("winner"),
            "why": evaluation.get("why"),
            "candidates": evaluation.get("candidates", []),
        },
        "metrics": dict(metadata.metrics),
        "cost_per_record": evaluation.get("cost_per_record", {}),
        "action_mix": evaluation.get("action_mix", {}),
        "calibration_table": evaluation.get("calibration_table", []),
        "curves": evaluation.get("curves", {}),
        "permutation_importance": evaluation.get("permutation_importance", []),
        "serving": {
            "runtime": compilation.runtime if compilation else "sklearn",
            "reason": compilation.reason if compilation else "registered before compilation",
        },
        "promotion": None if promotion is None else promotion.model_dump(mode="json"),
        "limits": _limits(
            metadata.metrics,
            evaluation,
            compilation is not None and compilation.runtime != "sklearn",
        ),
    }


def _limits(metrics: dict[str, float], evaluation: dict[str, Any], compiled: bool) -> list[str]:
    records = evaluation.get("records", "?")
    limits = [
        f"Measured on {records} labeled records by cross-validation: out-of-fold figures "
        "estimate how the recipe does on new records like these, not on records unlike them.",
        "The intervals are bootstrap 95% intervals over those records; a small number of "
        "positive outcomes makes the cost figures uncertain, read the intervals.",
        "Costs are the cost table's: if the table no longer states what the actions cost, "
        "the decisions are no longer cost-optimal, whatever the model.",
        "Labels come only from records whose outcome became known; records decided by the "
        "policy and never checked do not correct the model.",
    ]
    if metrics.get("ece", 0.0) > 0.02:
        limits.append(
            f"Calibration error {metrics['ece']:.3f} is above 0.02: probabilities are "
            "less trustworthy than the decisions' costs assume."
        )
    if not compiled:
        limits.append(
            "This recipe has no compiled path (ONNX or NumPy); it is served by scikit-learn "
            "(see the service benchmark for what that costs)."
        )
    return limits


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


def _calibration(axes: Axes, facts: dict[str, Any]) -> None:
    table = facts["calibration_table"]
    axes.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="perfect")
    axes.plot(
        [r["mean_score"] for r in table], [r["observed_rate"] for r in table], "o-",
        label="model (out of fold)",
    )  # fmt: skip
    top = max([0.05] + [max(r["mean_score"], r["observed_rate"]) for r in table]) * 1.1
    axes.set_xlim(0, min(1, top))
    axes.set_ylim(0, min(1, top))
    axes.set_xlabel("mean predicted probability")
    axes.set_ylabel("observed rate")
    axes.legend(fontsize=8)


def _roc(axes: Axes, facts: dict[str, Any]) -> None:
    roc = facts["curves"].get("roc", {})
    axes.plot(roc.get("fpr", []), roc.get("tpr", []))
    axes.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1)
    axes.set_xlabel("false positive rate")
    axes.set_ylabel("true positive rate")


def _precision_recall(axes: Axes, facts: dict[str, Any]) -> None:
    curve = facts["curves"].get("precision_recall", {})
    axes.plot(curve.get("recall", []), curve.get("precision", []))
    axes.axhline(facts["metrics"].get("base_rate", 0), color="grey", linestyle="--", linewidth=1)
    axes.set_xlabel("recall")
    axes.set_ylabel("precision")


def _costs(axes: Axes, facts: dict[str, Any]) -> None:
    rows = facts["cost_per_record"]
    names = list(rows)
    means = [rows[n]["mean"] for n in names]
    errors = [
        [rows[n]["mean"] - rows[n]["low"] for n in names],
        [rows[n]["high"] - rows[n]["mean"] for n in names],
    ]
    colours = ["tab:green" if n == "policy" else "tab:grey" for n in names]
    axes.barh(names, means, xerr=errors, color=colours, capsize=3)
    axes.invert_yaxis()
    axes.set_xscale("log")
    axes.set_xlabel("cost per record (log scale), 95% interval")


def _band(axes: Axes, facts: dict[str, Any]) -> None:
    band = facts["curves"].get("band", {})
    points = band.get("points", [])
    multipliers = [p["multiplier"] for p in points]
    axes.plot(multipliers, [p["cost"] for p in points], "o-", label="cost per record")
    axes.set_xscale("log")
    axes.set_xticks(multipliers, [f"{m:g}" for m in multipliers], minor=False)
    axes.minorticks_off()
    axes.set_xlabel(f"{band.get('action', 'middle action')} cost used to decide, x table")
    axes.set_ylabel("cost per record")
    axes.axvline(1.0, color="grey", linestyle="--", linewidth=1)
    share = axes.twinx()
    share.plot(multipliers, [p["share"] for p in points], "s--", color="tab:orange")
    share.set_ylabel(f"share given {band.get('action', '')}", color="tab:orange")


def _scores(axes: Axes, facts: dict[str, Any]) -> None:
    histograms = facts["curves"].get("score_histograms", {})
    edges = histograms.get("edges", [0, 1])
    outcomes = facts["decision"].get("outcomes") or ["0", "1"]
    for label, counts in histograms.get("counts", {}).items():
        total = max(sum(counts), 1)
        axes.stairs([c / total for c in counts], edges, label=str(outcomes[int(label)]))
    axes.set_xlabel("predicted probability")
    axes.set_ylabel("share of the outcome's records")
    if axes.get_legend_handles_labels()[0]:
        axes.legend(fontsize=8)


def _importance(axes: Axes, facts: dict[str, Any]) -> None:
    rows = facts["permutation_importance"][:12]
    axes.barh(
        [r["feature"] for r in rows], [r["mean"] for r in rows],
        xerr=[r["std"] for r in rows], capsize=2,
    )  # fmt: skip
    axes.invert_yaxis()
    axes.set_xlabel("increase in log loss when shuffled")


PLOTS: tuple[tuple[str, Plot], ...] = (
    ("Calibration", _calibration),
    ("ROC curve", _roc),
    ("Precision and recall", _precision_recall),
    ("Expected cost against the baselines", _costs),
    ("Cost as a function of the band", _band),
    ("Scores per outcome", _scores),
    ("Permutation feature importance", _importance),
)


def render_html(facts: dict[str, Any]) -> str:
    """The card as one self-contained HTML page (plots embedded as PNG)."""
    e = html.escape
    decision = facts["decision"]
    winner = facts["selection"].get("winner") or {}
    metrics = facts["metrics"]
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Model card: {e(facts['model'])} v{e(facts['version'])}</title>",
        "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}"
        "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;"
        "padding:3px 8px;text-align:right}th{background:#f3f3f3}td:first-child{text-align:left}"
        ".plots{display:flex;flex-wrap:wrap;gap:8px}figure{margin:0}</style></head><body>",
        f"<h1>{e(facts['model'])} v{e(facts['version'])}"
        + (" (champion)" if facts["champion"] else "")
        + "</h1>",
        f"<p>Registered {e(facts['created_at'])}. Chooses among "
        f"<b>{e(', '.join(decision.get('actions', [])))}</b> for each record.</p>",
        "<h2>What it decides, at which costs</h2>",
        _cost_table(decision),
        "<h2>Training data</h2>",
        _pairs(facts["training_data"]),
        "<h2>Candidates, and why the winner won</h2>",
        f"<p>{e(str(facts['selection'].get('method') or ''))}</p>",
        f"<p><b>Winner:</b> {e(str(winner.get('name')))} ({e(str(winner.get('calibration')))} "
        f"calibration). {e(str(facts['selection'].get('why') or ''))}.</p>",
        _candidates(facts["selection"]["candidates"]),
        "<h2>How good it is</h2>",
        "<p>"
        + ", ".join(f"{e(k)} {v:.4f}" for k, v in metrics.items() if isinstance(v, float))
        + "</p>",
        "<p>Action mix: "
        + ", ".join(f"{e(a)} {share:.1%}" for a, share in facts["action_mix"].items())
        + "</p>",
        "<div class='plots'>",
    ]
    for title, plot in PLOTS:
        image = _png(plot, facts, title)
        parts.append(f"<figure><img alt='{e(title)}' src='data:image/png;base64,{image}'></figure>")
    parts += [
        "</div>",
        f"<h2>Serving</h2><p>{e(facts['serving']['runtime'])}: {e(facts['serving']['reason'])}</p>",
        "<h2>Limits</h2><ul>",
        *[f"<li>{e(limit)}</li>" for limit in facts["limits"]],
        "</ul></body></html>",
    ]
    return "\n".join(parts)


def _cost_table(decision: dict[str, Any]) -> str:
    e = html.escape
    costs = decision.get("costs")
    if not costs:
        return (
            f"<p>Thresholds: {e(str(decision.get('lower')))} / {e(str(decision.get('upper')))}</p>"
        )
    outcomes = decision.get("outcomes") or []
    unit = decision.get("amount_feature") or "amount"
    head = "".join(f"<th>if {e(o)}</th>" for o in outcomes)
    rows = []
    for action, cells in costs.items():
        shown = []
        for outcome in outcomes:
            cell = cells[outcome]
            text = [f"{cell['fixed']:,.0f}"] if cell["fixed"] or not cell["per_unit"] else []
            if cell["per_unit"]:
                text.append(f"{cell['per_unit']:g} x {unit}")
            shown.append(" + ".join(text))
        rows.append(f"<tr><td>{e(action)}</td>" + "".join(f"<td>{e(s)}</td>" for s in shown))
    return f"<table><tr><th>action</th>{head}</tr>{''.join(rows)}</table>"


def _pairs(values: dict[str, Any]) -> str:
    e = html.escape
    rows = "".join(
        f"<tr><td>{e(str(k))}</td><td>{e(_text(v))}</td></tr>" for k, v in values.items()
    )
    return f"<table>{rows}</table>"


def _text(value: object) -> str:
    return json.dumps(value) if isinstance(value, dict | list) else str(value)


def _candidates(rows: list[dict[str, Any]]) -> str:
    e = html.escape
    names = ("candidate", "calibration", "cost per record", "log loss", "ROC AUC", "ECE")
    head = "<tr>" + "".join(f"<th>{n}</th>" for n in names) + "</tr>"
    body = "".join(
        f"<tr><td>{e(str(r['name']))}</td><td>{e(str(r['calibration']))}</td>"
        f"<td>{r['cost_per_record']:,.2f}</td><td>{r['log_loss']:.4f}</td>"
        f"<td>{r['roc_auc']:.3f}</td><td>{r['ece']:.4f}</td></tr>"
        for r in rows
    )
    return f"<table>{head}{body}</table>"


def write_card(registry: ModelRegistry, name: str, version: str, folder: Path) -> tuple[Path, Path]:
    """Write ``<name>-v<version>.html`` and ``.json`` into ``folder``; return both paths."""
    facts = card_facts(registry, name, version)
    folder.mkdir(parents=True, exist_ok=True)
    page = folder / f"{name}-v{version}.html"
    data = folder / f"{name}-v{version}.json"
    page.write_text(render_html(facts), encoding="utf-8")
    data.write_text(json.dumps(facts, indent=2, default=str), encoding="utf-8")
    return page, data
