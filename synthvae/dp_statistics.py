"""Differentially private statistics of the private table, released before training,
so that a schema for a fit with ``epsilon`` may declare columns and kinds only.

Every release is a Gaussian mechanism on a histogram: each row falls in exactly one
bin, so adding or removing a row changes one count by one (L2 sensitivity 1), and all
histograms share one noise multiplier σ, set by :mod:`synthvae.accounting` from the
share of ε that preprocessing gets. What each column needs:

- categorical columns without declared ``levels``: the counts of the values seen, with
  noise; a value is kept when its noisy count passes a threshold set so that a value
  held by one row is kept with probability at most δ₀ (the threshold's δ, added to the
  accountant's). Its bins depend on the data, hence the threshold;
- continuous and integer columns: a noisy histogram of ``QUANTILE_BINS`` bins, equal
  in asinh(value) (fine near zero, relative far from it), over the declared
  ``min``..``max`` or, when these are not declared, over a range found first from a
  noisy histogram of signed powers of two (a fixed set of bins, no threshold needed).
  Bins with a noisy count under ``KEEP_SIGMAS`` σ are dropped; the others give the
  column's quantiles and, when not declared, its ``min`` and ``max``;
- nullable columns: the count of empty cells, one more bin of the column's histogram
  (so it costs nothing more), gives the missing rate.

Whatever the schema declares is used as is and costs nothing: a categorical column
with declared levels releases only its missing count (when nullable). Dates still need
a declared ``min`` and ``max``; personal columns are refused (their generator learns
text patterns from the rows).

Rows outside what is released are brought inside it before training (a function of
each row and the released facts, which the guarantee allows): numbers are clipped to
the released range, values of a level that was not released become the most frequent
released level.
"""

from __future__ import annotations

import dataclasses
import math
from statistics import NormalDist

import numpy as np
import pandas as pd

from synthvae.errors import UsageError

# Share of ε that preprocessing gets when the schema leaves anything to release.
PREPROCESSING_SHARE = 0.1
# Share of δ spent by the thresholds on level counts (the chance that a value one row
# holds is released, over all columns).
THRESHOLD_DELTA_SHARE = 0.1
# Bins of the histogram a numeric column's quantiles come from.
QUANTILE_BINS = 64
# A quantile bin is kept when its noisy count is at least this many σ (an empty bin
# passes with probability 3e-5), a power of two of the range search at RANGE_SIGMAS
# (3e-7: there are 143 of them).
KEEP_SIGMAS = 4.0
RANGE_SIGMAS = 5.0
# Range of the signed powers of two that find a numeric column's range: [2^k, 2^(k+1))
# for k in this range, their negatives, and one bin for |x| < 2^LOW.
POWERS = (-8, 63)
# Probabilities at which a numeric column's quantiles are released.
QUANTILE_POINTS = 101


@dataclasses.dataclass(frozen=True)
class Query:
    """One histogram released with noise: ``column`` and what it gives."""

    column: str
    what: str  # "levels", "range", "quantiles" or "missing"


def planned_queries(schema):
    """The histograms a private fit releases for ``schema``, decided from the schema
    alone (so their number, and the noise, never depend on the data)."""
    queries = []
    for spec in schema.columns:
        if spec.kind in ("continuous", "integer"):
            if spec.min is None or spec.max is None:
                queries.append(Query(spec.name, "range"))
            queries.append(Query(spec.name, "quantiles"))
        elif spec.kind == "categorical" and not spec.levels:
            queries.append(Query(spec.name, "levels"))
        elif spec.kind in ("categorical", "boolean") and spec.nullable:
            queries.append(Query(spec.name, "missing"))
    return queries


def check_releasable(schema):
    """Raise UsageError for columns a private fit can neither take from the schema nor
    release: dates without declared ``min`` and ``max``, personal columns."""
    problems = []
    for spec in schema.columns:
        if spec.kind == "datetime" and (spec.min is None or spec.max is None):
            problems.append(f"{spec.name!r} (datetime) needs min and max")
        elif spec.kind == "personal":
            problems.append(f"{spec.name!r} (personal) cannot be learned privately: drop it, or declare it "
                            "categorical")
    if problems:
        raise UsageError("with epsilon these columns need more from the schema: " + "; ".join(problems))


def level_threshold(noise_multiplier, delta):
    """The noisy count a value must reach to be released: a value that one row holds
    (count 1) passes it with probability ``delta``."""
    return 1.0 - noise_multiplier * NormalDist().inv_cdf(delta)


def noisy_counts(counts, noise_multiplier, rng):
    """``counts`` plus independent N(0, σ²) noise: the Gaussian mechanism on a histogram."""
    counts = np.asarray(counts, dtype=np.float64)
    return counts + rng.normal(0.0, noise_multiplier, size=counts.shape)


def noisy_levels(series, noise_multiplier, threshold, rng):
    """The values of ``series`` whose noisy count passes ``threshold`` (most frequent
    first) with their noisy counts, and the noisy count of empty cells."""
    present = series.dropna()
    seen = present.value_counts(sort=False)
    noisy = noisy_counts(seen.to_numpy(), noise_multiplier, rng)
    missing = float(noisy_counts([series.isna().sum()], noise_multiplier, rng)[0])
    keep = noisy >= threshold
    order = np.argsort(-noisy[keep], kind="stable")
    values = [_plain(v) for v in seen.index[keep]]
    return [values[i] for i in order], noisy[keep][order], missing


def noisy_range(values, noise_multiplier, rng):
    """A range holding the bulk of ``values`` (NaN ignored): the outer edges of the
    signed powers of two whose noisy count is at least ``RANGE_SIGMAS`` σ (the busiest
    one when none is). Values under 2^LOW in size count as 0."""
    edges = 2.0 ** np.arange(POWERS[0], POWERS[1] + 1)
    # Magnitude k >= 1: edges[k-1] <= |x| < tops[k-1]; the last one is open above.
    tops = np.append(edges[1:], 2.0 * edges[-1])
    bins = len(edges)
    values = values[~np.isnan(values)]
    magnitude = np.searchsorted(edges, np.abs(values), side="right")  # 0: near zero
    index = np.where(values < 0, bins - magnitude, bins + magnitude)  # bins: near zero
    noisy = noisy_counts(np.bincount(index, minlength=2 * bins + 1), noise_multiplier, rng)
    kept = np.flatnonzero(noisy >= RANGE_SIGMAS * noise_multiplier)
    if not len(kept):
        kept = np.array([int(np.argmax(noisy))])
    low, high = int(kept.min()) - bins, int(kept.max()) - bins  # signed magnitudes
    lower = 0.0 if low == 0 else (edges[low - 1] if low > 0 else -tops[-low - 1])
    upper = 0.0 if high == 0 else (tops[high - 1] if high > 0 else -edges[-high - 1])
    return float(lower), float(upper)


def noisy_quantiles(values, low, high, noise_multiplier, rng, points=QUANTILE_POINTS):
    """Quantiles of ``values`` (NaN ignored, the rest clipped to ``low``..``high``) at
    ``points`` evenly spaced probabilities from a noisy histogram of ``QUANTILE_BINS``
    bins equal in asinh, bins under ``KEEP_SIGMAS`` σ dropped; and the noisy count of
    NaN. The quantiles are non-decreasing and lie within ``low``..``high``."""
    edges = np.linspace(np.arcsinh(low), np.arcsinh(high), QUANTILE_BINS + 1)
    present = np.arcsinh(np.clip(values[~np.isnan(values)], low, high))
    counts = np.histogram(present, bins=edges)[0]
    noisy = noisy_counts(np.append(counts, np.isnan(values).sum()), noise_multiplier, rng)
    missing, noisy = float(noisy[-1]), noisy[:-1]
    mass = np.where(noisy >= KEEP_SIGMAS * noise_multiplier, noisy, 0.0)
    if mass.sum() <= 0:
        mass = np.ones_like(mass)  # nothing stands out of the noise: spread evenly
    # The distribution's edges are those of the first and last bins kept.
    cdf = np.concatenate([[0.0], np.cumsum(mass) / mass.sum()])
    first, last = np.flatnonzero(mass)[[0, -1]]
    cdf[: first + 1], cdf[last + 1:] = 0.0, 1.0
    probabilities = np.linspace(0.0, 1.0, points)
    # Leftmost edge reaching each probability, linear within bins.
    table = np.interp(probabilities, cdf[first:last + 2], edges[first:last + 2])
    table = np.clip(np.sinh(table), low, high)
    return np.maximum.accumulate(table), missing


@dataclasses.dataclass(frozen=True)
class Release:
    """What a private fit released: the schema with levels and ranges filled in,
    quantiles of numeric columns (at ``QUANTILE_POINTS`` even probabilities) and the
    missing rates of nullable ones, and how (``queries``, ``noise_multiplier`` and the
    thresholds' ``threshold_delta``)."""

    schema: object
    quantiles: dict
    missing_rates: dict
    most_frequent: dict
    queries: tuple
    noise_multiplier: float
    threshold_delta: float

    def conform(self, frame):
        """``frame`` with each value brought inside the released facts: numbers clipped to
        a released range, values of levels not released replaced by the most frequent one."""
        frame = frame.copy()
        # Declared ranges and levels are not bent: data outside them is refused later.
        ranged = {q.column for q in self.queries if q.what == "range"}
        for spec in self.schema.columns:
            if spec.name in ranged:
                frame[spec.name] = frame[spec.name].clip(spec.min, spec.max)
            elif spec.name in self.most_frequent:
                known = {str(v) for v in spec.levels}
                column = frame[spec.name]
                other = column.notna() & ~column.map(lambda v: str(_plain(v)) in known)
                frame[spec.name] = column.where(~other, self.most_frequent[spec.name])
        return frame


def release(schema, frame, noise_multiplier, threshold_delta, rng):
    """Release what ``schema`` leaves undeclared about ``frame`` (see the module
    docstring), with noise multiplier σ on each histogram of :func:`planned_queries`
    and ``threshold_delta`` spread over the level thresholds."""
    queries = planned_queries(schema)
    thresholded = sum(q.what == "levels" for q in queries)
    threshold = level_threshold(noise_multiplier, threshold_delta / thresholded) if thresholded else None
    n_rows = len(frame)
    columns, quantiles, missing_rates, most_frequent = [], {}, {}, {}
    for spec in schema.columns:
        wanted = {q.what for q in queries if q.column == spec.name}
        changes = {}
        missing = None
        if "levels" in wanted:
            levels, _, missing = noisy_levels(frame[spec.name], noise_multiplier, threshold, rng)
            if not levels:
                raise UsageError(f"column {spec.name!r}: no value is frequent enough to be released at this epsilon; "
                                 "declare its levels")
            most_frequent[spec.name] = levels[0]
            changes["levels"] = sorted(levels, key=lambda v: (str(type(v)), v))
        if wanted & {"range", "quantiles"}:
            values = pd.to_numeric(frame[spec.name], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
            if "range" in wanted:
                low, high = noisy_range(values, noise_multiplier, rng)
            else:
                low, high = float(spec.min), float(spec.max)
            table, missing = noisy_quantiles(values, low, high, noise_multiplier, rng)
            if "range" in wanted:
                low, high = float(table[0]), float(table[-1])
                if spec.kind == "integer":
                    low, high = math.floor(low), math.ceil(high)
                if not low < high:
                    high = low + 1
                changes.update(min=low, max=high)
                table = np.clip(table, low, high)
            quantiles[spec.name] = [float(v) for v in table]
        if "missing" in wanted:
            missing = float(noisy_counts([frame[spec.name].isna().sum()], noise_multiplier, rng)[0])
        if missing is not None and spec.nullable:
            missing_rates[spec.name] = float(np.clip(missing / n_rows, 0.0, 1.0))
        columns.append(dataclasses.replace(spec, **changes) if changes else spec)
    released = dataclasses.replace(schema, columns=columns)
    return Release(released, quantiles, missing_rates, most_frequent, tuple(queries), float(noise_multiplier),
                   float(threshold_delta if thresholded else 0.0))


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value
