"""Reversible column transformers: a table of mixed types <-> one float32 matrix.

One small transformer per column kind, each with ``fit`` / ``transform`` /
``inverse_transform`` and a JSON-able state, and a :class:`TableTransformer` that
composes them and records the layout of the matrix: which matrix columns hold a
continuous value and which form a softmax group. The model reads only the layout;
the sampler turns decoder outputs back into values with ``inverse_transform``.

Every transformer is deterministic. Where a value must be drawn (a pooled rare
category, say) ``inverse_transform`` takes the caller's random generator.
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pandas as pd
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import BayesianGaussianMixture
from sklearn.preprocessing import QuantileTransformer

from synthvae import datetimes
from synthvae.errors import DataError
from synthvae.schema import ColumnSpec, Schema

# Fitting is on a bounded subsample so preprocessing never dominates training.
FIT_SUBSAMPLE = 20_000
# Categories beyond this many are pooled into one "rare" level (drawn back from the
# pooled values' frequencies) so a 300k-level column never becomes a 300k-wide softmax.
MAX_LEVELS = 500
# Quantiles kept per numeric column. The inverse is linear between neighbouring
# quantiles, so the top 1/QUANTILES of the values is spread evenly up to the
# maximum: with 1,000, a column with a few extreme values got dozens.
QUANTILES = 10_000
# sklearn's QuantileTransformer clips normal scores to about this bound.
_NORMAL_BOUND = 5.2


@dataclasses.dataclass(frozen=True)
class Span:
    """A run of matrix columns that belongs to one table column.

    ``kind`` is ``"continuous"`` (one real value per matrix column) or ``"softmax"``
    (a one-hot group: exactly one of ``width`` columns is 1).
    """

    column: str
    kind: str
    start: int
    width: int

    @property
    def stop(self):
        return self.start + self.width


def _subsample(values, rng, size=FIT_SUBSAMPLE):
    if len(values) <= size:
        return values
    return values[rng.choice(len(values), size, replace=False)]


class QuantileEncoder:
    """Real numbers <-> normal scores through their empirical quantiles.

    Point masses (capital-gain is 0 for 92 % of Adult) come back exactly: every normal
    score whose quantile falls inside the mass maps back to the one value.
    """

    spans = (("continuous", 1),)

    def __init__(self, random_state=0):
        self.random_state = random_state

    def fit(self, values):
        rng = np.random.default_rng(self.random_state)
        # The extremes join the subsample so every training value lies inside the
        # quantile table, where the mapping is exactly invertible.
        sample = np.concatenate([_subsample(values, rng), [values.min(), values.max()]]).reshape(-1, 1)
        self.quantile_ = QuantileTransformer(
            n_quantiles=min(QUANTILES, len(sample)), output_distribution="normal", subsample=None
        ).fit(sample)
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
        quantiles = np.asarray(state["quantiles"], dtype=np.float64).reshape(-1, 1)
        qt = QuantileTransformer(n_quantiles=len(quantiles), output_distribution="normal")
        qt.quantiles_ = quantiles
        qt.references_ = np.linspace(0, 1, len(quantiles))
        qt.n_quantiles_ = len(quantiles)
        qt.n_features_in_ = 1
        self.quantile_ = qt
        return self


class ModeEncoder:
    """Mode-specific normalization: a one-hot mode of a Bayesian Gaussian mixture and
    the value's offset within that mode (in units of four standard deviations).

    The mode of a value is its most responsible component, so the encoding is
    deterministic and exactly invertible.
    """

    def __init__(self, max_modes=10, random_state=0):
        self.max_modes = max_modes
        self.random_state = random_state

    @property
    def spans(self):
        return (("continuous", 1), ("softmax", len(self.means_)))

    def fit(self, values):
        rng = np.random.default_rng(self.random_state)
        sample = _subsample(values, rng, size=5000).reshape(-1, 1)
        n_modes = int(min(self.max_modes, len(np.unique(sample))))
        with warnings.catch_warnings():
            # A mixture that has not fully converged still gives usable modes.
            warnings.simplefilter("ignore", ConvergenceWarning)
            bgm = self._fit_mixture(sample, n_modes)
        keep = bgm.weights_ > 0.005
        self.means_ = bgm.means_[keep, 0]
        self.stds_ = np.maximum(np.sqrt(bgm.covariances_[keep].reshape(-1)), 1e-6 * (1 + np.abs(self.means_)))
        self.weights_ = bgm.weights_[keep] / bgm.weights_[keep].sum()
        return self

    def _fit_mixture(self, sample, n_modes):
        return BayesianGaussianMixture(
            n_components=n_modes,
            weight_concentration_prior_type="dirichlet_process",
            weight_concentration_prior=1e-3,
            max_iter=100,
            random_state=self.random_state,
        ).fit(sample)

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


class NumericTransformer:
    """Continuous and integer columns: encode with a numeric encoder; on the way back,
    clip to the training range and round to the training data's precision."""

    def __init__(self, encoding="quantile", integer=False, random_state=0):
        self.encoding = encoding
        self.integer = integer
        self.random_state = random_state

    @property
    def spans(self):
        return self.encoder_.spans

    def _to_numbers(self, series):
        return pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)

    def fit(self, series):
        values = self._to_numbers(series)
        values = values[~np.isnan(values)]
        self.min_, self.max_ = float(values.min()), float(values.max())
        self.decimals_ = 0 if self.integer else _decimals(values)
        self.encoder_ = ENCODERS[self.encoding](random_state=self.random_state).fit(values)
        return self

    def transform(self, series):
        return self.encoder_.transform(self._to_numbers(series))

    def inverse_transform(self, block, rng=None):
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


def _decimals(values, limit=6):
    """The fewest decimals (up to ``limit``) that write every value exactly."""
    sample = values[: min(len(values), 5000)]
    for places in range(limit + 1):
        if np.allclose(np.round(sample, places), sample, rtol=0, atol=1e-9 * (1 + np.abs(sample).max())):
            return places
    return limit


class DatetimeTransformer:
    """Dates and times, as seconds since the epoch through a numeric encoder, written back
    in the column's own text format (or as datetimes for a datetime dtype)."""

    def __init__(self, format=None, encoding="quantile", random_state=0):
        self.format = format
        self.encoding = encoding
        self.random_state = random_state

    @property
    def spans(self):
        return self.numeric_.spans

    def _to_seconds(self, series):
        return pd.Series(datetimes.to_seconds(series, self.format))

    def fit(self, series):
        seconds = self._to_seconds(series)
        self.numeric_ = NumericTransformer(self.encoding, integer=True, random_state=self.random_state)
        self.numeric_.fit(seconds)
        whole_days = seconds.dropna() % 86400 == 0
        self.unit_ = 86400 if whole_days.all() else 1
        return self

    def transform(self, series):
        return self.numeric_.transform(self._to_seconds(series))

    def inverse_transform(self, block, rng=None):
        seconds = self.numeric_.inverse_transform(block).to_numpy()
        seconds = np.round(seconds / self.unit_) * self.unit_
        return datetimes.from_seconds(seconds, self.format)

    def get_state(self):
        return {"format": self.format, "unit": self.unit_, "numeric": self.numeric_.get_state()}

    @classmethod
    def from_state(cls, state):
        self = cls(format=state["format"])
        self.unit_ = state["unit"]
        self.numeric_ = NumericTransformer.from_state(state["numeric"])
        return self


class CategoricalTransformer:
    """Categories (text, booleans, numbers with few levels) <-> a one-hot group.

    A missing value is a level of its own, so missingness is learned jointly with the
    rest of the row. Levels beyond ``max_levels`` are pooled into one rare level.
    """

    def __init__(self, max_levels=MAX_LEVELS):
        self.max_levels = max_levels

    @property
    def spans(self):
        return (("softmax", len(self.levels_) + (1 if self.pooled_ else 0)),)

    def fit(self, series):
        # One missing marker: pandas 2 counts None and NaN as two values (a table read
        # from CSV and Parquet parts has both), which would make two missing levels.
        series = series.astype(object).where(series.notna(), np.nan)
        counts = series.value_counts(dropna=False, sort=True)
        keep = counts.iloc[: self.max_levels]
        rest = counts.iloc[self.max_levels :]
        self.levels_ = [_plain(v) for v in keep.index]
        self.pooled_ = [_plain(v) for v in rest.index]
        self.pooled_weights_ = (rest.to_numpy() / rest.sum()).tolist() if len(rest) else []
        return self

    def _codes(self, series):
        lookup = pd.Index([_nan_key(v) for v in self.levels_], dtype=object)
        keys = series.astype(object).where(series.notna(), _MISSING)
        codes = lookup.get_indexer(keys)
        return np.where(codes < 0, len(self.levels_), codes)  # unseen or pooled -> rare level

    def transform(self, series):
        codes = self._codes(series)
        out = np.zeros((len(series), self.spans[0][1]), dtype=np.float32)
        out[np.arange(len(series)), np.minimum(codes, out.shape[1] - 1)] = 1.0
        return out

    def inverse_transform(self, block, rng=None):
        codes = np.argmax(block, axis=1)
        table = np.array(self.levels_ + [None], dtype=object)
        values = table[np.minimum(codes, len(self.levels_))]
        rare = codes >= len(self.levels_)
        if rare.any() and self.pooled_:
            pool = np.array(self.pooled_, dtype=object)
            if rng is None:
                values[rare] = pool[0]
            else:
                values[rare] = pool[rng.choice(len(pool), int(rare.sum()), p=self.pooled_weights_)]
        return pd.Series(values, dtype=object)

    def get_state(self):
        return {"levels": self.levels_, "pooled": self.pooled_, "pooled_weights": self.pooled_weights_}

    @classmethod
    def from_state(cls, state):
        self = cls()
        self.levels_ = list(state["levels"])
        self.pooled_ = list(state["pooled"])
        self.pooled_weights_ = list(state["pooled_weights"])
        return self


def _plain(value):
    """A JSON-able Python scalar (NaN -> None)."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def _nan_key(value):
    plain = _plain(value)
    return _MISSING if plain is None else plain


class MissingIndicator:
    """Wraps a numeric or datetime transformer: a two-level group (present, missing) in
    front of the inner columns, which hold 0 for missing rows."""

    def __init__(self, inner):
        self.inner = inner

    @property
    def spans(self):
        return (("softmax", 2),) + tuple(self.inner.spans)

    def fit(self, series):
        self.inner.fit(series[series.notna()])
        return self

    def transform(self, series):
        present = series.notna().to_numpy()
        inner_width = sum(w for _, w in self.inner.spans)
        out = np.zeros((len(series), 2 + inner_width), dtype=np.float32)
        out[present, 0] = 1.0
        out[~present, 1] = 1.0
        if present.any():
            out[present, 2:] = self.inner.transform(series[present])
        return out

    def inverse_transform(self, block, rng=None):
        values = self.inner.inverse_transform(block[:, 2:], rng)
        missing = block[:, 1] > block[:, 0]
        return values.where(~missing, None) if values.dtype == object else values.mask(missing)

    def get_state(self):
        return {"inner_type": type(self.inner).__name__, "inner": self.inner.get_state()}

    @classmethod
    def from_state(cls, state):
        return cls(_TYPES[state["inner_type"]].from_state(state["inner"]))


class ConstantTransformer:
    """A column with one value (or none at all): nothing to learn, written back as is."""

    spans = ()

    def __init__(self, value=None):
        self.value = value

    def fit(self, series):
        return self

    def transform(self, series):
        return np.zeros((len(series), 0), dtype=np.float32)

    def inverse_transform(self, block, rng=None):
        return pd.Series([self.value] * len(block), dtype=object)

    def get_state(self):
        return {"value": self.value}

    @classmethod
    def from_state(cls, state):
        return cls(state["value"])


class IdentifierTransformer:
    """Unique-per-row keys: never learned or copied, regenerated as a running number
    in the column's own pattern, counted on from past the largest training number so a
    generated key never equals a training key."""

    spans = ()

    def __init__(self, prefix="", suffix="", width=0):
        self.prefix = prefix
        self.suffix = suffix
        self.width = width

    def fit(self, series):
        text = series.astype(str)
        if self.prefix or self.suffix or text.str.fullmatch(r"\d+").all():
            digits = text.str.slice(len(self.prefix))
            if self.suffix:
                digits = digits.str.slice(0, -len(self.suffix))
            numbers = pd.to_numeric(digits, errors="coerce")
            self.start_ = int(numbers.max()) + 1 if numbers.notna().any() else 1
        else:
            self.start_ = 1
        self.numeric_ = pd.api.types.is_numeric_dtype(series.dtype)
        return self

    def transform(self, series):
        return np.zeros((len(series), 0), dtype=np.float32)

    def inverse_transform(self, block, rng=None, row_offset=0):
        numbers = np.arange(self.start_ + row_offset, self.start_ + row_offset + len(block))
        if self.numeric_:
            return pd.Series(numbers)
        text = pd.Series(numbers.astype(str), dtype=object)
        if self.width:
            text = text.str.zfill(self.width)
        return self.prefix + text + self.suffix

    def get_state(self):
        return {"prefix": self.prefix, "suffix": self.suffix, "width": self.width,
                "start": self.start_, "numeric": self.numeric_}

    @classmethod
    def from_state(cls, state):
        self = cls(state["prefix"], state["suffix"], state["width"])
        self.start_, self.numeric_ = state["start"], state["numeric"]
        return self


class DerivedTransformer:
    """A categorical column that is an exact function of another one in the training
    data (education -> education-num, class -> pclass): not learned, looked up from
    its source column's value, so the relation holds in every generated row.

    Drawing both columns independently from their softmaxes would break such a
    relation in a share of rows, and every broken row is an obvious fake.
    """

    spans = ()

    def __init__(self, source=None, mapping=()):
        self.source = source
        self.mapping = list(mapping)

    def fit(self, series, source_series):
        pairs = pd.DataFrame({"a": source_series.map(_nan_key), "b": series.map(_plain)})
        first = pairs.drop_duplicates("a")
        self.mapping = [[_plain(a) if a != _MISSING else None, b] for a, b in zip(first["a"], first["b"])]
        return self

    def transform(self, series):
        return np.zeros((len(series), 0), dtype=np.float32)

    def inverse_transform(self, source_values):
        # A hash lookup over the whole column: this runs for every sampled row.
        present = [(a, b) for a, b in self.mapping if a is not None]
        when_missing = next((b for a, b in self.mapping if a is None), None)
        keys = pd.Index([a for a, _ in present], dtype=object)
        targets = np.array([b for _, b in present] + [when_missing], dtype=object)
        codes = keys.get_indexer(pd.Series(source_values, dtype=object))
        return pd.Series(targets[np.where(codes < 0, len(present), codes)], dtype=object)

    def get_state(self):
        return {"source": self.source, "mapping": self.mapping}

    @classmethod
    def from_state(cls, state):
        return cls(state["source"], state["mapping"])


# A source with more levels than this, or with fewer rows per level than this,
# could "determine" another column by chance.
_DERIVED_MAX_SOURCE_LEVELS = 100
_DERIVED_MIN_ROWS_PER_LEVEL = 10


def find_derived_columns(frame, schema):
    """Map each categorical column that is a function of an earlier-modelled categorical
    column to that source column's name."""
    candidates = [c.name for c in schema.columns if c.kind in ("categorical", "boolean")]
    # Missing values share one code (0), as they share one level when modelled.
    codes = {name: pd.factorize(frame[name], use_na_sentinel=True)[0] + 1 for name in candidates}
    levels = {name: len(np.unique(c)) for name, c in codes.items()}
    derived = {}
    for target in candidates:
        if levels[target] < 2:
            continue
        for source in candidates:
            if source == target or source in derived or target == derived.get(source):
                continue
            if levels[source] > _DERIVED_MAX_SOURCE_LEVELS or len(frame) < _DERIVED_MIN_ROWS_PER_LEVEL * levels[source]:
                continue
            joint = codes[source].astype(np.int64) * (int(codes[target].max()) + 1) + codes[target]
            if len(np.unique(joint)) == levels[source]:
                derived[target] = source
                break
    # a column that others derive from must itself be modelled
    return {t: s for t, s in derived.items() if s not in derived}


_MISSING = "\x00<missing>"

_TYPES = {
    cls.__name__: cls
    for cls in (NumericTransformer, DatetimeTransformer, CategoricalTransformer,
                MissingIndicator, ConstantTransformer, IdentifierTransformer, DerivedTransformer)
}


def transformer_for(spec: ColumnSpec, encoding="quantile", random_state=0):
    """The transformer that handles a column of this kind."""
    if spec.kind in ("continuous", "integer"):
        inner = NumericTransformer(encoding, integer=spec.kind == "integer", random_state=random_state)
    elif spec.kind == "datetime":
        inner = DatetimeTransformer(spec.format, encoding, random_state=random_state)
    elif spec.kind in ("categorical", "boolean"):
        return CategoricalTransformer()
    elif spec.kind == "constant":
        return ConstantTransformer(spec.value)
    elif spec.kind == "identifier":
        return IdentifierTransformer(spec.prefix, spec.suffix, spec.width)
    else:
        raise DataError(f"column {spec.name!r} has unknown kind {spec.kind!r}")
    return MissingIndicator(inner) if spec.nullable else inner


class TableTransformer:
    """A whole table <-> one float32 matrix, column by column, in schema order.

    Parameters
    ----------
    schema : Schema
    encoding : {"quantile", "mode"}
        How continuous, integer and datetime values are encoded.
    derive : bool
        Look up categorical columns that are an exact function of another categorical
        column (see :class:`DerivedTransformer`) instead of learning them.
    random_state : int
        Seeds the subsampling and mixture fits, so the same data gives the same state.

    Attributes
    ----------
    transformers_ : list
        One fitted transformer per schema column.
    spans_ : list of Span
        The matrix layout.
    """

    def __init__(self, schema: Schema, encoding="quantile", derive=True, random_state=0):
        self.schema = schema
        self.encoding = encoding
        self.derive = derive
        self.random_state = random_state

    def fit(self, frame):
        self.schema.check_frame(frame)
        derived = find_derived_columns(frame, self.schema) if self.derive else {}
        self.transformers_ = []
        for spec in self.schema.columns:
            series = _prepared(frame[spec.name], spec)
            if spec.name in derived:
                source = derived[spec.name]
                transformer = DerivedTransformer(source).fit(series, _prepared(frame[source], self.schema[source]))
                self.transformers_.append(transformer)
                continue
            transformer = transformer_for(spec, self.encoding, self.random_state)
            if spec.kind in ("continuous", "integer", "datetime") and series.notna().sum() == 0:
                raise DataError(f"column {spec.name!r} has no {spec.kind} values to learn from")
            self.transformers_.append(transformer.fit(series))
        self._build_layout()
        return self

    def _build_layout(self):
        spans, start = [], 0
        for spec, transformer in zip(self.schema.columns, self.transformers_):
            for kind, width in transformer.spans:
                spans.append(Span(spec.name, kind, start, width))
                start += width
        self.spans_ = spans
        self.width_ = start

    @property
    def continuous_columns_(self):
        """Matrix column indices that hold a continuous value."""
        return np.array([s.start for s in self.spans_ if s.kind == "continuous"], dtype=np.int64)

    @property
    def softmax_spans_(self):
        return [s for s in self.spans_ if s.kind == "softmax"]

    def transform(self, frame):
        self.schema.check_frame(frame)
        blocks = [
            t.transform(_prepared(frame[spec.name], spec))
            for spec, t in zip(self.schema.columns, self.transformers_)
        ]
        return np.concatenate(blocks, axis=1).astype(np.float32) if blocks else np.zeros((len(frame), 0), np.float32)

    def inverse_transform(self, matrix, rng=None, row_offset=0):
        """Rows back from a matrix in this layout.

        Softmax groups may hold one-hot rows or probabilities: the largest entry wins.
        ``row_offset`` numbers regenerated identifiers, so that chunks of one sample
        get consecutive keys.
        """
        columns, start = {}, 0
        for spec, transformer in zip(self.schema.columns, self.transformers_):
            width = sum(w for _, w in transformer.spans)
            block = matrix[:, start : start + width]
            start += width
            if isinstance(transformer, IdentifierTransformer):
                values = transformer.inverse_transform(block, rng, row_offset=row_offset)
            elif isinstance(transformer, DerivedTransformer):
                continue  # filled in below, once its source column is known
            else:
                values = transformer.inverse_transform(block, rng)
            columns[spec.name] = _restore_dtype(values.reset_index(drop=True), spec)
        for spec, transformer in zip(self.schema.columns, self.transformers_):
            if isinstance(transformer, DerivedTransformer):
                values = transformer.inverse_transform(columns[transformer.source])
                columns[spec.name] = _restore_dtype(values, spec)
        return pd.DataFrame(columns, columns=self.schema.names)

    def get_state(self):
        return {
            "encoding": self.encoding,
            "derive": self.derive,
            "transformers": [{"type": type(t).__name__, "state": t.get_state()} for t in self.transformers_],
        }

    @classmethod
    def from_state(cls, schema, state):
        self = cls(schema, encoding=state["encoding"], derive=state["derive"])
        if len(state["transformers"]) != len(schema.columns):
            raise DataError("model file is inconsistent: transformer and schema column counts differ")
        self.transformers_ = []
        for entry in state["transformers"]:
            if entry["type"] not in _TYPES:
                raise DataError(f"model file names an unknown transformer {entry['type']!r}")
            self.transformers_.append(_TYPES[entry["type"]].from_state(entry["state"]))
        self._build_layout()
        return self


def _prepared(series, spec):
    """The column as the transformer expects it: booleans as Python bools, text as text."""
    if spec.kind == "boolean":
        return series.map(lambda v: _plain(v) if _plain(v) is None else _parse_bool(v))
    return series


def _parse_bool(value):
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    return value


def _restore_dtype(values, spec):
    dtype = spec.dtype
    try:
        if dtype.startswith("int") or dtype.startswith("uint"):
            if values.isna().any():
                return values.astype("float64")
            return values.astype(dtype)
        if dtype == "str" and int(pd.__version__.split(".")[0]) < 3:
            return values.astype(object)  # pandas 2 has no missing-aware "str" dtype
        if dtype.startswith("datetime64"):
            return pd.to_datetime(values).astype(dtype)
        return values.astype(dtype)
    except (TypeError, ValueError):
        return values
