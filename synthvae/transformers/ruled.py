"""Columns built so that the table's rules hold in every generated row.

A rule is kept by construction, not by rejection: the model learns a form of the
column in which a row that breaks the rule cannot be written, and the column is
rebuilt from that form once the columns it reads are decoded.

* :class:`GapTransformer`: a number or date column bounded below by other columns,
  by an order (``pickup <= dropoff``) or a sum (``total >= fare + tip + tolls``,
  ``total = a + b``). The model learns the gap between the column and its bound;
  rebuilt, the column is the bound plus a gap that is never negative (never zero
  for a strict order, always zero for an exact sum), on the column's own grid of
  decimals or time unit.
* :class:`ExclusionTransformer`: a category column whose values may not occur
  together with some values of other columns (a combinations rule: Adult's
  Husband who is Female). Learned as any category column. Where the other column
  is a one-hot group too, the sampler draws the two groups from the decoder's own
  probabilities for the row restricted to the pairs the rule allows (the table's
  ``couplings_``), and the calibration matches the drawn shares to the training
  ones. A decoded row whose value is still excluded (a pooled value, a condition
  imposed on one column) gets its value drawn again from the column's training
  shares among the values allowed there.
* A dependency (``pickup_zone determines pickup_borough``) is a
  :class:`~synthvae.transformers.categorical.DerivedTransformer`: looked up.

:func:`plan_construction` decides, from the rules, which columns are built how.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from synthvae import datetimes
from synthvae.errors import DataError
from synthvae.rules import Combinations, Depends, Order, Range, Sum
from synthvae.rules.values import MISSING, category_value
from synthvae.transformers import learned
from synthvae.transformers.base import ColumnTransformer, span_levels
from synthvae.transformers.categorical import CategoricalTransformer
from synthvae.transformers.numeric import MissingIndicator, NumericTransformer

NUMBER_KINDS = ("continuous", "integer")
CATEGORY_KINDS = ("categorical", "boolean")
# A rebuilt column with at least this share of its gaps on a few frequent values is
# not calibrated (see GapTransformer.calibrated).
SPIKED_SHARE = 0.5
# Rounding onto a column's grid never crosses a bound by more than float noise.
_GRID_TOLERANCE = 1e-6


class Plan:
    """How each column is built so that the rules hold.

    Attributes
    ----------
    depends : dict
        column -> the column a rule says it is looked up from.
    found_depends : dict
        column -> the column it is found to be a function of without a rule (see
        :func:`~synthvae.transformers.categorical.find_derived_columns`), less any
        that would close a circle with a rule's.
    bounds : dict
        column -> list of lower bounds, each ``{"parts": [names], "strict": bool,
        "exact": bool}``: the column is at least the parts' sum (more than it when
        strict, equal to it when exact).
    exclusions : dict
        column -> list of ``(on, rule, target)``: the combinations rule ``rule``
        between ``on`` and ``target`` (the column itself, or a column looked up from
        it), kept by redrawing the column.
    built : list
        The rules kept by construction.
    unbuilt : list of (rule, reason)
        Rules that cannot be kept by construction.
    """

    def __init__(self):
        self.depends, self.found_depends, self.bounds, self.exclusions = {}, {}, {}, {}
        self.built, self.unbuilt = [], []


def plan_construction(rules, schema, found_depends):
    """Which column is built how so that every rule in ``rules`` holds.

    Parameters
    ----------
    rules : list
        The table's rules (found or declared).
    schema : Schema
    found_depends : dict
        Columns looked up from another column without a rule saying so (see
        :func:`~synthvae.transformers.categorical.find_derived_columns`).

    Returns
    -------
    Plan
    """
    plan = Plan()
    kinds = {c.name: c.kind for c in schema.columns}
    order = {name: i for i, name in enumerate(schema.names)}

    def unbuilt(rule, reason):
        plan.unbuilt.append((rule, reason))

    for rule in rules:
        if isinstance(rule, Depends):
            if kinds.get(rule.column) not in CATEGORY_KINDS or kinds.get(rule.on) not in CATEGORY_KINDS:
                unbuilt(rule, "a looked-up column and its source must both be category columns")
            elif rule.column in plan.depends:
                unbuilt(rule, f"{rule.column!r} is already looked up from {plan.depends[rule.column]!r}")
            else:
                plan.depends[rule.column] = rule.on
                plan.built.append(rule)
    depends = dict(found_depends)
    for target, source in plan.depends.items():
        depends[target] = source
    # A column found to be a function of another must not close a circle with a rule's.
    for target in list(depends):
        seen, name = set(), target
        while name in depends and name not in seen:
            seen.add(name)
            name = depends[name]
        if name in seen:
            for member in seen:
                if member not in plan.depends:
                    depends.pop(member, None)
    plan.found_depends = {t: s for t, s in depends.items() if t not in plan.depends}

    def root(name):
        while name in depends:
            name = depends[name]
        return name

    for rule in rules:
        if isinstance(rule, Depends):
            continue
        if isinstance(rule, Range):
            # Generated values stay within the training rows' range, which obeys it.
            plan.built.append(rule)
        elif isinstance(rule, Order):
            later = rule.columns[1:]
            if any(kinds.get(n) not in NUMBER_KINDS + ("datetime",) or n in depends for n in later):
                unbuilt(rule, "only a number or date column can be built above another")
                continue
            for low, high in zip(rule.columns, rule.columns[1:]):
                plan.bounds.setdefault(high, []).append({"parts": [low], "strict": rule.strict, "exact": False})
            plan.built.append(rule)
        elif isinstance(rule, Sum):
            if kinds.get(rule.total) not in NUMBER_KINDS:
                unbuilt(rule, "only a number column can be built as a sum")
                continue
            plan.bounds.setdefault(rule.total, []).append(
                {"parts": list(rule.parts), "strict": False, "exact": rule.remainder == "zero"})
            plan.built.append(rule)
        elif isinstance(rule, Combinations):
            if len(rule.columns) != 2 or rule.allowed is not None or not rule.excluded:
                unbuilt(rule, "only excluded pairs of values are built")
                continue
            first, second = rule.columns
            if any(kinds.get(n) not in CATEGORY_KINDS for n in rule.columns) or root(first) == root(second):
                unbuilt(rule, "its columns are not two category columns learned apart")
                continue
            on, target = (first, second) if order[root(first)] < order[root(second)] else (second, first)
            plan.exclusions.setdefault(root(target), []).append((on, rule, target))
            plan.built.append(rule)
    built = {id(rule) for rule in plan.built}
    plan.built = [rule for rule in rules if id(rule) in built]  # in the rules' own order
    return plan


def exclusion_pairs(rule, on, target, frame, built_from):
    """The ``[on value, value]`` pairs of the column ``built_from`` that ``rule``
    excludes, as JSON values: the pairs of ``target`` it names, and where ``target``
    is looked up from ``built_from``, every value of ``built_from`` that maps to one."""
    first = rule.columns.index(on)
    excluded = [(combo[first], combo[1 - first]) for combo in rule.excluded]
    if target != built_from:
        lookup = learned.lookup(frame[target], frame[built_from])
        maps_to = {}
        for source_value, value in lookup:
            maps_to.setdefault(category_value(value), []).append(category_value(source_value))
        excluded = [(a, s) for a, b in excluded for s in maps_to.get(b, [])]
    return [[_json(a), _json(b)] for a, b in dict.fromkeys(excluded)]


def _json(value):
    return None if value is MISSING else value


def _key(value):
    """A rule's value (JSON or ``category_value``) as decoded columns hold it (None:
    missing)."""
    value = category_value(value)
    return None if value is MISSING else value


def _codes(index, values):
    """Positions in ``index`` (whose missing value is None) of the decoded ``values``,
    -1 for values it lacks. Lookups match 13 and 13.0 alike, as Python's equality
    does; a missing value written as NaN matches None."""
    values = np.asarray(values, dtype=object)
    codes = index.get_indexer(values)
    if index.hasnans:
        unmatched = np.flatnonzero(codes < 0)
        if len(unmatched):
            missing = unmatched[pd.isna(values[unmatched])]
            codes[missing] = index.get_indexer([None])[0]
    return codes


class GapTransformer(ColumnTransformer):
    """A number or date column at or above the sum of other columns (see the module
    docstring): learned as its gap over that bound, rebuilt as bound plus gap.

    Parameters
    ----------
    bounds : list of dict
        ``{"parts": [names], "strict": bool, "exact": bool}``: the column is at least
        the parts' sum, more than it when strict, equal to it when exact. Rows where
        a part is missing are not bound by it.
    datetime : bool
        The column holds dates (as seconds since the epoch here), written back in
        ``format``.
    input_formats : dict
        The date format of each date column among the parts (``None``: a datetime
        dtype); the other parts are numbers.
    integer, nullable : bool
        The column holds whole numbers; the column has missing values.
    """

    condition_type = "range"

    def __init__(self, bounds=(), datetime=False, format=None, input_formats=None, integer=False, nullable=False,
                 encoding="quantile", random_state=0):
        self.bounds = [dict(b) for b in bounds]
        self.datetime = datetime
        self.format = format
        self.input_formats = dict(input_formats or {})
        self.integer = integer
        self.nullable = nullable
        self.encoding = encoding
        self.random_state = random_state

    @property
    def inputs(self):
        return tuple(dict.fromkeys(name for bound in self.bounds for name in bound["parts"]))

    @property
    def spans(self):
        return () if self.inner_ is None else tuple(self.inner_.spans)

    def numbers(self, series):
        """The column's values as numbers (dates as seconds since the epoch), NaN where missing."""
        return self._own(series)

    def _own(self, series):
        if self.datetime:
            return datetimes.to_seconds(series, self.format)
        return pd.to_numeric(pd.Series(series), errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)

    def _input(self, name, series):
        if name in self.input_formats:
            return datetimes.to_seconds(series, self.input_formats[name])
        return pd.to_numeric(pd.Series(series), errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)

    def _sums(self, columns):
        """Each bound's value per row (NaN where a part is missing)."""
        numbers = {name: self._input(name, series) for name, series in columns.items()}
        return [np.sum([numbers[n] for n in bound["parts"]], axis=0) for bound in self.bounds]

    def _gaps(self, series, columns):
        sums = self._sums(columns)
        lower = np.fmax.reduce(sums) if len(sums) > 1 else sums[0]
        base = np.where(np.isnan(lower), self.fill_, lower)
        # Whole units: sums of cents in floating point are off by 1e-15.
        return np.round(self._own(series) - base, 9)

    def present(self, series):
        return ~np.isnan(self._own(series))

    def fit(self, series, *inputs):
        values = self._own(series)
        present = values[~np.isnan(values)]
        columns = dict(zip(self.inputs, inputs))
        sums = self._sums(columns)
        lower = np.fmax.reduce(sums) if len(sums) > 1 else sums[0]
        self.min_, self.max_ = learned.value_range(present)
        if self.datetime:
            self.step_, self.decimals_ = float(learned.time_unit(pd.Series(present))), 0
            self.grid_, self.grid_share_ = self.step_, 1.0
        else:
            self.decimals_ = 0 if self.integer else learned.decimals(present)
            self.step_ = 10.0 ** -self.decimals_
            self.grid_, self.grid_share_ = learned.value_grid(present, self.step_)
        self.fill_ = learned.middle(lower)
        self.value_map_ = None  # see calibrate
        gaps = self._gaps(series, columns)
        # The share of rows whose gap is one of a few frequent values (see calibrated).
        self.spiked_share_ = float(np.isin(gaps, learned.frequent_values(gaps)).mean()) if len(gaps) else 0.0
        if not np.isnan(gaps).any() and np.all(gaps == 0):
            self.inner_ = None  # an exact sum in every row: nothing to learn
            return self
        inner = NumericTransformer(self.encoding, random_state=self.random_state)
        self.inner_ = (MissingIndicator(inner) if np.isnan(gaps).any() else inner).fit(pd.Series(gaps))
        return self

    def transform(self, series, *inputs):
        if self.inner_ is None:
            return np.zeros((len(series), 0), dtype=np.float32)
        return self.inner_.transform(pd.Series(self._gaps(series, dict(zip(self.inputs, inputs)))))

    def _drawn(self, block, decoded, codes):
        """Each bound's sum per row, the largest of them (NaN: no bound in the row), and
        the column as that bound plus the decoded gap, never below the bound."""
        sums = self._sums({name: decoded[name] for name in self.inputs})
        if self.inner_ is None:
            gaps = np.zeros(len(block))
        else:
            gaps = self.inner_.inverse_transform(block, codes=codes).to_numpy(dtype=np.float64, na_value=np.nan)
        lower = np.fmax.reduce(sums) if len(sums) > 1 else sums[0]
        bounded = ~np.isnan(lower)
        values = np.where(bounded, lower, self.fill_) + np.where(bounded, np.maximum(gaps, 0.0), gaps)
        return sums, lower, bounded, values

    def drawn_values(self, block, decoded=None, codes=None):
        """The column as bound plus gap for decoded rows, before its value map, range
        and grid (what :meth:`calibrate`'s map is fitted on), and each row's bound (NaN:
        none): ``(values, bounds)``."""
        _, lower, _, values = self._drawn(block, decoded, codes)
        return values, lower

    @property
    def calibrated(self):
        """Whether the column's values can be calibrated (see :meth:`calibrate`): it has a
        gap to learn, and not mostly a few frequent gaps. Such a column (a taxi total
        over fare, tip and tolls, whose gap is a sum of fixed surcharges) takes its
        shape from those spikes and from its parts: a map of its values would move
        rows off the spikes."""
        return self.inner_ is not None and self.spiked_share_ < SPIKED_SHARE

    def calibrate(self, source, target):
        """Map the rebuilt column's values, bound plus gap, through the monotone
        piecewise-linear map from the quantiles ``source`` (of :meth:`drawn_values` for
        prior draws) to ``target`` (of the training values) before the bounds, range
        and grid apply: a gap and the parts decoded together sum a little off the
        training column (taxi fares over tip and tolls did), and the bound taken after
        the map still holds in every row. None: no map. Returns self."""
        if source is None:
            self.value_map_ = None
        else:
            self.value_map_ = (np.asarray(source, dtype=np.float64), np.asarray(target, dtype=np.float64))
        return self

    def inverse_transform(self, block, rng=None, row_offset=0, decoded=None, codes=None):
        sums, lower, bounded, values = self._drawn(block, decoded, codes)
        n = len(block)
        if self.value_map_ is not None:
            present = ~np.isnan(values)
            values[present] = np.interp(values[present], *self.value_map_)
            values = np.where(bounded, np.maximum(values, lower), values)
        # Within the training range, unless a bound lies above it.
        values = np.minimum(values, np.fmax(self.max_, lower))
        values = np.where(bounded, values, np.maximum(values, self.min_))
        exact = np.zeros(n, dtype=bool)
        for bound, total in zip(self.bounds, sums):
            if bound["exact"]:
                exact |= ~np.isnan(total) & ~np.isnan(values)
                values = np.where(exact, total, values)
        if self.grid_ > self.step_:
            values = self._onto_grid(values, sums, exact, rng)
        # Onto the column's grid, upwards where bound so that rounding keeps the bound.
        scaled = values / self.step_
        values = np.where(bounded, np.ceil(scaled - _GRID_TOLERANCE), np.round(scaled)) * self.step_
        for bound, total in zip(self.bounds, sums):
            if bound["strict"]:
                values = np.where(values <= total + self.step_ * _GRID_TOLERANCE, values + self.step_, values)
        missing = np.isnan(values)
        if self.datetime:
            written = datetimes.from_seconds(np.where(missing, 0, values), self.format)
            return written.where(~missing, None) if written.dtype == object else written.mask(missing)
        return pd.Series(np.round(values, self.decimals_))

    def _onto_grid(self, values, sums, exact, rng):
        """The share of rows that lie on the column's coarser grid in the training rows
        (fares in half dollars) moved to its nearest point the bounds allow, so that
        the bound plus a gap keeps the column's spikes: a gap learned beside a tip in
        cents would smear them. The others stay on the finer grid."""
        grid = self.grid_
        # The lowest grid point each bound allows (above it when strict).
        lowest = np.full(len(values), np.nan)
        for bound, total in zip(self.bounds, sums):
            if bound["strict"]:
                point = (np.floor(total / grid + _GRID_TOLERANCE) + 1) * grid
            else:
                point = np.ceil(total / grid - _GRID_TOLERANCE) * grid
            lowest = np.fmax(lowest, point)
        coarse = np.fmax(np.round(values / grid) * grid, lowest)
        coarse = np.minimum(coarse, np.fmax(np.floor(self.max_ / grid + _GRID_TOLERANCE) * grid, lowest))
        coarse = np.where(np.isnan(lowest), np.maximum(coarse, np.ceil(self.min_ / grid - _GRID_TOLERANCE) * grid),
                          coarse)
        snap = ~exact & ~np.isnan(values)
        if rng is not None and self.grid_share_ < 1.0:
            snap &= rng.random(len(values)) < self.grid_share_
        return np.where(snap, coarse, values)

    def get_state(self):
        return {
            "grid": self.grid_, "grid_share": self.grid_share_,
            "bounds": self.bounds, "datetime": self.datetime, "format": self.format,
            "input_formats": self.input_formats, "integer": self.integer, "nullable": self.nullable,
            "min": self.min_, "max": self.max_, "step": self.step_, "decimals": self.decimals_, "fill": self.fill_,
            "inner": None if self.inner_ is None else {"type": type(self.inner_).__name__, "state": self.inner_.get_state()},
            "value_map": None if self.value_map_ is None else {"source": self.value_map_[0].tolist(),
                                                               "target": self.value_map_[1].tolist()},
            "spiked_share": self.spiked_share_,
        }

    @classmethod
    def from_state(cls, state):
        self = cls(state["bounds"], state["datetime"], state["format"], state["input_formats"], state["integer"],
                   state["nullable"])
        self.min_, self.max_, self.step_ = state["min"], state["max"], state["step"]
        self.decimals_, self.fill_ = state["decimals"], state["fill"]
        self.grid_, self.grid_share_ = state.get("grid", self.step_), state.get("grid_share", 1.0)
        self.spiked_share_ = state.get("spiked_share", 0.0)
        value_map = state.get("value_map")
        self.calibrate(*((None, None) if value_map is None else (value_map["source"], value_map["target"])))
        inner = state["inner"]
        if inner is None:
            self.inner_ = None
        elif inner["type"] == "NumericTransformer":
            self.inner_ = NumericTransformer.from_state(inner["state"])
        elif inner["type"] == "MissingIndicator":
            self.inner_ = MissingIndicator.from_state(inner["state"])
        else:
            raise DataError(f"model file names an unknown transformer {inner['type']!r}")
        return self

    # A range condition on a rebuilt column is met by the sampler's final check.
    def value_range(self):
        return self.min_, self.max_

    def indicator_span(self):
        return self.inner_.indicator_span() if isinstance(self.inner_, MissingIndicator) else None

    def monotone_span(self):
        return None


class ExclusionTransformer(CategoricalTransformer):
    """A category column that may not take some values next to some values of other
    columns (see the module docstring).

    Parameters
    ----------
    exclusions : list of dict
        ``{"on": name, "pairs": [[on value, value], ...]}``: the column never holds
        ``value`` in a row where ``on`` holds ``on value``.

    A row whose value is excluded gets one drawn again from the allowed values, with
    the shares they have in the training rows beside the row's values of the other
    columns (for each exclusion's ``on`` value it names: ``conditional_``), so that a
    Husband redrawn is Male, and a green taxi's zone one green taxis serve.
    """

    def __init__(self, exclusions=(), max_levels=None, unseen_slot=False, missing_level=False):
        from synthvae.transformers.categorical import MAX_LEVELS

        super().__init__(MAX_LEVELS if max_levels is None else max_levels, unseen_slot, missing_level)
        self.exclusions = [dict(e) for e in exclusions]

    @property
    def inputs(self):
        return tuple(dict.fromkeys(e["on"] for e in self.exclusions))

    def fit(self, series, *inputs):
        super().fit(series)
        self.values_, self.shares_ = learned.level_shares(series)
        columns = dict(zip(self.inputs, inputs))
        self.conditional_ = [
            learned.conditional_shares(series, columns[e["on"]], self._on_values(e), self.values_)
            for e in self.exclusions
        ]
        self._build_tables()
        return self

    @staticmethod
    def _on_values(exclusion):
        """The values of the other column that an exclusion names, in its table's order."""
        return list(dict.fromkeys(_key(a) for a, _ in exclusion["pairs"]))

    def transform(self, series, *inputs):
        return super().transform(series)

    def _build_tables(self):
        """Per exclusion, its ``on`` values (an index) and a table of which of this
        column's values each excludes (one spare row and column: values not listed)."""
        self._values = pd.Index(self.values_, dtype=object)
        self._slot_values = np.append(_codes(self._values, self.levels_), -1)
        self._tables = []
        for exclusion, conditional in zip(self.exclusions, self.conditional_):
            on_keys = self._on_values(exclusion)
            on_index = pd.Index(on_keys, dtype=object)
            table = np.zeros((len(on_keys) + 1, len(self._values) + 1), dtype=bool)
            for a, b in exclusion["pairs"]:
                column = self._values.get_indexer([_key(b)])[0]
                if column >= 0:
                    table[on_index.get_indexer([_key(a)])[0], column] = True
            # The shares of this column's values beside each named value (a spare row
            # of ones: a value not named says nothing).
            shares = np.vstack([np.asarray(conditional, dtype=np.float64).reshape(len(on_keys), len(self._values)),
                                np.ones((1, len(self._values)))])
            self._tables.append((exclusion["on"], on_index, table, shares))
        # Per value (and one spare: values not listed), whether an exclusion names it.
        self._named = np.zeros(len(self._values) + 1, dtype=bool)
        for _, _, table, _ in self._tables:
            self._named |= table.any(axis=0)

    def excluded_slots(self, on, on_levels, on_width):
        """Which slots of this column's group a row may not take beside each slot of
        the group of the column ``on``, whose slots hold ``on_levels`` (and after them
        a pooled or unseen slot): a bool array, ``on_width`` x this group's width.
        A pooled or unseen slot, whose value is known only once drawn, excludes and is
        excluded by nothing here (the check after decoding covers it)."""
        width = self.spans[0][1]
        excluded = np.zeros((on_width, width), dtype=bool)
        on_slots = np.arange(min(len(on_levels), on_width))
        own = np.flatnonzero(self._slot_values[:width] >= 0)
        for name, on_index, table, _ in self._tables:
            if name != on:
                continue
            rows = _codes(on_index, np.array(list(on_levels), dtype=object)[on_slots])
            rows = np.where(rows < 0, len(on_index), rows)
            excluded[np.ix_(on_slots, own)] |= table[np.ix_(rows, self._slot_values[own])]
        return excluded

    def inverse_levels(self, block, rng=None, row_offset=0, decoded=None, codes=None, levels=None):
        """The rows as positions in a table of values: the column's own table (see
        :meth:`CategoricalTransformer.inverse_levels`), then the values a broken row may
        be drawn again as. An other column given in ``levels`` is looked up once per
        value of its table."""
        slots = span_levels(block, codes)
        positions, values = super().inverse_levels(block, rng, row_offset, decoded, codes=[slots])
        # Each row's value as a position in values_: through its slot, looked up only
        # where the slot is the pooled or unseen one.
        codes = self._slot_values[slots]
        other = np.flatnonzero(codes < 0)
        if len(other):
            codes[other] = _codes(self._values, values[positions[other]])
        codes = np.where(codes < 0, len(self._values), codes)
        # Only rows holding a value that some exclusion names can break one: the
        # other columns are looked up for those rows alone.
        rows = np.flatnonzero(self._named[codes])
        if not len(rows):
            return positions, values
        codes = codes[rows]
        rows_on = []
        broken = np.zeros(len(rows), dtype=bool)
        for on, on_index, table, _ in self._tables:
            given = (levels or {}).get(on)
            if given is None:
                on_codes = _codes(on_index, np.asarray(decoded[on], dtype=object)[rows])
            else:
                on_positions, on_values = given
                on_codes = _codes(on_index, np.asarray(on_values, dtype=object))[on_positions[rows]]
            on_codes = np.where(on_codes < 0, len(on_index), on_codes)
            rows_on.append(on_codes)
            broken |= table[on_codes, codes]
        if not broken.any():
            return positions, values
        # Drawn again among the allowed values, as the training rows share them beside
        # the values the row holds (the column's own shares where those allow none).
        allowed = np.ones((int(broken.sum()), len(self._values)), dtype=bool)
        beside = np.ones(allowed.shape)
        for (_, _, table, shares), on_codes in zip(self._tables, rows_on):
            allowed &= ~table[on_codes[broken], : len(self._values)]
            beside *= shares[on_codes[broken]]
        rows = rows[broken]
        weights = allowed * beside
        none = weights.sum(axis=1) <= 0
        weights[none] = allowed[none] * np.asarray(self.shares_)[None, :]
        drawable = weights.sum(axis=1) > 0
        if rng is None:
            choice = weights.argmax(axis=1)
        else:
            cumulative = np.cumsum(weights, axis=1)
            u = rng.random(len(rows)) * cumulative[:, -1]
            choice = np.minimum((cumulative <= u[:, None]).sum(axis=1), len(self._values) - 1)
        positions = positions.copy()
        positions[rows[drawable]] = len(values) + choice[drawable]
        return positions, np.concatenate([values, np.array(self.values_, dtype=object)])

    def get_state(self):
        state = super().get_state()
        state.update({"exclusions": self.exclusions, "values": self.values_, "shares": self.shares_,
                      "conditional": self.conditional_})
        return state

    @classmethod
    def from_state(cls, state):
        self = super().from_state(state)
        self.exclusions = [dict(e) for e in state["exclusions"]]
        self.values_, self.shares_ = list(state["values"]), list(state["shares"])
        self.conditional_ = state["conditional"]
        self._build_tables()
        return self
