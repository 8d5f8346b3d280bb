"""Rows of several tables in one space: shared codes, row keys and distances.

The quality figures of :mod:`synthvae.metrics` and the copy guard of
:mod:`synthvae.copyguard` compare rows of a real table with rows of other tables
(synthetic, holdout). Both encode the tables here, so that "equal" and "near" mean
the same thing to each: a column becomes floats with NaN (numbers; datetimes as
seconds since 1970) or integer codes into levels shared by every table (categorical
and boolean columns, missing being a level of its own); a row is a 64-bit key of
those values; and the distance between rows is Euclidean, with numbers min-max
scaled by the real range and categories one-hot.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from synthvae.datetimes import to_seconds

NA_LEVEL = "<NA>"
# Constant columns say nothing about a row, and identifiers and personal columns are
# regenerated, so that comparing them would make every row look new.
SKIPPED_KINDS = ("constant", "identifier", "personal")
CATEGORICAL_KINDS = ("categorical", "boolean")
# Categorical columns with more levels than this are compared code by code in the
# distance computation instead of being one-hot encoded (the distances are the same).
MAX_ONEHOT_LEVELS = 64


class EncodedColumn:
    """One column of every table, as floats (numeric) or shared integer codes.

    Attributes
    ----------
    name : object
        The column's label.
    numeric : bool
        Whether ``values`` holds floats (numbers, datetimes) or codes into ``levels``.
    values : dict
        ``{table: array}``: float64 with NaN, or int64 codes.
    levels : pandas.Index or None
        Categorical: the level texts, real's levels first, most frequent first.
    n_real_levels : int
        Categorical: how many of ``levels`` occur in the real table.
    """

    def __init__(self, name, numeric, values, levels=None, n_real_levels=0):
        self.name = name
        self.numeric = numeric
        self.values = values
        self.levels = levels
        self.n_real_levels = n_real_levels


def encode_tables(frames, columns, kinds):
    """Encode the same columns of several tables.

    Parameters
    ----------
    frames : dict
        ``{table: DataFrame}``; must hold ``"real"``, whose levels come first and
        whose ranges scale the distances.
    columns : list
        The column labels to encode.
    kinds : dict
        ``{label: ColumnSpec}``, the kind (and datetime format) of each column.

    Returns
    -------
    dict
        ``{label: EncodedColumn}``.
    """
    return {c: _encode_column(c, kinds[c], frames) for c in columns}


def n_rows(encoded, table):
    """How many rows ``table`` has in ``encoded``."""
    return len(next(iter(encoded.values())).values[table])


def row_keys(encoded, columns, table):
    """One 64-bit hash per row of the encoded values, NaN equal to NaN."""
    frame = pd.DataFrame({i: encoded[c].values[table] for i, c in enumerate(columns)})
    return pd.util.hash_pandas_object(frame, index=False).to_numpy()


def distance_matrices(encoded, columns, picks):
    """Encode rows for Euclidean distance: min-max numbers, one-hot categories.

    Numbers are scaled by the real range; a missing number becomes 0 plus a 1 in a
    missing-indicator column, so two missing cells are at distance 0. Categorical
    columns with more than ``MAX_ONEHOT_LEVELS`` levels are returned as codes
    instead: comparing codes adds the same 2 per mismatch to the squared distance
    that their one-hot would.

    Parameters
    ----------
    encoded : dict
        What :func:`encode_tables` returned.
    columns : list
        The columns to measure on.
    picks : dict
        ``{table: row positions}``, the rows to encode of each table.

    Returns
    -------
    dense : dict
        ``{table: float array, one row per pick}``.
    codes : dict
        ``{table: int array, one column per many-level categorical column}``.
    """
    dense = {t: [] for t in picks}
    codes = {t: [] for t in picks}
    for name in columns:
        col = encoded[name]
        if col.numeric:
            real = col.values["real"]
            lo, hi = (np.nanmin(real), np.nanmax(real)) if np.any(~np.isnan(real)) else (0.0, 1.0)
            span = hi - lo if hi > lo else 1.0
            any_missing = any(np.isnan(col.values[t][p]).any() for t, p in picks.items())
            for t, p in picks.items():
                v = (col.values[t][p] - lo) / span
                missing = np.isnan(v)
                dense[t].append(np.where(missing, 0.0, v)[:, None])
                if any_missing:
                    dense[t].append(missing.astype(np.float64)[:, None])
        elif len(col.levels) <= MAX_ONEHOT_LEVELS:
            eye = np.eye(len(col.levels))
            for t, p in picks.items():
                dense[t].append(eye[col.values[t][p]])
        else:
            for t, p in picks.items():
                codes[t].append(col.values[t][p])
    dense = {
        t: np.hstack(m) if m else np.zeros((len(picks[t]), 0)) for t, m in dense.items()
    }
    codes = {
        t: np.column_stack(m) if m else np.zeros((len(picks[t]), 0), dtype=np.int64)
        for t, m in codes.items()
    }
    return dense, codes


def neighbour_matrices(encoded, columns, picks):
    """The space of :func:`distance_matrices` as matrices ``NearestNeighbors`` takes.

    Categories with many levels (codes there) become sparse one-hot columns, which
    add the same 2 per mismatch to the squared distance; without such a column the
    dense matrices are returned as they are.

    Returns
    -------
    dict
        ``{table: dense array or scipy.sparse CSR matrix}``.
    """
    dense, codes = distance_matrices(encoded, columns, picks)
    coded = [c for c in columns if not encoded[c].numeric and len(encoded[c].levels) > MAX_ONEHOT_LEVELS]
    if not coded:
        return dense
    from scipy import sparse

    out = {}
    for table in picks:
        blocks = [sparse.csr_matrix(dense[table])]
        for j, name in enumerate(coded):
            c = codes[table][:, j]
            blocks.append(sparse.csr_matrix(
                (np.ones(len(c)), (np.arange(len(c)), c)), shape=(len(c), len(encoded[name].levels))))
        out[table] = sparse.hstack(blocks, format="csr")
    return out


def _encode_column(name, spec, frames):
    if spec.kind in CATEGORICAL_KINDS:
        texts = {t: _as_text(f[name]) for t, f in frames.items()}
        # Real's levels come first, most frequent first, so a cap on the number of
        # levels a model sees drops the rarest real levels, never a common one.
        real_levels = pd.Series(texts["real"]).value_counts(sort=True).index.tolist()
        seen = set(real_levels)
        extra = []
        for table, text in texts.items():
            for level in pd.unique(text) if table != "real" else ():
                if level not in seen:
                    seen.add(level)
                    extra.append(level)
        levels = pd.Index(real_levels + extra)
        values = {t: levels.get_indexer(v).astype(np.int64) for t, v in texts.items()}
        return EncodedColumn(name, False, values, levels, len(real_levels))
    values = {t: _as_number(f[name], spec) for t, f in frames.items()}
    return EncodedColumn(name, True, values)


def _as_text(series):
    """Series -> object array of strings, missing as NA_LEVEL.

    Numbers that are whole print without a decimal point, so a float column of
    synthetic 13.0 matches a real integer 13.
    """
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    texts = [_level_text(u) for u in uniques] + [NA_LEVEL]
    return np.asarray(texts, dtype=object)[codes]


def _level_text(value):
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _as_number(series, spec):
    if spec.kind == "datetime":
        return to_seconds(series, spec.format)
    numbers = pd.to_numeric(series, errors="coerce")
    # A copy: pandas' copy-on-write hands out read-only views of the column.
    out = np.array(numbers.to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64)
    out[~np.isfinite(out)] = np.nan
    return out
