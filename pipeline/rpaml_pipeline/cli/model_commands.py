"""``rpaml model list|compare|promote``: the registry's versions and promotion on evidence."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from rpaml_models import ModelRegistry
from rpaml_models.model_card import write_card
from rpaml_pipeline.cli import main
from rpaml_pipeline.cli.common import echo_json, friendly_errors, runtime_of, settings_of
from rpaml_pipeline.model_spec import decision_policy
from rpaml_pipeline.model_training import labeled_records
from rpaml_pipeline.promotion import compare_in_store, promote_by_hand
from rpaml_pipeline.shadow import compare_shadow


@main.group()
def model() -> None:
    """Model versions: list them, compare two on shared evidence, promote one."""


@model.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the versions as JSON.")
@click.pass_context
@friendly_errors
def model_list(ctx: click.Context, as_json: bool) -> None:
    """Every version of the process's model with its recipe, metrics and cost."""
    with runtime_of(ctx) as runtime:
        registry = ModelRegistry(runtime.registry_dir)
        name = runtime.process.model.name
        champion = registry.champion(name)
        challenger = registry.challenger(name)
        rows: list[dict[str, Any]] = []
        for version in registry.versions(name):
            metadata = registry.metadata(name, version)
            evaluation = metadata.evaluation or {}
            winner = evaluation.get("winner", {})
            cost = evaluation.get("cost_per_record", {}).get("policy", {})
            rows.append(
                {
                    "version": version,
                    "champion": version == champion,
                    "challenger": version == challenger,
                    "created_at": metadata.created_at.isoformat(timespec="seconds"),
                    "recipe": f"{winner.get('name', '?')}/{winner.get('calibration', '?')}",
                    "roc_auc": metadata.metrics.get("roc_auc"),
                    "ece": metadata.metrics.get("ece"),
                    "cost_per_record": cost.get("mean"),
                    "runtime": metadata.compilation.runtime if metadata.compilation else None,
                }
            )
    if as_json:
        echo_json({"model": name, "champion": champion, "challenger": challenger, "versions": rows})
        return
    if not rows:
        click.echo(f"no versions of {name} in {runtime.registry_dir}")
        return
    for row in rows:
        # * the champion, s the challenger scored in shadow (model.shadow.enabled)
        mark = "*" if row["champion"] else "s" if row["challenger"] else " "
        cost = row["cost_per_record"]
        click.echo(
            f"{mark} v{row['version']:<4} {row['created_at']}  {row['recipe']:<28} "
            f"AUC {_num(row['roc_auc'], 3)}  ECE {_num(row['ece'], 4)}  "
            f"cost/record {_num(cost, 2)}  {row['runtime']}"
        )


@model.command("compare")
@click.argument("targets", nargs=-1, required=True, metavar="NAME | CHALLENGER CHAMPION")
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON.")
@click.pass_context
@friendly_errors
def model_compare(ctx: click.Context, targets: tuple[str, ...], as_json: bool) -> None:
    """NAME: the realised cost of the champion's and the shadow challenger's decisions on
    the records both decided and an outcome judged (shadow mode).

    CHALLENGER CHAMPION: two versions by cost on the labeled records neither was trained on.
    """
    if len(targets) == 1:
        _compare_shadow(ctx, targets[0], as_json)
        return
    if len(targets) != 2:
        raise click.UsageError("give a model NAME, or two versions: CHALLENGER CHAMPION")
    challenger, champion = targets
    with runtime_of(ctx) as runtime:
        process = runtime.process
        comparison = compare_in_store(
            ModelRegistry(runtime.registry_dir),
            process.model.name,
            challenger,
            champion,
            labeled_records(runtime.store, process),
            decision_policy(process),
        )
    if as_json:
        echo_json(comparison)
        return
    diff = comparison["difference"]
    click.echo(
        f"on {comparison['records']} labeled records neither was trained on "
        f"({comparison['records_hash'][:19]}...):\n"
        f"  v{challenger}: {comparison['challenger']['mean']:,.2f} per record\n"
        f"  v{champion}: {comparison['champion']['mean']:,.2f} per record\n"
        f"  difference {diff['mean']:+,.2f} (paired 95% interval {diff['low']:+,.2f} to "
        f"{diff['high']:+,.2f}): {comparison['verdict']}"
    )


def _compare_shadow(ctx: click.Context, name: str, as_json: bool) -> None:
    with runtime_of(ctx) as runtime:
        figures = compare_shadow(runtime.store, runtime.process, name)
    if as_json:
        echo_json(figures)
        return
    if not figures["comparisons"]:
        click.echo(figures["message"])
        return
    for row in figures["comparisons"]:
        diff = row["difference"]
        champions = ", ".join(f"v{version}" for version in row["champion_versions"])
        click.echo(
            f"{name}: shadow v{row['challenger_version']} beside champion {champions} on "
            f"{row['records']} decided records an outcome judged ({row['positives']} "
            f"positive, {row['differing']} decided differently), realised cost under "
            f"policy {figures['policy_version']}:\n"
            f"  champion (acted on):   {row['champion']['mean']:,.2f} per record "
            f"({row['champion']['total']:,.2f} in all)\n"
            f"  challenger (shadow):   {row['challenger']['mean']:,.2f} per record "
            f"({row['challenger']['total']:,.2f} in all)\n"
            f"  difference {diff['mean']:+,.2f} (paired 95% interval {diff['low']:+,.2f} to "
            f"{diff['high']:+,.2f}): {row['verdict']}"
        )
    if figures["explored"]:
        click.echo(
            f"  ({figures['explored']} judged record(s) left out: exploration replaced the "
            "champion's decision)"
        )


@model.command("promote")
@click.argument("version")
@click.option("--reason", required=True, help="Why (recorded with the promotion).")
@click.option("--override", is_flag=True, help="Promote even if the evidence is not better.")
@click.pass_context
@friendly_errors
def model_promote(ctx: click.Context, version: str, reason: str, override: bool) -> None:
    """Make VERSION the champion: on better evidence, or as a recorded override."""
    with runtime_of(ctx) as runtime:
        process = runtime.process
        decision = promote_by_hand(
            ModelRegistry(runtime.registry_dir),
            process.model.name,
            version,
            labeled_records(runtime.store, process),
            decision_policy(process),
            reason=reason,
            override=override,
        )
    note = f" (verdict: {decision.verdict})" if decision.verdict else " (no shared evidence)"
    click.echo(f"{process.model.name} v{version} is the champion{note}")


def _num(value: object, digits: int) -> str:
    return f"{value:,.{digits}f}" if isinstance(value, int | float) else "-"


@model.command("card")
@click.argument("target", required=False)
@click.option("--output", type=click.Path(path_type=Path), help="Folder (default: <data>/cards).")
@click.pass_context
@friendly_errors
def model_card(ctx: click.Context, target: str | None, output: Path | None) -> None:
    """Write the model card (HTML and JSON) of NAME[@VERSION] (default: the champion)."""
    with runtime_of(ctx) as runtime:
        registry = ModelRegistry(runtime.registry_dir)
        name, _, version = (target or runtime.process.model.name).partition("@")
        chosen = version or registry.champion(name)
        if chosen is None:
            raise click.ClickException(f"{name} has no champion; name a version: {name}@N")
        folder = output or settings_of(ctx).data_dir / "cards"
        page, data = write_card(registry, name, chosen, folder)
    click.echo(f"model card of {name} v{chosen}: {page} (facts: {data})")
