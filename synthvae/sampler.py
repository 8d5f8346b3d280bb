"""Turning a trained decoder into rows: latent draws -> decoder -> values -> table.

Rows are made in fixed-size chunks, each with its own random generator seeded by
(seed, chunk number). So the rows of one sample never depend on how many are asked
for or how they are split: rows a..b of ``sample(N)`` are the same whether made in
one call, streamed, or as a shard of a larger job.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

# Rows per chunk: large enough to keep the decoder's matrix products efficient,
# small enough to bound memory (a chunk of Adult is a few megabytes).
CHUNK_ROWS = 16_384


def _softmax(logits):
    shifted = logits - logits.max(axis=1, keepdims=True)
    np.exp(shifted, out=shifted)
    shifted /= shifted.sum(axis=1, keepdims=True)
    return shifted


_IDENTITY_RANGE = 1e12


class Calibration:
    """Post-training corrections that make the sampled marginals match the training ones.

    A VAE's samples drift from the training marginals (a rare category comes out too
    rarely, a spike is smeared). Two corrections, fitted once after training on a large
    batch of prior draws, fix the marginals while leaving the learned relations alone:

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
            target = train_matrix[:, span.start : span.stop].mean(axis=0).astype(np.float64) + 1e-6
            logits = raw[:, span.start : span.stop].astype(np.float64)
            for _ in range(rounds):
                mean = _softmax(logits + bias[span.start : span.stop]).mean(axis=0) + 1e-6
                bias[span.start : span.stop] += np.log(target) - np.log(mean)
        calibration = cls(bias, np.zeros((0, 2)), np.zeros((0, 2)))
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
            target.append(np.quantile(real, levels))
        calibration.source_quantiles = _rows(source, len(levels))
        calibration.target_quantiles = _rows(target, len(levels))
        return calibration

    def map_continuous(self, values):
        """Apply the quantile maps to the continuous columns (one per column of ``values``)."""
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


def decode_to_matrix(raw, transformer, sigma, rng, argmax=False, calibration=None):
    """Turn raw decoder outputs into a matrix in the table layout.

    Continuous values get Gaussian noise at the decoder's learned scale ``sigma``
    (one per continuous column), then the calibration's quantile map; each softmax
    span becomes a one-hot row drawn from its (calibrated) probabilities, or the most
    likely level when ``argmax``.
    """
    raw = np.asarray(raw, dtype=np.float32)
    n = len(raw)
    out = np.zeros(raw.shape, dtype=np.float32)
    index = transformer.continuous_columns_
    if len(index):
        values = raw[:, index] + (sigma[None, :] * rng.standard_normal((n, len(index)))).astype(np.float32)
        if calibration is not None and calibration.source_quantiles.shape[0] == len(index):
            values = calibration.map_continuous(values.astype(np.float64))
        out[:, index] = values
    spans = transformer.softmax_spans_
    if spans:
        # Levels as rows: each step below is one pass over a contiguous row of n
        # values, where working across a row-major span would stride through memory.
        # A copy always: for one row raw.T is already contiguous, and ascontiguousarray
        # would return a view that the bias below then adds into the caller's array.
        levels = np.array(raw.T, order="C")
        if calibration is not None:
            levels += calibration.logit_bias[:, None]
        flat = out.reshape(-1)
        first = np.arange(n) * out.shape[1]
        for span in spans:
            codes = _draw_levels(levels[span.start : span.stop], rng, argmax)
            flat[first + span.start + codes] = 1.0
    return out


def _draw_levels(logits, rng, argmax):
    """One level per column of ``logits`` (levels x rows): the largest, or a draw by
    inverse CDF on the unnormalized weights with one uniform per row."""
    width = len(logits)
    if argmax:
        return logits.argmax(axis=0)
    weights = logits - logits.max(axis=0)
    np.exp(weights, out=weights)
    for j in range(1, width):  # the cumulative sum, a row at a time
        weights[j] += weights[j - 1]
    u = rng.random(logits.shape[1], dtype=np.float32) * weights[-1]
    codes = np.zeros(logits.shape[1], dtype=np.intp)
    for j in range(width - 1):
        codes += weights[j] < u
    return codes


def generate(decode, prior, transformer, sigma, start, stop, seed, argmax=False, calibration=None,
             chunk_rows=CHUNK_ROWS, finish=None):
    """Yield DataFrames holding rows ``start`` to ``stop`` (exclusive) of the sample
    that ``seed`` defines.

    Parameters
    ----------
    decode : callable
        Latent codes (float32 array) -> raw decoder outputs (numpy array).
    prior : GaussianMixturePrior
    transformer : TableTransformer
    sigma : numpy.ndarray
        Learned output scale per continuous column.
    start, stop : int
    seed : int
    argmax : bool
        Take each categorical's most likely level instead of drawing one.
    calibration : Calibration or None
    finish : callable or None
        ``finish(rows, chunk, lo, hi)`` may replace rows of the whole chunk (the copy
        guard) before the wanted rows ``lo:hi`` are cut out, so that it too gives the
        same rows however the sample is split.
    """
    first_chunk, last_chunk = start // chunk_rows, (stop - 1) // chunk_rows

    def decoded(chunk):
        rng = np.random.default_rng([seed, chunk])
        z = prior.sample(chunk_rows, rng)
        return rng, decode_to_matrix(decode(z), transformer, sigma, rng, argmax=argmax, calibration=calibration)

    # The next chunk is decoded on a second thread while this one is turned into a
    # frame and written: the decoder and NumPy release the GIL, so on two cores the
    # two halves (each about half the work) overlap. Every chunk has its own
    # generator, so the rows do not depend on the timing.
    with ThreadPoolExecutor(max_workers=1) as pool:
        ahead = pool.submit(decoded, first_chunk)
        try:
            for chunk in range(first_chunk, last_chunk + 1):
                rng, matrix = ahead.result()
                if chunk < last_chunk:
                    ahead = pool.submit(decoded, chunk + 1)
                chunk_start = chunk * chunk_rows
                lo, hi = max(start, chunk_start) - chunk_start, min(stop, chunk_start + chunk_rows) - chunk_start
                # The whole chunk is inverted even when only part is wanted, so the
                # draws inside inverse_transform are the same however the sample is split.
                rows = transformer.inverse_transform(matrix, rng=rng, row_offset=chunk_start)
                if finish is not None:
                    rows = finish(rows, chunk, lo, hi)
                rows = rows.iloc[lo:hi]
                rows.index = np.arange(chunk_start + lo, chunk_start + hi) - start
                yield rows
        finally:
            ahead.cancel()
