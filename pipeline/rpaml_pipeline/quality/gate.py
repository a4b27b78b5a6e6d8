"""The batch gate: hold a source's whole batch when it is far from what that source
delivered before, rather than score the half of it that happens to pass.

A screen or export that switched its date format, its unit or its scale produces a batch in
which many records fail the same rule, or whose values are written in a form the source
never used, or whose numbers moved as a whole; each record may still look plausible alone.
The gate compares the batch with the source's *history* (:class:`GateHistory`: counts of
records failing each rule, the forms raw values were written in, a sample of every numeric
field and feature), kept with the source's profile from the batches it let through:

- ``failures``: the share of the batch's records failing a rule (the reason's summary,
  ``incident_date: is not a date ...``) against the history's share, by a one-sided
  binomial test (exact at any batch size, so a robot's run of 30 records is judged too);
- ``format``: the share of a field's raw values written in a form (digits as ``9``,
  letters as ``a``: ``9999-99-99``) that is rare in the history, by the same test;
- ``distribution``: the two-sample Kolmogorov-Smirnov distance between the batch's values
  of a numeric field or feature and the history's sample (dates themselves are left out:
  time moves on; their differences, the features, are compared).

A figure holds the batch when it is both unlikely under the history (``alpha``) and large
(``min_jump`` above the share before, or a distance of ``max_distance``), so a big batch is
not held for a trivial shift nor a small one for noise. A source with less than
``min_history`` records of its own is judged against the ``reference`` source (failures and
distributions; the forms are a screen's own and are not compared across sources).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
from scipy import stats

from rpaml_pipeline.process.definition import GateSpec, ProcessDefinition

SAMPLE = 256
"""Values of each numeric column a history keeps (evenly spaced quantiles)."""
SHAPES = 30
"""Forms of each field a history keeps (the rest are counted together as rare)."""
RARE = 0.01
"""A form written by less than this share of a field's values before is unfamiliar."""
_OTHER = "(other)"
"""Where the rare forms are counted (letters never survive in a form, so no form is this)."""


@dataclass(frozen=True)
class GateFinding:
    """One figure of a batch far from its source's history."""

    field: str
    kind: str
    """``failures``, ``format`` or ``distribution``."""
    now: float
    before: float
    statistic: float
    """The share's p-value (failures, format) or the KS distance (distribution)."""
    message: str
    """Names the field or rule and gives the figure now and before."""

    def as_dict(self) -> dict[str, Any]:
        """JSON form (the batch's ``gate`` and the run's alerts)."""
        return {
            "field": self.field,
            "kind": self.kind,
            "now": self.now,
            "before": self.before,
            "statistic": self.statistic,
            "message": self.message,
        }


@dataclass(frozen=True)
class GateVerdict:
    """The gate's judgement of one batch."""

    held: bool
    against: str | None
    """The source whose history the batch was judged against (None: not judged)."""
    history_records: int
    findings: list[GateFinding]

    @property
    def reason(self) -> str:
        """The quarantine reason of a held batch's records."""
        figures = "; ".join(finding.message for finding in self.findings)
        return f"batch held by the gate (judged against {self.against}): {figures}"

    def as_dict(self) -> dict[str, Any]:
        """JSON form (stored as the batch's ``gate``)."""
        return {
            "verdict": "held" if self.held else "passed",
            "against": self.against,
            "history_records": self.history_records,
            "findings": [finding.as_dict() for finding in self.findings],
        }


def batch_history(
    payload: pl.DataFrame,
    numeric: Mapping[str, np.ndarray],
    summaries: Sequence[Sequence[str]],
) -> dict[str, Any]:
    """The history figures of one batch: ``payload`` the raw values as text (one column per
    field), ``numeric`` the finite values of each numeric field and feature, ``summaries``
    each record's failure summaries."""
    failures: Counter[str] = Counter()
    for found in summaries:
        failures.update(set(found))
    shapes: dict[str, dict[str, int]] = {}
    for name in payload.columns:
        counts = _shapes(payload.get_column(name)).value_counts()
        shapes[name] = {str(row[0]): int(row[1]) for row in counts.iter_rows()}
    samples = {
        name: _quantiles(np.sort(values), SAMPLE).tolist()
        for name, values in numeric.items()
        if len(values)
    }
    return _trimmed(
        {
            "records": len(summaries),
            "failures": dict(failures),
            "shapes": shapes,
            "samples": samples,
            "sampled": {name: len(values) for name, values in numeric.items() if len(values)},
        }
    )


def merge_history(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> dict[str, Any]:
    """One history covering both (counts add up; samples mix in proportion to their
    values)."""
    if not old:
        return dict(new or {})
    if not new:
        return dict(old)
    failures = Counter(old.get("failures", {})) + Counter(new.get("failures", {}))
    shapes: dict[str, dict[str, int]] = {}
    for name in set(old.get("shapes", {})) | set(new.get("shapes", {})):
        shapes[name] = dict(
            Counter(old.get("shapes", {}).get(name, {})) + Counter(new["shapes"].get(name, {}))
            if name in new.get("shapes", {})
            else Counter(old["shapes"][name])
        )
    samples: dict[str, list[float]] = {}
    sampled: dict[str, int] = {}
    for name in set(old.get("samples", {})) | set(new.get("samples", {})):
        parts = [
            (np.asarray(part["samples"][name], dtype=float), int(part["sampled"][name]))
            for part in (old, new)
            if name in part.get("samples", {})
        ]
        samples[name] = _mixed(parts).tolist()
        sampled[name] = sum(count for _, count in parts)
    return _trimmed(
        {
            "records": int(old.get("records", 0)) + int(new.get("records", 0)),
            "failures": dict(failures),
            "shapes": shapes,
            "samples": samples,
            "sampled": sampled,
        }
    )


class BatchGate:
    """The gate of one process for one run: each source's history read once."""

    def __init__(self, process: ProcessDefinition, baseline: Mapping[str, Any]) -> None:
        quality = process.quality
        self.spec: GateSpec | None = quality.gate if quality is not None else None
        self._histories = {
            source: profile["gate"]
            for source, profile in baseline.items()
            if isinstance(profile, Mapping) and profile.get("gate")
        }

    def judge(self, source: str, batch: Mapping[str, Any]) -> GateVerdict:
        """The verdict on a batch of ``source`` (its :func:`batch_history` figures)."""
        spec = self.spec
        assert spec is not None
        own = self._histories.get(source, {})
        history, against, shapes = own, source, True
        if int(own.get("records", 0)) < spec.min_history:
            reference = spec.reference
            found = self._histories.get(reference or "", {})
            if reference is None or reference == source or found.get("records", 0) < 1:
                return GateVerdict(False, None, int(own.get("records", 0)), [])
            history, against, shapes = found, reference, False
            if int(found.get("records", 0)) < spec.min_history:
                return GateVerdict(False, None, int(found.get("records", 0)), [])
        findings = [
            *_failures(batch, history, spec),
            *(_formats(batch, history, spec) if shapes else []),
            *_distributions(batch, history, spec),
        ]
        return GateVerdict(bool(findings), against, int(history["records"]), findings)


def _failures(
    batch: Mapping[str, Any], history: Mapping[str, Any], spec: GateSpec
) -> list[GateFinding]:
    n, total = int(batch["records"]), int(history["records"])
    found = []
    for summary, count in sorted(batch.get("failures", {}).items()):
        before = int(history.get("failures", {}).get(summary, 0))
        p0 = (before + 1) / (total + 2)  # smoothed: a rule never failed before is not 0
        p = _unlikely(int(count), n, p0)
        if count / n - p0 >= spec.min_jump and p <= spec.alpha:
            message = (
                f"{summary}: {_pct(count / n)} of {n:,} records now, "
                f"{_pct(before / total)} of {total:,} before"
            )
            found.append(
                GateFinding(
                    summary.split(":")[0], "failures", count / n, before / total, p, message
                )
            )
    return found


def _formats(
    batch: Mapping[str, Any], history: Mapping[str, Any], spec: GateSpec
) -> list[GateFinding]:
    found = []
    for name, counts in sorted(batch.get("shapes", {}).items()):
        past = history.get("shapes", {}).get(name)
        if not past:
            continue
        seen = sum(past.values())
        familiar = {
            shape for shape, count in past.items() if shape != _OTHER and count / seen >= RARE
        }
        n = sum(counts.values())
        odd = {shape: count for shape, count in counts.items() if shape not in familiar}
        unfamiliar = sum(odd.values())
        before = seen - sum(past[shape] for shape in familiar)
        p0 = (before + 1) / (seen + 2)
        if n == 0 or unfamiliar / n - p0 < spec.min_jump:
            continue
        p = _unlikely(unfamiliar, n, p0)
        if p > spec.alpha:
            continue
        now_form = max(odd, key=lambda shape: odd[shape]) or "rare forms"
        usual = max(familiar, key=lambda shape: past[shape]) if familiar else "none"
        message = (
            f"{name}: {_pct(unfamiliar / n)} of {n:,} values are written like {now_form}, "
            f"a form {_pct(before / seen)} of {seen:,} values had before (usually {usual})"
        )
        found.append(GateFinding(name, "format", unfamiliar / n, before / seen, p, message))
    return found


def _distributions(
    batch: Mapping[str, Any], history: Mapping[str, Any], spec: GateSpec
) -> list[GateFinding]:
    found = []
    for name, values in sorted(batch.get("samples", {}).items()):
        past = history.get("samples", {}).get(name)
        n = int(batch.get("sampled", {}).get(name, 0))
        if not past or n < spec.min_values:
            continue
        now, before = np.asarray(values, dtype=float), np.asarray(past, dtype=float)
        result = stats.ks_2samp(now, before)
        distance, p = float(result.statistic), float(result.pvalue)
        if distance < spec.max_distance or p > spec.alpha:
            continue
        message = (
            f"{name}: values moved far from before (Kolmogorov-Smirnov distance "
            f"{distance:.2f} over {n:,} values; median {_num(np.median(now))} now, "
            f"{_num(np.median(before))} before)"
        )
        found.append(
            GateFinding(
                name, "distribution", float(np.median(now)), float(np.median(before)), p, message
            )
        )
    return found


def _unlikely(count: int, n: int, p0: float) -> float:
    """P(at least ``count`` of ``n`` records | each fails with probability ``p0``)."""
    return float(stats.binom.sf(count - 1, n, p0)) if count > 0 else 1.0


def _shapes(values: pl.Series) -> pl.Series:
    """How each value is written: each digit as ``9``, each run of letters as ``a``, and
    a number of one or two digits as one ``9``: the 9th and the 10th of a month are
    written the same way (``Apr 9, 2026`` and ``Apr 10, 2026``), while a two-digit year
    stays apart from a four-digit one."""
    text = values.drop_nulls().cast(pl.String)
    shaped = text.str.replace_all(r"\p{L}+", "a").str.replace_all(r"\d", "9")
    # A match takes its neighbours with it, so "99/99/9999" needs a second pass.
    for _ in range(2):
        shaped = shaped.str.replace_all(r"(^|[^9])99([^9]|$)", "${1}9${2}")
    return shaped.str.slice(0, 40)


def _quantiles(ordered: np.ndarray, size: int) -> np.ndarray:
    if len(ordered) <= size:
        return ordered
    return np.asarray(np.quantile(ordered, np.linspace(0, 1, size)), dtype=float)


def _mixed(parts: Sequence[tuple[np.ndarray, int]]) -> np.ndarray:
    """Quantiles of the mixture of samples, each standing for ``count`` values."""
    values = np.concatenate([sample for sample, _ in parts])
    weights = np.concatenate([np.full(len(sample), count / len(sample)) for sample, count in parts])
    order = np.argsort(values, kind="stable")
    values, weights = values[order], weights[order]
    cumulative = (np.cumsum(weights) - weights / 2) / weights.sum()
    size = min(SAMPLE, len(values))
    return np.asarray(np.interp(np.linspace(0, 1, size), cumulative, values), dtype=float)


def _trimmed(history: dict[str, Any]) -> dict[str, Any]:
    """Keep the most common forms of each field (the rest counted together as rare)."""
    for name, counts in history["shapes"].items():
        if len(counts) > SHAPES:
            ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
            kept = dict(ordered[:SHAPES])
            kept[_OTHER] = kept.get(_OTHER, 0) + sum(count for _, count in ordered[SHAPES:])
            history["shapes"][name] = kept
    return history


def _pct(share: float) -> str:
    return f"{share:.0%}" if share >= 0.01 or share == 0 else f"{share:.1%}"


def _num(value: float) -> str:
    return f"{value:,.0f}" if math.isfinite(value) and abs(value) >= 100 else f"{value:,.2f}"
