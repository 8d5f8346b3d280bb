"""Conditions checked against a fitted model and compiled for the conditional sampler.

Each condition is checked against what the column's transformer knows (its values, or
the range of its values) and fails at once, naming the column and what it holds, when
no row can meet it. The rest are compiled in the transformers' own terms: a set of
allowed values becomes allowed slots of a softmax group (a derived column's through
its source's group), a range becomes an interval of the pre-noise decoder value where
the written value is monotone in one matrix column. :mod:`synthvae.conditional_draw`
draws the rows (its docstring says why that is exact and fast).

Parsing lives in :mod:`synthvae.condition_parsing` and drawing in
:mod:`synthvae.conditional_draw`; both are reachable from here.
"""

from __future__ import annotations

import dataclasses
import itertools
import math

import numpy as np
import pandas as pd

from synthvae import datetimes
from synthvae.condition_parsing import OPERATORS, normalize, parse_where
from synthvae.conditional_draw import ConditionalSampler
from synthvae.errors import DataError
from synthvae.rules import Combinations, Depends, Order, Sum
from synthvae.rules.values import MISSING, category_value
from synthvae.transformers import MISSING_KEY, level_key, parse_bool

__all__ = [
    "OPERATORS",
    "ConditionalSampler",
    "Conditions",
    "compile_conditions",
    "normalize",
    "parse_where",
]

_RANGE_OPERATORS = (">=", "<=", ">", "<", "==")
# Known values named in an error message, at most.
_SHOW_LEVELS = 20
_GRID_POINTS = 20_001
# Conditions allowing more value combinations than this are not checked against the rules.
_MAX_COMBINATIONS = 100_000


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
            hit = column.isin([k for k in keys if k != MISSING_KEY]).to_numpy()
            ok &= (hit | column.isna().to_numpy()) if MISSING_KEY in keys else hit
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
    allowed, ranges, pooled = {}, [], {}
    for name, conds in by_column.items():
        spec, t = schema[name], transformer.column_transformer(name)
        if t.condition_type == "levels":
            allowed[name] = _allowed_levels(name, spec, t, conds)
        elif t.condition_type == "range":
            ranges.append(_range(name, spec, t, conds))
        elif t.condition_type == "fixed":
            _check_constant(name, t, conds)
        else:
            raise DataError(f"cannot condition on {name!r}: {t.condition_refusal}")
    text = " and ".join(f"{n} {op} {v!r}" for n, op, v in items)
    _check_rules(allowed, ranges, getattr(transformer, "rules_", ()), text, transformer)
    levels = _level_rules(allowed, transformer, pooled)
    for rule in ranges:
        _locate(rule, transformer, transformer.column_transformer(rule.column), calibration)
    return Conditions(levels, ranges, allowed, pooled, text)


def _check_rules(allowed, ranges, rules, text, transformer):
    """Raise DataError, naming the rule, when the rules every generated row obeys
    leave no row that meets the conditions."""
    limits = {r.column: r for r in ranges}

    def lowest(name):
        """The least value a column may take here: its condition's, else its training
        range's, or the least of its values for a column of a few numbers (tolls);
        -inf where it may be missing (a row missing a part is not bound by the sum)."""
        if name in limits:
            return limits[name].lo
        t = transformer.column_transformer(name)
        if t.condition_type == "range":
            return -math.inf if t.indicator_span() is not None else t.value_range()[0]
        if t.condition_type == "levels":
            values = list(allowed[name] if name in allowed else t.known_values())
            numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool) and v == v]
            return min(numbers) if numbers and len(numbers) == len(values) else -math.inf
        return -math.inf

    for rule in rules:
        if isinstance(rule, Combinations) and rule.excluded and all(c in allowed for c in rule.columns):
            sets = [allowed[c] for c in rule.columns]
            if math.prod(len(s) for s in sets) > _MAX_COMBINATIONS:
                continue
            excluded = {tuple(_rule_key(v) for v in combo) for combo in rule.excluded}
            impossible = all(combo in excluded for combo in itertools.product(*sets))
        elif isinstance(rule, Depends) and rule.mapping is not None and rule.on in allowed and rule.column in allowed:
            impossible = not any(_rule_key(a) in allowed[rule.on] and _rule_key(b) in allowed[rule.column]
                                 for a, b in rule.mapping)
        elif isinstance(rule, Order):
            impossible = False
            for low, high in zip(rule.columns, rule.columns[1:]):
                if low in limits and high in limits:
                    a, b = limits[low], limits[high]
                    impossible |= a.lo > b.hi or (a.lo == b.hi and (rule.strict or a.lo_strict or b.hi_strict))
        elif isinstance(rule, Sum) and rule.total in limits and any(p in limits for p in rule.parts):
            # The total is at least the parts' sum: below the least sum they allow, no row.
            least = sum(lowest(p) for p in rule.parts)
            total = limits[rule.total]
            impossible = total.hi < least or (total.hi == least and (
                total.hi_strict or any(limits[p].lo_strict for p in rule.parts if p in limits)))
        else:
            continue
        if impossible:
            raise DataError(f"no row can satisfy {text}: every generated row obeys the rule {rule.describe()!r}")


def _rule_key(value):
    """A rule's value as the level key conditions compare (missing: MISSING_KEY)."""
    value = category_value(value)
    return MISSING_KEY if value is MISSING else level_key(value)


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
    (constant,) = t.known_values()
    for op, value in conds:
        values = value if op == "in" else [value]
        same = any(t.match_value(v) for v in values)
        if (op in ("==", "in") and not same) or (op == "!=" and same) or op not in ("==", "in", "!="):
            raise DataError(f"no row can satisfy {name} {op} {value!r}: {name!r} always holds {constant!r}")


def _allowed_levels(name, spec, t, conds):
    """The level keys (see :func:`synthvae.transformers.level_key`) of the values of
    ``name`` that meet every condition in ``conds``."""
    known = t.known_values()
    keys = {level_key(v) for v in known}
    numbers = [v for v in known if v is not None]
    numeric = bool(numbers) and all(isinstance(v, (int, float, np.number)) and not isinstance(v, bool) for v in numbers)
    for op, value in conds:
        if op in _RANGE_OPERATORS and op != "==" and numeric:
            # A number column with few values is modelled as categories; a range picks levels.
            x = _as_condition_number(name, spec, value)
            keys &= {level_key(v) for v in numbers if _compare(v, op, x)}
            continue
        if op not in ("==", "!=", "in"):
            raise DataError(
                f"{name!r} is a {spec.kind} column: use == or != with one of its values "
                f"({_listing(known)}), not {op!r}"
            )
        values = value if op == "in" else [value]
        matched = {level_key(_match_level(name, spec, t, v)) for v in values}
        keys = keys - matched if op == "!=" else keys & matched
    if not keys:
        raise DataError(f"no value of {name!r} satisfies {_words(name, conds)}; its values are: {_listing(known)}")
    return keys


def _compare(v, op, x):
    return {">=": v >= x, "<=": v <= x, ">": v > x, "<": v < x}[op]


def _words(name, conds):
    return " and ".join(f"{name} {op} {v!r}" if op in ("==", "!=", "in") else f"{name} {op} {str(v).strip()}"
                        for op, v in conds)


def _match_level(name, spec, t, value):
    """The known value of ``name`` that ``value`` means (see ``match_value``)."""
    if spec.kind == "boolean" and value is not None:
        value = parse_bool(value.strip() if isinstance(value, str) else value)
    hits = t.match_value(value)
    if len(hits) == 1:
        return hits[0]
    if hits:
        raise DataError(f"{value!r} is ambiguous for {name!r}: it matches {_listing(hits)}; give the exact value")
    raise DataError(f"{name!r} has no value {value!r}; its values are: {_listing(t.known_values())}")


def _level_rules(allowed, transformer, pooled):
    """The allowed slots of each softmax group (a derived column's are its source's)."""
    rules = {}
    for name, keys in allowed.items():
        selection = transformer.column_transformer(name).select_levels(keys, transformer)
        span = selection.span
        if selection.pooled is not None:
            pooled[span.column] = selection.pooled
        rule = rules.get(span.start)
        if rule is None:
            rules[span.start] = _Levels(span.start, span.width, selection.slots, [name], selection.rare_share)
        else:
            rule.rare_share *= selection.rare_share
            rule.slots &= selection.slots
            rule.columns.append(name)
            if not rule.slots:
                raise DataError(f"the conditions on {' and '.join(map(repr, rule.columns))} contradict each other: no row meets both")
    return list(rules.values())


def _range(name, spec, t, conds):
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
    low, high = t.value_range()
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
            return datetimes.value_to_seconds(value)
        except ValueError:
            raise DataError(f"{name!r} is a datetime column and {value!r} is not a date") from None
    try:
        x = float(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError):
        raise DataError(f"{name!r} is a {spec.kind} column and {value!r} is not a number") from None
    if math.isnan(x):
        raise DataError(f"{name!r}: NaN is not a usable bound")
    return x


def _show_number(x, spec):
    if spec.kind == "datetime":
        return datetimes.show_seconds(x)
    return f"{x:g}"


def _locate(rule, transformer, t, calibration):
    """Fill in where the column sits in the matrix and its pre-noise interval."""
    spans, indicator, monotone = transformer.spans_for(t), t.indicator_span(), t.monotone_span()
    if indicator is not None:
        rule.indicator_start = spans[indicator].start
    if monotone is None:
        return  # not monotone in one value: the final check does the work
    rule.matrix_column = spans[monotone].start
    rule.continuous_index = int(np.flatnonzero(transformer.continuous_columns_ == rule.matrix_column)[0])
    low, high = -8.0, 8.0  # in normal scores, beyond any training value's
    if calibration is not None and calibration.source_range(rule.continuous_index) is not None:
        low, high = calibration.source_range(rule.continuous_index)
    grid = np.linspace(low, high, _GRID_POINTS)
    scores = grid if calibration is None else calibration.map_column(rule.continuous_index, grid)
    values = t.scores_to_numbers(scores.astype(np.float32).astype(np.float64))
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
        return datetimes.to_seconds(series, spec.format)
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
