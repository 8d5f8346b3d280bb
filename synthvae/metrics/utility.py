"""Figures that train gradient-boosting models on the rows: machine-learning efficacy and detection.

Both use scikit-learn's HistGradientBoosting, which takes missing values and
categorical columns as they come, on at most a capped, seeded sample of rows.
"""

from __future__ import annotations

import numpy as np

from synthvae.errors import DataError
from synthvae.metrics.sampling import SEED, sample_rows, single_threaded
from synthvae.rowspace import NA_LEVEL, n_rows

# Row caps that keep a 32k-row table well under a minute on two cores; the figures
# they feed are averages or rankings, which a 10-20k sample estimates closely.
MODEL_ROWS = 20_000
DETECTION_ROWS = 10_000  # per side, so the classifier sees at most 20k rows
CV_FOLDS = 5
# HistGradientBoosting's native categorical support takes codes below max_bins (255).
MAX_MODEL_LEVELS = 255


def detection_auc(encoded, columns):
    """Out-of-fold ROC AUC of a classifier telling holdout rows from as many synthetic rows."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    rng = np.random.default_rng(SEED)
    n = min(n_rows(encoded, "holdout"), n_rows(encoded, "synth"), DETECTION_ROWS)
    if n < 2:
        return None  # cross-validation needs two rows of each side at least
    hold_rows = sample_rows(rng, n_rows(encoded, "holdout"), n)
    synth_rows = sample_rows(rng, n_rows(encoded, "synth"), n)
    x_hold, mask = _model_features(encoded, columns, "holdout", hold_rows)
    x_synth, _ = _model_features(encoded, columns, "synth", synth_rows)
    x = np.vstack([x_hold, x_synth])
    y = np.r_[np.zeros(n), np.ones(n)]
    model = HistGradientBoostingClassifier(categorical_features=mask, random_state=SEED)
    folds = StratifiedKFold(n_splits=min(CV_FOLDS, n), shuffle=True, random_state=SEED)
    with single_threaded():
        proba = cross_val_predict(model, x, y, cv=folds, method="predict_proba")[:, 1]
    return float(roc_auc_score(y, proba))


def ml_efficacy(encoded, columns, target):
    """The ``ml_efficacy_*`` and ``target`` entries of :func:`synthvae.metrics.evaluate`.

    Raises
    ------
    DataError
        ``target`` is the only compared column.
    """
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
    with single_threaded():
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
    with single_threaded():
        predicted = model.fit(x, y).predict(x_hold)
    return float(r2_score(y_hold, predicted))
