"""Conditional sampling: N rows that all satisfy conditions such as ``sex == " Female"``
and ``age >= 40``, distributed as the model's rows are given those conditions.

Why it is exact and fast. Given the latent code z, the decoder makes every column
independently (one softmax draw per categorical group, Gaussian noise per number), and
calibration and inverse transforms act column by column. So the model's rows that
satisfy a condition C are: z drawn from p(z) P(C | z), then each conditioned column drawn
from its decoder distribution restricted to C, the other columns as usual. P(C | z) is in
closed form: the summed probability of the allowed levels of a category, and for a range
a normal-CDF difference, because the value written out is a monotone function of the
pre-noise decoder value (so a range of values is an interval of pre-noise values, found
once on a grid). z comes from the mixture prior by rejection with an envelope per
component: component k is proposed with probability w_k M_k, M_k bounding P(C | z) in k
(from a pilot), and z is kept with probability P(C | z) / M_k. The acceptance rate is the
mean over the max of P(C | z) within components, not the condition's share: on Adult a
condition that holds for 1% of the rows costs about 4x an unconditional sample where
filtering would cost ~100x (BENCHMARKS.md). A final check on the written values makes
every returned row satisfy every condition exactly.

Range conditions with ``encoding="mode"`` (not monotone in one value) are met by that
final check alone: plain rejection, slower for rare ranges.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
from scipy.special import ndtr, ndtri

from synthvae.errors import DataError, InputTypeError, UsageError
from synthvae.generation import decode_to_matrix, softmax as _softmax
from synthvae.transformers import (
    CategoricalTransformer,
    ConstantTransformer,
    DatetimeTransformer,
    DerivedTransformer,
    IdentifierTransformer,
    MissingIndicator,
    ModeEncoder,
    _MISSING,
    _nan_key,
    _parse_bool,
    _plain,
)

OPERATORS = ("==", "!=", ">=", "<=", ">", "<")
_RANGE_OPERATORS = (">=", "<=", ">", "<", "==")
# Known values named in an error message, at most.
_SHOW_LEVELS = 20
# Pilot draws per mixture component (fewer per component when there are many).
_PILOT_PER_COMPONENT = 128
_PILOT_TOTAL = 25_600
# The envelope is the pilot's maximum times this, so few codes exceed it.
_ENVELOPE_MARGIN = 1.25
# A chunk that needs more than this many candidate rows per row asked for gives up.
_MAX_DRAWS_PER_ROW = 2_000
_GRID_POINTS = 20_001


# ----------------------------------------------------------------------- parsing


def parse_where(text):
    """Split ``"COLUMN OP VALUE"`` at its first operator.

    The column name is stripped of surrounding spaces; the value is kept as written
    (category matching strips it later only if the exact text is not a level).
    ``=`` means ``==``.

    Raises
    ------
    UsageError
        No operator, no column name or no value.
    """
    if not isinstance(text, str):
        raise InputTypeError(f"a where condition must be a string or a (column, operator, value) tuple, not {type(text).__name__}")
    at = next((i for i, ch in enumerate(text) if ch in "<>=!"), None)
    example = 'write COLUMN OP VALUE with OP one of ==, =, !=, >=, <=, >, < (e.g. "age>=40")'
    if at is None:
        raise UsageError(f"condition {text!r} has no operator; {example}")
    op = text[at : at + 2] if text[at : at + 2] in (">=", "<=", "!=", "==") else text[at]
    if op == "!":
        raise UsageError(f"condition {text!r} has no valid operator; {example}")
    name, value = text[:at].strip(), text[at + len(op) :]
    if not name:
        raise UsageError(f"condition {text!r} names no column; {example}")
    if not value.strip():
        raise UsageError(f"condition {text!r} has no value; {example}")
    return name, "==" if op == "=" else op, value


def normalize(conditions=None, where=None):
    """``conditions`` ({column: value or list of values}) and ``where`` (strings or
    (column, op, value) tuples) as one list of (column, op, value); a list value
    means "any of"."""
    out = []
    if conditions is not None:
        if not isinstance(conditions, dict):
            raise InputTypeError(f"conditions must be a dict of column -> value, not {type(conditions).__name__}")
        for name, value in conditions.items():
            out.append((name, "in" if isinstance(value, (list, tuple, set)) else "==", value))
    if where is not None:
        if isinstance(where, str) or (isinstance(where, tuple) and len(where) == 3 and where[1] in OPERATORS + ("=",)):
            where = [where]
        for item in where:
            if isinstance(item, str):
                out.append(parse_where(item))
            elif isinstance(item, (tuple, list)) and len(item) == 3:
                name, op, value = item
                op = "==" if op == "=" else op
                if op not in OPERATORS:
                    raise UsageError(f"unknown operator {op!r} in {tuple(item)!r}; use one of {', '.join(OPERATORS)}")
                out.append((name, op, value))
            else:
                raise InputTypeError(f"each where condition must be a string or a (column, operator, value) tuple, got {item!r}")
    return out


# --------------------------------------------------------------------- compiling


@dataclasses.dataclass
class _Levels:
    """An allowed set of slots of one softmax group."""

    start: int
    width: int
    slots: set
    columns: list  # table columns whose conditions made this set (for messages)
    rare_share: float = 1.0  # share of the pooled rare level's mass that is allowed

    def mask(self):
        """Per slot, the share of its probability that meets the conditions."""
        out = np.zeros(self.width)
        out[sorted(self.slots)] = 1.0
        if self.width - 1 in self.slots:
            out[self.width - 1] *= self.rare_share
        return out


@dataclasses.dataclass
class _Range:
    """A numeric, integer or datetime column restricted to an interval."""

    column: str
    spec: object
    lo: float
    hi: float
    lo_strict: bool
    hi_strict: bool
    matrix_column: int = -1
    continuous_index: int = -1
    indicator_start: int = -1  # the (present, missing) group of a nullable column
    pre_noise: tuple | None = None  # (a, b): pre-noise decoder values that give a value in range

    def holds(self, values):
        with np.errstate(invalid="ignore"):
            ok = (values > self.lo) if self.lo_strict else (values >= self.lo)
            ok &= (values < self.hi) if self.hi_strict else (values <= self.hi)
        return ok & ~np.isnan(values)


@dataclasses.dataclass
class Conditions:
    """Compiled conditions: what the sampler imposes and what each row is checked for."""

    levels: list  # of _Levels
    ranges: list  # of _Range
    allowed: dict  # table column -> set of allowed value keys (categorical check)
    pooled: dict  # table column -> (pooled values, weights) allowed, for the rare slot
    text: str  # the conditions in words, for messages

    def check(self, rows):
        """Boolean mask of the rows that satisfy every condition."""
        ok = np.ones(len(rows), dtype=bool)
        for name, keys in self.allowed.items():
            column = rows[name]
            hit = column.isin([k for k in keys if k != _MISSING]).to_numpy()
            ok &= (hit | column.isna().to_numpy()) if _MISSING in keys else hit
        for rule in self.ranges:
            ok &= rule.holds(_as_numbers(rows[rule.column], rule.spec))
        return ok


def compile_conditions(items, schema, transformer, calibration):
    """Check ``items`` (from :func:`normalize`) against the model and compile them.

    Raises
    ------
    DataError
        An unknown column, an operator that does not fit the column's kind, a value
        the column never takes, or conditions no row can meet; the message names the
        column and its known values or range.
    """
    by_column = {}
    for name, op, value in items:
        by_column.setdefault(_resolve_column(name, schema), []).append((op, value))
    transformers = dict(zip(schema.names, transformer.transformers_))
    allowed, ranges, pooled = {}, [], {}
    for name, conds in by_column.items():
        spec, t = schema[name], transformers[name]
        if isinstance(t, IdentifierTransformer):
            raise DataError(f"cannot condition on {name!r}: it is an identifier column, regenerated as running numbers")
        if isinstance(t, ConstantTransformer):
            _check_constant(name, t, conds)
            continue
        if isinstance(t, (CategoricalTransformer, DerivedTransformer)):
            allowed[name] = _allowed_levels(name, spec, t, conds)
        else:
            ranges.append(_range(name, spec, t, conds))
    levels = _level_rules(allowed, transformers, transformer, pooled)
    for rule in ranges:
        _locate(rule, transformer, transformers[rule.column], calibration)
    text = " and ".join(f"{n} {op} {v!r}" for n, op, v in items)
    return Conditions(levels, ranges, allowed, pooled, text)


def _resolve_column(name, schema):
    if not isinstance(name, str):
        name = str(name)
    if name in schema.names:
        return name
    stripped = [n for n in schema.names if n.strip() == name.strip()]
    if len(stripped) == 1:
        return stripped[0]
    raise DataError(f"no column named {name!r}; the columns are: {_listing(schema.names, repr_=False)}")


def _listing(values, repr_=True):
    shown = [repr(v) if repr_ else str(v) for v in list(values)[:_SHOW_LEVELS]]
    more = len(values) - len(shown)
    return ", ".join(shown) + (f" ... ({more} more)" if more > 0 else "")


def _check_constant(name, t, conds):
    for op, value in conds:
        values = value if op == "in" else [value]
        same = any(_plain(v) == t.value or str(v).strip() == str(t.value).strip() for v in values)
        if (op in ("==", "in") and not same) or (op == "!=" and same) or op not in ("==", "in", "!="):
            raise DataError(f"no row can satisfy {name} {op} {value!r}: {name!r} always holds {t.value!r}")


def _known_levels(t):
    if isinstance(t, DerivedTransformer):
        return list(dict.fromkeys(b for _, b in t.mapping))
    return list(t.levels_) + list(t.pooled_)


def _allowed_levels(name, spec, t, conds):
    known = _known_levels(t)
    keys = {_nan_key(v) for v in known}
    numbers = [v for v in known if v is not None]
    numeric = bool(numbers) and all(isinstance(v, (int, float, np.number)) and not isinstance(v, bool) for v in numbers)
    for op, value in conds:
        if op in _RANGE_OPERATORS and op != "==" and numeric:
            # A number column with few values is modelled as categories; a range picks levels.
            x = _as_condition_number(name, spec, value)
            keys &= {_nan_key(v) for v in numbers if _compare(v, op, x)}
            continue
        if op not in ("==", "!=", "in"):
            raise DataError(
                f"{name!r} is a {spec.kind} column: use == or != with one of its values "
                f"({_listing(known)}), not {op!r}"
            )
        values = value if op == "in" else [value]
        matched = {_nan_key(_match_level(name, spec, known, v)) for v in values}
        keys = keys - matched if op == "!=" else keys & matched
    if not keys:
        raise DataError(f"no value of {name!r} satisfies {_words(name, conds)}; its values are: {_listing(known)}")
    return keys


def _compare(v, op, x):
    return {">=": v >= x, "<=": v <= x, ">": v > x, "<": v < x}[op]


def _words(name, conds):
    return " and ".join(f"{name} {op} {v!r}" if op in ("==", "!=", "in") else f"{name} {op} {str(v).strip()}"
                        for op, v in conds)


def _match_level(name, spec, known, value):
    """The known level ``value`` means: the exact value, else its text, else its text
    with surrounding spaces ignored (" Female" for "Female") when that is unambiguous."""
    if spec.kind == "boolean" and value is not None:
        value = _parse_bool(value.strip() if isinstance(value, str) else value)
    key = _nan_key(value)
    for level in known:
        if _nan_key(level) == key and type(_plain(level)) is type(_plain(value)):
            return level
    for level in known:
        if _nan_key(level) == key:
            return level
    text = str(value)
    for compare in (lambda s: s, lambda s: s.strip()):
        hits = [lv for lv in known if lv is not None and compare(_level_text(lv)) == compare(text)]
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            raise DataError(f"{value!r} is ambiguous for {name!r}: it matches {_listing(hits)}; give the exact value")
    raise DataError(f"{name!r} has no value {value!r}; its values are: {_listing(known)}")


def _level_text(value):
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _level_rules(allowed, transformers, transformer, pooled):
    """The allowed slots of each softmax group, derived columns mapped to their source."""
    rules = {}
    for name, keys in allowed.items():
        t = transformers[name]
        source_name = name
        if isinstance(t, DerivedTransformer):
            source_name = t.source
            keys = {_nan_key(a) for a, b in t.mapping if _nan_key(b) in keys}
            t = transformers[source_name]
        span = next(s for s in transformer.spans_ if s.column == source_name)
        slots = {i for i, level in enumerate(t.levels_) if _nan_key(level) in keys}
        pool = [(v, w) for v, w in zip(t.pooled_, t.pooled_weights_) if _nan_key(v) in keys]
        share = 1.0
        if pool:
            slots.add(len(t.levels_))
            if len(pool) < len(t.pooled_):
                pooled[source_name] = ([v for v, _ in pool], np.array([w for _, w in pool]))
                share = float(sum(w for _, w in pool))
        rule = rules.get(span.start)
        if rule is None:
            rules[span.start] = _Levels(span.start, span.width, slots, [name], share)
        else:
            rule.rare_share *= share
            rule.slots &= slots
            rule.columns.append(name)
            if not rule.slots:
                raise DataError(f"the conditions on {' and '.join(map(repr, rule.columns))} contradict each other: no row meets both")
    return list(rules.values())


def _numeric_parts(t):
    """(NumericTransformer, datetime unit or None, nullable) of a numeric/datetime column."""
    nullable = isinstance(t, MissingIndicator)
    inner = t.inner if nullable else t
    if isinstance(inner, DatetimeTransformer):
        return inner.numeric_, inner.unit_, nullable
    return inner, None, nullable


def _range(name, spec, t, conds):
    numeric, unit, _ = _numeric_parts(t)
    lo, hi, lo_strict, hi_strict = -math.inf, math.inf, False, False
    for op, value in conds:
        if op not in _RANGE_OPERATORS:
            raise DataError(f"{name!r} is a {spec.kind} column: use ==, >=, <=, > or < with it, not {op!r}")
        if op == "==" and spec.kind == "continuous":
            raise DataError(f"{name!r} is a continuous column: use a range (>=, <=, >, <) rather than ==")
        x = _as_condition_number(name, spec, value)
        if op in (">=", ">", "==") and (x > lo or (x == lo and op == ">")):
            lo, lo_strict = x, op == ">"
        if op in ("<=", "<", "==") and (x < hi or (x == hi and op == "<")):
            hi, hi_strict = x, op == "<"
    rule = _Range(name, spec, lo, hi, lo_strict, hi_strict)
    low, high = numeric.min_, numeric.max_
    empty = lo > hi or (lo == hi and (lo_strict or hi_strict))
    outside = lo > high or hi < low or (lo == high and lo_strict) or (hi == low and hi_strict)
    words = " and ".join(f"{name} {op} {str(v).strip()}" for op, v in conds)
    if empty:
        raise DataError(f"the conditions on {name!r} contradict each other: no value satisfies {words}")
    if outside:
        shown = (_show_number(low, spec), _show_number(high, spec))
        raise DataError(f"no value of {name!r} satisfies {words}: its values run from {shown[0]} to {shown[1]}")
    return rule


def _as_condition_number(name, spec, value):
    if spec.kind == "datetime":
        try:
            stamp = pd.Timestamp(value.strip() if isinstance(value, str) else value)
        except (TypeError, ValueError):
            raise DataError(f"{name!r} is a datetime column and {value!r} is not a date") from None
        if stamp.tzinfo is not None:
            stamp = stamp.tz_convert("UTC").tz_localize(None)
        return float((stamp - pd.Timestamp(0)) // pd.Timedelta(seconds=1))
    try:
        x = float(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError):
        raise DataError(f"{name!r} is a {spec.kind} column and {value!r} is not a number") from None
    if math.isnan(x):
        raise DataError(f"{name!r}: NaN is not a usable bound")
    return x


def _show_number(x, spec):
    if spec.kind == "datetime":
        return str(pd.Timestamp(int(x), unit="s"))
    return f"{x:g}"


def _locate(rule, transformer, t, calibration):
    """Fill in where the column sits in the matrix and its pre-noise interval."""
    numeric, unit, nullable = _numeric_parts(t)
    spans = [s for s in transformer.spans_ if s.column == rule.column]
    if nullable:
        rule.indicator_start = spans[0].start
    if isinstance(numeric.encoder_, ModeEncoder):
        return  # not monotone in one value: the final check does the work
    rule.matrix_column = next(s.start for s in spans if s.kind == "continuous")
    rule.continuous_index = int(np.flatnonzero(transformer.continuous_columns_ == rule.matrix_column)[0])
    source = target = None
    if calibration is not None and calibration.source_quantiles.shape[0] == len(transformer.continuous_columns_):
        source = calibration.source_quantiles[rule.continuous_index]
        target = calibration.target_quantiles[rule.continuous_index]
    low, high = -8.0, 8.0
    if source is not None and abs(source[0]) < 1e11:
        low, high = float(source[0]), float(source[-1])
    grid = np.linspace(low, high, _GRID_POINTS)
    scores = grid if source is None else np.interp(grid, source, target)
    values = numeric.inverse_transform(scores.astype(np.float32).astype(np.float64).reshape(-1, 1)).to_numpy()
    if unit is not None:
        values = np.round(values / unit) * unit
    hits = np.flatnonzero(rule.holds(values))
    if not len(hits):
        raise DataError(
            f"the model cannot write a value of {rule.column!r} that satisfies the condition "
            f"(values are rounded as in the training data)"
        )
    first, last = hits[0], hits[-1]
    if last - first + 1 != len(hits):
        return  # should not happen (the map is monotone); the final check still holds
    a = -math.inf if first == 0 else grid[first - 1]
    b = math.inf if last == len(grid) - 1 else grid[last + 1]
    rule.pre_noise = (a, b)


def _as_numbers(series, spec):
    if spec.kind == "datetime":
        stamps = series if pd.api.types.is_datetime64_any_dtype(series) else pd.to_datetime(
            series, format=spec.format, errors="coerce")
        seconds = stamps.astype("datetime64[ns]").astype("int64").to_numpy() // 10**9
        return np.where(stamps.isna().to_numpy(), np.nan, seconds.astype(np.float64))
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


# ---------------------------------------------------------------------- sampling


class ConditionalSampler:
    """Draws rows that satisfy compiled :class:`Conditions` (see the module docstring).

    Parameters
    ----------
    conditions : Conditions
    decode : callable
        Latent codes -> raw decoder outputs.
    prior : GaussianMixturePrior
    transformer : TableTransformer
    sigma : numpy.ndarray
    calibration : Calibration or None
    seed : int
        Seeds the pilot; chunks are seeded by (seed, chunk) as in unconditional sampling.
    """

    def __init__(self, conditions, decode, prior, transformer, sigma, calibration, seed):
        self.conditions = conditions
        self.decode = decode
        self.prior = prior
        self.transformer = transformer
        self.model_sigma = sigma
        self.sigma = np.maximum(np.asarray(sigma, dtype=np.float64), 1e-6)
        self.calibration = calibration
        self.bias = calibration.logit_bias if calibration is not None else np.zeros(transformer.width_, np.float32)
        self._pilot(np.random.default_rng([seed, 2**40]))

    def _pilot(self, rng):
        k = len(self.prior.weights_)
        per = max(16, min(_PILOT_PER_COMPONENT, _PILOT_TOTAL // k))
        components = np.repeat(np.arange(k), per)
        raw = self.decode(self._codes(components, rng))
        weight = self._weight(raw).reshape(k, per)
        share = float((self.prior.weights_ * weight.mean(axis=1)).sum())
        if share <= 0:
            raise DataError(f"the model never makes rows with {self.conditions.text}")
        self.envelope = np.minimum(1.0, _ENVELOPE_MARGIN * weight.max(axis=1))
        proposal = self.prior.weights_ * self.envelope
        self.proposal = proposal / proposal.sum()
        # Expected share of proposed codes kept, to size the batches.
        self.accept_rate = float(share / proposal.sum())

    def _codes(self, components, rng):
        eps = rng.standard_normal((len(components), self.prior.means_.shape[1]))
        return (self.prior.means_[components] + eps * self.prior.stds_[components]).astype(np.float32)

    def _weight(self, raw):
        """P(conditions | z) for each row of raw decoder outputs."""
        weight = np.ones(len(raw))
        for rule in self.conditions.levels:
            weight *= self._probs(raw, rule.start, rule.width) @ rule.mask()
        for rule in self.conditions.ranges:
            if rule.indicator_start >= 0:
                weight *= self._probs(raw, rule.indicator_start, 2)[:, 0]
            if rule.pre_noise is not None:
                weight *= _interval(raw, rule, self.sigma)[0]
        return weight

    def _probs(self, raw, start, width):
        return _softmax(raw[:, start : start + width].astype(np.float64) + self.bias[start : start + width])

    def _impose(self, matrix, raw, rng):
        """Redraw the conditioned columns from their distributions restricted to the conditions."""
        n = len(raw)
        for rule in self.conditions.levels:
            cumulative = np.cumsum(self._probs(raw, rule.start, rule.width) * rule.mask(), axis=1)
            u = rng.random((n, 1)) * cumulative[:, -1:]
            codes = np.minimum((cumulative < u).sum(axis=1), rule.width - 1)
            block = np.zeros((n, rule.width), dtype=np.float32)
            block[np.arange(n), codes] = 1.0
            matrix[:, rule.start : rule.start + rule.width] = block
        for rule in self.conditions.ranges:
            if rule.indicator_start >= 0:
                matrix[:, rule.indicator_start] = 1.0
                matrix[:, rule.indicator_start + 1] = 0.0
            if rule.pre_noise is None:
                continue
            _, flip, lo, hi = _interval(raw, rule, self.sigma)
            p_lo, p_hi = ndtr(lo), ndtr(hi)
            eps = np.clip(ndtri(p_lo + rng.random(n) * (p_hi - p_lo)), lo, hi)
            eps = np.where(flip, -eps, eps)
            values = raw[:, rule.matrix_column].astype(np.float64) + self.sigma[rule.continuous_index] * eps
            if self.calibration is not None and self.calibration.source_quantiles.shape[0] == len(self.sigma):
                j = rule.continuous_index
                values = np.interp(values, self.calibration.source_quantiles[j], self.calibration.target_quantiles[j])
            matrix[:, rule.matrix_column] = values

    def _candidates(self, rng, size):
        """Rows from ``size`` proposed codes: those kept, with conditions imposed and checked."""
        components = rng.choice(len(self.proposal), size=size, p=self.proposal)
        raw = self.decode(self._codes(components, rng))
        keep = rng.random(size) * self.envelope[components] < self._weight(raw)
        raw = raw[keep]
        matrix = decode_to_matrix(raw, self.transformer, self.model_sigma, rng, calibration=self.calibration)
        self._impose(matrix, raw, rng)
        rows = self.transformer.inverse_transform(matrix, rng=rng)
        self._draw_pooled(rows, matrix, rng)
        return rows[self.conditions.check(rows)]

    def _draw_pooled(self, rows, matrix, rng):
        """Rows that took the pooled rare level draw it among the allowed pooled values."""
        for name, (values, weights) in self.conditions.pooled.items():
            span = next(s for s in self.transformer.spans_ if s.column == name)
            rare = matrix[:, span.stop - 1] == 1.0
            if rare.any():
                picks = rng.choice(len(values), int(rare.sum()), p=weights / weights.sum())
                column = rows[name].to_numpy(dtype=object, copy=True)
                column[rare] = np.array(values, dtype=object)[picks]
                rows[name] = pd.Series(column).astype(rows[name].dtype, errors="ignore")

    def rows(self, rng, n):
        """Exactly ``n`` rows that satisfy the conditions, drawn with ``rng``."""
        parts, have, drawn, kept = [], 0, 0, 0
        rate = self.accept_rate
        while have < n:
            size = int(min(65_536, max(1_024, math.ceil(1.1 * (n - have) / max(rate, 1e-3)) + 64)))
            part = self._candidates(rng, size)
            drawn += size
            kept += len(part)
            rate = max(kept / drawn, 1e-4)
            parts.append(part)
            have += len(part)
            if have < n and drawn > _MAX_DRAWS_PER_ROW * max(n, 1_000):
                raise DataError(
                    f"the model almost never makes rows with {self.conditions.text}: "
                    f"{kept} of {drawn} drawn rows met them; loosen the conditions"
                )
        return pd.concat(parts, ignore_index=True).iloc[:n].reset_index(drop=True)


def _interval(raw, rule, sigma):
    """P(value in range | z) and the standardized bounds, on the side of the mean where
    the normal CDF difference does not cancel."""
    mu = raw[:, rule.matrix_column].astype(np.float64)
    s = sigma[rule.continuous_index]
    a, b = rule.pre_noise
    alpha, beta = (a - mu) / s, (b - mu) / s
    flip = alpha > 0
    lo = np.where(flip, -beta, alpha)
    hi = np.where(flip, -alpha, beta)
    return ndtr(hi) - ndtr(lo), flip, lo, hi


def generate(sampler, transformer, start, stop, seed, chunk_rows, finish=None):
    """Yield rows ``start`` to ``stop`` of the conditional sample ``seed`` defines.

    As in :func:`synthvae.sampler.generate`, chunk ``c`` is made whole by its own
    generator (seed, c), so any slice of the sample is the same however it is asked for.
    ``finish(rows, chunk, lo, hi)`` may replace rows of the whole chunk before slicing.
    """
    for chunk in range(start // chunk_rows, (stop - 1) // chunk_rows + 1):
        rng = np.random.default_rng([seed, chunk, 1])
        chunk_start = chunk * chunk_rows
        rows = renumber_identifiers(sampler.rows(rng, chunk_rows), transformer, chunk_start)
        lo, hi = max(start, chunk_start) - chunk_start, min(stop, chunk_start + chunk_rows) - chunk_start
        if finish is not None:
            rows = finish(rows, chunk, lo, hi)
        rows = rows.iloc[lo:hi]
        rows.index = np.arange(chunk_start + lo, chunk_start + hi) - start
        yield rows


def renumber_identifiers(rows, transformer, row_offset):
    """Give regenerated identifier columns the running numbers of their final positions."""
    for spec, t in zip(transformer.schema.columns, transformer.transformers_):
        if isinstance(t, IdentifierTransformer):
            values = t.inverse_transform(np.zeros((len(rows), 0), np.float32), row_offset=row_offset)
            rows[spec.name] = values.astype(rows[spec.name].dtype).to_numpy()
    return rows
