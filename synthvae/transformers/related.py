"""Numbers that are, to within a small factor, a product of powers of other numbers.

Some columns are computed from others: a diamond's depth is twice its height over
the sum of its length and width, its weight follows its volume, its width its
length. The decoder draws each column independently given the latent code, with an
error far larger than the few tenths of a percent by which such a column strays from
its formula, so the relation breaks in almost every generated row, and a classifier
that sees the row tells it at once.

:class:`RelatedTransformer` learns such a column as its log-ratio to the formula
(``log value - intercept - sum(coefficient * log parent)``) and rebuilds it from the
parents once they are decoded, so the generated rows keep the relation as tightly as
the training rows do. :func:`find_related_columns` finds the formulas: least squares
in logarithms, kept where the residual's spread is a small part of the column's own.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from synthvae.transformers import learned
from synthvae.transformers.base import ColumnTransformer
from synthvae.transformers.numeric import NumericTransformer

# A column is rebuilt from others when the residual's spread (in logarithms, robust)
# is at most this share of the column's own: the formula explains 99 % of its variance.
MAX_RESIDUAL_SHARE = 0.1
# A formula with one more parent is taken only if it shrinks the residual's spread by
# at least this factor; at most MAX_PARENTS of them.
MIN_PARENT_GAIN = 0.7
MAX_PARENTS = 3
# Parent sets are searched among this many candidates, the most correlated first.
MAX_SEARCHED = 8
# Candidates: numbers with no missing value, never negative, zero in at most this
# share of the rows (their logarithm is floored there), with this many values at least.
MAX_ZERO_SHARE = 0.01
MIN_DISTINCT = 50


def _logs(values, floor):
    return np.log(np.maximum(values, floor))


def find_related_columns(frame, schema, excluded=()):
    """Map each number column that is a product of powers of other number columns (to
    within ``MAX_RESIDUAL_SHARE`` of its spread) to those columns' names.

    Columns in ``excluded`` (built by other means) take no part. A rebuilt column is no
    other's parent, and a parent is never rebuilt, so there is no chain to order."""
    logs = {}
    for spec in schema.columns:
        if spec.kind not in ("continuous", "integer") or spec.name in excluded:
            continue
        values = pd.to_numeric(frame[spec.name], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        if (np.isnan(values).any() or values.min() < 0 or np.mean(values == 0) > MAX_ZERO_SHARE
                or len(np.unique(values)) < MIN_DISTINCT):
            continue
        logs[spec.name] = _logs(values, learned.smallest_positive(values))
    if len(logs) < 2:
        return {}
    rows = learned.subsample_rows(len(frame))
    logs = {name: column[rows] for name, column in logs.items()}
    related, parents_taken = {}, set()
    while True:
        best = None
        for target in logs:
            if target in related or target in parents_taken:
                continue
            candidates = [name for name in logs if name != target and name not in related]
            chosen, share = _best_parents(logs, target, candidates)
            # The tightest formula first, by its relative error (the residual's spread in
            # logarithms): the column computed from others is rebuilt from them before
            # any of them is taken as a column to rebuild.
            error = share * _spread(logs[target])
            if chosen and share <= MAX_RESIDUAL_SHARE and (best is None or error < best[2]):
                best = (target, chosen, error)
        if best is None:
            return related
        related[best[0]] = best[1]
        parents_taken.update(best[1])


def _best_parents(logs, target, candidates):
    """The parents for ``target``: of each size up to ``MAX_PARENTS``, the set with the
    smallest residual spread, among the ``MAX_SEARCHED`` candidates most correlated with
    it; a larger set only where it shrinks the spread by ``MIN_PARENT_GAIN``. Returns
    ``(parents, share)``, share being the residual's spread over the target's (robust)."""
    y = logs[target]
    own = _spread(y)
    if own == 0 or not candidates:
        return [], np.inf
    strength = [abs(np.corrcoef(y, logs[name])[0, 1]) for name in candidates]
    searched = [candidates[i] for i in np.argsort(strength)[::-1][:MAX_SEARCHED]]
    chosen, spread = [], own
    for size in range(1, MAX_PARENTS + 1):
        trials = [(_spread(learned.log_linear(y, [logs[n] for n in names])[2]), list(names))
                  for names in itertools.combinations(searched, size)]
        if not trials:
            break
        trial_spread, names = min(trials)
        if trial_spread > MIN_PARENT_GAIN * spread:
            break
        chosen, spread = names, trial_spread
    return chosen, spread / own


def _spread(values):
    """Interquartile range: a spread that a few broken rows (a size of 0) do not move."""
    low, high = np.percentile(values, [25, 75])
    return float(high - low)


class RelatedTransformer(ColumnTransformer):
    """A number column learned as its log-ratio to a product of powers of other number
    columns (see the module docstring), rebuilt from them after they are decoded.

    Parameters
    ----------
    parents : list of str
        The columns of the formula.
    integer : bool
        The column holds whole numbers.
    """

    condition_type = "range"

    def __init__(self, parents=(), integer=False, encoding="quantile", random_state=0):
        self.parents = list(parents)
        self.integer = integer
        self.encoding = encoding
        self.random_state = random_state

    @property
    def inputs(self):
        return tuple(self.parents)

    @property
    def spans(self):
        return tuple(self.inner_.spans)

    @staticmethod
    def _numbers(series):
        return pd.to_numeric(pd.Series(series), errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)

    def _prediction(self, inputs):
        logs = [_logs(self._numbers(s), floor) for s, floor in zip(inputs, self.floors_[1:])]
        return self.intercept_ + sum(c * x for c, x in zip(self.coefficients_, logs))

    def _residuals(self, series, inputs):
        return _logs(self._numbers(series), self.floors_[0]) - self._prediction(inputs)

    def present(self, series):
        return ~np.isnan(self._numbers(series))

    def fit(self, series, *inputs):
        values = self._numbers(series)
        self.min_, self.max_ = learned.value_range(values)
        self.decimals_ = 0 if self.integer else learned.decimals(values)
        self.floors_ = [learned.smallest_positive(values)] + [learned.smallest_positive(self._numbers(s))
                                                               for s in inputs]
        logs = [_logs(self._numbers(s), floor) for s, floor in zip(inputs, self.floors_[1:])]
        self.intercept_, self.coefficients_, residuals = learned.log_linear(_logs(values, self.floors_[0]), logs)
        self.inner_ = NumericTransformer(self.encoding, random_state=self.random_state).fit(pd.Series(residuals))
        return self

    def transform(self, series, *inputs):
        return self.inner_.transform(pd.Series(self._residuals(series, inputs)))

    def inverse_transform(self, block, rng=None, row_offset=0, decoded=None, codes=None):
        residuals = self.inner_.inverse_transform(block).to_numpy(dtype=np.float64)
        values = np.exp(self._prediction([decoded[name] for name in self.parents]) + residuals)
        return pd.Series(np.round(np.clip(values, self.min_, self.max_), self.decimals_))

    def get_state(self):
        return {"parents": self.parents, "integer": self.integer, "min": self.min_, "max": self.max_,
                "decimals": self.decimals_, "floors": self.floors_, "intercept": self.intercept_,
                "coefficients": self.coefficients_, "inner": self.inner_.get_state()}

    @classmethod
    def from_state(cls, state):
        self = cls(state["parents"], state["integer"])
        self.min_, self.max_, self.decimals_ = state["min"], state["max"], state["decimals"]
        self.floors_, self.intercept_ = list(state["floors"]), state["intercept"]
        self.coefficients_ = list(state["coefficients"])
        self.inner_ = NumericTransformer.from_state(state["inner"])
        return self

    # A range condition on a rebuilt column is met by the sampler's final check.
    def value_range(self):
        return self.min_, self.max_

    def indicator_span(self):
        return None

    def monotone_span(self):
        return None
