"""Whether a table fits a schema: checked before any training, column by column.

A column does not fit when it holds a value its kind cannot take (text in a number
column, a fraction in an integer column, a date that does not read in the column's
format, anything but True/False in a boolean column, another value in a constant
column), a gap while the schema says ``nullable: false``, or a value the schema's
``levels`` do not list. The error names the column and the first row that does not
fit, counted from 1 like the table's data rows (the header is no row).

A date that does not read is a gap in a nullable column, as inference counts it,
as long as nearly all dates read (the share inference asks for).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from synthvae import datetimes
from synthvae.errors import DataError

_TRUE_FALSE = {"true", "false", "1", "0", "yes", "no"}


def check_column(series, spec):
    """Raise DataError unless ``series`` can be the column ``spec`` describes."""
    from synthvae.schema import DATETIME_MIN_SHARE

    present = series.notna().to_numpy()
    kind = spec.kind
    gaps = ~present
    if kind in ("continuous", "integer"):
        numbers = _numbers(series)
        _refuse(series, spec, present & np.isnan(numbers), "which is not a number")
        if kind == "integer":
            fraction = ~np.isnan(numbers) & (numbers != np.round(numbers))
            _refuse(series, spec, fraction, "which is not a whole number")
    elif kind == "datetime":
        unread = present & np.isnan(datetimes.to_seconds(series, spec.format))
        if unread.any():
            few = unread.sum() > (1 - DATETIME_MIN_SHARE) * present.sum()
            if few or not spec.nullable:
                fmt = f"in the format {spec.format}" if spec.format else ""
                _refuse(series, spec, unread, f"which is not a date {fmt}".rstrip())
            gaps = gaps | unread
    elif kind == "boolean":
        _refuse(series, spec, present & ~series.map(_is_true_false).to_numpy(dtype=bool), "which is not True/False")
    elif kind == "constant":
        if spec.value is None:
            _refuse(series, spec, present, "but the schema says the column is always empty")
        else:
            other = present & ~series.map(lambda v: _same(v, spec.value)).to_numpy(dtype=bool)
            _refuse(series, spec, other, f"but the schema says every row holds {spec.value!r}")
    if spec.levels is not None and kind in ("categorical", "boolean"):
        known = {_text(v) for v in spec.levels if v is not None}
        unknown = present & ~series.map(lambda v: _text(v) in known).to_numpy(dtype=bool)
        _refuse(series, spec, unknown, "which the schema's levels do not list")
    if not spec.nullable and gaps.any():
        row = _row(series, int(np.argmax(gaps)))
        raise DataError(
            f"column {spec.name!r} does not fit the schema: row {row} is empty but the schema says "
            f"nullable: false; fill the gap or set nullable: true"
        )


def _numbers(series):
    if series.dtype.kind == "b":
        return series.to_numpy(dtype=np.float64)
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def _refuse(series, spec, bad, why):
    if not bad.any():
        return
    position = int(np.argmax(bad))
    value = series.iloc[position]
    raise DataError(
        f"column {spec.name!r} does not fit the schema: row {_row(series, position)} holds {_plain(value)!r}, "
        f"{why} (kind {spec.kind}); fix the data or the schema"
    )


def _row(series, position):
    """The row number (from 1) of ``series``' row at ``position``: its label plus one
    when the rows are labelled by number from 0 (as the readers label them), else its
    position plus one."""
    label = series.index[position]
    if isinstance(label, (int, np.integer)) and not isinstance(label, bool) and label >= 0:
        return int(label) + 1
    return position + 1


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value


def _is_true_false(value):
    return isinstance(value, (bool, np.bool_)) or str(value).strip().lower() in _TRUE_FALSE


def _text(value):
    """A value as text, whole floats without their ``.0`` (so 3.0 matches a level 3)."""
    value = _plain(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _same(value, expected):
    return _plain(value) == expected or _text(value).strip() == _text(expected).strip()
