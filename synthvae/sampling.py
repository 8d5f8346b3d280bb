"""Sampling a fitted model: what ``SynthVAE.sample`` and ``synthvae sample`` run.

A :class:`Sampler` holds the fitted parts sampling needs (schema, transformers, prior,
the decoder's arrays, output scales, calibration) and nothing else, so that making rows
imports neither TensorFlow, Keras nor scikit-learn: ``synthvae sample`` loads a model
file straight into one (:meth:`Sampler.load`), and the estimator hands its fitted
attributes to one. SciPy's special functions are imported only for ``--where`` range
conditions, scikit-learn's nearest neighbours only for ``--reject-copies``.
"""

from __future__ import annotations

import numpy as np

from synthvae.errors import InputTypeError, UsageError

# More rows than any disk holds: a count above this is a typo, not a request.
MAX_ROWS = 10**12


class Sampler:
    """Rows from fitted parts, as :meth:`synthvae.SynthVAE.sample` describes.

    Parameters
    ----------
    schema : Schema
    transformer : TableTransformer
    prior : GaussianMixturePrior
    decoder : synthvae.decoder.Decoder
    sigma : numpy.ndarray
    calibration : Calibration
    random_state : int or None
        The seed used when a draw is given none (the one given to ``fit``).
    privacy : dict or None
        The ledger of a differentially private fit (``SynthVAE.privacy_``).
    """

    def __init__(self, schema, transformer, prior, decoder, sigma, calibration, random_state=None, privacy=None):
        self.schema = schema
        self.transformer = transformer
        self.prior = prior
        self.decoder = decoder
        self.sigma = sigma
        self.calibration = calibration
        self.random_state = random_state
        self.privacy = privacy

    @classmethod
    def from_fitted(cls, params, fitted):
        """A sampler from an estimator's parameters and fitted parts (by name, without
        the trailing underscore)."""
        from synthvae.decoder import Decoder

        params = {**params, **(fitted.get("chosen") or {})}  # a value chosen for the table's size
        return cls(fitted["schema"], fitted["transformer"], fitted["prior"],
                   Decoder(fitted["weights"], len(params["hidden"])), fitted["sigma"], fitted["calibration"],
                   params["random_state"], privacy=fitted.get("privacy"))

    @classmethod
    def load(cls, path):
        """The sampler of a model file, read without Keras or scikit-learn."""
        from synthvae.modelfile import load_model

        return cls.from_fitted(*load_model(path))

    def sample(self, n, random_state=None, argmax=False, shard=None, conditions=None, where=None,
               reject_copies=None, threads=None):
        """``n`` rows (or one shard of them) as one DataFrame; see :meth:`synthvae.SynthVAE.sample`."""
        import pandas as pd

        rows = self.iter_sample(n, random_state=random_state, argmax=argmax, shard=shard, conditions=conditions,
                                where=where, reject_copies=reject_copies, threads=threads)
        before = rows.guard.replaced_ if rows.guard is not None else 0
        frames = list(rows)
        if not frames:
            # One decoded row, cut away, gives the empty frame its column dtypes.
            one_row = np.zeros((1, self.transformer.width_), np.float32)
            result = self.transformer.inverse_transform(one_row).iloc[:0]
        else:
            result = pd.concat(frames, ignore_index=True)
        if reject_copies is not None:
            result.attrs["replaced_copies"] = rows.guard.replaced_ - before
        return result

    def iter_sample(self, n, random_state=None, argmax=False, start=0, stop=None, shard=None, conditions=None,
                    where=None, reject_copies=None, threads=None, render=None):
        """Yield the rows of ``sample(n)`` chunk by chunk; see :meth:`synthvae.SynthVAE.iter_sample`.

        ``threads``: threads making chunks (default: one per core); the rows are the
        same for any number. ``render``: a function applied to each chunk's rows on the
        thread that made them (see :func:`synthvae.io.renderer`), whose results are
        yielded instead of the rows.
        """
        from synthvae.backend import resolve_seed
        from synthvae.generation import Generator

        n = check_count(n)
        stop = n if stop is None else stop
        if shard is not None:
            from synthvae.shard import shard_bounds

            if random_state is None and self.random_state is None:
                raise UsageError(
                    "sampling a shard needs a seed (random_state here or on the model): "
                    "shards drawn with fresh randomness would not fit together"
                )
            start, stop = shard_bounds(n, shard)
        seed = resolve_seed(self.random_state if random_state is None else random_state)
        generator = Generator(self.decoder, self.prior, self.transformer, self.sigma, self.calibration)
        conditional = self._conditional(generator, conditions, where, argmax, seed)
        guard = self._copy_guard(reject_copies)
        chunks = generator.chunks(start, stop, seed, argmax=argmax, conditional=conditional, guard=guard,
                                  render=render, threads=threads)
        return Rows(chunks, guard)

    def _conditional(self, generator, conditions, where, argmax, seed):
        from synthvae.condition_parsing import normalize

        items = normalize(conditions, where)
        if not items:
            return None
        if argmax:
            raise UsageError("argmax cannot be combined with conditions: conditioned columns are drawn")
        from synthvae.conditions import ConditionalSampler, compile_conditions

        compiled = compile_conditions(items, self.schema, self.transformer, self.calibration)
        return ConditionalSampler(compiled, generator.decode, self.prior, self.transformer, self.sigma,
                                  self.calibration, seed)

    def _copy_guard(self, reject_copies):
        if reject_copies is None:
            return None
        from synthvae.copyguard import CopyGuard

        if isinstance(reject_copies, CopyGuard):
            return reject_copies
        return CopyGuard(reject_copies, self.schema)


class Rows:
    """The iterator :meth:`Sampler.iter_sample` returns: its rows, and the copy guard."""

    def __init__(self, rows, guard):
        self._rows = rows
        self.guard = guard

    def __iter__(self):
        return self

    def __next__(self):
        return next(self._rows)


def check_count(n):
    """``n`` as a number of rows to make, or the reason it is none."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise InputTypeError(f"the number of rows must be a whole number, not {type(n).__name__}")
    if n < 0:
        raise UsageError(f"the number of rows must be 0 or more, got {n}")
    if n > MAX_ROWS:
        raise UsageError(f"the number of rows must be at most 10**12 ({MAX_ROWS}), got {n}")
    return int(n)
