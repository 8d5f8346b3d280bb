"""The checks :func:`synthvae.metrics.evaluate` makes on its arguments, and the columns it compares."""

from __future__ import annotations

import pandas as pd

from synthvae.errors import DataError, InputTypeError
from synthvae.rowspace import SKIPPED_KINDS


def check_inputs(real, synth, holdout, target, schema):
    """Validate the arguments of :func:`synthvae.metrics.evaluate`.

    Returns
    -------
    columns : list
        The labels of the compared columns, in ``real``'s order.
    kinds : dict
        ``{label: ColumnSpec}`` for every column of ``real``.
    skipped : list of str
        The constant and identifier columns, left out of every figure.

    Raises
    ------
    InputTypeError, DataError
        As :func:`synthvae.metrics.evaluate`.
    """
    tables = {"real": real, "synth": synth, "holdout": holdout}
    for name, frame in tables.items():
        if frame is None and name == "holdout":
            continue
        _check_table(name, frame)
    for name in ("synth", "holdout"):
        if tables[name] is not None:
            _check_same_columns(name, tables[name], real)
    if target is not None and holdout is None:
        raise DataError("target needs holdout: the efficacy models are scored on holdout rows")
    if target is not None and target not in real.columns:
        raise DataError(f"target {target!r} is not a column of the data")

    if schema is None:
        from synthvae.schema import infer_schema

        schema = infer_schema(real)
    else:
        schema.check_frame(real)
    # Schemas name columns by their text; a frame's labels may be numbers.
    kinds = {c: schema[str(c)] for c in real.columns}
    columns = [c for c in real.columns if kinds[c].kind not in SKIPPED_KINDS]
    skipped = [str(c) for c in real.columns if kinds[c].kind in SKIPPED_KINDS]
    if not columns:
        raise DataError("every column is constant or an identifier; there is nothing to compare")
    if target is not None and target not in columns:
        raise DataError(f"target {target!r} is a {kinds[target].kind} column; it cannot be predicted")
    return columns, kinds, skipped


def _check_table(name, frame):
    if not isinstance(frame, pd.DataFrame):
        raise InputTypeError(f"{name} must be a pandas DataFrame, not {type(frame).__name__}")
    if frame.columns.duplicated().any():
        dupes = sorted({str(c) for c in frame.columns[frame.columns.duplicated()]})
        raise DataError(f"{name} has duplicate column names: {', '.join(dupes)}")
    if len(frame) == 0:
        raise DataError(f"{name} has no rows")


def _check_same_columns(name, other, real):
    missing = [str(c) for c in real.columns if c not in other.columns]
    extra = [str(c) for c in other.columns if c not in real.columns]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"lacks {', '.join(missing)}")
        if extra:
            parts.append(f"has extra {', '.join(extra)}")
        raise DataError(f"{name} and real have different columns: {name} {'; '.join(parts)}")
