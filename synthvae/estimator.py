"""``SynthVAE``: the estimator users hold, in scikit-learn's conventions.

Constructor arguments are stored unchanged; ``fit`` learns and returns self; what
was learned lives in attributes ending in ``_``. TensorFlow/Keras is imported only
inside ``fit``, ``sample`` and ``load``, so importing synthvae stays fast.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from synthvae.errors import DataError, InputTypeError, TrainingError, UsageError
from synthvae.io import as_frame
from synthvae.schema import Schema, infer_schema
from synthvae.transformers import TableTransformer

MIN_ROWS = 10
# More rows than any disk holds: a count above this is a typo, not a request.
MAX_ROWS = 10**12
# Rows held out to watch for overfitting and to pick the best epoch.
VALIDATION_SHARE = 0.1
# Rows per step when batch_size is None: the training rows / MIN_STEPS_PER_EPOCH,
# from 500 up to the device's cap. Adult (29k training rows) keeps 500: its quality
# needs about 60 steps an epoch (batches of 1,000 or 2,000 lost pair-trend accuracy).
# A larger table takes larger steps: Adult resampled to 130k rows trained as well or
# better at 1,831 rows a step as at 500, and faster (BENCHMARKS.md). A GPU costs about
# the same per step up to thousands of rows, so its cap is higher.
MIN_BATCH_ROWS = 500
MIN_STEPS_PER_EPOCH = 64
MAX_BATCH_ROWS = {"CPU": 2048, "GPU": 8192}
BASE_LEARNING_RATE = 1e-3


def _import_keras():
    """Import Keras with TensorFlow's start-up chatter silenced.

    TF_CPP_MIN_LOG_LEVEL covers most of it, but a few lines (oneDNN, CUDA probing)
    are written before TensorFlow reads it, so stderr is closed while importing.
    SYNTHVAE_DEBUG=1 leaves it open.
    """
    if "keras" in sys.modules:
        return sys.modules["keras"]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if os.environ.get("SYNTHVAE_DEBUG"):
        import keras

        return keras
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            import keras
    finally:
        os.dup2(saved, 2)
        os.close(saved)
    return keras


class SynthVAE(BaseEstimator):
    """Learn a table with a variational autoencoder and sample new rows from it.

    Parameters
    ----------
    epochs : int, default=100
        Upper bound on passes over the training rows (training stops earlier when
        the held-out loss stops improving).
    batch_size : int or None, default=None
        Rows per training step. None: the training rows / 64, from 500 up to 2,048 on
        a CPU or 8,192 on a GPU, so a large table takes fewer, larger steps (with
        ``strategy="mirrored"`` a step is split across the GPUs).
    latent_dim : int, default=16
        Size of the latent code.
    hidden : tuple of int, default=(192, 192)
        Widths of the encoder's hidden layers; the decoder mirrors them.
    beta : float, default=0.5
        Weight of the KL term. Smaller values make a sharper autoencoder whose latent
        codes spread further from N(0, I); the mixture prior covers them either way.
    learning_rate : float or None, default=None
        Adam's step size. None: 1e-3 at a batch of 500, times √(batch / 500) for a
        larger batch.
    encoding : {"quantile", "mode"}, default="quantile"
        How numeric and datetime columns are encoded: normal scores through their
        quantiles, or mode-specific normalization with a Bayesian Gaussian mixture.
    prior_components : int, default=600
        Components of the Gaussian mixture fitted to the latent codes; 0 samples
        from N(0, I) instead.
    patience : int, default=20
        Epochs without improvement of the held-out loss before training stops.
    calibrate : bool, default=True
        After training, correct the sampler so each column's distribution matches the
        training data (see :class:`synthvae.sampler.Calibration`).
    random_state : int or None, default=None
        Seeds everything: the same seed on the same data gives the same model and rows.
    verbose : bool, default=True
        Print a progress line per epoch on stderr.
    strategy : {None, "mirrored", "multiworker"}, default=None
        Data-parallel training with TensorFlow (needs the TensorFlow backend):
        ``"mirrored"`` uses every GPU of this machine (its CPU when there is none),
        ``"multiworker"`` every worker that ``TF_CONFIG`` names (each runs the same fit
        on the same data; see :func:`synthvae.distribute.is_chief` for who saves).
        None trains on Keras' default device. The batch is rounded down to a multiple
        of the replicas.
    precision : {"float32", "mixed"}, default="float32"
        ``"mixed"`` trains in mixed precision (float16 on a GPU, bfloat16 on a CPU) with
        the loss layers in float32. Either way the fitted model is float32.

    Attributes
    ----------
    schema_ : Schema
    transformer_ : TableTransformer
    vae_ : keras.Model
    prior_ : GaussianMixturePrior
    sigma_ : numpy.ndarray
        Learned output scale of each continuous matrix column.
    calibration_ : Calibration
    history_ : dict
        Per-epoch training and held-out losses.
    device_ : {"CPU", "GPU"}
        Where training ran.
    batch_size_ : int
        Rows per step as trained (a small table gets smaller steps: a twentieth of
        its rows, at least 16).
    learning_rate_ : float
    n_rows_ : int
    fit_seconds_ : dict
        Wall seconds of each stage of the last in-memory ``fit``: ``schema``,
        ``transformers``, ``training``, ``prior``, ``calibration``.
    """

    def __init__(
        self,
        epochs=100,
        batch_size=None,
        latent_dim=16,
        hidden=(192, 192),
        beta=0.5,
        learning_rate=None,
        encoding="quantile",
        prior_components=600,
        patience=20,
        calibrate=True,
        random_state=None,
        verbose=True,
        strategy=None,
        precision="float32",
    ):
        self.epochs = epochs
        self.batch_size = batch_size
        self.latent_dim = latent_dim
        self.hidden = hidden
        self.beta = beta
        self.learning_rate = learning_rate
        self.encoding = encoding
        self.prior_components = prior_components
        self.patience = patience
        self.calibrate = calibrate
        self.random_state = random_state
        self.verbose = verbose
        self.strategy = strategy
        self.precision = precision

    # -- fitting -----------------------------------------------------------------

    def fit(self, data, schema=None):
        """Learn the table.

        Parameters
        ----------
        data : pandas.DataFrame
        schema : Schema, dict or None
            Column kinds; inferred from ``data`` when None. A dict is the JSON form.

        Returns
        -------
        self
        """
        self._check_params()
        clock = _StageClock()
        data = as_frame(data)
        if len(data) < MIN_ROWS:
            raise DataError(f"too few rows to learn from: {len(data)}; synthvae needs at least {MIN_ROWS}")
        if schema is None:
            schema = infer_schema(data)
        elif isinstance(schema, dict):
            schema = Schema.from_dict(schema)
        elif not isinstance(schema, Schema):
            raise InputTypeError(f"schema must be a Schema or a dict, not {type(schema).__name__}")
        schema.check_frame(data)
        data = data[schema.names]
        clock.lap("schema")

        seed = self._seed()
        keras = _import_keras()
        strategy = self._make_strategy()
        keras.utils.set_random_seed(seed)
        _enable_determinism()

        self.schema_ = schema
        self.transformer_ = TableTransformer(schema, encoding=self.encoding, random_state=seed).fit(data)
        matrix = self.transformer_.transform(data)
        self.n_rows_ = len(data)
        clock.lap("transformers")
        self._train(keras, matrix, seed, data, strategy)
        clock.lap("training")
        self._fit_prior(matrix, seed)
        clock.lap("prior")
        self._calibrate(matrix, seed)
        clock.lap("calibration")
        self.fit_seconds_ = clock.seconds
        return self

    def fit_stream(self, source, schema=None, sample_rows=None, chunk_rows=None):
        """Learn a table too large for memory, reading it in chunks.

        The schema, the column transformers, the held-out rows, the latent prior and
        the calibration are fitted on a uniform random sample of the rows (read in one
        pass); training then reads the whole table again each epoch, a chunk at a time,
        shuffling rows within each chunk. Memory stays bounded by the sample and a few
        chunks. See :mod:`synthvae.stream`.

        Parameters
        ----------
        source : str or Path
            A CSV or Parquet file, or a folder of CSV/Parquet parts with the same header
            (read in name order).
        schema : Schema, dict or None
            Inferred from the sample when None.
        sample_rows : int, default=200,000
        chunk_rows : int, default=100,000

        Returns
        -------
        self
        """
        from synthvae import stream

        self._check_params()
        sample_rows = stream.SAMPLE_ROWS if sample_rows is None else sample_rows
        chunk_rows = stream.CHUNK_ROWS if chunk_rows is None else chunk_rows
        seed = self._seed()
        keras = _import_keras()
        strategy = self._make_strategy()
        keras.utils.set_random_seed(seed)
        _enable_determinism()

        sample, n_rows = stream.reservoir_sample(source, sample_rows, seed, chunk_rows)
        if n_rows < MIN_ROWS:
            raise DataError(f"too few rows to learn from: {n_rows}; synthvae needs at least {MIN_ROWS}")
        schema = _schema_for(sample, schema)
        schema.check_frame(sample)
        sample = sample[schema.names]
        self.schema_ = schema
        self.transformer_ = TableTransformer(schema, encoding=self.encoding, random_state=seed).fit(sample)
        matrix = self.transformer_.transform(sample)
        train_part, valid_part = stream.split_sample(sample, seed, VALIDATION_SHARE)
        valid = self.transformer_.transform(valid_part) if len(valid_part) else None
        self._set_training_scale(n_rows - len(valid_part), strategy)
        batches = stream.stream_batches(
            source, self.transformer_, schema.names, n_rows, valid_part.index.to_numpy(), self.batch_size_, seed,
            chunk_rows,
        )
        self.n_rows_ = n_rows
        self._train(keras, matrix, seed, sample, strategy, stream=(batches, valid))
        self._fit_prior(matrix, seed)
        self._calibrate(matrix, seed)
        return self

    def _check_params(self):
        for name in ("epochs", "batch_size", "latent_dim"):
            value = getattr(self, name)
            if name == "batch_size" and value is None:
                continue
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise UsageError(f"{name} must be a positive whole number, got {value!r}")
        rate = self.learning_rate
        if rate is not None and (
            not isinstance(rate, (int, float, np.number)) or isinstance(rate, bool) or not 0 < rate < float("inf")
        ):
            raise UsageError(f"learning_rate must be a positive number or None, got {rate!r}")
        if self.encoding not in ("quantile", "mode"):
            raise UsageError(f"encoding must be 'quantile' or 'mode', got {self.encoding!r}")
        if not (isinstance(self.beta, (int, float)) and self.beta >= 0):
            raise UsageError(f"beta must be a number >= 0, got {self.beta!r}")
        from synthvae.distribute import check_options

        check_options(self.strategy, self.precision)

    def _make_strategy(self):
        from synthvae.distribute import is_chief, make_strategy

        strategy = make_strategy(self.strategy)
        # Whether this process should write the model (False only on multi-worker
        # non-chiefs); the CLI's fit reads it.
        self.is_chief_ = is_chief(strategy)
        return strategy

    def _seed(self):
        return _resolve_seed(self.random_state)

    def _train(self, keras, matrix, seed, data, strategy=None, stream=None):
        from synthvae.distribute import training_scope
        from synthvae.model import build_vae, train_vae

        tt = self.transformer_

        def build():
            return build_vae(
                matrix.shape[1],
                tt.continuous_columns_,
                [(s.start, s.stop) for s in tt.softmax_spans_],
                latent_dim=self.latent_dim,
                hidden=tuple(self.hidden),
                beta=self.beta,
                seed=seed,
            )[0]

        train, valid = _split(matrix, seed) if stream is None else stream
        if stream is None:
            self._set_training_scale(len(train), strategy)
        # stdout carries data only, and Keras prints some notices there (the
        # TrainingError below says in words what went wrong).
        with training_scope(strategy, self.precision), contextlib.redirect_stdout(io.StringIO()):
            self.vae_ = build()
            if stream is None:
                history = train_vae(
                    self.vae_, train, valid,
                    epochs=self.epochs, batch_size=self.batch_size_, learning_rate=self.learning_rate_,
                    patience=self.patience, verbose=self.verbose, distributed=strategy is not None,
                )
            else:
                from synthvae.stream import train_streaming

                history = train_streaming(
                    self.vae_, train, valid,
                    epochs=self.epochs, learning_rate=self.learning_rate_,
                    patience=self.patience, verbose=self.verbose, probe=matrix[:1024],
                    distributed=strategy is not None,
                )
        if strategy is not None or self.precision != "float32":
            # A plain float32 copy: it saves, loads and samples like any other model.
            trained, self.vae_ = self.vae_, build()
            self.vae_.set_weights(trained.get_weights())
        self.history_ = history
        losses = np.asarray(self.history_.get("loss", []), dtype=np.float64)
        if not np.isfinite(losses).all():
            raise TrainingError(self._divergence_message(losses, data))
        sigma = self.vae_.get_layer("reconstruction").sigma()
        self.sigma_ = np.asarray(keras.ops.convert_to_numpy(sigma), dtype=np.float32)[: len(tt.continuous_columns_)]

    def _set_training_scale(self, n_train, strategy):
        """Choose the batch for this table and device, and the learning rate that goes with it."""
        from synthvae.distribute import global_batch_size, gpu_count
        from synthvae.model import effective_batch_size

        self.device_ = "GPU" if gpu_count() else "CPU"
        batch = self.batch_size
        if batch is None:
            batch = int(np.clip(n_train // MIN_STEPS_PER_EPOCH, MIN_BATCH_ROWS, MAX_BATCH_ROWS[self.device_]))
        self.learning_rate_ = float(self.learning_rate if self.learning_rate is not None
                                    else BASE_LEARNING_RATE * np.sqrt(max(1.0, batch / MIN_BATCH_ROWS)))
        self.batch_size_ = global_batch_size(effective_batch_size(batch, n_train), strategy)

    def _divergence_message(self, losses, data):
        """Say when training diverged and which numeric column most likely drove it."""
        epoch = int(np.argmin(np.isfinite(losses))) + 1
        message = (
            f"training diverged at epoch {epoch} (the loss became NaN or infinite); no model was written. "
        )
        suspect = self._largest_numeric_column(data)
        if suspect is not None:
            name, size = suspect
            message += (
                f"The numeric column with the largest values is {name!r} (up to {size:.3g}): "
                "check it for extreme or wrongly scaled values; "
            )
        return message + f"a smaller learning_rate (now {self.learning_rate_:.3g}) may also help"

    def _largest_numeric_column(self, data):
        best = None
        for column in self.schema_.columns:
            if column.kind not in ("continuous", "integer"):
                continue
            values = pd.to_numeric(data[column.name], errors="coerce").to_numpy(np.float64, na_value=np.nan)
            values = np.abs(values[np.isfinite(values)])
            if values.size and (best is None or values.max() > best[1]):
                best = (column.name, float(values.max()))
        return best

    def _fit_prior(self, matrix, seed):
        from synthvae.prior import GaussianMixturePrior

        if self.prior_components == 0:
            self.prior_ = GaussianMixturePrior.standard_normal(self.latent_dim)
            return
        mean, _ = self._encode(matrix)
        self.prior_ = GaussianMixturePrior(self.prior_components, random_state=seed).fit(mean)

    def _calibrate(self, matrix, seed):
        from synthvae.sampler import Calibration

        if not self.calibrate:
            self.calibration_ = Calibration.identity(self.transformer_)
            return
        rng = np.random.default_rng([seed, 2**31])
        z = self.prior_.sample(min(50_000, max(20_000, len(matrix))), rng)
        raw = self._decoder_fn()(z)
        self.calibration_ = Calibration.fit(raw, self.transformer_, self.sigma_, matrix, rng)

    def _decoder_fn(self):
        keras = _import_keras()
        decoder = self.vae_.get_layer("decoder")

        def decode(z):
            return keras.ops.convert_to_numpy(decoder(z, training=False))

        return decode

    def _encode(self, matrix):
        encoder = self.vae_.get_layer("encoder")
        mean, log_var = encoder.predict(matrix, batch_size=8192, verbose=0)
        return np.asarray(mean), np.asarray(log_var)

    # -- sampling -------------------------------------------------------------------

    def sample(self, n, random_state=None, argmax=False, shard=None, conditions=None, where=None,
               reject_copies=None):
        """Draw ``n`` new rows (or one shard of them).

        Parameters
        ----------
        n : int
        random_state : int or None
            Seed of this draw; None uses the estimator's ``random_state`` (so a fixed
            estimator gives the same rows every time) or fresh entropy if that is None too.
        argmax : bool, default=False
            Give each categorical column its most likely level instead of drawing it.
        shard : (int, int) or None
            ``(i, k)``: only shard i of k (counted from 1) of the ``n`` rows, i.e. rows
            ``n*(i-1)//k`` to ``n*i//k``. The k shards concatenated in order are
            exactly ``sample(n)`` with the same seed, so they can be made on different
            machines. Needs a seed (``random_state`` here or on the estimator).
        conditions : dict or None
            ``{column: value}``: only rows where the column equals the value
            (categorical and boolean columns; a list of values means any of them).
            A value that is not a level exactly is matched by its text, then by its
            text with surrounding spaces ignored (``"Female"`` finds ``" Female"``)
            when that is unambiguous.
        where : list or None
            More conditions, each a string ``"age>=40"`` or a tuple ``("age", ">=", 40)``,
            operator one of ``==`` (or ``=``), ``!=`` (categories), ``>=``, ``<=``, ``>``,
            ``<`` (numbers and dates; ``==`` also for integers and dates). All conditions
            must hold. The rows follow the model's distribution given them; latent codes
            are drawn where the conditions are likely, so a rare condition costs a few
            times an unconditional sample, not 1/share times (see :mod:`synthvae.conditions`).
        reject_copies : pandas.DataFrame, CopyGuard or None
            Replace every row equal to a row of this table (the training data, say), or
            nearer to one than the table's own rows usually are to each other, by a
            further draw; still ``n`` rows. The count replaced is in
            ``result.attrs["replaced_copies"]`` (see :class:`synthvae.copyguard.CopyGuard`).

        Returns
        -------
        pandas.DataFrame
            Same columns, order and dtypes as the training frame.

        Raises
        ------
        DataError
            A condition can never hold: an unknown column or value, an empty range, an
            operator that does not fit the column. Raised before any rows are drawn.
        """
        rows = self.iter_sample(n, random_state=random_state, argmax=argmax, shard=shard, conditions=conditions,
                                where=where, reject_copies=reject_copies)
        before = rows.guard.replaced_ if rows.guard is not None else 0
        frames = list(rows)
        if not frames:
            # One decoded row, cut away, gives the empty frame its column dtypes.
            one_row = np.zeros((1, self.transformer_.width_), np.float32)
            result = self.transformer_.inverse_transform(one_row).iloc[:0]
        else:
            result = pd.concat(frames, ignore_index=True)
        if reject_copies is not None:
            result.attrs["replaced_copies"] = rows.guard.replaced_ - before
        return result

    def iter_sample(self, n, random_state=None, argmax=False, start=0, stop=None, shard=None, conditions=None,
                    where=None, reject_copies=None):
        """Yield the rows of ``sample(n)`` chunk by chunk, in bounded memory.

        ``start`` and ``stop`` pick a slice of those rows; ``shard=(i, k)`` picks
        shard i of k (counted from 1), as :meth:`sample` describes.
        ``conditions``, ``where`` and ``reject_copies`` are as in :meth:`sample`; they are
        checked at once, before the first chunk is asked for. The returned iterator's
        ``guard`` attribute is the :class:`~synthvae.copyguard.CopyGuard` in use (or None).
        """
        self._check_fitted()
        n = _check_count(n)
        stop = n if stop is None else stop
        if shard is not None:
            from synthvae.shard import shard_bounds

            if random_state is None and self.random_state is None:
                raise UsageError(
                    "sampling a shard needs a seed (random_state here or on the model): "
                    "shards drawn with fresh randomness would not fit together"
                )
            start, stop = shard_bounds(n, shard)
        seed = self._sample_seed(random_state)
        compiled = self._compile_conditions(conditions, where, argmax)
        guard = self._copy_guard(reject_copies)
        return _Rows(self._iter_rows(start, stop, seed, argmax, compiled, guard), guard)

    def _iter_rows(self, start, stop, seed, argmax, compiled, guard):
        from synthvae import conditions as cond
        from synthvae.sampler import CHUNK_ROWS, generate

        if start >= stop:
            return
        decode = self._decoder_fn()
        if compiled is None:
            draw = self._unconditional_draw(decode, argmax)
        else:
            sampler = cond.ConditionalSampler(
                compiled, decode, self.prior_, self.transformer_, self.sigma_, self.calibration_, seed)
            draw = sampler.rows
        finish = None
        if guard is not None:
            def finish(rows, chunk, lo, hi):
                return guard.apply(rows, np.random.default_rng([seed, chunk, 2]), draw, lo, hi)
        if compiled is None:
            yield from generate(
                decode, self.prior_, self.transformer_, self.sigma_, start, stop, seed,
                argmax=argmax, calibration=self.calibration_, finish=finish,
            )
        else:
            yield from cond.generate(sampler, self.transformer_, start, stop, seed, CHUNK_ROWS, finish=finish)

    def _unconditional_draw(self, decode, argmax):
        from synthvae.sampler import decode_to_matrix

        def draw(rng, n):
            raw = decode(self.prior_.sample(n, rng))
            matrix = decode_to_matrix(raw, self.transformer_, self.sigma_, rng, argmax=argmax,
                                      calibration=self.calibration_)
            return self.transformer_.inverse_transform(matrix, rng=rng)

        return draw

    def _compile_conditions(self, conditions, where, argmax):
        from synthvae.conditions import compile_conditions, normalize

        items = normalize(conditions, where)
        if not items:
            return None
        if argmax:
            raise UsageError("argmax cannot be combined with conditions: conditioned columns are drawn")
        return compile_conditions(items, self.schema_, self.transformer_, self.calibration_)

    def _copy_guard(self, reject_copies):
        from synthvae.copyguard import CopyGuard

        if reject_copies is None or isinstance(reject_copies, CopyGuard):
            return reject_copies
        return CopyGuard(reject_copies, self.schema_)

    def _sample_seed(self, random_state):
        return _resolve_seed(self.random_state if random_state is None else random_state)

    def _check_fitted(self):
        check_is_fitted(self, ["vae_", "prior_", "transformer_", "calibration_"])

    # -- persistence ------------------------------------------------------------------

    def save(self, path):
        """Write the fitted model to ``path`` (a zip of JSON and a .keras file; no pickle)."""
        from synthvae import __version__
        from synthvae.modelfile import write_model_file

        self._check_fitted()
        meta = {
            "synthvae_version": __version__,
            "params": _json_params(self.get_params()),
            "n_rows": self.n_rows_,
            "sigma": self.sigma_.tolist(),
            "calibration": self.calibration_.get_state(),
            "history": self.history_,
            "training": {"device": self.device_, "batch_size": self.batch_size_, "learning_rate": self.learning_rate_},
        }
        write_model_file(
            path, meta, self.schema_.to_dict(), self.transformer_.get_state(), self.prior_.get_state(), self.vae_
        )
        return self

    @classmethod
    def load(cls, path):
        """Read a model written by :meth:`save`. Never runs code from the file."""
        from synthvae import __version__
        from synthvae.modelfile import read_model_file
        from synthvae.prior import GaussianMixturePrior
        from synthvae.sampler import Calibration

        _import_keras()
        meta, schema, transformer, prior, vae = read_model_file(path, __version__)
        params = dict(meta["params"])
        params["hidden"] = tuple(params["hidden"])
        self = cls(**params)
        self.schema_ = Schema.from_dict(schema)
        self.transformer_ = TableTransformer.from_state(self.schema_, transformer)
        self.prior_ = GaussianMixturePrior.from_state(prior)
        self.vae_ = vae
        self.sigma_ = np.asarray(meta["sigma"], dtype=np.float32)
        self.calibration_ = Calibration.from_state(meta["calibration"])
        self.n_rows_ = meta["n_rows"]
        self.history_ = meta["history"]
        # Written since this key was added; files of the same format without it load too.
        training = meta.get("training") or {}
        self.device_ = training.get("device")
        self.batch_size_ = training.get("batch_size")
        self.learning_rate_ = training.get("learning_rate")
        return self


class _StageClock:
    """Wall seconds spent in each stage of a fit, in order (``fit_seconds_``)."""

    def __init__(self):
        import time

        self._now = time.perf_counter
        self._last = self._now()
        self.seconds = {}

    def lap(self, stage):
        now = self._now()
        self.seconds[stage] = self.seconds.get(stage, 0.0) + now - self._last
        self._last = now


class _Rows:
    """The iterator :meth:`SynthVAE.iter_sample` returns: its rows, and the copy guard."""

    def __init__(self, rows, guard):
        self._rows = rows
        self.guard = guard

    def __iter__(self):
        return self

    def __next__(self):
        return next(self._rows)
def _schema_for(data, schema):
    """The schema given (a Schema or its dict form), or one inferred from ``data``."""
    if schema is None:
        return infer_schema(data)
    if isinstance(schema, dict):
        return Schema.from_dict(schema)
    if not isinstance(schema, Schema):
        raise InputTypeError(f"schema must be a Schema or a dict, not {type(schema).__name__}")
    return schema


def _json_params(params):
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in params.items()}


def _resolve_seed(random_state):
    """A whole-number seed: the one given, or fresh entropy for None."""
    if random_state is None:
        return int(np.random.default_rng().integers(2**31 - 1))
    if not isinstance(random_state, (int, np.integer)) or isinstance(random_state, bool):
        raise UsageError(f"random_state must be a whole number or None, got {random_state!r}")
    return int(random_state)


def _check_count(n):
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise InputTypeError(f"the number of rows must be a whole number, not {type(n).__name__}")
    if n < 0:
        raise UsageError(f"the number of rows must be 0 or more, got {n}")
    if n > MAX_ROWS:
        raise UsageError(f"the number of rows must be at most 10**12 ({MAX_ROWS}), got {n}")
    return int(n)


def _split(matrix, seed):
    """Shuffle rows into training and held-out parts (no held-out part for tiny tables)."""
    n_valid = int(len(matrix) * VALIDATION_SHARE)
    if n_valid < 20:
        return matrix, None
    order = np.random.default_rng(seed).permutation(len(matrix))
    return matrix[order[n_valid:]], matrix[order[:n_valid]]


def _enable_determinism():
    import keras

    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
