"""How good are synthetic rows? Fidelity, usefulness and privacy in one call.

:func:`evaluate` compares a synthetic table with the real table it was learned from
(and, optionally, with real rows the model never saw) and returns a flat dict of
figures; :func:`format_report` prints that dict as a short aligned table, and
:func:`evaluate_with_details` also returns the per-column, per-pair and per-row
values behind the figures (what ``synthvae report`` draws).

The fidelity figures follow the definitions of SDMetrics' Quality Report (Column
Shapes and Column Pair Trends: KSComplement, TVComplement, CorrelationSimilarity,
ContingencySimilarity), reported as errors in percent, so 0 is perfect. They agree
with that report to a fraction of a point but for one deliberate difference: where
a numeric column meets a categorical one, both tables are binned over the real
range (as SDMetrics' own ContingencySimilarity does), not each over its own range
as the report does, which would let a shifted synthetic column look perfect.
Everything here is plain numpy, pandas and scikit-learn, and every random choice is
seeded, so the same inputs always give the same figures.
"""

from __future__ import annotations

import contextlib
import math

import numpy as np
import pandas as pd

from synthvae.errors import DataError, InputTypeError

NA_LEVEL = "<NA>"
SKIPPED_KINDS = ("constant", "identifier")
CATEGORICAL_KINDS = ("categorical", "boolean")

# SDMetrics' ColumnPairTrends bins a numeric column into 10 equal-width bins when it
# meets a categorical one, and counts a pair as "strong" above these real-data levels.
PAIR_BINS = 10
STRONG_CORRELATION = 0.5
STRONG_ASSOCIATION = 0.3

# Row caps that keep a 32k-row table well under a minute on two cores; the figures
# they feed are averages or rankings, which a 10-20k sample estimates closely.
MODEL_ROWS = 20_000
DETECTION_ROWS = 10_000  # per side, so the classifier sees at most 20k rows
DCR_SYNTH_ROWS = 10_000
DCR_REFERENCE_ROWS = 20_000
CV_FOLDS = 5
SEED = 0

# HistGradientBoosting's native categorical support takes codes below max_bins (255).
MAX_MODEL_LEVELS = 255
# Categorical columns with more levels than this are compared code by code in the
# distance computation instead of being one-hot encoded (the distances are the same).
MAX_ONEHOT_LEVELS = 64
# Squared distances closer than this count as a tie: the matrix-product form of the
# distance leaves round-off of about 1e-14 where the true value is 0.
TIE_TOLERANCE = 1e-10

# The models' OpenMP threads and the distance products' BLAS threads are pinned to
# one. On tables of this size a second thread gains little on an idle machine, and
# when other processes compete for the cores (generators training alongside, a test
# runner) spinning OpenMP threads made the same fits 5-15x slower.
MODEL_THREADS = 1

# (key, meaning) in the order format_report prints them.
_REPORT_LINES = (
    ("column_shape_error", "per-column distribution gap, % (0 = identical)"),
    ("pair_trend_error", "gap in pairwise trends, all pairs, % (0 = identical)"),
    ("pair_trend_error_strong", "same, pairs strongly related in real data only"),
    ("ml_efficacy_real", "model trained on real rows, scored on holdout"),
    ("ml_efficacy_synth", "model trained on synthetic rows, scored on holdout"),
    ("detection_auc", "classifier telling holdout from synthetic (0.5 = can't)"),
    ("dcr_share", "% of synth rows nearer train than holdout (50 = ideal)"),
    ("exact_copy_rate", "% of synthetic rows that copy a training row"),
    ("holdout_copy_rate", "% of holdout rows equal to a training row (baseline)"),
)


def evaluate(real, synth, holdout=None, target=None, schema=None):
    """Score synthetic rows against the real rows they imitate.

    Parameters
    ----------
    real : pandas.DataFrame
        The rows the generator was trained on.
    synth : pandas.DataFrame
        Synthetic rows, with the same columns as ``real`` (in any order).
    holdout : pandas.DataFrame, optional
        Real rows the generator never saw, with the same columns. Needed for the
        detection, privacy-distance and machine-learning figures.
    target : str, optional
        A column to predict from the others for the machine-learning efficacy
        figures; needs ``holdout``.
    schema : synthvae.schema.Schema, optional
        Column kinds; inferred from ``real`` when omitted. Constant and identifier
        columns are left out of every figure.

    Returns
    -------
    dict
        JSON-serialisable. Always present:

        ``column_shape_error``
            100 x (1 - mean column similarity); similarity is 1 - KS statistic for
            numeric and datetime columns, 1 - total variation distance for
            categorical ones (missing counts as a level of its own).
        ``pair_trend_error``, ``pair_trend_error_strong``
            100 x (1 - mean pair similarity) over all pairs, and over the pairs
            strongly related in the real data (|Pearson| > 0.5 for two numeric
            columns, Cramer's V > 0.3 otherwise); ``None`` when no pair qualifies.
            Similarity is 1 - |rho_real - rho_synth| / 2 for two numeric columns and
            1 - total variation distance of the joint frequency table otherwise, a
            numeric column being cut into 10 equal-width bins over the real range.
        ``n_pairs``, ``n_strong_pairs``
            How many pairs each pair figure averages.
        ``exact_copy_rate``
            % of synthetic rows identical to some training row in every compared
            column (missing equal to missing).
        ``n_rows_real``, ``n_rows_synth``, ``n_rows_holdout``, ``skipped_columns``
            What was compared.
        ``columns``
            ``{name: {"metric": "KSComplement" | "TVComplement", "score": float}}``.
        ``pairs``
            A list of ``{"columns": [a, b], "metric", "score", "real_correlation",
            "synthetic_correlation", "real_association", "strong"}``.

        With ``holdout``:

        ``detection_auc``
            Out-of-fold ROC AUC of a classifier separating holdout rows from as
            many synthetic rows (0.5: indistinguishable, 1: trivially told apart).
        ``dcr_share``
            % of synthetic rows whose nearest real row is in a training sample
            rather than in an equally large holdout sample (ties count half);
            50 means the generator is as close to unseen rows as to seen ones.
            Up to 10,000 synthetic rows are matched against samples of
            min(len(real), len(holdout), 20,000) rows; since the training sample
            may hold only part of ``real``, even a verbatim copy of ``real``
            scores 50 + 50 x (sample size / len(real)), e.g. 75 on Adult.
        ``holdout_copy_rate``
            % of holdout rows identical to some training row: the baseline of
            duplicates that real data has by chance, to read ``exact_copy_rate``
            against.

        With ``holdout`` and ``target``:

        ``ml_efficacy_metric``
            ``"roc_auc"`` (categorical target; one-vs-rest macro average when it
            has more than two levels) or ``"r2"``.
        ``ml_efficacy_real``, ``ml_efficacy_synth``
            That score on the holdout for a gradient-boosting model trained on the
            real rows and on the synthetic rows.
        ``target``
            The target column.

    Raises
    ------
    InputTypeError
        A table is not a DataFrame.
    DataError
        The tables' columns differ, a table is empty, the schema does not fit,
        ``target`` is not a usable column, or ``target`` is given without
        ``holdout``.
    """
    return evaluate_with_details(real, synth, holdout, target, schema)[0]


def evaluate_with_details(real, synth, holdout=None, target=None, schema=None):
    """:func:`evaluate`, plus the per-column, per-pair and per-row values behind it.

    One pass computes both, so a report that shows the figures and the pictures
    behind them never computes a figure twice.

    Parameters
    ----------
    real, synth, holdout, target, schema
        As for :func:`evaluate`.

    Returns
    -------
    result : dict
        Exactly what :func:`evaluate` returns for the same arguments.
    details : dict
        ``columns``
            ``{name: {"kind", "numeric", "values", "levels"}}`` for every compared
            column: ``values`` maps "real", "synth" (and "holdout") to the values
            the figures compared: floats with NaN for numbers and datetimes
            (seconds since 1970), integer codes into ``levels`` (real's levels
            first, most frequent first; missing is the level ``"<NA>"``) for
            categorical and boolean columns, whose ``levels`` is a list.
        ``pair_trends``
            ``{"real", "synth", "error"}``: square DataFrames over the compared
            columns (NaN on the diagonal and where undefined). ``real`` and
            ``synth`` hold each pair's trend: Pearson correlation for two numeric
            columns, Cramer's V of the joint table otherwise (numbers binned as
            for ``pair_trend_error``); ``error`` holds 100 x (1 - the pair's
            score), the per-pair values ``pair_trend_error`` averages.
        ``dcr``
            With ``holdout``: ``{"train", "holdout"}``, the Euclidean distance from
            each synthetic row in the ``dcr_share`` sample to its nearest row of
            the training and of the holdout sample; ``None`` without ``holdout``.

    Raises
    ------
    InputTypeError, DataError
        As :func:`evaluate`.
    """
    columns, kinds, skipped = _check_inputs(real, synth, holdout, target, schema)
    frames = {"real": real, "synth": synth}
    if holdout is not None:
        frames["holdout"] = holdout
    encoded = _encode(frames, columns, kinds)

    result = {
        "n_rows_real": len(real),
        "n_rows_synth": len(synth),
        "n_rows_holdout": None if holdout is None else len(holdout),
        "skipped_columns": skipped,
    }
    shapes = _column_shapes(encoded, columns)
    result["column_shape_error"] = _error(s["score"] for s in shapes.values())
    discrete = _discretize(encoded, columns)
    pairs = _pair_trends(encoded, columns, discrete)
    result["pair_trend_error"] = _error(p["score"] for p in pairs)
    result["pair_trend_error_strong"] = _error(p["score"] for p in pairs if p["strong"])
    result["n_pairs"] = sum(p["score"] is not None for p in pairs)
    result["n_strong_pairs"] = sum(p["score"] is not None and p["strong"] for p in pairs)
    result["exact_copy_rate"] = _copy_rate(encoded, columns, "synth")

    dcr = None
    if holdout is not None:
        result["holdout_copy_rate"] = _copy_rate(encoded, columns, "holdout")
        result["detection_auc"] = _detection_auc(encoded, columns)
        d_train, d_hold = _dcr_sq_distances(encoded, columns)
        result["dcr_share"] = _dcr_share(d_train, d_hold)
        dcr = {"train": np.sqrt(d_train), "holdout": np.sqrt(d_hold)}
    if target is not None:
        result.update(_ml_efficacy(encoded, columns, target))
    result["columns"] = shapes
    result["pairs"] = pairs

    details = {
        "columns": {
            str(c): {
                "kind": kinds[c].kind,
                "numeric": encoded[c].numeric,
                "values": encoded[c].values,
                "levels": None if encoded[c].numeric else list(encoded[c].levels),
            }
            for c in columns
        },
        "pair_trends": _pair_matrices(columns, pairs, discrete),
        "dcr": dcr,
    }
    return result, details


def format_report(result):
    """Render the figures of :func:`evaluate` as an aligned text table.

    Parameters
    ----------
    result : dict
        What :func:`evaluate` returned.

    Returns
    -------
    str
        One line per figure present in ``result`` (figure, value, meaning), under a
        header line, without a trailing newline.
    """
    rows = []
    for key, meaning in _REPORT_LINES:
        if key not in result:
            continue
        if key.startswith("ml_efficacy_"):
            meaning = f"{result.get('ml_efficacy_metric', '')} of {meaning}".lstrip()
        if key == "pair_trend_error_strong" and result.get("n_strong_pairs") is not None:
            meaning = f"{meaning} ({result['n_strong_pairs']} of {result.get('n_pairs')})"
        rows.append((key, _format_value(result[key]), meaning))
    name_width = max([len("metric")] + [len(r[0]) for r in rows])
    value_width = max([len("value")] + [len(r[1]) for r in rows])
    lines = [f"{'metric':<{name_width}}  {'value':>{value_width}}  meaning"]
    lines += [f"{k:<{name_width}}  {v:>{value_width}}  {m}" for k, v, m in rows]
    return "\n".join(lines)


def _format_value(value):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.3f}" if abs(value) < 10 else f"{value:.2f}"


# --------------------------------------------------------------------------- inputs


def _check_inputs(real, synth, holdout, target, schema):
    """Validate the arguments; return (used columns, their kinds, skipped names)."""
    tables = {"real": real, "synth": synth, "holdout": holdout}
    for name, frame in tables.items():
        if frame is None and name == "holdout":
            continue
        if not isinstance(frame, pd.DataFrame):
            raise InputTypeError(f"{name} must be a pandas DataFrame, not {type(frame).__name__}")
        if frame.columns.duplicated().any():
            dupes = sorted({str(c) for c in frame.columns[frame.columns.duplicated()]})
            raise DataError(f"{name} has duplicate column names: {', '.join(dupes)}")
        if len(frame) == 0:
            raise DataError(f"{name} has no rows")
    for name in ("synth", "holdout"):
        other = tables[name]
        if other is None:
            continue
        missing = [str(c) for c in real.columns if c not in other.columns]
        extra = [str(c) for c in other.columns if c not in real.columns]
        if missing or extra:
            parts = []
            if missing:
                parts.append(f"lacks {', '.join(missing)}")
            if extra:
                parts.append(f"has extra {', '.join(extra)}")
            raise DataError(f"{name} and real have different columns: {name} {'; '.join(parts)}")
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


# ------------------------------------------------------------------------- encoding


class _Column:
    """One column of every table, as floats (numeric) or shared integer codes."""

    def __init__(self, name, numeric, values, levels=None, n_real_levels=0):
        self.name = name
        self.numeric = numeric
        self.values = values  # {table: float array with NaN} or {table: int codes}
        self.levels = levels  # categorical: level texts, real's levels first
        self.n_real_levels = n_real_levels


def _encode(frames, columns, kinds):
    return {c: _encode_column(c, kinds[c], frames) for c in columns}


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
        return _Column(name, False, values, levels, len(real_levels))
    values = {t: _as_number(f[name], spec) for t, f in frames.items()}
    return _Column(name, True, values)


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
        parsed = pd.to_datetime(series, format=spec.format, errors="coerce")
        if getattr(parsed.dt, "tz", None) is not None:
            parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
        seconds = parsed.to_numpy(dtype="datetime64[s]").astype(np.int64).astype(np.float64)
        seconds[parsed.isna().to_numpy()] = np.nan
        return seconds
    numbers = pd.to_numeric(series, errors="coerce")
    # A copy: pandas' copy-on-write hands out read-only views of the column.
    out = np.array(numbers.to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64)
    out[~np.isfinite(out)] = np.nan
    return out


# ------------------------------------------------------------------------- fidelity


def _error(scores):
    scores = [s for s in scores if s is not None]
    if not scores:
        return None
    return float(100.0 * (1.0 - np.mean(scores)))


def _column_shapes(encoded, columns):
    out = {}
    for name in columns:
        col = encoded[name]
        if col.numeric:
            score = _ks_complement(col.values["real"], col.values["synth"])
            metric = "KSComplement"
        else:
            score = _tv_complement(col.values["real"], col.values["synth"], len(col.levels))
            metric = "TVComplement"
        out[str(name)] = {"metric": metric, "score": score}
    return out


def ks_statistic(a, b):
    """Two-sample Kolmogorov-Smirnov statistic of two samples, NaNs dropped.

    Parameters
    ----------
    a, b : array-like of float

    Returns
    -------
    float
        The largest gap between the two empirical CDFs, or NaN if a sample is empty.
    """
    a = np.sort(np.asarray(a, dtype=np.float64)[~np.isnan(a)])
    b = np.sort(np.asarray(b, dtype=np.float64)[~np.isnan(b)])
    if len(a) == 0 or len(b) == 0:
        return float("nan")
    # Both CDFs only jump at observed values, so the largest gap is at one of them.
    points = np.concatenate([a, b])
    cdf_a = np.searchsorted(a, points, side="right") / len(a)
    cdf_b = np.searchsorted(b, points, side="right") / len(b)
    return float(np.max(np.abs(cdf_a - cdf_b)))


def tv_distance(p, q):
    """Total variation distance of two frequency vectors (normalised here)."""
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    return float(0.5 * np.abs(p / p.sum() - q / q.sum()).sum())


def _ks_complement(real, synth):
    n_real = int(np.sum(~np.isnan(real)))
    n_synth = int(np.sum(~np.isnan(synth)))
    if n_real == 0 and n_synth == 0:
        return None
    if n_real == 0 or n_synth == 0:
        return 0.0  # values on one side only: as different as two samples can be
    return 1.0 - ks_statistic(real, synth)


def _tv_complement(real, synth, n_levels):
    p = np.bincount(real, minlength=n_levels)
    q = np.bincount(synth, minlength=n_levels)
    return 1.0 - tv_distance(p, q)


def _discretize(encoded, columns):
    """Every column as integer codes (numbers binned): ({table: {name: codes}}, {name: size})."""
    discrete = {t: {} for t in ("real", "synth")}
    sizes = {}
    for name in columns:
        col = encoded[name]
        if col.numeric:
            codes, size = _bin_codes(col.values["real"], col.values["synth"])
        else:
            codes, size = {t: col.values[t] for t in ("real", "synth")}, len(col.levels)
        for t in discrete:
            discrete[t][name] = codes[t]
        sizes[name] = size
    return discrete, sizes


def _pair_trends(encoded, columns, discretized):
    discrete, sizes = discretized
    pairs = []
    for i, a in enumerate(columns):
        for b in columns[i + 1 :]:
            ca, cb = encoded[a], encoded[b]
            if ca.numeric and cb.numeric:
                pairs.append(_correlation_pair(a, b, ca, cb))
            else:
                pairs.append(_contingency_pair(a, b, discrete, sizes))
    return pairs


def _pair_matrices(columns, pairs, discretized):
    """Square real/synthetic trend and per-pair error matrices (see evaluate_with_details)."""
    discrete, sizes = discretized
    names = [str(c) for c in columns]
    position = {str(c): i for i, c in enumerate(columns)}
    by_name = dict(zip(names, columns))
    out = {k: np.full((len(names), len(names)), np.nan) for k in ("real", "synth", "error")}
    for pair in pairs:
        a, b = pair["columns"]
        if pair["metric"] == "CorrelationSimilarity":
            trend_real, trend_synth = pair["real_correlation"], pair["synthetic_correlation"]
        else:
            joint = _joint_tables(by_name[a], by_name[b], discrete, sizes)
            trend_real, trend_synth = pair["real_association"], cramers_v(joint["synth"])
        error = None if pair["score"] is None else 100.0 * (1.0 - pair["score"])
        for key, value in (("real", trend_real), ("synth", trend_synth), ("error", error)):
            if value is not None:
                out[key][position[a], position[b]] = out[key][position[b], position[a]] = value
    return {k: pd.DataFrame(m, index=names, columns=names) for k, m in out.items()}


def _bin_codes(real, synth):
    """Cut a numeric column into PAIR_BINS equal-width bins over the real range.

    The outer edges are opened to infinity (as in SDMetrics' ContingencySimilarity),
    so synthetic values outside the real range fall into the end bins; missing
    values get a bin of their own.
    """
    observed = real[~np.isnan(real)]
    if len(observed) == 0:
        edges = np.array([-np.inf, np.inf])
    else:
        edges = np.histogram_bin_edges(observed, bins=PAIR_BINS)
        edges[0], edges[-1] = -np.inf, np.inf
    n_bins = len(edges) - 1
    out = {}
    for table, values in (("real", real), ("synth", synth)):
        codes = np.digitize(values, edges) - 1
        codes[np.isnan(values)] = n_bins
        out[table] = codes.astype(np.int64)
    return out, n_bins + 1


def _correlation_pair(a, b, ca, cb):
    rho_real = _pearson(ca.values["real"], cb.values["real"])
    rho_synth = _pearson(ca.values["synth"], cb.values["synth"])
    score = None
    if rho_real is not None:
        # A synthetic column collapsed to one value carries no linear relation, so it
        # is scored as correlation 0; SDMetrics drops such a pair, which would hide
        # exactly the failure this figure is meant to show.
        score = 1.0 - abs(rho_real - (rho_synth or 0.0)) / 2.0
    return {
        "columns": [str(a), str(b)],
        "metric": "CorrelationSimilarity",
        "score": score,
        "real_correlation": rho_real,
        "synthetic_correlation": rho_synth,
        "real_association": None,
        "strong": rho_real is not None and abs(rho_real) > STRONG_CORRELATION,
    }


def _pearson(x, y):
    """Pearson correlation over rows where both are present; None if undefined."""
    keep = ~(np.isnan(x) | np.isnan(y))
    x, y = x[keep], y[keep]
    if len(x) < 2:
        return None
    x = x - x.mean()
    y = y - y.mean()
    denom = math.sqrt(float(np.dot(x, x)) * float(np.dot(y, y)))
    if denom == 0.0:
        return None  # a constant column has no correlation to speak of
    return float(np.clip(np.dot(x, y) / denom, -1.0, 1.0))


def _joint_tables(a, b, discrete, sizes):
    """{table: the (levels of a) x (levels of b) frequency table}."""
    size_b = sizes[b]
    cells = sizes[a] * size_b
    return {
        t: np.bincount(discrete[t][a] * size_b + discrete[t][b], minlength=cells).reshape(sizes[a], size_b)
        for t in ("real", "synth")
    }


def _contingency_pair(a, b, discrete, sizes):
    joint = _joint_tables(a, b, discrete, sizes)
    association = cramers_v(joint["real"])
    return {
        "columns": [str(a), str(b)],
        "metric": "ContingencySimilarity",
        "score": 1.0 - tv_distance(joint["real"], joint["synth"]),
        "real_correlation": None,
        "synthetic_correlation": None,
        "real_association": association,
        "strong": association is not None and association > STRONG_ASSOCIATION,
    }


def cramers_v(table):
    """Cramer's V of a contingency table (no bias or continuity correction).

    This is ``scipy.stats.contingency.association(table, method="cramer")``, which
    SDMetrics uses for its association threshold; rows and columns that are all
    zero are dropped first, as they are absent from SDMetrics' observed table.

    Returns
    -------
    float or None
        None when the table has fewer than two non-empty rows or columns.
    """
    table = np.asarray(table, dtype=np.float64)
    table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    if min(table.shape) < 2:
        return None
    n = table.sum()
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / n
    chi2 = float(((table - expected) ** 2 / expected).sum())
    return float(math.sqrt(chi2 / n / (min(table.shape) - 1)))


# ------------------------------------------------------------------------- privacy


def _row_keys(encoded, columns, table):
    """One 64-bit hash per row of the encoded values, NaN equal to NaN."""
    frame = pd.DataFrame({i: encoded[c].values[table] for i, c in enumerate(columns)})
    return pd.util.hash_pandas_object(frame, index=False).to_numpy()


def _copy_rate(encoded, columns, table):
    train = _row_keys(encoded, columns, "real")
    rows = _row_keys(encoded, columns, table)
    return float(100.0 * np.isin(rows, train).mean())


def _dcr_sq_distances(encoded, columns):
    """Squared distances from sampled synthetic rows to the nearest train and holdout row."""
    rng = np.random.default_rng(SEED)
    n_ref = min(_n_rows(encoded, "real"), _n_rows(encoded, "holdout"), DCR_REFERENCE_ROWS)
    picks = {
        "synth": _sample(rng, _n_rows(encoded, "synth"), DCR_SYNTH_ROWS),
        "real": _sample(rng, _n_rows(encoded, "real"), n_ref),
        "holdout": _sample(rng, _n_rows(encoded, "holdout"), n_ref),
    }
    dense, codes = _distance_matrices(encoded, columns, picks)
    with _single_threaded():
        d_train = _nearest_sq_distance(dense["synth"], codes["synth"], dense["real"], codes["real"])
        d_hold = _nearest_sq_distance(dense["synth"], codes["synth"], dense["holdout"], codes["holdout"])
    return d_train, d_hold


def _dcr_share(d_train, d_hold):
    tie = np.abs(d_train - d_hold) <= TIE_TOLERANCE
    share = np.where(tie, 0.5, (d_train < d_hold).astype(np.float64))
    return float(100.0 * share.mean())


def _n_rows(encoded, table):
    return len(next(iter(encoded.values())).values[table])


def _sample(rng, n, cap):
    if n <= cap:
        return np.arange(n)
    return np.sort(rng.choice(n, size=cap, replace=False))


def _distance_matrices(encoded, columns, picks):
    """Encode rows for Euclidean distance: min-max numbers, one-hot categories.

    Numbers are scaled by the real range; a missing number becomes 0 plus a 1 in a
    missing-indicator column, so two missing cells are at distance 0. Categorical
    columns with many levels are returned as codes instead: comparing codes adds
    the same 2 per mismatch to the squared distance that their one-hot would.
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


def _nearest_sq_distance(queries, query_codes, refs, ref_codes, chunk=1024):
    """Squared distance from each query row to its nearest reference row."""
    ref_norms = np.einsum("ij,ij->i", refs, refs)
    out = np.empty(len(queries))
    for start in range(0, len(queries), chunk):
        q = queries[start : start + chunk]
        d2 = np.einsum("ij,ij->i", q, q)[:, None] + ref_norms[None, :] - 2.0 * (q @ refs.T)
        qc = query_codes[start : start + chunk]
        for j in range(qc.shape[1]):
            d2 += 2.0 * (qc[:, j][:, None] != ref_codes[:, j][None, :])
        out[start : start + chunk] = np.maximum(d2.min(axis=1), 0.0)
    return out


# ----------------------------------------------------------------------- usefulness


def _model_features(encoded, columns, table, rows=None):
    """Feature matrix for HistGradientBoosting and its categorical-column mask.

    Categories are ordinal codes of the levels seen in the real table (at most the
    255 most frequent, the model's limit); other levels become missing.
    """
    blocks, is_categorical = [], []
    for name in columns:
        col = encoded[name]
        values = col.values[table] if rows is None else col.values[table][rows]
        if col.numeric:
            blocks.append(values)
            is_categorical.append(False)
        else:
            codes = values.astype(np.float64)
            codes[values >= min(col.n_real_levels, MAX_MODEL_LEVELS)] = np.nan
            blocks.append(codes)
            is_categorical.append(True)
    return np.column_stack(blocks), np.asarray(is_categorical)


def _single_threaded():
    """Context capping OpenMP and BLAS threads at MODEL_THREADS (no-op without threadpoolctl)."""
    try:
        from threadpoolctl import threadpool_limits  # a dependency of scikit-learn
    except ImportError:  # pragma: no cover
        return contextlib.nullcontext()
    return threadpool_limits(limits=MODEL_THREADS)


def _detection_auc(encoded, columns):
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    rng = np.random.default_rng(SEED)
    n = min(_n_rows(encoded, "holdout"), _n_rows(encoded, "synth"), DETECTION_ROWS)
    if n < 2:
        return None  # cross-validation needs two rows of each side at least
    hold_rows = _sample(rng, _n_rows(encoded, "holdout"), n)
    synth_rows = _sample(rng, _n_rows(encoded, "synth"), n)
    x_hold, mask = _model_features(encoded, columns, "holdout", hold_rows)
    x_synth, _ = _model_features(encoded, columns, "synth", synth_rows)
    x = np.vstack([x_hold, x_synth])
    y = np.r_[np.zeros(n), np.ones(n)]
    model = HistGradientBoostingClassifier(categorical_features=mask, random_state=SEED)
    folds = StratifiedKFold(n_splits=min(CV_FOLDS, n), shuffle=True, random_state=SEED)
    with _single_threaded():
        proba = cross_val_predict(model, x, y, cv=folds, method="predict_proba")[:, 1]
    return float(roc_auc_score(y, proba))


def _ml_efficacy(encoded, columns, target):
    features = [c for c in columns if c != target]
    if not features:
        raise DataError(f"target {target!r} is the only usable column; there is nothing to predict it from")
    classify = not encoded[target].numeric
    rng = np.random.default_rng(SEED)
    y_hold, hold_rows = _target_values(encoded[target], "holdout", classify)
    x_hold, mask = _model_features(encoded, features, "holdout", hold_rows)
    out = {"target": str(target), "ml_efficacy_metric": "roc_auc" if classify else "r2"}
    for table, key in (("real", "ml_efficacy_real"), ("synth", "ml_efficacy_synth")):
        y, rows = _target_values(encoded[target], table, classify)
        if len(rows) > MODEL_ROWS:
            keep = np.sort(rng.choice(len(rows), size=MODEL_ROWS, replace=False))
            y, rows = y[keep], rows[keep]
        x, _ = _model_features(encoded, features, table, rows)
        if classify:
            out[key] = _fit_score_classifier(x, y, x_hold, y_hold, mask)
        else:
            out[key] = _fit_score_regressor(x, y, x_hold, y_hold, mask)
    return out


def _target_values(col, table, classify):
    """Target values of the rows that can be used and those rows' positions.

    Rows with a missing target are dropped, and for a categorical target so are
    rows whose level never occurs in the real table: no real-trained model could
    predict it, so it cannot be scored fairly.
    """
    values = col.values[table]
    if classify:
        na = col.levels.get_indexer([NA_LEVEL])[0]
        ok = (values < col.n_real_levels) & (values != na)
    else:
        ok = ~np.isnan(values)
    rows = np.flatnonzero(ok)
    return values[rows], rows


def _fit_score_classifier(x, y, x_hold, y_hold, mask):
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score

    classes = np.unique(y_hold)
    if len(classes) < 2:
        return None  # AUC is undefined on a one-class holdout
    if len(np.unique(y)) < 2:
        return 0.5  # the only model one class allows is a constant: no ranking at all
    model = HistGradientBoostingClassifier(categorical_features=mask, random_state=SEED)
    with _single_threaded():
        proba = model.fit(x, y).predict_proba(x_hold)
    if len(classes) == 2:
        positive = classes[1]
        hit = np.flatnonzero(model.classes_ == positive)
        score = proba[:, hit[0]] if len(hit) else np.zeros(len(y_hold))
        return float(roc_auc_score(y_hold == positive, score))
    # Classes the training rows lack get probability 0 so every holdout class has a column.
    full = np.zeros((len(y_hold), len(classes)))
    for j, c in enumerate(classes):
        hit = np.flatnonzero(model.classes_ == c)
        if len(hit):
            full[:, j] = proba[:, hit[0]]
    sums = full.sum(axis=1, keepdims=True)
    full = np.divide(full, sums, out=np.full_like(full, 1.0 / len(classes)), where=sums > 0)
    return float(roc_auc_score(y_hold, full, multi_class="ovr", average="macro", labels=classes))


def _fit_score_regressor(x, y, x_hold, y_hold, mask):
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.metrics import r2_score

    if len(y) < 2 or len(y_hold) < 2:
        return None
    model = HistGradientBoostingRegressor(categorical_features=mask, random_state=SEED)
    with _single_threaded():
        predicted = model.fit(x, y).predict(x_hold)
    return float(r2_score(y_hold, predicted))
