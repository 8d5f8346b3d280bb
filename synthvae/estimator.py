"""``SynthVAE``: the estimator users hold, in scikit-learn's conventions.

Constructor arguments are stored unchanged; ``fit`` learns and returns self; what
was learned lives in attributes ending in ``_``, all assigned at the end of a fit, so
a fit that fails leaves the estimator as it was. The work is done below: training in
:mod:`synthvae.training`, rows in :mod:`synthvae.generation`, the file in
:mod:`synthvae.modelfile`. Keras is imported only by ``fit`` (and by ``vae_`` after
``load``): sampling decodes with the network's arrays in NumPy.
"""

from __future__ import annotations

import functools
import warnings

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from synthvae.backend import global_generators_kept, resolve_seed
from synthvae.errors import DataError, InputTypeError, UsageError
from synthvae.fitting import InMemoryRows, StageClock, fit_model
from synthvae.io import as_frame
from synthvae.schema import Schema, infer_schema

from synthvae.sampling import MAX_ROWS, check_count  # noqa: F401  (part of this module's interface)

MIN_ROWS = 10
UNPROTECTED_WARNING = (
    "value protection is off: the model keeps rare categories, exact extremes and exact counts "
    "of the training data, which can identify people; share it only where the data may go"
)


def _keeping_global_generators(fit):
    """Python's and NumPy's global generators are as the caller left them after ``fit``
    (see :mod:`synthvae.backend`)."""

    @functools.wraps(fit)
    def wrapper(*args, **kwargs):
        with global_generators_kept():
            return fit(*args, **kwargs)

    return wrapper


class SynthVAE(BaseEstimator):
    """Learn a table with a variational autoencoder and sample new rows from it.

    Parameters
    ----------
    epochs : int or None, default=None
        Upper bound on passes over the training rows (training stops earlier when
        the held-out loss stops improving). None: chosen from the table's size (see
        :mod:`synthvae.sizing`; 100 from 5,000 rows up), as are every other parameter
        whose default is None here.
    batch_size : int or None, default=None
        Rows per training step. None: the training rows / 64, from 500 up to 2,048 on
        a CPU or 8,192 on a GPU, so a large table takes fewer, larger steps (with
        ``strategy="mirrored"`` a step is split across the GPUs).
    latent_dim : int or None, default=None
        Size of the latent code. None: from the table's size (16 from 5,000 rows up).
    hidden : tuple of int or None, default=None
        Widths of the decoder's hidden layers, listed from the row side: the decoder
        runs them in reverse (code → hidden[-1] → … → hidden[0] → row). None: from
        the table's size ((192, 192) from 5,000 rows up).
    encoder_hidden : tuple of int or None, default=None
        Widths of the encoder's hidden layers (row → encoder_hidden[0] → … → code).
        None: from the table's size (one layer of 192). The encoder only places each
        row in the latent space; the decoder, which makes the rows, needs the depth.
    beta : float or None, default=None
        Weight of the KL term (None: from the table's size; 0.5 from 5,000 rows up). Smaller values make a sharper autoencoder whose latent
        codes spread further from N(0, I); the mixture prior covers them either way.
    learning_rate : float or None, default=None
        Adam's step size. None: 1e-3 at a batch of 500, times √(batch / 500) for a
        larger batch.
    encoding : {"quantile", "mode"}, default="quantile"
        How numeric and datetime columns are encoded: normal scores through their
        quantiles, or mode-specific normalization with a Bayesian Gaussian mixture.
    prior_components : int or None, default=None
        Components of the Gaussian mixture fitted to the latent codes; 0 samples
        from N(0, I) instead. None: from the table's size (600 from 5,000 rows up).
    patience : int or None, default=None
        Epochs without improvement of the held-out loss before training stops
        (None: from the table's size; 20 from 5,000 rows up).
    calibrate : bool, default=True
        After training, correct the sampler so each column's distribution matches the
        training data (see :class:`synthvae.calibration.Calibration`).
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
    epsilon : float or None, default=None
        Train with differential privacy (DP-SGD) spending this ε for adding or removing
        one row; needs a declared schema (``fit(data, schema=...)``) with the columns'
        kinds (and dates' ``min`` and ``max``). Declared ``levels`` and ``min``/``max``
        are used as is; what is not declared, and numeric quantiles and missing rates,
        are released with noise for a tenth of ε (see :mod:`synthvae.dp_statistics`).
        The fit trains every epoch on all rows (no
        held-out rows), samples from N(0, I) and skips calibration; ``privacy_`` is
        its ledger. None: no differential privacy.
    delta : float or None, default=None
        The δ of a private fit; None: 1 / (10 × rows).
    value_protection : bool, default=True
        Keep nothing that fewer than 5 training rows share: rarer categories are
        never stored or generated, stored counts are rounded, and numbers and dates
        stay within the 5th smallest and 5th largest training value (see
        :mod:`synthvae.transformers.learned`). False keeps every value exactly, with
        a warning.

    Attributes
    ----------
    schema_ : Schema
    transformer_ : TableTransformer
    weights_ : dict
        The trained network's weights, float32 arrays by name (``decoder_dense_0/kernel``);
        what the model file keeps and what sampling decodes with, in NumPy.
    vae_ : keras.Model
        The trained network (after :meth:`load`, rebuilt from ``weights_`` when first
        asked for; this imports Keras).
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
    trained_with_ : dict
        ``keras_version`` and ``backend`` (name and version) that trained the network.
    n_rows_ : int
    chosen_ : dict
        The parameters left at None that the fit chose from the table's size, by name
        (:func:`synthvae.sizing.resolve`); the model file and ``synthvae inspect`` show them.
    fit_seconds_ : dict
        Wall seconds of each stage of the last fit: ``schema`` (with reading the
        sample, when streaming), ``keras`` (importing TensorFlow and Keras, the first
        time in a process), ``rules`` (finding the rules the rows obey, and when
        streaming checking them over the whole table), ``transformers``,
        ``training``, ``prior``, ``calibration``.
    is_chief_ : bool
        Whether this process should save the model (False only on multi-worker
        non-chiefs).
    privacy_ : dict or None
        The ledger of a fit with ``epsilon``: target and spent ε, δ, the accountant,
        noise multiplier σ, clip norm C, sampling rate, steps and the split of ε
        (see :class:`synthvae.accounting.Ledger`); None without ``epsilon``.
    """

    def __init__(
        self,
        epochs=None,
        batch_size=None,
        latent_dim=None,
        hidden=None,
        encoder_hidden=None,
        beta=None,
        learning_rate=None,
        encoding="quantile",
        prior_components=None,
        patience=None,
        calibrate=True,
        random_state=None,
        verbose=True,
        strategy=None,
        precision="float32",
        epsilon=None,
        delta=None,
        value_protection=True,
    ):
        self.epochs = epochs
        self.batch_size = batch_size
        self.latent_dim = latent_dim
        self.hidden = hidden
        self.encoder_hidden = encoder_hidden
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
        self.epsilon = epsilon
        self.delta = delta
        self.value_protection = value_protection

    # -- fitting -----------------------------------------------------------------

    @_keeping_global_generators
    def fit(self, data, schema=None):
        """Learn the table.

        Parameters
        ----------
        data : pandas.DataFrame
        schema : Schema, dict or None
            Column kinds; inferred from ``data`` when None. A dict is the JSON form.
            Required with ``epsilon``, declaring every column's range or levels.

        Returns
        -------
        self
        """
        _check_params(self)
        clock = StageClock()
        data = as_frame(data)
        _check_private(self, schema)
        _check_enough_rows(len(data))
        # A private fit writes columns as the declared schema says, not as the data is written.
        schema = _schema_for(None if self.epsilon is not None else data, schema)
        schema.check_frame(data)
        data = data[schema.names]
        _check_rules(data, schema)
        clock.lap("schema")
        params, chosen = self._sized_params(len(data))
        return self._assign(fit_model(params, data, schema, len(data), InMemoryRows, self._seed(), clock), chosen)

    @_keeping_global_generators
    def fit_stream(self, source, schema=None, sample_rows=None, chunk_rows=None, hold=False):
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
        hold : bool or None, default=False
            True: transform the table once into a float32 matrix held in memory and
            shuffle all of it each epoch, instead of reading the file again each epoch.
            None: hold it when it fits well within the memory available now
            (``synthvae fit`` without ``--stream`` does this).

        Returns
        -------
        self
        """
        from synthvae import stream

        _check_params(self)
        if self.epsilon is not None:
            raise UsageError("epsilon trains on a table in memory: use fit, not fit_stream")
        clock = StageClock()
        seed = self._seed()
        chunk_rows = stream.CHUNK_ROWS if chunk_rows is None else chunk_rows
        sample, n_rows = stream.reservoir_sample(
            source, stream.SAMPLE_ROWS if sample_rows is None else sample_rows, seed, chunk_rows)
        _check_enough_rows(n_rows)
        schema = _schema_for(sample, schema)
        schema.check_frame(sample)
        sample = sample[schema.names]
        _check_rules(sample, schema)
        clock.lap("schema")

        def streamed_rows(transformer, matrix, seed):
            from synthvae.training import VALIDATION_SHARE

            held = hold if hold is not None else stream.fits_in_memory(n_rows, transformer.width_)
            rows = stream.HeldRows if held else stream.StreamedRows
            return rows(source, transformer, sample, n_rows, seed, chunk_rows, VALIDATION_SHARE)

        def table_rules(rules):
            return stream.rules_that_hold(source, rules, schema, chunk_rows)

        params, chosen = self._sized_params(n_rows)
        return self._assign(fit_model(params, sample, schema, n_rows, streamed_rows, seed, clock, table_rules), chosen)

    def _sized_params(self, n_rows):
        """The parameters a fit on ``n_rows`` rows uses, and those of them chosen for its size."""
        from synthvae.sizing import resolve

        params = self.get_params()
        resolved = resolve(params, n_rows)
        return {**params, **resolved}, {k: v for k, v in resolved.items() if params[k] is None}

    def _trained_params(self):
        """The parameters as the model was trained: the chosen values in place of None."""
        return {**self.get_params(), **self.chosen_}

    def _assign(self, fitted, chosen):
        fitted = dict(fitted, chosen=chosen)
        self._network = fitted.pop("network")
        for name, value in fitted.items():
            setattr(self, name + "_", value)
        return self

    def _seed(self):
        return resolve_seed(self.random_state)

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
        self._warn_if_private(reject_copies)
        return self._sampler().sample(n, random_state=random_state, argmax=argmax, shard=shard,
                                      conditions=conditions, where=where, reject_copies=reject_copies)

    def iter_sample(self, n, random_state=None, argmax=False, start=0, stop=None, shard=None, conditions=None,
                    where=None, reject_copies=None):
        """Yield the rows of ``sample(n)`` chunk by chunk, in bounded memory.

        ``start`` and ``stop`` pick a slice of those rows; ``shard=(i, k)`` picks
        shard i of k (counted from 1), as :meth:`sample` describes.
        ``conditions``, ``where`` and ``reject_copies`` are as in :meth:`sample`; they are
        checked at once, before the first chunk is asked for. The returned iterator's
        ``guard`` attribute is the :class:`~synthvae.copyguard.CopyGuard` in use (or None).
        """
        self._warn_if_private(reject_copies)
        return self._sampler().iter_sample(n, random_state=random_state, argmax=argmax, start=start, stop=stop,
                                           shard=shard, conditions=conditions, where=where,
                                           reject_copies=reject_copies)

    def _warn_if_private(self, reject_copies):
        if reject_copies is not None and getattr(self, "privacy_", None):
            import warnings

            warnings.warn("reject_copies compares the rows drawn with the rows given, so which rows it replaces "
                          "depends on them: its output is not covered by the model's differential privacy",
                          UserWarning, stacklevel=3)

    def _sampler(self):
        from synthvae.sampling import Sampler

        check_is_fitted(self, ["weights_", "prior_", "transformer_", "calibration_"])
        return Sampler.from_fitted(self._trained_params(), {name: getattr(self, name + "_") for name in _SAVED})

    @property
    def vae_(self):
        """The trained Keras network. After :meth:`load` it is rebuilt from ``weights_``
        on first use (which imports Keras); sampling never needs it."""
        network = self.__dict__.get("_network")
        if network is None:
            if "weights_" not in self.__dict__:
                raise AttributeError("'SynthVAE' object has no attribute 'vae_' (fit or load a model first)")
            from synthvae.backend import global_generators_kept, import_keras

            import_keras()
            from synthvae.model import rebuild_network

            params = self._trained_params()
            network = rebuild_network(self.transformer_, self.weights_, params["latent_dim"], params["hidden"],
                                      params["beta"], params["encoder_hidden"])
            self._network = network
        return network

    # -- persistence ------------------------------------------------------------------

    def save(self, path):
        """Write the fitted model to ``path`` (a zip of JSON and float32 arrays; no pickle)."""
        from synthvae.modelfile import save_model

        check_is_fitted(self, ["weights_", "prior_", "transformer_", "calibration_"])
        save_model(path, self._trained_params(), {name: getattr(self, name + "_") for name in _SAVED})
        return self

    @classmethod
    def load(cls, path):
        """Read a model written by :meth:`save`. Never runs code from the file, and
        imports no Keras: the network is rebuilt only if ``vae_`` is asked for."""
        from synthvae.modelfile import load_model

        params, fitted = load_model(path)
        self = cls(**params)
        for name in _SAVED:
            setattr(self, name + "_", fitted[name])
        return self


# The fitted attributes a model file holds (``fit_seconds_`` and ``is_chief_`` describe
# one fit, not the model).
_SAVED = ("schema", "transformer", "weights", "prior", "sigma", "calibration", "history", "n_rows",
          "device", "batch_size", "learning_rate", "trained_with", "privacy", "chosen")


def _check_params(estimator):
    for name in ("epochs", "batch_size", "latent_dim"):
        value = getattr(estimator, name)
        if value is None:  # chosen from the table's size
            continue
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise UsageError(f"{name} must be a positive whole number, got {value!r}")
    for name in ("hidden", "encoder_hidden"):
        widths = getattr(estimator, name)
        if widths is not None and not (
            isinstance(widths, (tuple, list))
            and all(isinstance(w, (int, np.integer)) and not isinstance(w, bool) and w >= 1 for w in widths)
        ):
            raise UsageError(f"{name} must be a tuple of positive whole numbers (layer widths) or None, got {widths!r}")
    rate = estimator.learning_rate
    if rate is not None and (
        not isinstance(rate, (int, float, np.number)) or isinstance(rate, bool) or not 0 < rate < float("inf")
    ):
        raise UsageError(f"learning_rate must be a positive number or None, got {rate!r}")
    if estimator.encoding not in ("quantile", "mode"):
        raise UsageError(f"encoding must be 'quantile' or 'mode', got {estimator.encoding!r}")
    if estimator.beta is not None and not (isinstance(estimator.beta, (int, float)) and estimator.beta >= 0):
        raise UsageError(f"beta must be a number >= 0 or None, got {estimator.beta!r}")
    if not isinstance(estimator.value_protection, (bool, np.bool_)):
        raise UsageError(f"value_protection must be True or False, got {estimator.value_protection!r}")
    if not estimator.value_protection:
        warnings.warn(UNPROTECTED_WARNING, UserWarning, stacklevel=3)
    from synthvae.distribute import check_options

    check_options(estimator.strategy, estimator.precision)
    from synthvae.accounting import check_budget

    check_budget(estimator.epsilon, estimator.delta)


def _check_private(estimator, schema):
    """A private fit needs a declared schema (kinds; levels and ranges are released with
    noise when not declared), and trains in float32 on one device."""
    if estimator.epsilon is None:
        return
    if schema is None:
        raise UsageError("epsilon needs a schema declaring the columns and their kinds (and min and max of date "
                         "columns): inferring one would read the private data")
    if estimator.strategy is not None or estimator.precision != "float32":
        raise UsageError("epsilon trains in float32 on one device: leave strategy and precision unset")
    from synthvae.dp_statistics import check_releasable

    check_releasable(_schema_for(None, schema))


def _check_enough_rows(n_rows):
    if n_rows < MIN_ROWS:
        raise DataError(f"too few rows to learn from: {n_rows}; synthvae needs at least {MIN_ROWS}")


def _check_rules(data, schema):
    """Fail before any training when the data breaks a rule the schema declares."""
    if schema.rules:
        from synthvae.rules import check_declared

        check_declared(data, schema.rules, schema)


def _schema_for(data, schema):
    """The schema given (a Schema or its dict form), or one inferred from ``data``."""
    if schema is None:
        return infer_schema(data)
    if isinstance(schema, dict):
        schema = Schema.from_dict(schema)
    if not isinstance(schema, Schema):
        raise InputTypeError(f"schema must be a Schema or a dict, not {type(schema).__name__}")
    # A schema file without written formats (or an older one) takes them from the data.
    return schema if data is None else schema.with_formats(data)
