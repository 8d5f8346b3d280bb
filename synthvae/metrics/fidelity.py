"""Fidelity figures: how alike the columns, and the pairs of columns, of two tables are.

The figures follow the definitions of SDMetrics' Quality Report (Column Shapes and
Column Pair Trends: KSComplement, TVComplement, CorrelationSimilarity,
ContingencySimilarity), reported as errors in percent, so 0 is perfect. They agree
with that report to a fraction of a point but for one deliberate difference: where a
numeric column meets a categorical one, both tables are binned over the real range
(as SDMetrics' own ContingencySimilarity does), not each over its own range as the
report does, which would let a shifted synthetic column look perfect.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

# SDMetrics' ColumnPairTrends bins a numeric column into 10 equal-width bins when it
# meets a categorical one, and counts a pair as "strong" above these real-data levels.
PAIR_BINS = 10
STRONG_CORRELATION = 0.5
STRONG_ASSOCIATION = 0.3


def ks_statistic(a, b):
    """Two-sample Kolmogorov-Smirnov statistic of two samples, NaNs dropped.

    Parameters
    ----------
    a, b : array-like of float

    Returns
    -------
    float
        The largest gap between the two empirical CDFs, or NaN if a sample is empty.
    """
    a = np.sort(np.asarray(a, dtype=np.float64)[~np.isnan(a)])
    b = np.sort(np.asarray(b, dtype=np.float64)[~np.isnan(b)])
    if len(a) == 0 or len(b) == 0:
        return float("nan")
    # Both CDFs only jump at observed values, so the largest gap is at one of them.
    points = np.concatenate([a, b])
    cdf_a = np.searchsorted(a, points, side="right") / len(a)
    cdf_b = np.searchsorted(b, points, side="right") / len(b)
    return float(np.max(np.abs(cdf_a - cdf_b)))


def tv_distance(p, q):
    """Total variation distance of two frequency vectors (normalised here)."""
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    return float(0.5 * np.abs(p / p.sum() - q / q.sum()).sum())


def cramers_v(table):
    """Cramer's V of a contingency table (no bias or continuity correction).

    This is ``scipy.stats.contingency.association(table, method="cramer")``, which
    SDMetrics uses for its association threshold; rows and columns that are all
    zero are dropped first, as they are absent from SDMetrics' observed table.

    Returns
    -------
    float or None
        None when the table has fewer than two non-empty rows or columns.
    """
    table = np.asarray(table, dtype=np.float64)
    table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    if min(table.shape) < 2:
        return None
    n = table.sum()
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / n
    chi2 = float(((table - expected) ** 2 / expected).sum())
    return float(math.sqrt(chi2 / n / (min(table.shape) - 1)))


def error_percent(scores):
    """100 x (1 - the mean of the scores that are not None); None if none is."""
    scores = [s for s in scores if s is not None]
    if not scores:
        return None
    return float(100.0 * (1.0 - np.mean(scores)))


def column_shapes(encoded, columns):
    """``{name: {"metric", "score"}}``: KSComplement or TVComplement of each column."""
    out = {}
    for name in columns:
        col = encoded[name]
        if col.numeric:
            score = _ks_complement(col.values["real"], col.values["synth"])
            metric = "KSComplement"
        else:
            score = _tv_complement(col.values["real"], col.values["synth"], len(col.levels))
            metric = "TVComplement"
        out[str(name)] = {"metric": metric, "score": score}
    return out


def discretize(encoded, columns):
    """Every column as integer codes (numbers binned): ({table: {name: codes}}, {name: size})."""
    discrete = {t: {} for t in ("real", "synth")}
    sizes = {}
    for name in columns:
        col = encoded[name]
        if col.numeric:
            codes, size = _bin_codes(col.values["real"], col.values["synth"])
        else:
            codes, size = {t: col.values[t] for t in ("real", "synth")}, len(col.levels)
        for t in discrete:
            discrete[t][name] = codes[t]
        sizes[name] = size
    return discrete, sizes


def pair_trends(encoded, columns, discretized):
    """One dict per pair of columns (see ``pairs`` in :func:`synthvae.metrics.evaluate`)."""
    discrete, sizes = discretized
    pairs = []
    for i, a in enumerate(columns):
        for b in columns[i + 1 :]:
            ca, cb = encoded[a], encoded[b]
            if ca.numeric and cb.numeric:
                pairs.append(_correlation_pair(a, b, ca, cb))
            else:
                pairs.append(_contingency_pair(a, b, discrete, sizes))
    return pairs


def pair_matrices(columns, pairs, discretized):
    """Square real/synthetic trend and per-pair error matrices (see evaluate_with_details)."""
    discrete, sizes = discretized
    names = [str(c) for c in columns]
    position = {str(c): i for i, c in enumerate(columns)}
    by_name = dict(zip(names, columns))
    out = {k: np.full((len(names), len(names)), np.nan) for k in ("real", "synth", "error")}
    for pair in pairs:
        a, b = pair["columns"]
        if pair["metric"] == "CorrelationSimilarity":
            trend_real, trend_synth = pair["real_correlation"], pair["synthetic_correlation"]
        else:
            joint = _joint_tables(by_name[a], by_name[b], discrete, sizes)
            trend_real, trend_synth = pair["real_association"], cramers_v(joint["synth"])
        error = None if pair["score"] is None else 100.0 * (1.0 - pair["score"])
        for key, value in (("real", trend_real), ("synth", trend_synth), ("error", error)):
            if value is not None:
                out[key][position[a], position[b]] = out[key][position[b], position[a]] = value
    return {k: pd.DataFrame(m, index=names, columns=names) for k, m in out.items()}


def _ks_complement(real, synth):
    n_real = int(np.sum(~np.isnan(real)))
    n_synth = int(np.sum(~np.isnan(synth)))
    if n_real == 0 and n_synth == 0:
        return None
    if n_real == 0 or n_synth == 0:
        return 0.0  # values on one side only: as different as two samples can be
    return 1.0 - ks_statistic(real, synth)


def _tv_complement(real, synth, n_levels):
    p = np.bincount(real, minlength=n_levels)
    q = np.bincount(synth, minlength=n_levels)
    return 1.0 - tv_distance(p, q)


def _bin_codes(real, synth):
    """Cut a numeric column into PAIR_BINS equal-width bins over the real range.

    The outer edges are opened to infinity (as in SDMetrics' ContingencySimilarity),
    so synthetic values outside the real range fall into the end bins; missing
    values get a bin of their own.
    """
    observed = real[~np.isnan(real)]
    if len(observed) == 0:
        edges = np.array([-np.inf, np.inf])
    else:
        edges = np.histogram_bin_edges(observed, bins=PAIR_BINS)
        edges[0], edges[-1] = -np.inf, np.inf
    n_bins = len(edges) - 1
    out = {}
    for table, values in (("real", real), ("synth", synth)):
        codes = np.digitize(values, edges) - 1
        codes[np.isnan(values)] = n_bins
        out[table] = codes.astype(np.int64)
    return out, n_bins + 1


def _correlation_pair(a, b, ca, cb):
    rho_real = _pearson(ca.values["real"], cb.values["real"])
    rho_synth = _pearson(ca.values["synth"], cb.values["synth"])
    score = None
    if rho_real is not None:
        # A synthetic column collapsed to one value carries no linear relation, so it
        # is scored as correlation 0; SDMetrics drops such a pair, which would hide
        # exactly the failure this figure is meant to show.
        score = 1.0 - abs(rho_real - (rho_synth or 0.0)) / 2.0
    return {
        "columns": [str(a), str(b)],
        "metric": "CorrelationSimilarity",
        "score": score,
        "real_correlation": rho_real,
        "synthetic_correlation": rho_synth,
        "real_association": None,
        "strong": rho_real is not None and abs(rho_real) > STRONG_CORRELATION,
    }


def _pearson(x, y):
    """Pearson correlation over rows where both are present; None if undefined."""
    keep = ~(np.isnan(x) | np.isnan(y))
    x, y = x[keep], y[keep]
    if len(x) < 2:
        return None
    x = x - x.mean()
    y = y - y.mean()
    denom = math.sqrt(float(np.dot(x, x)) * float(np.dot(y, y)))
    if denom == 0.0:
        return None  # a constant column has no correlation to speak of
    return float(np.clip(np.dot(x, y) / denom, -1.0, 1.0))


def _joint_tables(a, b, discrete, sizes):
    """{table: the (levels of a) x (levels of b) frequency table}."""
    size_b = sizes[b]
    cells = sizes[a] * size_b
    return {
        t: np.bincount(discrete[t][a] * size_b + discrete[t][b], minlength=cells).reshape(sizes[a], size_b)
        for t in ("real", "synth")
    }


def _contingency_pair(a, b, discrete, sizes):
    joint = _joint_tables(a, b, discrete, sizes)
    association = cramers_v(joint["real"])
    return {
        "columns": [str(a), str(b)],
        "metric": "ContingencySimilarity",
        "score": 1.0 - tv_distance(joint["real"], joint["synth"]),
        "real_correlation": None,
        "synthetic_correlation": None,
        "real_association": association,
        "strong": association is not None and association > STRONG_ASSOCIATION,
    }
