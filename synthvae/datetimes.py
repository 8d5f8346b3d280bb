"""Dates and times as whole seconds since the epoch, and back: the one codec that the
transformers, the conditions and the metrics share, so a date means the same number
everywhere.

Text is parsed with the column's own format (``None``: pandas' inference, or the
values already are datetimes). A zone-aware value counts in UTC. Seconds are floored,
so a fraction of a second never rounds a value into the next second.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

_NS_PER_SECOND = 10**9
# Formats that Arrow's cast to text writes exactly as strftime does (ISO dates and
# times, for every year these datetimes reach: 1677 to 2262), ten times faster, and
# without holding Python's lock: the unit each is cast from.
_ARROW_TEXT = {"%Y-%m-%d %H:%M:%S": "datetime64[s]", "%Y-%m-%d": "datetime64[D]"}


def to_seconds(values, format=None):
    """Seconds since the epoch as float64, NaN where a value is missing or unparseable."""
    stamps = values if pd.api.types.is_datetime64_any_dtype(values) else pd.to_datetime(
        values, format=format, errors="coerce")
    stamps = pd.Series(stamps)
    if getattr(stamps.dt, "tz", None) is not None:
        stamps = stamps.dt.tz_convert("UTC").dt.tz_localize(None)
    missing = stamps.isna().to_numpy()
    nanoseconds = stamps.astype("datetime64[ns]").astype("int64").to_numpy()
    return np.where(missing, np.nan, (nanoseconds // _NS_PER_SECOND).astype(np.float64))


def value_to_seconds(value):
    """One date (text, datetime or Timestamp) as seconds since the epoch.

    Raises
    ------
    ValueError
        ``value`` is not a date.
    """
    try:
        stamp = pd.Timestamp(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError):
        raise ValueError(f"{value!r} is not a date") from None
    if stamp is pd.NaT:
        raise ValueError(f"{value!r} is not a date")
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    return float((stamp - pd.Timestamp(0)) // pd.Timedelta(seconds=1))


def from_seconds(seconds, format=None):
    """Whole seconds back to datetimes, or to text in ``format`` when one is given."""
    whole = np.asarray(seconds).astype(np.int64)
    stamps = pd.to_datetime(whole, unit="s")
    if format is None:
        return pd.Series(stamps)
    if format in _ARROW_TEXT:
        import pyarrow as pa
        import pyarrow.compute as pc

        text = pc.cast(pa.array(whole.astype("datetime64[s]").astype(_ARROW_TEXT[format])), pa.string())
        return pd.Series(text.to_numpy(zero_copy_only=False), dtype=object)
    return pd.Series(stamps.strftime(format), dtype=object)


def show_seconds(seconds):
    """A number of seconds as a readable timestamp, for messages."""
    return str(pd.Timestamp(int(seconds), unit="s"))
