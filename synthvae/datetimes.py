"""Dates and times as seconds since the epoch, and back: the one codec that the
transformers, the conditions and the metrics share, so a date means the same number
everywhere.

Text is parsed with the column's own format (``None``: pandas' inference, or the
values already are datetimes). A zone-aware value counts in UTC. Fractions of a
second are kept to the microsecond (floored: a float64 of seconds since the epoch
holds no finer); whole seconds stay whole numbers.

A format is a ``strftime`` format with two additions, so that text is written back
exactly as the file has it: ``%3f``, ``%6f``, ``%9f`` (a fraction of a second of that
many digits, after ``%S.``) and ``%:z`` (a zone offset with a colon, ``+01:00``).
A format with a zone offset (``%z``, ``%:z``) writes times in UTC; one offset that
every value shares is kept in the format as plain text (``...%S+01:00``).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

_NS_PER_US = 1_000
_US_PER_SECOND = 10**6
_FRACTION = re.compile(r"%S\.%([369])f")
_ARROW_UNITS = {"3": ("ms", 10**3), "6": ("us", 10**6), "9": ("ns", 10**9)}
# Directives Arrow's strftime writes as Python's does.
_ARROW_SAFE = re.compile(r"%[YmdHMSyjbBaAIpz%]")


def parsing_format(format):
    """``format`` as pandas and Python read it (``%3f`` -> ``%f``, ``%:z`` -> ``%z``)."""
    if format is None:
        return None
    return re.sub(r"%[369]f", "%f", format).replace("%:z", "%z")


# Formats that Arrow's cast to text writes exactly as strftime does (ISO dates and
# times, for every year these datetimes reach: 1677 to 2262), ten times faster, and
# without holding Python's lock: the unit each is cast from.
_ARROW_TEXT = {"%Y-%m-%d %H:%M:%S": "datetime64[s]", "%Y-%m-%d": "datetime64[D]"}


def to_seconds(values, format=None):
    """Seconds since the epoch as float64, NaN where a value is missing or unparseable."""
    if pd.api.types.is_datetime64_any_dtype(values):
        stamps = values
    else:
        format = parsing_format(format)
        stamps = pd.to_datetime(values, format=format, errors="coerce", utc=format is not None and "%z" in format)
    stamps = pd.Series(stamps)
    if getattr(stamps.dt, "tz", None) is not None:
        stamps = stamps.dt.tz_convert("UTC").dt.tz_localize(None)
    missing = stamps.isna().to_numpy()
    nanoseconds = stamps.astype("datetime64[ns]").astype("int64").to_numpy()
    return np.where(missing, np.nan, (nanoseconds // _NS_PER_US) / _US_PER_SECOND)


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
    return ((stamp - pd.Timestamp(0)) // pd.Timedelta(microseconds=1)) / _US_PER_SECOND


def from_seconds(seconds, format=None):
    """Seconds back to datetimes, or to text in ``format`` when one is given (a format
    without a fraction of a second writes the second the time falls in)."""
    micro = np.round(np.asarray(seconds, dtype=np.float64) * _US_PER_SECOND).astype(np.int64)
    if format is None:
        return pd.Series(pd.to_datetime(micro, unit="us"))
    if format in _ARROW_TEXT:
        import pyarrow as pa
        import pyarrow.compute as pc

        whole = (micro // _US_PER_SECOND).astype("datetime64[s]")
        text = pc.cast(pa.array(whole.astype(_ARROW_TEXT[format])), pa.string())
        return pd.Series(text.to_numpy(zero_copy_only=False), dtype=object)
    text = _arrow_text(micro, format)
    if text is not None:
        return text
    stamps = pd.to_datetime(micro, unit="us")
    if "%z" in format or "%:z" in format:
        stamps = stamps.tz_localize("UTC")
    python = re.sub(r"%[369]f", "%f", format).replace("%:z", "+00:00")
    return pd.Series(stamps.strftime(python), dtype=object)


def _arrow_text(micro, format):
    """Text in ``format`` of the times ``micro`` (microseconds since the epoch) written
    by Arrow's strftime (many times faster than pandas), or None when the format has a
    directive Arrow writes otherwise."""
    import pyarrow as pa
    import pyarrow.compute as pc

    unit, scale = "s", 1
    match = _FRACTION.search(format)
    if match:
        unit, scale = _ARROW_UNITS[match.group(1)]
        format = _FRACTION.sub("%S", format)  # Arrow's %S carries the unit's fraction
    # The time in the format's unit, floored (nanoseconds: microseconds times 1,000).
    ticks = micro * (scale // _US_PER_SECOND) if scale > _US_PER_SECOND else micro // (_US_PER_SECOND // scale)
    zoned = "%z" in format or "%:z" in format
    format = format.replace("%:z", "%Ez")
    if "%" in _ARROW_SAFE.sub("", format.replace("%Ez", "")):
        return None
    stamps = pa.array(ticks, type=pa.int64()).cast(pa.timestamp(unit, tz="UTC" if zoned else None))
    text = pc.strftime(stamps, format).to_numpy(zero_copy_only=False)
    return pd.Series(text, dtype=object)


def show_seconds(seconds):
    """A number of seconds as a readable timestamp, for messages."""
    return str(pd.Timestamp(int(seconds), unit="s"))
