"""What the transformers learn from the training data and keep in the model file.

Every fact a transformer stores about the data is computed here and nowhere else:
category levels and their shares (the rare levels beyond a limit pooled, with their
weights), quantile tables, value ranges and decimals, mixture modes, the lookup tables
of derived columns, the time unit of dates and where running numbers go on.

Today each fact is kept exactly as the data shows it. This module is where a policy
will decide how each is kept instead, without the transformers changing: value
protection (only levels that enough rows share, clipped extremes) or differential
privacy (noisy counts, ranges and quantiles).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from synthvae.transformers.base import MISSING_KEY, level_key, plain

# Fitting is on a bounded subsample so preprocessing never dominates training.
FIT_SUBSAMPLE = 20_000
# Quantiles kept per numeric column. The inverse is linear between neighbouring
# quantiles, so the top 1/QUANTILES of the values is spread evenly up to the
# maximum: with 1,000, a column with a few extreme values got dozens.
QUANTILES = 10_000
# Mixture components below this weight are dropped as noise.
_MIN_MODE_WEIGHT = 0.005


def _subsample(values, rng, size=FIT_SUBSAMPLE):
    if len(values) <= size:
        return values
    return values[rng.choice(len(values), size, replace=False)]


def levels(series, max_levels):
    """The ``max_levels`` most frequent values of ``series`` (missing is one value),
    the rest pooled, and the pooled values' shares of the pool.

    Returns
    -------
    levels, pooled : list
        Plain values, most frequent first; None stands for missing.
    pooled_weights : list of float
    """
    # One missing marker: pandas 2 counts None and NaN as two values (a table read
    # from CSV and Parquet parts has both), which would make two missing levels.
    series = series.astype(object).where(series.notna(), np.nan)
    counts = series.value_counts(dropna=False, sort=True)
    keep = counts.iloc[:max_levels]
    rest = counts.iloc[max_levels:]
    weights = (rest.to_numpy() / rest.sum()).tolist() if len(rest) else []
    return [plain(v) for v in keep.index], [plain(v) for v in rest.index], weights


def value_range(values):
    """(smallest, largest) of the numbers ``values``."""
    return float(values.min()), float(values.max())


def decimals(values, limit=6):
    """The fewest decimals (up to ``limit`` past the smallest value's first digit) that
    write every value exactly: a value rounded to them is the same float (to within its
    last bit), however large it is."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    tolerance = 2 * np.spacing(np.abs(values))
    nonzero = np.abs(values[values != 0])
    if len(nonzero):
        # Small numbers (1.5e-07) keep ``limit`` digits after their first one.
        limit += int(np.clip(-np.floor(np.log10(nonzero.min())), 0, 24))
    for places in range(limit + 1):
        if np.all(np.abs(np.round(values, places) - values) <= tolerance):
            return places
    return limit


def quantiles(values, random_state):
    """The quantile table of the numbers ``values``: up to ``QUANTILES`` values, in order."""
    from sklearn.preprocessing import QuantileTransformer  # fitting only: sampling needs no scikit-learn

    rng = np.random.default_rng(random_state)
    # The extremes join the subsample so every training value lies inside the
    # quantile table, where the mapping is exactly invertible.
    sample = np.concatenate([_subsample(values, rng), [values.min(), values.max()]]).reshape(-1, 1)
    fitted = QuantileTransformer(
        n_quantiles=min(QUANTILES, len(sample)), output_distribution="normal", subsample=None
    ).fit(sample)
    return fitted.quantiles_[:, 0]


def mixture(values, max_modes, random_state):
    """The modes of a Bayesian Gaussian mixture fitted to the numbers ``values``.

    Returns
    -------
    means, stds, weights : numpy.ndarray
        One entry per mode kept; the weights sum to 1.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.mixture import BayesianGaussianMixture

    rng = np.random.default_rng(random_state)
    sample = _subsample(values, rng, size=5000).reshape(-1, 1)
    n_modes = int(min(max_modes, len(np.unique(sample))))
    with warnings.catch_warnings():
        # A mixture that has not fully converged still gives usable modes.
        warnings.simplefilter("ignore", ConvergenceWarning)
        bgm = BayesianGaussianMixture(
            n_components=n_modes,
            weight_concentration_prior_type="dirichlet_process",
            weight_concentration_prior=1e-3,
            max_iter=100,
            random_state=random_state,
        ).fit(sample)
    keep = bgm.weights_ > _MIN_MODE_WEIGHT
    means = bgm.means_[keep, 0]
    stds = np.maximum(np.sqrt(bgm.covariances_[keep].reshape(-1)), 1e-6 * (1 + np.abs(means)))
    return means, stds, bgm.weights_[keep] / bgm.weights_[keep].sum()


def lookup(target, source):
    """The value of ``target`` for each value of ``source`` (the first row's, in row
    order), as [source value, target value] pairs; None stands for missing."""
    pairs = pd.DataFrame({"a": source.map(level_key), "b": target.map(plain)})
    first = pairs.drop_duplicates("a")
    return [[plain(a) if a != MISSING_KEY else None, b] for a, b in zip(first["a"], first["b"])]


def time_unit(seconds):
    """The time grid of ``seconds`` (a Series): the largest step, in whole seconds, that
    divides every time (86400 for dates, 900 for a 15-minute grid, 1 at worst)."""
    values = seconds.dropna().to_numpy(dtype=np.float64)
    if not len(values):
        return 1
    step = int(np.gcd.reduce(np.abs(values).astype(np.int64)))
    return step if step > 0 else 1


def next_number(keys, prefix="", suffix=""):
    """The number after the largest running number in the keys ``keys`` (1 when they hold none)."""
    text = keys.astype(str)
    if not (prefix or suffix or text.str.fullmatch(r"\d+").all()):
        return 1
    digits = text.str.slice(len(prefix))
    if suffix:
        digits = digits.str.slice(0, -len(suffix))
    numbers = pd.to_numeric(digits, errors="coerce")
    return int(numbers.max()) + 1 if numbers.notna().any() else 1
