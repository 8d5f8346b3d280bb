"""Privacy figures: synthetic rows that copy a training row, and distances to the closest record.

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
    rng = np.random.default_rng(SEED)
    n_ref = min(n_rows(encoded, "real"), n_rows(encoded, "holdout"), DCR_REFERENCE_ROWS)
    picks = {
        "synth": sample_rows(rng, n_rows(encoded, "synth"), DCR_SYNTH_ROWS),
        "real": sample_rows(rng, n_rows(encoded, "real"), n_ref),
        "holdout": sample_rows(rng, n_rows(encoded, "holdout"), n_ref),
    }
    dense, codes = distance_matrices(encoded, columns, picks)
    with single_threaded():
        d_train = _nearest_sq_distance(dense["synth"], codes["synth"], dense["real"], codes["real"])
        d_hold = _nearest_sq_distance(dense["synth"], codes["synth"], dense["holdout"], codes["holdout"])
    return d_train, d_hold


def dcr_share(d_train, d_hold):
    """% of rows nearer to train than to holdout, ties counting half."""
    tie = np.abs(d_train - d_hold) <= TIE_TOLERANCE
    share = np.where(tie, 0.5, (d_train < d_hold).astype(np.float64))
    return float(100.0 * share.mean())


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
