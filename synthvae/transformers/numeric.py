"""Numbers and dates: continuous values, encoded as normal scores or as mixture modes.

A condition on such a column is a range. The columns answer it in numbers (dates as
seconds since the epoch): the range of their training values, and, where the written
value is a monotone function of one matrix column, that function.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from synthvae import datetimes
from synthvae.errors import DataError
from synthvae.transformers import learned
from synthvae.transformers.base import ColumnTransformer

# sklearn's QuantileTransformer clips normal scores to about this bound.
_NORMAL_BOUND = 5.2


class QuantileEncoder:
    """Real numbers <-> normal scores through their empirical quantiles.

    Point masses (capital-gain is 0 for 92 % of Adult) come back exactly: every normal
    score whose quantile falls inside the mass maps back to the one value.
    """

    spans = (("continuous", 1),)
    # The value is a monotone function of its one score.
    monotone = True

    def __init__(self, random_state=0):
        self.random_state = random_state

    def fit(self, values):
        self.quantile_ = _normal_scores(learned.quantiles(values, self.random_state))
        return self

    def transform(self, values):
        return self.quantile_.transform(values.reshape(-1, 1)).astype(np.float32)

    def inverse_transform(self, block):
        scores = np.clip(block[:, :1].astype(np.float64), -_NORMAL_BOUND, _NORMAL_BOUND)
        return self.quantile_.inverse_transform(scores)[:, 0]

    def get_state(self):
        return {"quantiles": self.quantile_.quantiles_[:, 0].tolist()}

    @classmethod
    def from_state(cls, state):
        self = cls()
        self.quantile_ = _normal_scores(np.asarray(state["quantiles"], dtype=np.float64))
        return self


def _normal_scores(quantiles):
    """Normal scores through the quantile table ``quantiles``."""
    return NormalScores(quantiles)


class NormalScores:
    """scikit-learn's ``QuantileTransformer(output_distribution="normal")`` for one column
    with a given quantile table, in NumPy: the same results, and sampling (the inverse)
    imports neither scikit-learn nor SciPy."""

    # sklearn's bound on the uniform values: beyond it a value maps to the table's ends.
    BOUNDS_THRESHOLD = 1e-7

    def __init__(self, quantiles):
        self.quantiles_ = np.asarray(quantiles, dtype=np.float64).reshape(-1, 1)
        self.references_ = np.linspace(0, 1, len(self.quantiles_))

    def transform(self, values):
        from scipy.special import ndtri

        x = np.array(values, dtype=np.float64).reshape(-1)
        q, ref = self.quantiles_[:, 0], self.references_
        finite = ~np.isnan(x)
        # Values beyond the table count as its ends (a protected table ends at the k-th
        # extremes). Both directions, averaged, so that repeated quantiles, a repeated
        # end included, map to their middle.
        x[finite] = np.clip(x[finite], q[0], q[-1])
        x[finite] = 0.5 * (np.interp(x[finite], q, ref) - np.interp(-x[finite], -q[::-1], -ref[::-1]))
        with np.errstate(invalid="ignore", divide="ignore"):
            scores = ndtri(x)
            bound = self.BOUNDS_THRESHOLD - np.spacing(1)
            scores = np.clip(scores, ndtri(bound), ndtri(1 - bound))
        return scores.reshape(-1, 1)

    def inverse_transform(self, scores):
        from synthvae.normal import ndtr

        u = ndtr(np.asarray(scores, dtype=np.float64).reshape(-1))
        q = self.quantiles_[:, 0]
        with np.errstate(invalid="ignore"):
            low, high = u - self.BOUNDS_THRESHOLD < 0, u + self.BOUNDS_THRESHOLD > 1
        finite = ~np.isnan(u)
        u[finite] = _interp_even(u[finite], q)
        u[high], u[low] = q[-1], q[0]
        return u.reshape(-1, 1)


def _interp_even(u, table):
    """``np.interp(u, np.linspace(0, 1, len(table)), table)``: the references are evenly
    spaced, so each value's segment is found by arithmetic instead of a search (several
    times faster on a table of thousands of quantiles; equal to float rounding)."""
    last = len(table) - 1
    if last < 1:
        return np.full_like(u, table[0])
    position = np.clip(u, 0.0, 1.0) * last
    segment = np.minimum(position.astype(np.intp), last - 1)
    low = table[segment]
    return low + (position - segment) * (table[segment + 1] - low)


class ModeEncoder:
    """Mode-specific normalization: a one-hot mode of a Bayesian Gaussian mixture and
    the value's offset within that mode (in units of four standard deviations).

    The mode of a value is its most responsible component, so the encoding is
    deterministic and exactly invertible.
    """

    # The value depends on the mode as well as the offset.
    monotone = False

    def __init__(self, max_modes=10, random_state=0):
        self.max_modes = max_modes
        self.random_state = random_state

    @property
    def spans(self):
        return (("continuous", 1), ("softmax", len(self.means_)))

    def fit(self, values):
        self.means_, self.stds_, self.weights_ = learned.mixture(values, self.max_modes, self.random_state)
        return self

    def _modes(self, values):
        z = (values[:, None] - self.means_[None, :]) / self.stds_[None, :]
        log_density = -0.5 * z**2 - np.log(self.stds_) + np.log(self.weights_)
        return np.argmax(log_density, axis=1)

    def transform(self, values):
        modes = self._modes(values)
        offset = (values - self.means_[modes]) / (4 * self.stds_[modes])
        out = np.zeros((len(values), 1 + len(self.means_)), dtype=np.float32)
        out[:, 0] = offset
        out[np.arange(len(values)), 1 + modes] = 1.0
        return out

    def inverse_transform(self, block):
        modes = np.argmax(block[:, 1:], axis=1)
        offset = block[:, 0].astype(np.float64)
        return offset * 4 * self.stds_[modes] + self.means_[modes]

    def get_state(self):
        return {"means": self.means_.tolist(), "stds": self.stds_.tolist(), "weights": self.weights_.tolist()}

    @classmethod
    def from_state(cls, state):
        self = cls()
        self.means_ = np.asarray(state["means"], dtype=np.float64)
        self.stds_ = np.asarray(state["stds"], dtype=np.float64)
        self.weights_ = np.asarray(state["weights"], dtype=np.float64)
        return self


ENCODERS = {"quantile": QuantileEncoder, "mode": ModeEncoder}


class NumericTransformer(ColumnTransformer):
    """Continuous and integer columns: encode with a numeric encoder; on the way back,
    clip to the training range and round to the training data's precision."""

    condition_type = "range"

    def __init__(self, encoding="quantile", integer=False, random_state=0):
        self.encoding = encoding
        self.integer = integer
        self.random_state = random_state

    @property
    def spans(self):
        return self.encoder_.spans

    def _to_numbers(self, series):
        return pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)

    def present(self, series):
        """Which values are numbers (a boolean array)."""
        return ~np.isnan(self._to_numbers(series))

    def fit(self, series):
        values = self._to_numbers(series)
        values = values[~np.isnan(values)]
        self.min_, self.max_ = learned.value_range(values)
        self.decimals_ = 0 if self.integer else learned.decimals(values)
        self.encoder_ = ENCODERS[self.encoding](random_state=self.random_state).fit(values)
        return self

    def transform(self, series):
        return self.encoder_.transform(self._to_numbers(series))

    def inverse_transform(self, block, rng=None, row_offset=0, decoded=None, codes=None):
        values = np.clip(self.encoder_.inverse_transform(block), self.min_, self.max_)
        return pd.Series(np.round(values, self.decimals_))

    def get_state(self):
        return {
            "encoding": self.encoding,
            "integer": self.integer,
            "min": self.min_,
            "max": self.max_,
            "decimals": self.decimals_,
            "encoder": self.encoder_.get_state(),
        }

    @classmethod
    def from_state(cls, state):
        self = cls(encoding=state["encoding"], integer=state["integer"])
        self.min_, self.max_, self.decimals_ = state["min"], state["max"], state["decimals"]
        self.encoder_ = ENCODERS[state["encoding"]].from_state(state["encoder"])
        return self

    def value_range(self):
        """(smallest, largest) value it writes."""
        return self.min_, self.max_

    def indicator_span(self):
        """Index among its spans of the (present, missing) group; None: never missing."""
        return None

    def monotone_span(self):
        """Index among its spans of the continuous span whose value alone sets the
        written value, monotonically; None when there is none (mixture modes)."""
        return 0 if self.encoder_.monotone else None

    def scores_to_numbers(self, scores):
        """The numbers written for ``scores`` (1-d) in the monotone span."""
        return self.inverse_transform(scores.reshape(-1, 1)).to_numpy()


class DatetimeTransformer(ColumnTransformer):
    """Dates and times, as seconds since the epoch through a numeric encoder, written back
    in the column's own text format (or as datetimes for a datetime dtype)."""

    condition_type = "range"

    def __init__(self, format=None, encoding="quantile", random_state=0):
        self.format = format
        self.encoding = encoding
        self.random_state = random_state

    @property
    def spans(self):
        return self.numeric_.spans

    def _to_seconds(self, series):
        return pd.Series(datetimes.to_seconds(series, self.format))

    def present(self, series):
        """Which values are dates in the column's format (a boolean array): an
        unparseable one is a gap."""
        return self._to_seconds(series).notna().to_numpy()

    def fit(self, series):
        seconds = self._to_seconds(series)
        unit = learned.time_unit(seconds)
        # Times on a grid of whole seconds are whole numbers; others keep their fractions.
        self.numeric_ = NumericTransformer(self.encoding, integer=float(unit).is_integer(),
                                           random_state=self.random_state)
        self.numeric_.fit(seconds)
        self.unit_ = unit
        return self

    def transform(self, series):
        return self.numeric_.transform(self._to_seconds(series))

    def _seconds(self, block):
        seconds = self.numeric_.inverse_transform(block).to_numpy()
        return np.round(seconds / self.unit_) * self.unit_

    def inverse_transform(self, block, rng=None, row_offset=0, decoded=None, codes=None):
        return datetimes.from_seconds(self._seconds(block), self.format)

    def get_state(self):
        return {"format": self.format, "unit": self.unit_, "numeric": self.numeric_.get_state()}

    @classmethod
    def from_state(cls, state):
        self = cls(format=state["format"])
        self.unit_ = state["unit"]
        self.numeric_ = NumericTransformer.from_state(state["numeric"])
        return self

    def value_range(self):
        """(earliest, latest) time it writes, in seconds since the epoch."""
        return self.numeric_.value_range()

    def indicator_span(self):
        return None

    def monotone_span(self):
        return self.numeric_.monotone_span()

    def scores_to_numbers(self, scores):
        """The times written for ``scores`` in the monotone span, in seconds since the epoch."""
        return self._seconds(scores.reshape(-1, 1))


class MissingIndicator(ColumnTransformer):
    """Wraps a numeric or datetime transformer: a two-level group (present, missing) in
    front of the inner columns, which hold 0 for missing rows."""

    condition_type = "range"

    def __init__(self, inner):
        self.inner = inner

    @property
    def spans(self):
        return (("softmax", 2),) + tuple(self.inner.spans)

    def present(self, series):
        return self.inner.present(series)

    def fit(self, series):
        self.inner.fit(series[self.present(series)])
        return self

    def transform(self, series):
        present = self.present(series)
        inner_width = sum(w for _, w in self.inner.spans)
        out = np.zeros((len(series), 2 + inner_width), dtype=np.float32)
        out[present, 0] = 1.0
        out[~present, 1] = 1.0
        if present.any():
            out[present, 2:] = self.inner.transform(series[present])
        return out

    def inverse_transform(self, block, rng=None, row_offset=0, decoded=None, codes=None):
        values = self.inner.inverse_transform(block[:, 2:], rng, codes=None if codes is None else codes[1:])
        missing = codes[0] == 1 if codes is not None else block[:, 1] > block[:, 0]
        return values.where(~missing, None) if values.dtype == object else values.mask(missing)

    def get_state(self):
        return {"inner_type": type(self.inner).__name__, "inner": self.inner.get_state()}

    @classmethod
    def from_state(cls, state):
        inner = _INNER_TYPES.get(state["inner_type"])
        if inner is None:
            raise DataError(f"model file names an unknown transformer {state['inner_type']!r}")
        return cls(inner.from_state(state["inner"]))

    def value_range(self):
        return self.inner.value_range()

    def indicator_span(self):
        return 0

    def monotone_span(self):
        inner = self.inner.monotone_span()
        return None if inner is None else 1 + inner

    def scores_to_numbers(self, scores):
        """The numbers written for ``scores`` in the monotone span, in present rows."""
        return self.inner.scores_to_numbers(scores)


_INNER_TYPES = {cls.__name__: cls for cls in (NumericTransformer, DatetimeTransformer)}
