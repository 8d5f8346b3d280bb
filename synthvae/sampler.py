"""Turning a trained decoder into rows: latent draws -> decoder -> values -> table.

Rows are made in fixed-size chunks, each with its own random generator seeded by
(seed, chunk number). So the rows of one sample never depend on how many are asked
for or how they are split: rows a..b of ``sample(N)`` are the same whether made in
one call, streamed, or as a shard of a larger job.
"""

from __future__ import annotations

import numpy as np

# Rows per chunk: large enough to keep the decoder's matrix products efficient,
# small enough to bound memory (a chunk of Adult is a few megabytes).
CHUNK_ROWS = 16_384


def _softmax(logits):
    shifted = logits - logits.max(axis=1, keepdims=True)
    np.exp(shifted, out=shifted)
    shifted /= shifted.sum(axis=1, keepdims=True)
    return shifted


def decode_to_matrix(raw, transformer, sigma, rng, argmax=False):
    """Turn raw decoder outputs into a matrix in the table layout.

    Continuous values get Gaussian noise at the decoder's learned scale ``sigma``
    (one per continuous column); each softmax span becomes a one-hot row drawn from
    its probabilities (or the most likely level when ``argmax``).
    """
    out = np.array(raw, dtype=np.float32, copy=True)
    n = len(out)
    index = transformer.continuous_columns_
    if len(index):
        out[:, index] += (sigma[None, :] * rng.standard_normal((n, len(index)))).astype(np.float32)
    rows = np.arange(n)
    for span in transformer.softmax_spans_:
        logits = out[:, span.start : span.stop].astype(np.float64)
        if argmax:
            codes = logits.argmax(axis=1)
        else:
            cumulative = np.cumsum(_softmax(logits), axis=1)
            u = rng.random((n, 1)) * cumulative[:, -1:]
            codes = np.minimum((cumulative < u).sum(axis=1), span.width - 1)
        block = np.zeros((n, span.width), dtype=np.float32)
        block[rows, codes] = 1.0
        out[:, span.start : span.stop] = block
    return out


def generate(decode, prior, transformer, sigma, start, stop, seed, argmax=False, chunk_rows=CHUNK_ROWS):
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
    """
    first_chunk, last_chunk = start // chunk_rows, (stop - 1) // chunk_rows
    for chunk in range(first_chunk, last_chunk + 1):
        rng = np.random.default_rng([seed, chunk])
        z = prior.sample(chunk_rows, rng)
        matrix = decode_to_matrix(decode(z), transformer, sigma, rng, argmax=argmax)
        chunk_start = chunk * chunk_rows
        lo, hi = max(start, chunk_start) - chunk_start, min(stop, chunk_start + chunk_rows) - chunk_start
        # The whole chunk is inverted even when only part is wanted, so the draws
        # inside inverse_transform are the same however the sample is split.
        rows = transformer.inverse_transform(matrix, rng=rng, row_offset=chunk_start).iloc[lo:hi]
        rows.index = np.arange(chunk_start + lo, chunk_start + hi) - start
        yield rows
