"""Turning a trained decoder into rows: latent draws -> decoder -> values -> table.

Rows are made in fixed-size chunks, each with its own random generator seeded by
(seed, chunk number). So the rows of one sample never depend on how many are asked
for or how they are split: rows a..b of ``sample(N)`` are the same whether made in
one call, streamed, or as a shard of a larger job.

:class:`Generator` holds the fitted parts (prior, decoder, transformer, output scales,
calibration) and yields chunks of rows. Conditions (:mod:`synthvae.conditions`) and
the copy guard (:mod:`synthvae.copyguard`) plug into its one chunk loop.
"""

from __future__ import annotations

import os
from collections import deque
from concurrent.futures import ThreadPoolExecutor

import numpy as np

# Rows per chunk: large enough to keep the decoder's matrix products efficient,
# small enough to bound memory (a chunk of Adult is a few megabytes).
CHUNK_ROWS = 16_384


def softmax(logits):
    """Row-wise softmax of a float array (overwrites a copy, not ``logits``)."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    np.exp(shifted, out=shifted)
    shifted /= shifted.sum(axis=1, keepdims=True)
    return shifted


def decode_to_matrix(raw, transformer, sigma, rng, argmax=False, calibration=None):
    """Turn raw decoder outputs into a matrix in the table layout.

    Continuous values get Gaussian noise at the decoder's learned scale ``sigma``
    (one per continuous column), then the calibration's quantile map; each softmax
    span becomes a one-hot row drawn from its (calibrated) probabilities, or the most
    likely level when ``argmax``; groups that a combinations rule ties are drawn
    together, never in a pair the rule excludes (:func:`_draw_coupled`).
    """
    return draw_matrix(raw, transformer, sigma, rng, argmax, calibration)[0]


def draw_matrix(raw, transformer, sigma, rng, argmax=False, calibration=None, by_output=False):
    """:func:`decode_to_matrix`, and the level drawn in each softmax span: ``(matrix,
    codes)``, where ``codes`` maps a span's first matrix column to its rows' levels
    (what :meth:`TableTransformer.inverse_transform` takes, so that no one looks for
    the one in each one-hot row again).

    ``by_output``: ``raw`` is laid out one row per output (as
    :meth:`synthvae.decoder.Decoder.columns` makes it) and is overwritten."""
    raw = np.asarray(raw, dtype=np.float32)
    n = raw.shape[1] if by_output else len(raw)
    width = transformer.width_
    # By output, the matrix is made column-major: it is filled, and read by the
    # inverse transforms, a matrix column at a time (the values are the same).
    out = np.zeros((width, n), dtype=np.float32).T if by_output else np.zeros((n, width), dtype=np.float32)
    codes = {}
    index = transformer.continuous_columns_
    if len(index):
        noise = (sigma[None, :] * rng.standard_normal((n, len(index)))).astype(np.float32)
        if by_output:
            values = raw[index] + noise.T
            if calibration is not None:
                values = calibration.map_rows(values.astype(np.float64))
            out.T[index] = values
        else:
            values = raw[:, index] + noise
            if calibration is not None:
                values = calibration.map_continuous(values.astype(np.float64))
            out[:, index] = values
    spans = transformer.softmax_spans_
    if spans:
        # Levels as rows: each step below is one pass over a contiguous row of n
        # values, where working across a row-major span would stride through memory.
        # Outputs already laid out so are the caller's to overwrite; others are copied
        # always: for one row raw.T is already contiguous, and ascontiguousarray would
        # return a view that the bias below then adds into the caller's array.
        levels = raw if by_output else np.array(raw.T, order="C")
        if calibration is not None:
            levels += calibration.logit_bias[:, None]
        # Row r's entry of matrix column c in the matrix's memory: first[r] + c * step.
        if by_output:
            flat, first, step = out.T.reshape(-1), np.arange(n), n
        else:
            flat, first, step = out.reshape(-1), np.arange(n) * width, 1
        couplings = getattr(transformer, "couplings_", ())
        coupled = {s.start for on, target, _ in couplings for s in (on, target)}
        exps = {}
        for span in spans:
            if span.start in coupled:
                drawn = _draw_coupled(levels, span, couplings, codes, exps, rng, argmax)
            else:
                drawn = _draw_levels(levels[span.start : span.stop], rng, argmax)
            flat[first + (span.start + drawn) * step] = 1.0
            codes[span.start] = drawn
    return out, codes


def _draw_coupled(levels, span, couplings, drawn, exps, rng, argmax):
    """One level per row for a group that a combinations rule ties to another (see
    :attr:`synthvae.transformers.TableTransformer.couplings_`): from the decoder's
    probabilities times, for a later group it is tied to, the probability that group
    has of a level allowed beside each of its own, and for an earlier group already
    drawn, zero where that group's level excludes one. So a pair of tied groups is
    drawn from the decoder's joint of the two restricted to the pairs the rule allows,
    and the row keeps what the decoder said of both columns. ``drawn`` holds the
    levels drawn so far by group, ``exps`` each later group's exponentiated logits
    (computed once)."""
    weights = _exp_levels(levels, span, exps, keep=False)
    restricted = False
    for on, target, allowed in couplings:
        if on.start == span.start:
            later = _exp_levels(levels, target, exps, keep=True)
            restricted = True
            # 1 - the later group's probability of the levels each level excludes
            # (a few rows each: a matrix product here is slower than these sums).
            total = later.sum(axis=0)
            for level in np.flatnonzero((allowed == 0).any(axis=1)):
                excluded = later[allowed[level] == 0].sum(axis=0)
                weights[level] *= np.maximum(total - excluded, 0.0) / total
        elif target.start == span.start and on.start in drawn:
            restricted = True
            _exclude(weights, allowed == 0, drawn[on.start])
    # No allowed level (an imposed condition, say): the decoder's own draw; the
    # column's check after decoding redraws it.
    if restricted:
        empty = weights.sum(axis=0) <= 0
        if empty.any():
            logits = levels[span.start : span.stop][:, empty]
            weights[:, empty] = np.exp(logits - logits.max(axis=0))
    if argmax:
        return weights.argmax(axis=0)
    return draw_levels(weights, rng)


def _exclude(weights, blocked, earlier):
    """Zero ``weights`` (levels x rows) where the row's level of an earlier group,
    ``earlier``, excludes the level: ``blocked`` is the earlier group's width x this
    group's, True for an excluded pair. A pass over the rows for each level that some
    earlier level excludes, or for each earlier level that excludes some, whichever
    are fewer (a few in either case, against a product over every level and row)."""
    by_level = np.flatnonzero(blocked.any(axis=0))
    by_earlier = np.flatnonzero(blocked.any(axis=1))
    if len(by_level) <= len(by_earlier):
        for level in by_level:
            weights[level, blocked[:, level][earlier]] = 0.0
    else:
        for value in by_earlier:
            rows = np.flatnonzero(earlier == value)
            if len(rows):
                weights[np.ix_(np.flatnonzero(blocked[value]), rows)] = 0.0


def _exp_levels(levels, span, cache, keep):
    """exp(logits - max) of a group (levels x rows), computed once: kept in ``cache``
    for a group drawn later (``keep``), taken out of it for the group drawn now."""
    if span.start in cache:
        return cache[span.start] if keep else cache.pop(span.start)
    logits = levels[span.start : span.stop]
    weights = np.exp(logits - logits.max(axis=0))
    if keep:
        cache[span.start] = weights
    return weights


def _draw_levels(logits, rng, argmax):
    """One level per column of ``logits`` (levels x rows): the largest, or a draw."""
    if argmax:
        return logits.argmax(axis=0)
    weights = logits - logits.max(axis=0)
    np.exp(weights, out=weights)
    return draw_levels(weights, rng)


def draw_levels(weights, rng):
    """One level per column of ``weights`` (levels x rows, unnormalized), drawn by
    inverse CDF with one uniform per row. ``weights`` is overwritten."""
    width = len(weights)
    for j in range(1, width):  # the cumulative sum, a row at a time
        weights[j] += weights[j - 1]
    u = rng.random(weights.shape[1], dtype=np.float32) * weights[-1]
    if width <= _SCAN_LEVELS:
        codes = np.zeros(weights.shape[1], dtype=np.intp)
        for j in range(width - 1):
            codes += weights[j] < u
        return codes
    # Many levels: the same count (cumulative weights below u, at most width - 1) by
    # bisection, as the cumulative weights rise along each column.
    columns = np.arange(weights.shape[1])
    flat = weights.reshape(-1)
    low, high = np.zeros(len(columns), dtype=np.intp), np.full(len(columns), width - 1, dtype=np.intp)
    for _ in range(int(width - 1).bit_length()):
        middle = (low + high) >> 1
        below = flat[middle * len(columns) + columns] < u
        low = np.where(below, middle + 1, low)
        high = np.where(below, high, middle)
    return low


# Up to this many levels a draw scans every level; above it, bisection is faster.
_SCAN_LEVELS = 96


class Generator:
    """Rows from a fitted model: prior draws -> decoder -> calibrated draws -> table.

    Parameters
    ----------
    decode : callable
        Latent codes -> raw decoder outputs: a :class:`synthvae.decoder.Decoder` (chunks
        of rows use its ``columns``, the outputs laid out one row per output).
    prior : GaussianMixturePrior
    transformer : TableTransformer
    sigma : numpy.ndarray
        Learned output scale per continuous column.
    calibration : Calibration or None
    """

    def __init__(self, decode, prior, transformer, sigma, calibration):
        self.decode = decode
        self.prior = prior
        self.transformer = transformer
        self.sigma = sigma
        self.calibration = calibration

    def matrix(self, rng, n, argmax=False):
        """``n`` fresh rows in the matrix layout, and the levels drawn (see :func:`draw_matrix`)."""
        raw = self.decode.columns(self.prior.sample(n, rng))
        return draw_matrix(raw, self.transformer, self.sigma, rng, argmax=argmax, calibration=self.calibration,
                           by_output=True)

    def rows(self, rng, n, argmax=False, row_offset=0, categories=False):
        """``n`` fresh rows as a table (``categories``: see
        :meth:`synthvae.transformers.TableTransformer.inverse_transform`)."""
        matrix, codes = self.matrix(rng, n, argmax)
        return self.transformer.inverse_transform(matrix, rng=rng, row_offset=row_offset, codes=codes,
                                                  categories=categories)

    def chunks(self, start, stop, seed, argmax=False, conditional=None, guard=None, chunk_rows=CHUNK_ROWS,
               render=None, threads=None):
        """Yield DataFrames holding rows ``start`` to ``stop`` (exclusive) of the sample
        that ``seed`` defines.

        Parameters
        ----------
        conditional : ConditionalSampler or None
            Draws each chunk's rows so that they all meet its conditions.
        guard : CopyGuard or None
            Replaces rows of the whole chunk that copy a reference row, before the
            wanted rows are cut out, so that it too gives the same rows however the
            sample is split.
        render : callable or None
            Applied to each chunk's rows on the thread that made them (turning them
            into CSV text, say); its results are yielded instead of the DataFrames.
        threads : int or None
            Threads making chunks (default: :func:`default_threads`). The rows are the
            same for any number.
        """
        if start >= stop:
            return
        if conditional is None:
            def draw(rng, n):
                return self.rows(rng, n, argmax)

            # Rows only rendered may keep category columns as Categoricals, which a
            # renderer that says so formats a value at a time (the same cells).
            categories = guard is None and getattr(render, "categories", False)

            def rows_of(chunk, chunk_start):
                # The whole chunk is made even when only part is wanted, so its draws
                # are the same however the sample is split.
                return self.rows(np.random.default_rng([seed, chunk]), chunk_rows, argmax, row_offset=chunk_start,
                                 categories=categories)
        else:
            draw = conditional.rows

            def rows_of(chunk, chunk_start):
                rows = conditional.rows(np.random.default_rng([seed, chunk, 1]), chunk_rows)
                return self.transformer.renumber(rows, chunk_start)

        def make(chunk):
            chunk_start = chunk * chunk_rows
            lo = max(start, chunk_start) - chunk_start
            hi = min(stop, chunk_start + chunk_rows) - chunk_start
            rows = rows_of(chunk, chunk_start)
            if guard is not None:
                rows = guard.apply(rows, np.random.default_rng([seed, chunk, 2]), draw, lo, hi)
            rows = rows.iloc[lo:hi]
            rows.index = np.arange(chunk_start + lo, chunk_start + hi) - start
            return rows if render is None else render(rows)

        chunks = range(start // chunk_rows, (stop - 1) // chunk_rows + 1)
        threads = default_threads() if threads is None else max(1, int(threads))
        # Every chunk has its own generator, seeded by (seed, chunk number), so chunks
        # can be made on several threads at once and the rows do not depend on how
        # many, nor on the timing. The decoder's matrix products, NumPy's loops and
        # Arrow's CSV writer release the GIL, so the threads share the cores. Chunks are
        # handed out in order; a few are made ahead, which bounds memory.
        ahead = 2 * threads
        with ThreadPoolExecutor(max_workers=threads) as pool:
            pending = deque(pool.submit(make, chunk) for chunk in chunks[:ahead])
            queued = chunks[ahead:]
            try:
                while pending:
                    made = pending.popleft().result()
                    if queued:
                        pending.append(pool.submit(make, queued[0]))
                        queued = queued[1:]
                    yield made
            finally:
                for future in pending:
                    future.cancel()


def default_threads():
    """Threads that make rows: one per core this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)
