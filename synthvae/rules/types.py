"""The rule types: what every row of a table must obey.

Each rule is a small frozen dataclass with

* ``to_dict()`` / ``from_dict()``: its JSON form in the schema file, e.g.
  ``{"rule": "order", "columns": ["pickup", "dropoff"]}``;
* ``violations(frame, schema=None)``: a boolean mask of the rows that break it;
* ``describe()``: one line for messages and reports;
* ``columns``: every column it involves (``all_columns`` for a Sum).

Missing values: a row where a column of an order, sum or range is missing does not
break it (the rule speaks of the values present). For depends and combinations,
missing is a category value of its own, as everywhere else in synthvae.

Facts learned from the training rows ride along where a rule needs them to be
checked on other rows: the mapping of a :class:`Depends`, the excluded (or allowed)
combinations of a :class:`Combinations`. They are optional in the JSON form; a rule
declared without them is checked against the rows it is given.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from synthvae.datetimes import value_to_seconds
from synthvae.errors import DataError
from synthvae.rules.values import MISSING, category_value, column, combos, json_value, numbers, units

# Combinations seen in fewer rows than this are rare: a generator does not produce
# them. The same k as value protection, which keeps levels that few rows share out
# of the output: a combination that rare is as identifying as a rare level. One
# constant for both (value protection's k, in synthvae.transformers.learned, is this).
RARE_ROWS = 5

REMAINDERS = ("zero", "nonnegative")


def _spec(schema, name):
    if schema is None:
        return None
    try:
        return schema[name]
    except KeyError:
        return None


def _values(frame, name, schema):
    return numbers(column(frame, name), _spec(schema, name))


def _names(obj, key, minimum):
    names = obj.get(key)
    if not isinstance(names, list) or len(names) < minimum or not all(isinstance(n, str) for n in names):
        raise DataError(f"rule {obj.get('rule')!r} needs {key!r}: a list of at least {minimum} column names")
    if len(set(names)) < len(names):
        raise DataError(f"rule {obj.get('rule')!r} names a column twice in {key!r}")
    return tuple(names)


def _name(obj, key):
    name = obj.get(key)
    if not isinstance(name, str):
        raise DataError(f"rule {obj.get('rule')!r} needs {key!r}: a column name")
    return name


def _show(value):
    return "missing" if value is MISSING else repr(value)


@dataclasses.dataclass(frozen=True)
class Order:
    """``columns[0] <= columns[1] <= ...`` (``<`` when ``strict``), numbers or datetimes."""

    columns: tuple
    strict: bool = False

    rule = "order"

    def __post_init__(self):
        object.__setattr__(self, "columns", tuple(self.columns))
        if len(self.columns) < 2:
            raise DataError("an order rule needs at least two columns")

    def to_dict(self):
        out = {"rule": self.rule, "columns": list(self.columns)}
        if self.strict:
            out["strict"] = True
        return out

    @classmethod
    def from_dict(cls, obj):
        return cls(_names(obj, "columns", 2), bool(obj.get("strict", False)))

    def describe(self):
        return f" {'<' if self.strict else '<='} ".join(self.columns)

    def violations(self, frame, schema=None):
        broken = np.zeros(len(frame), dtype=bool)
        values = [_values(frame, c, schema) for c in self.columns]
        for low, high in zip(values, values[1:]):
            broken |= (low >= high) if self.strict else (low > high)  # NaN compares False
        return broken


@dataclasses.dataclass(frozen=True)
class Sum:
    """``total = parts[0] + parts[1] + ...`` exactly (``remainder="zero"``), or
    ``total >= ...`` (``remainder="nonnegative"``), in whole units of the columns'
    decimals, so that cents add up exactly."""

    total: str
    parts: tuple
    remainder: str = "zero"

    rule = "sum"

    def __post_init__(self):
        object.__setattr__(self, "parts", tuple(self.parts))
        if self.remainder not in REMAINDERS:
            raise DataError(f"a sum's remainder is one of {', '.join(REMAINDERS)}, not {self.remainder!r}")
        if not self.parts or self.total in self.parts:
            raise DataError("a sum rule needs parts other than its total")

    @property
    def columns(self):
        return (*self.parts, self.total)

    def to_dict(self):
        return {"rule": self.rule, "total": self.total, "parts": list(self.parts), "remainder": self.remainder}

    @classmethod
    def from_dict(cls, obj):
        return cls(_name(obj, "total"), _names(obj, "parts", 1), obj.get("remainder", "zero"))

    def describe(self):
        return f"{self.total} {'=' if self.remainder == 'zero' else '>='} {' + '.join(self.parts)}"

    def violations(self, frame, schema=None):
        arrays = units([_values(frame, c, schema) for c in (self.total, *self.parts)])
        residual = arrays[0] - np.sum(arrays[1:], axis=0)
        present = ~np.isnan(residual)
        if self.remainder == "zero":
            return present & (residual != 0)
        return present & (residual < 0)


@dataclasses.dataclass(frozen=True)
class Depends:
    """``column`` is a function of ``on``: rows with the same ``on`` value share one
    ``column`` value. ``mapping`` (``((on_value, column_value), ...)``), learned from
    training rows, fixes that function; rows whose ``on`` value it does not list
    must agree with the other rows of the frame that share it."""

    column: str
    on: str
    mapping: tuple | None = None

    rule = "depends"

    def __post_init__(self):
        if self.column == self.on:
            raise DataError("a depends rule needs two different columns")
        if self.mapping is not None:
            object.__setattr__(self, "mapping", tuple(
                (category_value(k), category_value(v)) for k, v in self.mapping))

    @property
    def columns(self):
        return (self.on, self.column)

    def to_dict(self):
        out = {"rule": self.rule, "column": self.column, "on": self.on}
        if self.mapping is not None:
            out["mapping"] = [[json_value(k), json_value(v)] for k, v in self.mapping]
        return out

    @classmethod
    def from_dict(cls, obj):
        mapping = obj.get("mapping")
        if mapping is not None and not (isinstance(mapping, list) and all(
                isinstance(p, list) and len(p) == 2 for p in mapping)):
            raise DataError("a depends rule's mapping is a list of [value, value] pairs")
        return cls(_name(obj, "column"), _name(obj, "on"), mapping)

    def describe(self):
        return f"{self.on} determines {self.column}"

    def violations(self, frame, schema=None):
        codes, keys = combos(frame, [self.on, self.column])
        if len(codes) == 0:
            return np.zeros(0, dtype=bool)
        known = dict(self.mapping or ())
        rows = np.bincount(codes, minlength=len(keys))
        majority = {}  # on value -> (rows, column value) of its most frequent pair here
        for group, (on_value, value) in enumerate(keys):
            if rows[group] > majority.get(on_value, (-1, None))[0]:
                majority[on_value] = (rows[group], value)
        bad = np.array([
            value != (known[on_value] if on_value in known else majority[on_value][1])
            for on_value, value in keys
        ])
        return bad[codes]


@dataclasses.dataclass(frozen=True)
class Combinations:
    """Which value combinations of a group of category columns may occur.

    ``excluded`` lists combinations that must not occur (found from data: seen in
    fewer than ``min_rows`` training rows although the columns' frequencies make them
    common); ``allowed``, when given, lists the only ones that may. Declared without
    either, the combinations of the training rows seen in at least ``min_rows`` rows
    are the allowed ones: nothing to check on a single table.
    """

    columns: tuple
    excluded: tuple | None = None
    allowed: tuple | None = None
    min_rows: int = RARE_ROWS

    rule = "combinations"

    def __post_init__(self):
        object.__setattr__(self, "columns", tuple(self.columns))
        if len(self.columns) < 2:
            raise DataError("a combinations rule needs at least two columns")
        for field in ("excluded", "allowed"):
            combos_ = getattr(self, field)
            if combos_ is None:
                continue
            combos_ = tuple(tuple(category_value(v) for v in c) for c in combos_)
            if any(len(c) != len(self.columns) for c in combos_):
                raise DataError(f"each of a combinations rule's {field} has one value per column")
            object.__setattr__(self, field, combos_)

    def to_dict(self):
        out = {"rule": self.rule, "columns": list(self.columns)}
        for field in ("excluded", "allowed"):
            if getattr(self, field) is not None:
                out[field] = [[json_value(v) for v in c] for c in getattr(self, field)]
        if self.min_rows != RARE_ROWS:
            out["min_rows"] = self.min_rows
        return out

    @classmethod
    def from_dict(cls, obj):
        for field in ("excluded", "allowed"):
            value = obj.get(field)
            if value is not None and not (isinstance(value, list) and all(isinstance(c, list) for c in value)):
                raise DataError(f"a combinations rule's {field} is a list of lists of values")
        min_rows = obj.get("min_rows", RARE_ROWS)
        if not isinstance(min_rows, int) or isinstance(min_rows, bool) or min_rows < 1:
            raise DataError("a combinations rule's min_rows is a positive whole number")
        return cls(_names(obj, "columns", 2), obj.get("excluded"), obj.get("allowed"), min_rows)

    def describe(self):
        group = " x ".join(self.columns)
        if self.allowed is not None:
            return f"{group}: only {len(self.allowed)} combinations"
        if not self.excluded:
            return f"{group}: no combination seen in fewer than {self.min_rows} rows"
        shown = ", ".join("(" + ", ".join(_show(v) for v in c) + ")" for c in self.excluded[:3])
        more = f" and {len(self.excluded) - 3} more" if len(self.excluded) > 3 else ""
        return f"{group}: never {shown}{more}"

    def violations(self, frame, schema=None, rare_ok=False):
        """Rows whose combination is excluded or not allowed.

        With ``rare_ok``, a combination held by fewer than ``min_rows`` rows of
        ``frame`` breaks nothing: training rows may hold the few exceptions of a
        near-rule (Adult's one Husband who is Female), which a generator leaves out.
        """
        codes, keys = combos(frame, self.columns)
        if len(codes) == 0:
            return np.zeros(0, dtype=bool)
        excluded = set(self.excluded or ())
        allowed = None if self.allowed is None else set(self.allowed)
        bad = np.array([k in excluded or (allowed is not None and k not in allowed) for k in keys])
        if rare_ok:
            bad &= np.bincount(codes, minlength=len(keys)) >= self.min_rows
        return bad[codes]


@dataclasses.dataclass(frozen=True)
class Range:
    """``min <= column <= max`` (either bound may be absent); datetimes as text."""

    column: str
    min: object = None
    max: object = None

    rule = "range"

    def __post_init__(self):
        if self.min is None and self.max is None:
            raise DataError("a range rule needs min, max or both")

    @property
    def columns(self):
        return (self.column,)

    def to_dict(self):
        out = {"rule": self.rule, "column": self.column}
        if self.min is not None:
            out["min"] = self.min
        if self.max is not None:
            out["max"] = self.max
        return out

    @classmethod
    def from_dict(cls, obj):
        return cls(_name(obj, "column"), obj.get("min"), obj.get("max"))

    def describe(self):
        low = "" if self.min is None else f"{self.min} <= "
        high = "" if self.max is None else f" <= {self.max}"
        return f"{low}{self.column}{high}"

    def violations(self, frame, schema=None):
        values = _values(frame, self.column, schema)
        broken = np.zeros(len(frame), dtype=bool)
        if self.min is not None:
            broken |= values < _bound(self.min)
        if self.max is not None:
            broken |= values > _bound(self.max)
        return broken


def _bound(value):
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    try:
        return value_to_seconds(value)
    except ValueError:
        raise DataError(f"a range bound must be a number or a date, not {value!r}") from None


RULE_TYPES = {t.rule: t for t in (Order, Sum, Depends, Combinations, Range)}


def rule_from_dict(obj):
    """The rule a JSON object (as in the schema file) declares.

    Raises
    ------
    DataError
        ``obj`` is not a rule: an unknown ``"rule"``, a missing or malformed field.
    """
    if not isinstance(obj, dict) or obj.get("rule") not in RULE_TYPES:
        kind = obj.get("rule") if isinstance(obj, dict) else obj
        raise DataError(f"unknown rule {kind!r}; rules are {', '.join(RULE_TYPES)}")
    return RULE_TYPES[obj["rule"]].from_dict(obj)
