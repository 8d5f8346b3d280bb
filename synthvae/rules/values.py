"""A table's columns as the rules read them: numbers (datetimes as seconds), whole
units of a column's decimals, and category values with missing as a value of its own.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from synthvae.datetimes import to_seconds
from synthvae.errors import DataError

# Sums are checked in whole units of the columns' decimals (cents for money). A column
# whose values need more decimals than this is a measurement, not an amount: it takes
# part in no sum found from data, and a declared sum compares it at this precision.
MAX_DECIMALS = 6


def column(frame, name):
    """The column of ``frame`` called ``name`` (a frame's labels may be numbers)."""
    if name in frame.columns:
        return frame[name]
    for label in frame.columns:
        if str(label) == name:
            return frame[label]
    raise DataError(f"the data has no column {name!r}")


def numbers(series, spec=None):
    """float64 with NaN for missing: numbers as they are, datetimes as seconds.

    ``spec`` (a ColumnSpec) tells a datetime column and its text format; without it a
    text column that is not numbers is read as dates.
    """
    if spec is not None and spec.kind == "datetime":
        return to_seconds(series, spec.format)
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        return to_seconds(series)
    if pd.api.types.is_bool_dtype(series.dtype):
        return series.astype(np.float64).to_numpy()
    if pd.api.types.is_numeric_dtype(series.dtype):
        return series.to_numpy(dtype=np.float64, na_value=np.nan)
    values = pd.to_numeric(series, errors="coerce")
    if values.notna().sum() < series.notna().sum():
        return to_seconds(series)
    return values.to_numpy(dtype=np.float64, na_value=np.nan)


def decimals(values):
    """The fewest decimals (0..MAX_DECIMALS) that write every value exactly, or None."""
    values = values[~np.isnan(values)]
    for places in range(MAX_DECIMALS + 1):
        scaled = values * 10.0**places
        # Float spelling error grows with magnitude: 12.95 * 100 = 1294.9999999999998.
        if np.all(np.abs(scaled - np.round(scaled)) <= np.maximum(1e-6, np.abs(scaled) * 1e-12)):
            return places
    return None


def units(arrays):
    """The arrays as whole units of their finest decimals (float64 holding integers).

    Returns the scaled, rounded arrays; NaN stays NaN. Columns with more than
    ``MAX_DECIMALS`` decimals are rounded at that precision.
    """
    places = [decimals(a) for a in arrays]
    scale = 10.0 ** max(MAX_DECIMALS if p is None else p for p in places)
    return [np.round(a * scale) for a in arrays]


class _Missing:
    """The one missing value of a category column: equal to itself, unlike NaN."""

    def __repr__(self):
        return "None"

    def __eq__(self, other):
        return isinstance(other, _Missing)

    def __hash__(self):
        return hash("synthvae.rules.missing")


MISSING = _Missing()


def category_value(value):
    """A category as a plain, hashable Python value; missing becomes ``MISSING``."""
    if value is None or value is MISSING or (not isinstance(value, str) and pd.isna(value)):
        return MISSING
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # 13.0 read back from a file is the level 13
    return value


def json_value(value):
    """A category as JSON writes it (missing: null)."""
    value = category_value(value)
    return None if value is MISSING else value


def combos(frame, names):
    """Rows grouped by their values in ``names``.

    Returns
    -------
    codes : numpy.ndarray
        Each row's group number.
    keys : list of tuple
        Each group's values, as :func:`category_value` spells them.
    """
    columns = [column(frame, n) for n in names]
    codes = pd.DataFrame({i: c.to_numpy() for i, c in enumerate(columns)}).groupby(
        list(range(len(columns))), dropna=False, sort=False).ngroup().to_numpy()
    _, first = np.unique(codes, return_index=True)
    keys = [tuple(category_value(c.iloc[row]) for c in columns) for row in first]
    return codes, keys


def codes_of(series):
    """Integer codes of a category column (missing being a value of its own) and the
    value of each code, as :func:`category_value` spells it."""
    codes, uniques = pd.factorize(series, use_na_sentinel=False)
    return codes.astype(np.int64), [category_value(u) for u in uniques]
