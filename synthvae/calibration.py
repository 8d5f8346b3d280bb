"""Post-training corrections that make the sampled marginals match the training ones.

A VAE's samples drift from the training marginals (a rare category comes out too
rarely, a spike is smeared). :class:`Calibration` is fitted once after training on a
large batch of prior draws and applied by the generator to every decoded row.
"""

from __future__ import annotations

import numpy as np

from synthvae.generation import decode_to_matrix, softmax
from synthvae.transformers import learned

_IDENTITY_RANGE = 1e12


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
        for _ in range(rounds):
            matrix = decode_to_matrix(raw, transformer, sigma, rng, calibration=self)
            for start, span in spans.items():
                drawn = matrix[:, span.start : span.stop].mean(axis=0, dtype=np.float64) + 1e-6
                bias[span.start : span.stop] += np.log(targets[start]) - np.log(drawn)
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
        out = np.empty_like(values)
        for j in range(values.shape[1]):
            out[:, j] = np.interp(values[:, j], self.source_quantiles[j], self.target_quantiles[j])
        return out

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
