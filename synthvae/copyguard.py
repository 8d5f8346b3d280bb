"""The copy guard: sampled rows that equal a row of a reference table (the training data,
typically), or lie nearer to one than real rows lie to each other, are replaced by
further draws.

Rows are compared in the space of :mod:`synthvae.rowspace`, which the privacy figures
of :mod:`synthvae.metrics` use too (numbers min-max scaled by the reference's range,
categories one-hot, a missing number its own indicator), on every column but
identifiers and constants: identifiers are regenerated and never equal a training key,
so comparing them would hide every copy. The threshold is a low percentile (the 1st
by default) of the distances from the reference's distinct rows to their nearest other
distinct row: a sampled row nearer than that to a real row is closer than almost any
two real rows are to each other.
"""

from __future__ import annotations

import threading

import numpy as np
import pandas as pd
from sklearn.neighbors import NearestNeighbors

from synthvae.errors import DataError, InputTypeError
from synthvae.rowspace import SKIPPED_KINDS, encode_tables, neighbour_matrices, row_keys

PERCENTILE = 1.0
# Reference rows whose nearest-neighbour distance sets the threshold, at most.
THRESHOLD_QUERIES = 5_000
# Rounds of replacement draws before giving up (each draws twice the rows still needed).
MAX_ROUNDS = 50


class CopyGuard:
    """Find and replace sampled rows that copy or nearly copy a reference row.

    Parameters
    ----------
    reference : pandas.DataFrame
        Rows the sample must not reproduce; the same columns as the model's table.
    schema : Schema
        The model's schema.
    name : str
        How messages name the reference (a file name, say).
    percentile : float, default=1.0
        Percentile of the reference's own nearest-neighbour distances used as threshold.

    Attributes
    ----------
    threshold_ : float
        Rows nearer than this (Euclidean, in the space described above) to a reference
        row are replaced, as are exact copies.
    replaced_ : int
        Rows replaced so far (among the rows handed out).
    checked_ : int
        Rows checked so far.
    """

    def __init__(self, reference, schema, name="the reference table", percentile=PERCENTILE):
        if not isinstance(reference, pd.DataFrame):
            raise InputTypeError(f"reject_copies must be a pandas DataFrame, not {type(reference).__name__}")
        reference = reference.rename(columns=str)
        missing = [n for n in schema.names if n not in reference.columns]
        extra = [str(c) for c in reference.columns if c not in schema.names]
        if missing or extra:
            parts = ([f"lacks {', '.join(missing)}"] if missing else []) + ([f"has extra {', '.join(extra)}"] if extra else [])
            raise DataError(f"{name} does not have the model's columns: it {'; '.join(parts)}")
        if len(reference) == 0:
            raise DataError(f"{name} has no rows")
        self.name = name
        self.percentile = percentile
        self.kinds = {n: schema[n] for n in schema.names}
        self.columns = [n for n in schema.names if schema[n].kind not in SKIPPED_KINDS]
        self.identifiers = [n for n in schema.names if schema[n].kind == "identifier"]
        self.reference = reference[self.columns].reset_index(drop=True)
        self.threshold_ = self._threshold() if self.columns else 0.0
        self.replaced_ = 0
        self.checked_ = 0
        # Chunks are checked on several threads at once; the counts are shared.
        self._counting = threading.Lock()

    def _threshold(self):
        encoded = encode_tables({"real": self.reference}, self.columns, self.kinds)
        _, first = np.unique(row_keys(encoded, self.columns, "real"), return_index=True)
        distinct = np.sort(first)
        if len(distinct) < 2:
            return 0.0
        space = neighbour_matrices(encoded, self.columns, {"real": distinct})["real"]
        rng = np.random.default_rng(0)
        queries = np.sort(rng.choice(len(distinct), min(len(distinct), THRESHOLD_QUERIES), replace=False))
        distances, _ = NearestNeighbors(n_neighbors=2).fit(space).kneighbors(space[queries])
        # Column 0 is the row itself; the rows are distinct, so column 1 is another row.
        return float(np.percentile(distances[:, 1], self.percentile))

    def copies(self, rows):
        """Boolean mask of the ``rows`` that equal a reference row or lie nearer than ``threshold_``."""
        if not self.columns or len(rows) == 0:
            return np.zeros(len(rows), dtype=bool)
        rows = rows[self.columns].reset_index(drop=True)
        encoded = encode_tables({"real": self.reference, "synth": rows}, self.columns, self.kinds)
        exact = np.isin(row_keys(encoded, self.columns, "synth"), row_keys(encoded, self.columns, "real"))
        space = neighbour_matrices(encoded, self.columns, {"real": np.arange(len(self.reference)), "synth": np.arange(len(rows))})
        distances, _ = NearestNeighbors(n_neighbors=1).fit(space["real"]).kneighbors(space["synth"])
        return exact | (distances[:, 0] < self.threshold_)

    def apply(self, rows, rng, draw, lo=0, hi=None):
        """``rows`` with every copy replaced by a fresh row from ``draw(rng, n)`` that is
        no copy; the rows ``lo:hi`` are those handed out, and counted."""
        hi = len(rows) if hi is None else hi
        bad = self.copies(rows)
        with self._counting:
            self.replaced_ += int(bad[lo:hi].sum())
            self.checked_ += hi - lo
        if not bad.any():
            return rows
        positions = np.flatnonzero(bad)
        fresh = []
        for _ in range(MAX_ROUNDS):
            need = len(positions) - sum(len(f) for f in fresh)
            if need == 0:
                break
            candidates = draw(rng, max(2 * need, 64))
            fresh.append(candidates[~self.copies(candidates)].iloc[:need])
        else:
            raise DataError(
                f"could not draw rows that do not copy {self.name}: the model reproduces its rows "
                f"almost every time (threshold {self.threshold_:.4g})"
            )
        fresh = pd.concat(fresh, ignore_index=True)
        fresh.index = rows.index[positions]
        for name in self.identifiers:  # keep the running numbers of the replaced rows
            fresh[name] = rows[name].iloc[positions].to_numpy()
        return pd.concat([rows[~bad], fresh]).loc[rows.index]

    def message(self):
        """The line the command line prints on stderr."""
        return (
            f"replaced {self.replaced_} of {self.checked_} rows that copied or nearly copied a row of "
            f"{self.name} (nearer than {self.threshold_:.4g}: percentile {self.percentile:g} of the "
            f"distances between its rows and their nearest neighbours)"
        )
