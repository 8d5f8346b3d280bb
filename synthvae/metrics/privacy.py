"""Privacy figures: synthetic rows that copy a training row, distances to the closest
record, a membership-inference attack, and synthetic rows that single out a real row.

Rows are compared in the space of :mod:`synthvae.rowspace`: equal when every encoded
value is (missing equal to missing), near by Euclidean distance.
"""

from __future__ import annotations

import numpy as np

from synthvae.metrics.sampling import SEED, sample_rows, single_threaded
from synthvae.rowspace import distance_matrices, n_rows, row_keys

# Row caps that keep a 32k-row table well under a minute on two cores; dcr_share is
# an average, which a 10-20k sample estimates closely.
DCR_SYNTH_ROWS = 10_000
DCR_REFERENCE_ROWS = 20_000
# Rows per side of the membership-inference attack (training rows against holdout rows).
MEMBERSHIP_ROWS = 5_000
# A synthetic row singles out its nearest real row when that row is closer than this
# share of the distance to the second nearest.
SINGLING_OUT_RATIO = 0.5
# Squared distances closer than this count as a tie: the matrix-product form of the
# distance leaves round-off of about 1e-14 where the true value is 0.
TIE_TOLERANCE = 1e-10


def copy_rate(encoded, columns, table):
    """% of the rows of ``table`` identical to some real row in every column."""
    train = row_keys(encoded, columns, "real")
    rows = row_keys(encoded, columns, table)
    return float(100.0 * np.isin(rows, train).mean())


def dcr_sq_distances(encoded, columns):
    """Squared distances from sampled synthetic rows to the nearest train and holdout row."""
    nearest = _picked(encoded, columns, SEED, DCR_SYNTH_ROWS, DCR_REFERENCE_ROWS)
    with single_threaded():
        return nearest("synth", "real"), nearest("synth", "holdout")


def _picked(encoded, columns, seed, synth_rows, real_rows):
    """A function ``nearest(queries, refs)``: the squared distance from each picked row
    of table ``queries`` to its nearest picked row of ``refs``. Up to ``synth_rows``
    synthetic rows are picked, and as many training rows as holdout rows, up to
    ``real_rows`` each, so that neither side of a comparison has more to choose from."""
    rng = np.random.default_rng(seed)
    n_side = min(n_rows(encoded, "real"), n_rows(encoded, "holdout"), real_rows)
    picks = {
        "synth": sample_rows(rng, n_rows(encoded, "synth"), synth_rows),
        "real": sample_rows(rng, n_rows(encoded, "real"), n_side),
        "holdout": sample_rows(rng, n_rows(encoded, "holdout"), n_side),
    }
    dense, codes = distance_matrices(encoded, columns, picks)
    return lambda queries, refs: _nearest_sq_distance(dense[queries], codes[queries], dense[refs], codes[refs])


def dcr_share(d_train, d_hold):
    """% of rows nearer to train than to holdout, ties counting half."""
    tie = np.abs(d_train - d_hold) <= TIE_TOLERANCE
    share = np.where(tie, 0.5, (d_train < d_hold).astype(np.float64))
    return float(100.0 * share.mean())


def _nearest_sq_distance(queries, query_codes, refs, ref_codes, chunk=1024, count=1):
    """Squared distance from each query row to its nearest reference row; with
    ``count`` > 1, to its ``count`` nearest, nearest first (an array of ``count`` columns)."""
    ref_norms = np.einsum("ij,ij->i", refs, refs)
    out = np.empty((len(queries), count))
    for start in range(0, len(queries), chunk):
        q = queries[start : start + chunk]
        d2 = np.einsum("ij,ij->i", q, q)[:, None] + ref_norms[None, :] - 2.0 * (q @ refs.T)
        qc = query_codes[start : start + chunk]
        for j in range(qc.shape[1]):
            d2 += 2.0 * (qc[:, j][:, None] != ref_codes[:, j][None, :])
        if count == 1:
            out[start : start + chunk, 0] = np.maximum(d2.min(axis=1), 0.0)
        else:
            nearest = np.partition(d2, count - 1, axis=1)[:, :count]
            out[start : start + chunk] = np.maximum(np.sort(nearest, axis=1), 0.0)
    return out[:, 0] if count == 1 else out


def membership_auc(encoded, columns):
    """ROC AUC of a distance attack on membership: a real row is guessed to be a
    training row the nearer it lies to a synthetic row. Up to ``MEMBERSHIP_ROWS``
    training rows and as many holdout rows are scored against up to
    ``DCR_REFERENCE_ROWS`` synthetic rows; 0.5 means the synthetic rows tell nothing
    of who was trained on, 1 that every training row can be picked out."""
    from sklearn.metrics import roc_auc_score

    nearest = _picked(encoded, columns, SEED + 1, DCR_REFERENCE_ROWS, MEMBERSHIP_ROWS)
    with single_threaded():
        d_train, d_hold = nearest("real", "synth"), nearest("holdout", "synth")
    members = np.concatenate([np.ones(len(d_train)), np.zeros(len(d_hold))])
    return float(roc_auc_score(members, -np.concatenate([d_train, d_hold])))


def singling_out_share(encoded, columns, table="synth"):
    """% of the rows of ``table`` that single out a real row: their nearest real row is
    closer than ``SINGLING_OUT_RATIO`` times the distance to the second nearest (a row
    that copies a training row found twice singles out no one). Up to ``DCR_SYNTH_ROWS``
    rows against up to ``DCR_REFERENCE_ROWS`` training rows; ``table="holdout"`` gives
    the baseline of real rows the generator never saw."""
    rng = np.random.default_rng(SEED + 2)
    picks = {
        table: sample_rows(rng, n_rows(encoded, table), DCR_SYNTH_ROWS),
        "real": sample_rows(rng, n_rows(encoded, "real"), DCR_REFERENCE_ROWS),
    }
    if len(picks["real"]) < 2:
        return None
    dense, codes = distance_matrices(encoded, columns, picks)
    with single_threaded():
        nearest = _nearest_sq_distance(dense[table], codes[table], dense["real"], codes["real"], count=2)
    singled = nearest[:, 0] < SINGLING_OUT_RATIO**2 * nearest[:, 1] - TIE_TOLERANCE
    return float(100.0 * singled.mean())
