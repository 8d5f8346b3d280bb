"""What the transformers learn from the training data and keep in the model file.

Every fact a transformer stores about the data is computed here and nowhere else:
category levels and their shares (the rare levels beyond a limit pooled, with their
weights), quantile tables, value ranges and decimals, mixture modes, the lookup tables
of derived columns, the time unit of dates, where running numbers go on, and the look
of personal columns. The latent prior and the calibration, fitted after training, keep
their counts and extremes through the same functions (:func:`counts`, :func:`bounded`).

How each fact is kept is decided here too, by one :class:`Policy`, so the transformers
never change with it:

- ``"exact"``: as the data shows it;
- ``"protected"`` (the default of a fit): nothing that fewer than ``k`` training rows
  share is kept. A level seen in fewer than ``k`` rows is withheld (its rows are
  generated as a common level); stored counts are rounded to multiples of ``k``;
  ranges, clipping bounds and quantile tables end at the ``k``-th smallest and
  ``k``-th largest value, and quantile tables are coarser than the data.

A differentially private fit does not read the data here at all: its noisy counts,
ranges and quantiles are released before (:mod:`synthvae.dp_statistics`), and the
transformers are fitted on a stand-in table made from them (:mod:`synthvae.public_frame`). The policy in force is set around a whole fit with
:func:`applied`; fitting outside it keeps every fact exactly.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import warnings

import numpy as np
import pandas as pd

from synthvae.rules.types import RARE_ROWS
from synthvae.transformers.base import MISSING_KEY, level_key, plain

# Fitting is on a bounded subsample so preprocessing never dominates training.
FIT_SUBSAMPLE = 20_000
# Quantiles kept per numeric column. The inverse is linear between neighbouring
# quantiles, so the top 1/QUANTILES of the values is spread evenly up to the
# maximum: with 1,000, a column with a few extreme values got dozens.
QUANTILES = 10_000
# Mixture components below this weight are dropped as noise.
_MIN_MODE_WEIGHT = 0.005

EXACT = "exact"
PROTECTED = "protected"
MODES = (EXACT, PROTECTED)
# RARE_ROWS: the fewest training rows a kept fact may rest on under value protection,
# the same k below which a combination of values is rare and never generated.


@dataclasses.dataclass(frozen=True)
class Policy:
    """How learned facts are kept: ``mode`` one of ``MODES``; ``k`` the fewest rows a
    level, an extreme or a count may rest on when protected."""

    mode: str = EXACT
    k: int = RARE_ROWS

    @property
    def protected(self):
        return self.mode == PROTECTED

    @property
    def min_rows(self):
        """The fewest rows a kept level or group rests on (1 when exact)."""
        return self.k if self.protected else 1


_ACTIVE = contextvars.ContextVar("synthvae_learning_policy", default=Policy())


@contextlib.contextmanager
def applied(policy):
    """Keep every fact learned inside this block by ``policy``."""
    token = _ACTIVE.set(policy)
    try:
        yield policy
    finally:
        _ACTIVE.reset(token)


def active():
    """The :class:`Policy` in force."""
    return _ACTIVE.get()


def bounds(values):
    """(low, high) that kept numbers may span: the smallest and largest of ``values``
    when exact, the ``k``-th smallest and ``k``-th largest when protected."""
    values = np.asarray(values, dtype=np.float64)
    k = min(active().min_rows, len(values))
    if k <= 1:
        return float(values.min()), float(values.max())
    low = float(np.partition(values, k - 1)[k - 1])
    high = float(-np.partition(-values, k - 1)[k - 1])
    return min(low, high), max(low, high)


def bounds_by_column(values):
    """(lows, highs): :func:`bounds` of each column of the 2-d array ``values``."""
    limits = np.array([bounds(column) for column in np.asarray(values, dtype=np.float64).T]).reshape(-1, 2)
    return limits[:, 0], limits[:, 1]


def bounded(values):
    """``values`` clipped to :func:`bounds`, column by column for a 2-d array."""
    values = np.asarray(values, dtype=np.float64)
    if not active().protected or not len(values):
        return values
    if values.ndim == 1:
        return np.clip(values, *bounds(values))
    return np.clip(values, *bounds_by_column(values))


def counts(values):
    """Row counts as kept: rounded to the nearest multiple of ``k`` (at least ``k``)
    when protected, so no one row can be told apart by a count."""
    values = np.asarray(values, dtype=np.float64)
    if not active().protected:
        return values
    k = active().k
    return np.where(values > 0, np.maximum(np.round(values / k), 1) * k, 0.0)


def _subsample(values, rng, size=FIT_SUBSAMPLE):
    if len(values) <= size:
        return values
    return values[rng.choice(len(values), size, replace=False)]


def levels(series, max_levels):
    """The ``max_levels`` most frequent values of ``series`` (missing is one value),
    the rest pooled, and the pooled values' shares of the pool. Under protection a
    value seen in fewer than ``k`` rows is neither (missing always counts as a level).

    Returns
    -------
    levels, pooled : list
        Plain values, most frequent first; None stands for missing.
    pooled_weights : list of float
    withheld : bool
        Whether values were withheld: their rows must be written as kept levels.
    """
    # One missing marker: pandas 2 counts None and NaN as two values (a table read
    # from CSV and Parquet parts has both), which would make two missing levels.
    series = series.astype(object).where(series.notna(), np.nan)
    value_counts = series.value_counts(dropna=False, sort=True)
    enough = (value_counts.to_numpy() >= active().min_rows) | value_counts.index.isna()
    withheld = not enough.all()
    value_counts = value_counts[enough]
    keep = value_counts.iloc[:max_levels]
    rest = value_counts.iloc[max_levels:]
    rest_counts = counts(rest.to_numpy())
    weights = (rest_counts / rest_counts.sum()).tolist() if len(rest) else []
    return [plain(v) for v in keep.index], [plain(v) for v in rest.index], weights, withheld


def replacements(series, children=None):
    """Under protection, the kept value each withheld value's rows are written as.

    A value of the category column ``series`` seen in fewer than ``k`` rows is
    withheld (see :func:`levels`); its rows are learned, and generated, as a kept value
    instead of a marker, so the column keeps its format and the rules hold:

    - ``children``: the columns looked up from ``series`` (a zone's borough). A
      withheld value is replaced by a kept value with the same children, so a rare
      zone becomes a common zone of its own borough and the borough's share is kept.
    - Numbers: the nearest kept number, as extremes are clipped (8 siblings -> 4).
    - Otherwise, withheld values are spread over the kept values (of their group) in
      proportion to the kept values' rows, most rows first, so no one value swells.

    Returns
    -------
    dict
        Level key of a withheld value -> ``(kept value, {child: its value})``, the
        children's values being those of the kept value's rows. Empty when nothing is
        withheld, or when exact.
    """
    k = active().min_rows
    if k <= 1:
        return {}
    keys = series.map(level_key)
    counts_by_key = keys.value_counts(sort=True)
    kept = [v for v, c in counts_by_key.items() if c >= k and v != MISSING_KEY]
    withheld = [v for v, c in counts_by_key.items() if c < k and v != MISSING_KEY]
    if not withheld or not kept:
        return {}
    children = pd.DataFrame(index=series.index) if children is None else children
    first_rows = ~keys.duplicated().to_numpy()
    first_children = ([tuple(map(plain, row)) for row in children[first_rows].itertuples(index=False)]
                      if len(children.columns) else [()] * int(first_rows.sum()))
    group = dict(zip(keys[first_rows].tolist(), first_children))
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in kept + withheld)
    load = {v: float(counts_by_key[v]) for v in kept}
    chosen = {}
    for value in withheld:  # most rows first
        same = [v for v in kept if group[v] == group[value]] or kept
        if numbers:
            target = min(same, key=lambda v: (abs(v - value), -counts_by_key[v]))
        else:
            rows = float(counts_by_key[value])
            target = min(same, key=lambda v: (load[v] + rows) / counts_by_key[v])
            load[target] += rows
        chosen[value] = (target, dict(zip(children.columns, group[target])))
    return chosen


def value_range(values):
    """(smallest, largest) of the numbers ``values`` (see :func:`bounds`)."""
    return bounds(values)


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


# A number column lies on a grid coarser than its decimals (metered fares in half
# dollars) when at least this share of its values sit on it.
GRID_SHARE = 0.9


def value_grid(values, step):
    """The coarsest grid, a multiple of ``step`` spelled 1, 2, 2.5 or 5 times a power of
    ten, on which at least ``GRID_SHARE`` of the numbers ``values`` lie, and the share
    that do: ``(grid, share)``; ``(step, 1.0)`` when no coarser grid holds them."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if not len(values) or step <= 0:
        return float(step), 1.0
    top = np.abs(values).max()
    candidates = [m * 10.0**e for e in range(15, -10, -1) for m in (5, 2.5, 2, 1)]
    # Coarser than ``step`` and a whole number of its steps, so the grid is on its grid.
    candidates = [g for g in candidates if step < g <= top and abs(g / step - round(g / step)) < 1e-9]
    for grid in candidates:
        scaled = values / grid
        share = float(np.mean(np.abs(scaled - np.round(scaled)) <= 1e-6))
        if share >= GRID_SHARE:
            return float(grid), share
    return float(step), 1.0


def quantiles(values, random_state):
    """The quantile table of the numbers ``values``: up to ``QUANTILES`` values, in order.

    Under protection the values are first clipped to :func:`bounds`, and the table has
    at most one quantile per ``k`` values, so it never lists every value of a column."""
    from sklearn.preprocessing import QuantileTransformer  # fitting only: sampling needs no scikit-learn

    rng = np.random.default_rng(random_state)
    values = bounded(values)
    # The extremes join the subsample so every training value lies inside the
    # quantile table, where the mapping is exactly invertible.
    sample = np.concatenate([_subsample(values, rng), [values.min(), values.max()]]).reshape(-1, 1)
    n_quantiles = min(QUANTILES, max(2, len(sample) // active().min_rows))
    ends = 2 if active().protected and n_quantiles > 4 else 0  # the repeated ends, below
    n_quantiles -= ends
    fitted = QuantileTransformer(n_quantiles=n_quantiles, output_distribution="normal", subsample=None).fit(sample)
    table = fitted.quantiles_[:, 0]
    if ends:
        # The k rows at each bound are one mass, as wide as a step of the table: the
        # repeated end puts their scores in its middle, not all at the far tail, where
        # a small table's clipped rows would pile up as outliers of the training data.
        table = np.concatenate([table[:1], table, table[-1:]])
    return table


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
    sample = bounded(_subsample(values, rng, size=5000)).reshape(-1, 1)
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
    order), as [source value, target value] pairs; None stands for missing. Under
    protection, source values seen in fewer than ``k`` rows are left out."""
    pairs = pd.DataFrame({"a": source.map(level_key), "b": target.map(plain)})
    rows = pairs["a"].map(pairs["a"].value_counts())
    pairs = pairs[(rows >= active().min_rows) | (pairs["a"] == MISSING_KEY)]
    first = pairs.drop_duplicates("a")
    return [[plain(a) if a != MISSING_KEY else None, b] for a, b in zip(first["a"], first["b"])]


def time_unit(seconds):
    """The time grid of ``seconds`` (a Series): the largest step that divides every time,
    in seconds (86400 for dates, 900 for a 15-minute grid; 0.001 for times in whole
    milliseconds), a whole number where it is one; found in microseconds, the finest
    step times keep."""
    values = seconds.dropna().to_numpy(dtype=np.float64)
    if not len(values):
        return 1
    step = int(np.gcd.reduce(np.abs(np.round(values * 1e6)).astype(np.int64)))
    if step <= 0:
        return 1
    return step // 10**6 if step % 10**6 == 0 else step / 10**6


def next_number(keys, prefix="", suffix=""):
    """The number after the largest running number in the keys ``keys`` (1 when they
    hold none): for keys stored as numbers of any dtype (``1000.0``), the first whole
    number past the largest."""
    if pd.api.types.is_numeric_dtype(keys.dtype) and not pd.api.types.is_bool_dtype(keys.dtype):
        numbers = pd.to_numeric(keys, errors="coerce").dropna()
        return int(np.floor(numbers.max())) + 1 if len(numbers) else 1
    text = keys.astype(str)
    if not (prefix or suffix or text.str.fullmatch(r"\d+").all()):
        return 1
    digits = text.str.slice(len(prefix))
    if suffix:
        digits = digits.str.slice(0, -len(suffix))
    numbers = pd.to_numeric(digits, errors="coerce")
    return int(numbers.max()) + 1 if numbers.notna().any() else 1


def shares(series, max_values):
    """The ``max_values`` most frequent values of ``series`` (no gaps) that enough rows
    share, and their shares, from counts as :func:`counts` keeps them."""
    value_counts = series.value_counts(sort=True)
    value_counts = value_counts[value_counts.to_numpy() >= active().min_rows].iloc[:max_values]
    kept = counts(value_counts.to_numpy())
    weights = (kept / kept.sum()).tolist() if len(kept) else []
    return [plain(v) for v in value_counts.index], weights


def missing_share(series):
    """The share of gaps in ``series``, from counts as :func:`counts` keeps them."""
    missing, present = counts([int(series.isna().sum()), int(series.notna().sum())])
    return float(missing / (missing + present)) if missing + present else 0.0


def text_shapes(series, max_values=200):
    """What a personal column's values look like, never what they are: their
    character patterns (``Aa9``: an upper-case letter, a lower-case letter, a digit;
    anything else as it is), their word counts and, for e-mail addresses, their
    domains, each with its share; under protection only those that ``k`` rows share."""
    text = series.dropna().astype(str).str.strip()
    patterns = text.str.replace(r"[A-Z]", "A", regex=True).str.replace(r"[a-z]", "a", regex=True)
    patterns = patterns.str.replace(r"\d", "9", regex=True)
    words = text.str.split().str.len()
    domains = text.str.extract(r"@(.+)$")[0].dropna().str.lower()
    shapes = {"missing_share": missing_share(series)}
    for name, values in (("patterns", patterns), ("words", words), ("domains", domains)):
        shapes[name], shapes[name[:-1] + "_weights"] = shares(values, max_values)
    return shapes


def level_shares(series):
    """Each value of ``series`` (missing is one value, None) with its share of the
    rows, most frequent first: what a value redrawn under a rule is drawn from."""
    series = series.astype(object).where(series.notna(), np.nan)
    value_counts = series.value_counts(dropna=False, sort=True)
    # Under protection, only values that enough rows share, from counts as kept.
    value_counts = value_counts[(value_counts.to_numpy() >= active().min_rows) | value_counts.index.isna()]
    kept = counts(value_counts.to_numpy())
    return [plain(v) for v in value_counts.index], (kept / kept.sum()).tolist()


def middle(values):
    """The median of the numbers ``values`` (NaN ignored; 0 when there are none)."""
    values = values[~np.isnan(values)]
    return float(np.median(values)) if len(values) else 0.0


def conditional_shares(target, source, source_values, target_values):
    """For each of ``source_values``, the shares of ``target_values`` among the rows
    where ``source`` holds it (missing: None; a row of zeros where no row does): how
    a value redrawn under a rule is drawn, given the value beside it."""
    def keys(series):
        series = pd.Series(series, dtype=object).reset_index(drop=True)
        return series.where(series.notna(), MISSING_KEY)

    crossed = pd.crosstab(keys(source), keys(target))
    rows = [MISSING_KEY if v is None else v for v in source_values]
    columns = [MISSING_KEY if v is None else v for v in target_values]
    table = counts(crossed.reindex(index=rows, columns=columns, fill_value=0).to_numpy(dtype=np.float64))
    totals = table.sum(axis=1, keepdims=True)
    return np.divide(table, totals, out=np.zeros_like(table), where=totals > 0).tolist()
