"""Post-training corrections that make the sampled marginals match the training ones.

A VAE's samples drift from the training marginals (a rare category comes out too
rarely, a spike is smeared). :class:`Calibration` is fitted once after training on a
large batch of prior draws and applied by the generator to every decoded row.
"""

from __future__ import annotations

import numpy as np

from synthvae.generation import decode_to_matrix, draw_matrix, softmax
from synthvae.transformers import learned

_IDENTITY_RANGE = 1e12
# Rows drawn, at least, for each round of the coupled groups' correction (see
# Calibration._fit_coupled).
COUPLED_DRAWS = 160_000
# The most extra rows (a share) that a rebuilt column's map may move onto their bound.
REBUILT_ONTO_BOUND = 0.01


class Calibration:
    """Two corrections that fix the marginals while leaving the learned relations alone:

    - ``logit_bias``: added to every softmax span's logits, chosen so that the average
      predicted probability of each level equals its training share;
    - a monotone quantile map per continuous column, from the distribution of the
      (noisy) decoded values to the distribution of the training values, so ranks
      (and so correlations) are kept.
    """

    def __init__(self, logit_bias, source_quantiles, target_quantiles):
        self.logit_bias = np.asarray(logit_bias, dtype=np.float32)
        self.source_quantiles = np.asarray(source_quantiles, dtype=np.float64)
        self.target_quantiles = np.asarray(target_quantiles, dtype=np.float64)

    @classmethod
    def identity(cls, transformer):
        return cls(np.zeros(transformer.width_), np.zeros((0, 2)), np.zeros((0, 2)))

    @classmethod
    def fit(cls, raw, transformer, sigma, train_matrix, rng, rounds=4, n_quantiles=257):
        """Fit on ``raw`` decoder outputs for prior draws and the training matrix."""
        bias = np.zeros(transformer.width_, dtype=np.float64)
        for span in transformer.softmax_spans_:
            # Level shares from counts as the learning policy keeps them.
            counts = learned.counts(train_matrix[:, span.start : span.stop].sum(axis=0, dtype=np.float64))
            target = counts / max(counts.sum(), 1.0) + 1e-6
            logits = raw[:, span.start : span.stop].astype(np.float64)
            for _ in range(rounds):
                mean = softmax(logits + bias[span.start : span.stop]).mean(axis=0) + 1e-6
                bias[span.start : span.stop] += np.log(target) - np.log(mean)
        calibration = cls(bias, np.zeros((0, 2)), np.zeros((0, 2)))
        calibration._fit_coupled(raw, transformer, sigma, train_matrix, rng, rounds)
        matrix = decode_to_matrix(raw, transformer, sigma, rng, calibration=calibration)
        levels = _quantile_levels(n_quantiles, len(train_matrix))
        present_synth, present_train = _present_masks(matrix, transformer), _present_masks(train_matrix, transformer)
        source, target = [], []
        for j, column in enumerate(transformer.continuous_columns_):
            synth = matrix[present_synth[j], column]
            real = train_matrix[present_train[j], column]
            if len(synth) < 10 or len(real) < 10:
                # Too few to estimate: an identity map wide enough never to clip a value.
                source.append(_IDENTITY_RANGE * (2 * levels - 1))
                target.append(_IDENTITY_RANGE * (2 * levels - 1))
                continue
            source.append(np.quantile(synth, levels))
            # The learning policy decides how far the training extremes are kept.
            target.append(np.quantile(learned.bounded(real), levels))
        calibration.source_quantiles = _rows(source, len(levels))
        calibration.target_quantiles = _rows(target, len(levels))
        return calibration

    def _fit_coupled(self, raw, transformer, sigma, train_matrix, rng, rounds):
        """Groups that a combinations rule ties are drawn from the decoder's joint
        restricted to the allowed pairs (:func:`decode_to_matrix`), which moves their
        shares: a missing occupation the decoder gives a private employee is not
        drawn. Their biases are corrected on the drawn shares, so the tied columns'
        shares are the training ones too."""
        spans = {s.start: s for coupling in getattr(transformer, "couplings_", ()) for s in coupling[:2]}
        if not spans:
            return
        targets = {}
        for start, span in spans.items():
            counts = learned.counts(train_matrix[:, span.start : span.stop].sum(axis=0, dtype=np.float64))
            targets[start] = counts / max(counts.sum(), 1.0) + 1e-6
        bias = self.logit_bias.astype(np.float64)
        # Shares of one draw of the rows are noisy for a rare level (a zone among 200),
        # and each round's correction keeps that noise: the drawn shares are averaged
        # over enough draws of the same outputs.
        repeats = max(1, -(-COUPLED_DRAWS // max(len(raw), 1)))
        for _ in range(rounds):
            drawn = {start: np.zeros(span.width) for start, span in spans.items()}
            for _ in range(repeats):
                matrix = decode_to_matrix(raw, transformer, sigma, rng, calibration=self)
                for start, span in spans.items():
                    drawn[start] += matrix[:, span.start : span.stop].mean(axis=0, dtype=np.float64) / repeats
            for start, span in spans.items():
                bias[span.start : span.stop] += np.log(targets[start]) - np.log(drawn[start] + 1e-6)
            self.logit_bias = bias.astype(np.float32)

    def source_range(self, j):
        """The decoded values continuous column ``j``'s map was fitted on, as (low, high),
        or None where it has no fitted map (calibration off, or too few values)."""
        if not self.source_quantiles.shape[0] or abs(self.source_quantiles[j, 0]) >= _IDENTITY_RANGE / 10:
            return None
        return float(self.source_quantiles[j, 0]), float(self.source_quantiles[j, -1])

    def map_column(self, j, values):
        """Apply continuous column ``j``'s quantile map (unchanged without maps)."""
        if not self.source_quantiles.shape[0]:
            return values
        return np.interp(values, self.source_quantiles[j], self.target_quantiles[j])

    def map_continuous(self, values):
        """Apply the quantile maps to the continuous columns (one per column of ``values``)."""
        if not self.source_quantiles.shape[0]:
            return values
        return self.map_rows(values.T).T

    def map_rows(self, values):
        """The same for values laid out one row per continuous column (float64, a row
        of ``values`` per column): each row mapped along its contiguous memory."""
        if not self.source_quantiles.shape[0]:
            return values
        maps = self._interpolators()
        out = np.empty(values.shape, dtype=np.float64)
        for j, row in enumerate(values):
            out[j] = maps[j](np.ascontiguousarray(row))
        return out

    def _interpolators(self):
        """One :class:`QuantileInterpolator` per column, made once for these tables."""
        made = getattr(self, "_made", None)
        if made is None or made[0] is not self.source_quantiles or made[1] is not self.target_quantiles:
            maps = [QuantileInterpolator(x, y) for x, y in zip(self.source_quantiles, self.target_quantiles)]
            made = self._made = (self.source_quantiles, self.target_quantiles, maps)
        return made[2]

    def get_state(self):
        return {
            "logit_bias": self.logit_bias.tolist(),
            "source_quantiles": self.source_quantiles.tolist(),
            "target_quantiles": self.target_quantiles.tolist(),
        }

    @classmethod
    def from_state(cls, state):
        self = cls(state["logit_bias"], state["source_quantiles"], state["target_quantiles"])
        self.source_quantiles = _rows(self.source_quantiles, 2)
        self.target_quantiles = _rows(self.target_quantiles, 2)
        return self


class QuantileInterpolator:
    """``np.interp(x, xp, fp)`` for one table (``xp`` increasing) and many ``x``, with the
    same results bit for bit, about twice as fast: each value's segment is found
    through an evenly spaced grid over the table's range (a multiplication, a lookup
    and a step or two), where ``np.interp`` searches the table for every value; the
    value is then worked out as ``np.interp`` does."""

    # Grid cells per table point, doubled (up to the most) while many points share a cell.
    CELLS_PER_POINT, MOST_CELLS_PER_POINT, STEPS = 16, 128, 2

    def __init__(self, xp, fp):
        self.xp, self.fp = np.asarray(xp, dtype=np.float64), np.asarray(fp, dtype=np.float64)
        width = self.xp[-1] - self.xp[0] if len(self.xp) else 0.0
        self.usable = len(self.xp) >= 2 and np.isfinite(width) and width > 0
        if not self.usable:
            return
        # Indexed by k, the count of points at or below a value: the segment's start,
        # value and slope, and beyond either end a flat segment at the end's value.
        with np.errstate(divide="ignore", invalid="ignore"):  # repeated points: segments never chosen
            slopes = (self.fp[1:] - self.fp[:-1]) / (self.xp[1:] - self.xp[:-1])
        self.starts = np.concatenate([self.xp[:1], self.xp])
        self.values = np.concatenate([self.fp[:1], self.fp])
        self.slopes = np.concatenate([[0.0], slopes, [0.0]])
        # The table with bounds beyond either end, so that point i sits at position i + 1.
        self.padded = np.concatenate([[-np.inf], self.xp, [np.inf]])
        cells = self.CELLS_PER_POINT * len(self.xp)
        while True:
            self.cells, self.scale = cells, cells / width
            # Per cell, the points at or below its left edge, and the most any cell holds.
            self.first = np.searchsorted(self.xp, self.xp[0] + np.arange(cells + 1) / self.scale, side="right")
            self.steps = int(np.diff(self.first).max())
            if self.steps <= self.STEPS or cells >= self.MOST_CELLS_PER_POINT * len(self.xp):
                break
            cells *= 2

    def __call__(self, x):
        if not self.usable or not np.isfinite(x).all():
            return np.interp(x, self.xp, self.fp)
        cell = (x - self.xp[0]) * self.scale
        np.clip(cell, 0, self.cells - 1, out=cell)
        # k = np.searchsorted(xp, x, "right"): from the cell's left edge up, then one
        # down where rounding put x in the next cell; checked, and searched where wrong.
        k = self.first[cell.astype(np.intp)]
        padded = self.padded
        for _ in range(self.steps):
            k += padded[k + 1] <= x
        k -= padded[k] > x
        wrong = (padded[k] > x) | (padded[k + 1] <= x)
        if wrong.any():
            k[wrong] = np.searchsorted(self.xp, x[wrong], side="right")
        # np.interp's value, slope * (x - start) + value: the start's own value at a
        # point, as the slope times zero adds nothing.
        out = self.slopes[k] * (x - self.starts[k]) + self.values[k]
        if np.isnan(out).any():  # an infinite slope: np.interp's own way with it
            return np.interp(x, self.xp, self.fp)
        return out


def _quantile_levels(n_quantiles, n_rows, tail_points=48):
    """Evenly spaced levels plus levels that thin out geometrically towards each end,
    down to one row's share. With even spacing alone, the top 1/256 of the sampled
    values would be spread evenly up to the training maximum: a handful of outliers
    (diamonds' y of 58.9) became a hundred and broke the correlations."""
    tail = np.geomspace(1.0 / max(n_rows, 2), 0.02, tail_points)
    return np.unique(np.concatenate([np.linspace(0, 1, n_quantiles), tail, 1 - tail]))


def _rows(values, width_if_empty):
    """A 2-D float array of quantile rows, keeping its shape when there are none."""
    values = np.asarray(values, dtype=np.float64)
    return values.reshape(len(values), -1) if len(values) else np.zeros((0, width_if_empty))


def _present_masks(matrix, transformer):
    """For each continuous column, the rows where its value is present (not missing)."""
    masks = []
    spans = transformer.spans_
    for span_index, span in enumerate(spans):
        if span.kind != "continuous":
            continue
        indicator = next(
            (s for s in spans[:span_index] if s.column == span.column and s.kind == "softmax" and s.width == 2
             and transformer.schema[span.column].nullable),
            None,
        )
        if indicator is None:
            masks.append(np.ones(len(matrix), dtype=bool))
        else:
            masks.append(matrix[:, indicator.start] > matrix[:, indicator.start + 1])
    return masks


def calibrate_rebuilt(raw, transformer, sigma, calibration, frame, rng, n_quantiles=257):
    """Fit the quantile map of each column rebuilt as a bound plus a learned gap (see
    :meth:`synthvae.transformers.TableTransformer.rebuilt_values`), from its values
    for the prior draws ``raw`` to its values in ``frame``, the training rows; each
    after the rebuilt columns it reads, so that it sees them mapped. The column's
    transformer applies the map before its bounds, so every rule still holds."""
    names = transformer.rebuilt_columns_
    if not names:
        return
    matrix, codes = draw_matrix(raw, transformer, sigma, rng, calibration=calibration)
    levels = _quantile_levels(n_quantiles, len(frame))
    for name in names:
        column = transformer.column_transformer(name)
        drawn, bound = transformer.rebuilt_values(name, matrix, rng=rng, codes=codes)
        present = ~np.isnan(drawn)
        real = column.numbers(frame[name])
        real = real[~np.isnan(real)]
        if present.sum() < 10 or len(real) < 10:
            continue
        source, target = np.quantile(drawn[present], levels), np.quantile(learned.bounded(real), levels)
        # A map that would move many rows onto their bound is not kept: where the gap
        # is small beside the bound's spread (a trip's minutes after a month of
        # pickups), a map of the column would shorten gaps rather than move values.
        kept = present & ~np.isnan(bound)
        if kept.any():
            onto = np.mean(np.interp(drawn[kept], source, target) <= bound[kept]) - np.mean(drawn[kept] <= bound[kept])
            if onto > REBUILT_ONTO_BOUND:
                continue
        column.calibrate(source, target)
