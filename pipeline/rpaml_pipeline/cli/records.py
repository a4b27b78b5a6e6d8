"""``rpaml status`` and ``rpaml lineage``: what the store knows."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

import click

from rpaml_pipeline.cli import main
from rpaml_pipeline.cli.common import echo_json, friendly_errors, settings_of
from rpaml_pipeline.monitoring.drift_check import run_alerts
from rpaml_pipeline.orchestration import engine_settings
from rpaml_pipeline.orchestration.control import orchestration_summary
from rpaml_pipeline.process import load_process
from rpaml_pipeline.processing.held_batches import held_batches
from rpaml_pipeline.settings import RpamlSettings
from rpaml_pipeline.store import Store
from rpaml_pipeline.store.source_positions import DeadLetter


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.pass_context
@friendly_errors
def status(ctx: click.Context, as_json: bool) -> None:
    """Show records per state per process, the latest runs, workflows and queues."""
    settings = settings_of(ctx)
    with Store.connect(settings.resolved_store_url) as store:
        counts = store.counts()
        runs = store.list_runs(limit=10)
        held = {process: len(held_batches(store, process)) for process in counts}
        messages = {name: store.positions.counts(name) for name in sorted(counts)}
        dead = {name: store.positions.dead_letters(name) for name in sorted(counts)}
        labels = {name: store.labels.counts(name) for name in sorted(counts)}
        queues = {name: store.review.stats(name) for name in sorted(counts)}
    orchestration = _orchestration(settings)
    if as_json:
        echo_json(
            {
                "records": counts,
                "held_batches": held,
                "decision_labels": labels,
                "review_queue": {name: asdict(stats) for name, stats in queues.items()},
                "source_messages": messages,
                "dead_letters": {
                    name: [asdict(letter) for letter in letters] for name, letters in dead.items()
                },
                "workflows": orchestration["workflows"],
                "queues": orchestration["queues"],
                "runs": [
                    {
                        "run_id": run.run_id,
                        "process": run.process,
                        "kind": run.kind,
                        "robot": run.robot,
                        "status": run.status,
                        "started_at": run.started_at,
                        "finished_at": run.finished_at,
                        "alerts": run_alerts(run.details),
                    }
                    for run in runs
                ],
            }
        )
        return
    if not counts:
        click.echo("No records yet.")
    for process, states in sorted(counts.items()):
        click.echo(f"{process}: {sum(states.values())} records")
        for state, count in sorted(states.items()):
            click.echo(f"  {state:<12} {count:>7}")
        if held.get(process):
            click.echo(f"  {held[process]} batch(es) held by the gate: rpaml quarantine list")
        for kind, count in sorted(labels.get(process, {}).items()):
            click.echo(f"  {count} decision(s) judged by {kind} labels")
        queue = queues.get(process)
        if queue is not None and (queue.open or queue.decided_today or "review" in states):
            click.echo(
                f"  review queue: {queue.open} open, {queue.leased} leased, "
                f"{queue.past_sla} past SLA, {queue.decided_today} decided today"
            )
        _echo_messages(messages.get(process, {}), dead.get(process, []))
    if runs:
        click.echo("Latest runs:")
        for run in runs:
            what = run.robot or run.kind
            click.echo(
                f"  {run.started_at:%Y-%m-%d %H:%M:%S}  {run.process:<16} {what:<18} "
                f"{run.status:<10} {run.run_id}"
            )
            for alert in run_alerts(run.details):
                click.echo(f"      {alert['level']}: {alert['message']}")
    _echo_orchestration(orchestration)


def _echo_messages(messages: Mapping[str, Mapping[str, int]], dead: list[DeadLetter]) -> None:
    """Stream, bucket and incremental SQL sources: messages per status, the dead ones."""
    for source, statuses in sorted(messages.items()):
        line = ", ".join(f"{count} {status}" for status, count in sorted(statuses.items()))
        click.echo(f"  source {source}: {line}")
    if dead:
        click.echo("  Dead-lettered (latest first):")
    for letter in dead:
        click.echo(
            f"    {letter.at:%Y-%m-%d %H:%M:%S}  {letter.source} {letter.message_id} "
            f"after {letter.attempts} attempts: {letter.reason}"
        )


def _orchestration(settings: RpamlSettings) -> dict[str, Any]:
    """Workflows and queues of the process's workers (see ``rpaml worker``)."""
    process = load_process(settings.process_file)
    return orchestration_summary(engine_settings(settings, process))


def _echo_orchestration(orchestration: Mapping[str, Any]) -> None:
    workflows = orchestration["workflows"]
    if workflows:
        click.echo("Latest workflows:")
    for flow in workflows:
        when = f"{flow['created_at']:%Y-%m-%d %H:%M:%S}" if flow["created_at"] else "?"
        click.echo(
            f"  {when}  {flow['job']:<18} {flow['state']:<10} on {flow['executor_id'] or '-':<14}"
            f" {flow['workflow_id']}"
        )
        if flow["state"] == "dead":
            click.echo(f"      reason: {flow['error']}")
    for queue in orchestration["queues"]:
        click.echo(
            f"Queue {queue['queue']:<24} {queue['queued']} queued, {queue['running']} running "
            f"(at most {queue['worker_concurrency']} per worker)"
        )


@main.command()
@click.argument("record_id")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.pass_context
@friendly_errors
def lineage(ctx: click.Context, record_id: str, as_json: bool) -> None:
    """Print a record's trail: source, every step, model, decision, action and receipt."""
    with Store.connect(settings_of(ctx).resolved_store_url) as store:
        trail = store.lineage(record_id)
    if as_json:
        echo_json(asdict(trail))
        return
    record = trail.record
    click.echo(
        f"record {record.record_id}: {record.process} {record.natural_key} "
        f"rev {record.revision} [{record.state}]"
    )
    click.echo(f"  source     {record.source} {record.source_location or ''}")
    click.echo(f"  captured   {record.captured_at:%Y-%m-%d %H:%M:%S} raw {record.raw_hash[:16]}")
    if trail.run is not None:
        click.echo(f"  run        {trail.run.run_id} ({trail.run.robot or trail.run.kind})")
    for enrichment in trail.enrichments:
        click.echo(
            f"  enrichment {enrichment.enrichment_id} {enrichment.source} "
            f"at {enrichment.location or '-'} (searched {enrichment.search_term or '-'}) "
            f"{enrichment.captured_at:%Y-%m-%d %H:%M:%S} raw {enrichment.raw_hash[:16]}: "
            f"{', '.join(sorted(enrichment.payload))}"
        )
    for event in trail.events:
        change = f"{event.from_state} -> {event.to_state}" if event.to_state else ""
        version = f"v{event.step_version}" if event.step_version else ""
        config = f"cfg {event.config_hash[:12]}" if event.config_hash else ""
        click.echo(
            f"  {event.at:%Y-%m-%d %H:%M:%S} {event.step:<10} {version:<6} {config:<17} "
            f"run {(event.run_id or '-')[:12]:<12} {change}"
        )
        for line in _event_lines(event.detail):
            click.echo(f"      {line}")
    if record.reason:
        click.echo(f"  reason     {record.reason}")
    if record.label is not None:
        click.echo(f"  label      {record.label} (source {record.label_source})")
    for judged in trail.labels:
        delay = (
            ""
            if judged.delay_seconds is None
            else f", {judged.delay_seconds / 86400:.1f} days after"
        )
        click.echo(
            f"  {judged.kind:<10} label {judged.label} from {judged.source} observed "
            f"{judged.observed_at:%Y-%m-%d %H:%M:%S}{delay} the decision {judged.action} "
            f"(model v{judged.model_version or '-'}, policy {judged.policy_version or '-'}, "
            f"score {'-' if judged.score is None else f'{judged.score:.3f}'}), "
            f"recorded by run {judged.run_id[:12]}"
        )
    if record.decision:
        score = f"{record.score:.3f}" if record.score is not None else "-"
        click.echo(
            f"  decision   {record.decision} (score {score}, model "
            f"{record.model_name} v{record.model_version}, policy {record.policy_version})"
        )
        for reason in record.reasons or []:
            click.echo(f"      {reason}")
    for shadow in trail.shadow:
        click.echo(
            f"  shadow     {shadow.decision} (score {shadow.score:.3f}, challenger "
            f"{shadow.model_name} v{shadow.model_version} beside v{shadow.champion_version}, "
            f"policy {shadow.policy_version}, run {shadow.run_id[:12]}): not acted on"
        )
    if record.receipt:
        click.echo(f"  receipt    {record.receipt}")
    if record.superseded_by:
        click.echo(f"  superseded by {record.superseded_by}")


def _event_lines(detail: Mapping[str, Any]) -> list[str]:
    """The parts of an event's detail a person needs: issues, enrichment, receipts..."""
    lines: list[str] = []
    for issue in detail.get("issues") or []:
        if isinstance(issue, Mapping):
            lines.append(f"issue: {issue.get('message')} [rule {issue.get('rule')}]")
    enrichment = detail.get("enrichment")
    if isinstance(enrichment, Mapping):
        lines.append(
            f"merged enrichment {enrichment.get('enrichment_id')} "
            f"({', '.join(enrichment.get('fields') or [])})"
        )
    for key in (
        "reason",
        "error",
        "receipt",
        "outcome",
        "policy_version",
        "model_version",
        "decision",
        "label",
        "label_source",
        "target",
        "location",
        "superseded_by",
    ):
        if detail.get(key) not in (None, ""):
            lines.append(f"{key}: {detail[key]}")
    return lines
