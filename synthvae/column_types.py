"""The type each column of a table keeps from chunk to chunk, so that a table read in
chunks is read as one table: see :class:`ColumnTypes`."""

from __future__ import annotations

import numpy as np
import pandas as pd

from synthvae.errors import DataError


class ColumnTypes:
    """The type each column keeps from chunk to chunk: ``"number"``, ``"bool"`` or
    ``"text"`` (None until a chunk shows a value).

    Text columns are read as text from the start (so ``007`` stays ``007`` in every
    chunk); a number column that shows text later, or a True/False column that shows
    anything else, is refused. Whole numbers that meet decimals (or gaps) become
    decimals, as they would in a table read whole.
    """

    def __init__(self, types=None):
        self.types = dict(types or {})
        self._float = set()

    @classmethod
    def from_schema(cls, schema):
        """The types a table with ``schema`` is read with."""
        types = {}
        for spec in schema.columns:
            dtype = spec.dtype
            if spec.kind == "boolean" or dtype == "bool":
                types[spec.name] = "bool"
            elif dtype.startswith(("int", "uint", "float", "Int", "UInt", "Float")):
                types[spec.name] = "number"
            elif dtype in ("object", "str", "string", "category"):
                types[spec.name] = "text"
        return cls(types)

    @property
    def known(self):
        return bool(self.types)

    def text_columns(self, names):
        return [n for n in names if self.types.get(n) == "text"]

    def learn(self, frame, codes=()):
        """Take each column's type from ``frame`` (the first rows), codes as text."""
        for name in frame.columns:
            if name in codes:
                self.types[name] = "text"
            elif name not in self.types:
                self.types[name] = _type_of(frame[name])

    def settle(self, frame, where):
        """``frame`` with each column in its type; DataError at the first value that
        does not fit. ``where(i)`` names the place of the chunk's ``i``-th row."""
        for name in frame.columns:
            series = frame[name]
            seen = _type_of(series)
            expected = self.types.get(name)
            if seen is None:
                continue
            if expected is None:
                self.types[name] = expected = seen
            if seen != expected and not (expected == "text" and seen != "text"):
                bad = _first_misfit(series, expected)
                raise DataError(
                    f"column {name!r} holds {_WORDS[expected]} in the rows before {where(bad)}, which holds "
                    f"{series.iloc[bad]!r}; a column must hold one kind of value throughout"
                )
            if expected == "number":
                if series.dtype.kind == "f" or name in self._float:
                    self._float.add(name)
                    if series.dtype.kind != "f":
                        frame[name] = series.astype("float64")
        return frame


_WORDS = {"number": "numbers", "bool": "True/False", "text": "text"}


def _type_of(series):
    """``"number"``, ``"bool"``, ``"text"``, or None for a column with no values."""
    kind = series.dtype.kind
    if kind == "b":
        return "bool"
    if kind in "iuf":
        return "number" if series.notna().any() else None
    values = series.dropna()
    if len(values) == 0:
        return None
    if kind == "O" and values.map(type).eq(bool).all():
        return "bool"
    if kind in "mM":
        return "datetime"
    return "text"


def _first_misfit(series, expected):
    """Position of the first value of ``series`` that is not of type ``expected``."""
    present = series.notna().to_numpy()
    if expected == "number":
        fits = pd.to_numeric(series, errors="coerce").notna().to_numpy()
    elif expected == "bool":
        fits = series.map(lambda v: isinstance(v, (bool, np.bool_))).to_numpy()
    else:
        fits = ~present
    bad = np.flatnonzero(present & ~fits)
    return int(bad[0]) if len(bad) else 0
