"""A table made from a declared schema alone, for fits that must learn nothing about
the columns from the data.

Under differential privacy (``epsilon``) the column transformers are fitted on this
frame instead of on the data, so that everything they keep (ranges, quantile tables,
levels, decimals, the next free identifier) comes from what the user declared public:
each continuous, integer and datetime column spread evenly over its declared
``min``..``max``, each categorical column cycling through its declared ``levels``
(booleans: False and True unless declared), a constant its value, an identifier its
pattern numbered from 1, and empty cells in every tenth row of a nullable column.
The data then passes through these transformers row by row, which the privacy
guarantee allows (a fixed function of each row).

With a :class:`synthvae.dp_statistics.Release`, numeric columns follow their released
quantiles instead of an even spread, and nullable columns are empty at their released
missing rate (at least one row in ``rows``, so the transformers keep a missing state).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from synthvae.errors import UsageError

# Rows of the frame: enough for an evenly spaced quantile table, small enough to fit at once.
PUBLIC_ROWS = 1001
# Every this many rows, a nullable column is empty.
MISSING_EVERY = 10


def check_declared(schema):
    """Raise UsageError naming what the schema lacks for a fit that reads no column facts
    from the data: ``min`` and ``max`` of continuous, integer and datetime columns,
    ``levels`` of categorical columns."""
    problems = []
    for spec in schema.columns:
        if spec.kind in ("continuous", "integer", "datetime"):
            if spec.min is None or spec.max is None:
                problems.append(f"{spec.name!r} ({spec.kind}) needs min and max")
            elif not _bounds(spec)[0] < _bounds(spec)[1]:
                problems.append(f"{spec.name!r} needs min < max, got {spec.min!r} and {spec.max!r}")
        elif spec.kind == "categorical" and not spec.levels:
            problems.append(f"{spec.name!r} (categorical) needs its levels")
        elif spec.kind == "personal":
            # Its generator learns the column's text patterns from the data.
            problems.append(f"{spec.name!r} (personal) cannot be learned privately: drop it, or declare it "
                            "categorical with its levels")
    if problems:
        raise UsageError("with epsilon every column's range or levels come from the schema, which lacks them: "
                         + "; ".join(problems))


def public_frame(schema, released=None, rows=PUBLIC_ROWS):
    """The frame the schema declares, with what ``released`` adds (see the module
    docstring), ``rows`` rows."""
    check_declared(schema)
    quantiles = released.quantiles if released is not None else {}
    missing_rates = released.missing_rates if released is not None else {}
    columns = {}
    for spec in schema.columns:
        if spec.name in quantiles:
            values = np.interp(np.linspace(0, 1, rows), np.linspace(0, 1, len(quantiles[spec.name])),
                               quantiles[spec.name])
            values = pd.Series(np.round(values) if spec.kind == "integer" else values)
        else:
            values = _column(spec, rows)
        if spec.nullable and spec.kind not in ("constant", "identifier"):
            values = pd.Series(values, dtype=values.dtype if spec.kind != "integer" else "float64")
            if spec.name in missing_rates:
                every = int(np.clip(round(1 / max(missing_rates[spec.name], 1e-9)), 2, rows))
            else:
                every = MISSING_EVERY
            values[::every] = None
        columns[spec.name] = values
    return pd.DataFrame(columns)


def _column(spec, rows):
    if spec.kind in ("continuous", "integer"):
        low, high = _bounds(spec)
        values = np.linspace(low, high, rows)
        return pd.Series(np.round(values) if spec.kind == "integer" else values)
    if spec.kind == "datetime":
        low, high = _bounds(spec)
        times = pd.Series(pd.to_datetime(np.linspace(low, high, rows), unit="s"))
        return times.dt.strftime(spec.format).astype(object) if spec.format else times
    if spec.kind in ("categorical", "boolean"):
        levels = list(spec.levels) if spec.levels else [False, True]
        return pd.Series([levels[i % len(levels)] for i in range(rows)], dtype=object)
    if spec.kind == "constant":
        return pd.Series([spec.value] * rows, dtype=object)
    # identifier: running numbers in the declared pattern
    numbers = [str(i).zfill(spec.width) for i in range(1, rows + 1)]
    return pd.Series([f"{spec.prefix}{n}{spec.suffix}" for n in numbers], dtype=object)


def _bounds(spec):
    """The declared range as numbers (seconds since 1970 for dates)."""
    if spec.kind != "datetime":
        return float(spec.min), float(spec.max)
    try:
        low, high = (pd.to_datetime(str(v), format=spec.format) if spec.format else pd.Timestamp(v)
                     for v in (spec.min, spec.max))
    except (ValueError, TypeError):
        raise UsageError(f"column {spec.name!r}: min and max must be dates in its format "
                         f"{spec.format or 'ISO 8601'}, got {spec.min!r} and {spec.max!r}") from None
    return low.timestamp(), high.timestamp()
