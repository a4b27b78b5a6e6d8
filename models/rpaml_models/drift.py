"""Reference distributions and their shift: binned at training, compared at scoring.

A model's inputs and scores are summarised once, when the model is trained, as counts
over fixed bins: quantile edges of the training values for a number (the outer bins are
open-ended, so any later value has a bin), the training categories for a category (later
unseen values go to an ``other`` bucket), and missing values counted apart. Later
batches are counted into the same bins, so comparing a million rows with the reference
is one ``searchsorted`` or one dictionary lookup per value and a sum over a few bins:
no training data is kept or re-read.

Shift is measured by the population stability index (PSI, the sum over bins of
``(p - q) * ln(p / q)``, proportions floored at :data:`PSI_FLOOR` so an empty bin does
not make it infinite) and, for ordered bins, by the Kolmogorov-Smirnov statistic of the
binned distributions (the largest gap between their cumulative proportions) with its
asymptotic p-value.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field
from scipy import stats

from rpaml_models.schema import FeatureSchema

PSI_FLOOR = 1e-4
"""Smallest proportion used in the PSI: a bin empty on one side counts as this share."""
OTHER = "__other__"
"""The bucket of categories not seen at training."""
DEFAULT_BINS = 10
DEFAULT_MAX_CATEGORIES = 30

FloatArray = npt.NDArray[np.float64]


class BinnedReference(BaseModel):
    """One variable's distribution at training, as counts over fixed bins.

    Attributes
    ----------
    kind : {"numeric", "categorical"}
        Numeric bins are ordered intervals; categorical ones are unordered values.
    edges : list of float
        Numeric only: the inner bin edges (sorted, distinct). Bin ``i`` holds values
        ``edges[i-1] < x <= edges[i]``; the first and last bins are open-ended.
    categories : list of str
        Categorical only: the categories kept from training; ``counts`` has one more
        entry at the end, the ``other`` bucket.
    counts : list of int
        Rows per bin (missing values excluded).
    missing : int
        Rows without a value.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["numeric", "categorical"]
    edges: list[float] = Field(default_factory=list)
    categories: list[str] = Field(default_factory=list)
    counts: list[int]
    missing: int = 0

    @property
    def total(self) -> int:
        """Rows summarised, missing included."""
        return int(sum(self.counts)) + self.missing

    def labels(self) -> list[str]:
        """A readable name per bin (for reports), then ``missing``."""
        if self.kind == "categorical":
            names = [*self.categories, "other"]
        else:
            bounds = ["-inf", *(f"{edge:.4g}" for edge in self.edges), "inf"]
            names = [f"({low}, {high}]" for low, high in itertools.pairwise(bounds)]
        return [*names, "missing"]


class DriftReference(BaseModel):
    """The reference stored with a model version: every input and the score."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    features: dict[str, BinnedReference]
    score: BinnedReference
    rows: int


@dataclass(frozen=True)
class Shift:
    """How far one variable's current distribution is from its reference."""

    psi: float
    rows: int
    """Current rows compared (missing included)."""
    ks: float | None = None
    """KS statistic of the binned distributions (ordered bins only)."""
    ks_pvalue: float | None = None
    current: tuple[int, ...] = ()
    """Current counts per bin, then missing, for reports."""


def bin_numeric(values: Any, n_bins: int = DEFAULT_BINS) -> BinnedReference:
    """Quantile bins of ``values`` (missing values counted apart)."""
    array = _as_float(values)
    present = array[~np.isnan(array)]
    edges: list[float] = []
    if len(present):
        quantiles = np.quantile(present, np.linspace(0, 1, n_bins + 1)[1:-1])
        # Ties (a feature that is mostly one value) collapse edges: keep them distinct.
        edges = [float(edge) for edge in np.unique(quantiles)]
    counts = _numeric_counts(edges, array)
    return BinnedReference(kind="numeric", edges=edges, counts=counts[:-1], missing=counts[-1])


def bin_categorical(values: Any, max_categories: int = DEFAULT_MAX_CATEGORIES) -> BinnedReference:
    """Counts of the most frequent ``max_categories`` values, the rest as ``other``."""
    series = _as_text(values)
    frequencies = series.dropna().value_counts()
    kept = [str(name) for name in frequencies.index[:max_categories]]
    reference = BinnedReference(kind="categorical", categories=kept, counts=[0] * (len(kept) + 1))
    counts = count_into(reference, values)
    return reference.model_copy(update={"counts": counts[:-1], "missing": counts[-1]})


def build_reference(
    frame: pd.DataFrame,
    schema: FeatureSchema,
    scores: Sequence[float] | FloatArray,
    *,
    n_bins: int = DEFAULT_BINS,
) -> DriftReference:
    """The reference of a model trained on ``frame`` whose scores were ``scores``.

    Numeric features are binned by quantiles; categorical and boolean features by value.
    ``scores`` should be out-of-sample (out-of-fold) scores, as live scores are.
    """
    features = {
        spec.name: (
            bin_numeric(frame[spec.name], n_bins)
            if spec.kind == "numeric"
            else bin_categorical(frame[spec.name])
        )
        for spec in schema.features
    }
    return DriftReference(features=features, score=bin_numeric(scores, n_bins), rows=len(frame))


def bin_index(reference: BinnedReference, values: Any) -> npt.NDArray[np.int64]:
    """The bin of each of ``values`` in the reference's bins; missing values get the index
    one past the last bin (where :func:`count_into` counts them)."""
    if reference.kind == "numeric":
        array = _as_float(values)
        missing = np.isnan(array)
        # side="left": a value equal to an edge falls in the bin that edge closes.
        edges = np.asarray(reference.edges, dtype=np.float64)
        bins = np.searchsorted(edges, np.where(missing, 0.0, array), side="left")
        found: npt.NDArray[np.int64] = np.where(missing, len(edges) + 1, bins).astype(np.int64)
        return found
    series = _as_text(values)
    position = {name: index for index, name in enumerate(reference.categories)}
    other = len(reference.categories)
    codes = series.map(position).fillna(other).to_numpy(dtype=np.int64)
    indexed: npt.NDArray[np.int64] = np.where(series.isna().to_numpy(), other + 1, codes)
    return indexed


def count_into(reference: BinnedReference, values: Any) -> list[int]:
    """Counts of ``values`` in the reference's bins, the missing count last."""
    if reference.kind == "numeric":
        return _numeric_counts(reference.edges, _as_float(values))
    bins = len(reference.categories) + 2
    return [*map(int, np.bincount(bin_index(reference, values), minlength=bins))]


def psi(reference: Sequence[int], current: Sequence[int]) -> float:
    """Population stability index of two count vectors over the same bins."""
    expected = _proportions(reference)
    actual = _proportions(current)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def ks_binned(reference: Sequence[int], current: Sequence[int]) -> tuple[float, float]:
    """KS statistic of two binned distributions over ordered bins, and its p-value.

    Binning can only hide differences inside a bin, so the statistic is a lower bound
    of the exact one; the p-value is the asymptotic Kolmogorov distribution's.
    """
    ref = np.asarray(reference, dtype=np.float64)
    cur = np.asarray(current, dtype=np.float64)
    n, m = ref.sum(), cur.sum()
    if n == 0 or m == 0:
        return 0.0, 1.0
    statistic = float(np.max(np.abs(np.cumsum(ref) / n - np.cumsum(cur) / m)))
    effective = n * m / (n + m)
    pvalue = float(stats.kstwobign.sf(statistic * np.sqrt(effective)))
    return statistic, min(1.0, pvalue)


def shift(reference: BinnedReference, values: Any) -> Shift:
    """Compare ``values`` with ``reference``: PSI over bins and missing, KS if ordered."""
    return shift_from_counts(reference, count_into(reference, values))


def shift_from_counts(reference: BinnedReference, current: Sequence[int]) -> Shift:
    """:func:`shift` for counts already taken with :func:`count_into` (summed over parts)."""
    before = [*reference.counts, reference.missing]
    ks = ks_binned(reference.counts, current[:-1]) if reference.kind == "numeric" else None
    return Shift(
        psi=psi(before, current),
        rows=int(sum(current)),
        ks=None if ks is None else ks[0],
        ks_pvalue=None if ks is None else ks[1],
        current=tuple(int(c) for c in current),
    )


def feature_shifts(reference: DriftReference, columns: Mapping[str, Any]) -> dict[str, Shift]:
    """:func:`shift` of every referenced feature present in ``columns``."""
    return {
        name: shift(binned, columns[name])
        for name, binned in reference.features.items()
        if name in columns
    }


def _numeric_counts(edges: Sequence[float], array: FloatArray) -> list[int]:
    missing = np.isnan(array)
    present = array[~missing]
    # side="left": a value equal to an edge falls in the bin that edge closes.
    bins = np.searchsorted(np.asarray(edges, dtype=np.float64), present, side="left")
    counts = np.bincount(bins, minlength=len(edges) + 1)
    return [*map(int, counts), int(missing.sum())]


def _proportions(counts: Sequence[int]) -> FloatArray:
    array = np.asarray(counts, dtype=np.float64)
    total = array.sum()
    share = array / total if total > 0 else np.full(len(array), 1.0 / max(len(array), 1))
    floored: FloatArray = np.maximum(share, PSI_FLOOR)
    return floored


def _as_float(values: Any) -> FloatArray:
    if isinstance(values, np.ndarray) and values.dtype.kind == "f":
        return values.astype(np.float64, copy=False)
    series = pd.to_numeric(pd.Series(values, copy=False), errors="coerce")
    return series.to_numpy(dtype=np.float64, na_value=np.nan)


def _as_text(values: Any) -> pd.Series[Any]:
    series = pd.Series(values, copy=False, dtype=object)
    # Booleans are compared as categories: True and "true" are the same value.
    return series.map(lambda v: v if v is None or isinstance(v, str) else _text(v))


def _text(value: Any) -> str | None:
    if value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, int | float | np.integer | np.floating):
        if np.isnan(value):
            return None
        # A boolean feature is 0.0/1.0 in a coerced training frame and true/false in
        # the JSON of a live request: both are the same two categories.
        if value in (0, 1):
            return "true" if value == 1 else "false"
    return str(value)
