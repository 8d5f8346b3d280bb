"""Fitting: the steps from a table (or a sample of one) to everything sampling needs.

column transformers -> matrix -> trained network -> latent prior -> calibration.
:func:`fit_model` builds every part in locals and returns them together, so the
estimator assigns them only once all have succeeded.
"""

from __future__ import annotations

import time

import numpy as np

from synthvae.backend import import_keras, native_logs_silenced, seeded

# Prior draws the calibration is fitted on: at least, at most (else the table's rows).
CALIBRATION_ROWS = (20_000, 50_000)


def fit_model(params, sample, schema, n_rows, training_rows, seed, clock, table_rules=None):
    """Fit everything on ``sample`` (the table, or a sample of it when streaming) and
    train on what ``training_rows(transformer, matrix, seed)`` hands out.

    Parameters
    ----------
    params : dict
        The estimator's parameters (``SynthVAE.get_params()``).
    sample : pandas.DataFrame
        Rows in ``schema``'s columns.
    n_rows : int
        Rows in the whole table.
    training_rows : callable
        ``(transformer, matrix, seed) ->`` an object with ``n_train`` (rows trained on
        per epoch), ``valid`` (held-out matrix or None) and ``batches(batch_size)``
        (what training reads: :class:`InMemoryRows`, or :class:`synthvae.stream.StreamedRows`).
    seed : int
    clock : StageClock
    table_rules : callable or None
        ``(rules) ->`` those of the rules found in ``sample`` that every row of the
        whole table obeys (a streamed fit reads the table once more); None: ``sample``
        is the table.

    Returns
    -------
    dict
        The fitted parts by attribute name, without the estimator's trailing underscore.
    """
    from synthvae import training
    from synthvae.calibration import Calibration, calibrate_rebuilt
    from synthvae.distribute import is_chief, make_strategy
    from synthvae.decoder import Decoder
    from synthvae.model import build_vae, network_weights, trained_with
    from synthvae.prior import GaussianMixturePrior
    from synthvae.public_frame import public_frame
    from synthvae.transformers import TableTransformer

    import_keras()
    private = params.get("epsilon") is not None
    strategy = make_strategy(params["strategy"])
    clock.lap("keras")  # importing TensorFlow and Keras, seconds in a fresh process
    from synthvae.transformers import learned

    # A private fit learns the columns from the declared schema, which needs no protection.
    protected = params.get("value_protection", True) and not private
    policy = learned.Policy(learned.PROTECTED if protected else learned.EXACT)
    # Silenced first: under JAX or PyTorch, seeding imports TensorFlow when it is
    # installed (Keras seeds it for tf.data), and its start-up chatter would show.
    with native_logs_silenced(), seeded(seed), learned.applied(policy):
        ledger = None
        if private:
            # Every column fact from the declared schema or released with noise, none read
            # from the data (see dp_statistics and public_frame).
            ledger, released = _release_privately(params, schema, sample, strategy)
            schema, sample = released.schema, released.conform(sample)
            schema.check_data(sample)
            transformer = TableTransformer(schema, encoding=params["encoding"], derive=False,
                                           random_state=seed).fit(public_frame(schema, released))
        else:
            rules = None
            if schema.rules is None:
                from synthvae.rules import discover

                rules = discover(sample, schema)
                if table_rules is not None:
                    rules = table_rules(rules)
            clock.lap("rules")
            transformer = TableTransformer(schema, encoding=params["encoding"], rules=rules,
                                           random_state=seed).fit(sample)
        matrix = transformer.transform(sample)
        clock.lap("transformers")

        rows = None if private else training_rows(transformer, matrix, seed)
        plan = training.plan_training(len(matrix) if private else rows.n_train, params["batch_size"],
                                      params["learning_rate"], strategy)

        def build():
            return build_vae(
                matrix.shape[1], transformer.continuous_columns_,
                [(s.start, s.stop) for s in transformer.softmax_spans_],
                latent_dim=params["latent_dim"], hidden=tuple(params["hidden"]), beta=params["beta"], seed=seed,
                encoder_hidden=tuple(params["encoder_hidden"]),
            )[0]

        if private:
            from synthvae.private_training import train_private

            trained = train_private(build, matrix, epochs=params["epochs"], plan=plan, ledger=ledger,
                                    verbose=params["verbose"])
        else:
            trained = training.train(
                build, rows.batches(plan.batch_size), rows.valid, epochs=params["epochs"], plan=plan,
                patience=params["patience"], verbose=params["verbose"], probe=matrix[: training.PROBE_ROWS],
                strategy=strategy, precision=params["precision"],
            )
        training.check_converged(trained, sample, schema, plan)
        sigma = trained.sigma[: len(transformer.continuous_columns_)]
        weights = network_weights(trained.network)
        clock.lap("training")

        if private or params["prior_components"] == 0:  # a fitted prior would read the private codes
            prior = GaussianMixturePrior.standard_normal(params["latent_dim"])
        else:
            mean, _ = trained.network.get_layer("encoder").predict(matrix, batch_size=8192, verbose=0)
            prior = GaussianMixturePrior(params["prior_components"], random_state=seed).fit(np.asarray(mean))
        clock.lap("prior")

        if params["calibrate"] and not private:  # calibration reads the private rows
            rng = np.random.default_rng([seed, 2**31])
            # Decoded by the same NumPy forward pass that sampling runs.
            decode = Decoder(weights, len(params["hidden"]))
            raw = decode(prior.sample(int(np.clip(len(matrix), *CALIBRATION_ROWS)), rng))
            calibration = Calibration.fit(raw, transformer, sigma, matrix, rng)
            calibrate_rebuilt(raw, transformer, sigma, calibration, sample, rng)
        else:
            calibration = Calibration.identity(transformer)
        clock.lap("calibration")

    return {
        "schema": schema, "transformer": transformer, "weights": weights, "network": trained.network, "sigma": sigma,
        # A private fit's losses were computed without noise: the file keeps none.
        "history": {} if private else trained.history, "privacy": ledger and ledger.to_dict(), "prior": prior, "calibration": calibration, "n_rows": n_rows,
        "device": plan.device, "batch_size": plan.batch_size, "learning_rate": plan.learning_rate,
        "trained_with": trained_with(), "is_chief": is_chief(strategy), "fit_seconds": clock.seconds,
    }


def _release_privately(params, schema, sample, strategy):
    """Plan the privacy budget of a private fit and release, with noise, what ``schema``
    leaves undeclared about ``sample``: the ledger (with what was released) and the
    :class:`synthvae.dp_statistics.Release`. The noise comes from fresh entropy, never
    from the fit's seed (which the model file stores)."""
    import dataclasses
    import secrets

    from synthvae import dp_statistics, training
    from synthvae.accounting import default_delta, plan_privacy

    dp_statistics.check_releasable(schema)
    n_rows = len(sample)
    plan = training.plan_training(n_rows, params["batch_size"], params["learning_rate"], strategy)
    queries = dp_statistics.planned_queries(schema)
    ledger = plan_privacy(params["epsilon"], default_delta(n_rows) if params["delta"] is None else params["delta"],
                          n_rows, plan.batch_size, params["epochs"], preprocessing_queries=len(queries),
                          thresholds=any(q.what == "levels" for q in queries),
                          preprocessing_share=dp_statistics.PREPROCESSING_SHARE,
                          threshold_delta_share=dp_statistics.THRESHOLD_DELTA_SHARE)
    released = dp_statistics.release(schema, sample, ledger.preprocessing_noise_multiplier, ledger.threshold_delta,
                                     np.random.default_rng(secrets.randbits(63)))
    what = {}
    for query in queries:
        what.setdefault(query.column, []).append(query.what)
    return dataclasses.replace(ledger, released=what), released


class InMemoryRows:
    """The training rows of a table in memory: the matrix, less a held-out part."""

    def __init__(self, transformer, matrix, seed):
        from synthvae.training import split_rows

        self.train, self.valid = split_rows(matrix, seed)
        self.n_train = len(self.train)

    def batches(self, batch_size):
        return self.train


class StageClock:
    """Wall seconds spent in each stage of a fit, in order (``fit_seconds_``)."""

    def __init__(self):
        self._last = time.perf_counter()
        self.seconds = {}

    def lap(self, stage):
        now = time.perf_counter()
        self.seconds[stage] = self.seconds.get(stage, 0.0) + now - self._last
        self._last = now
