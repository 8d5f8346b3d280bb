"""Differentially private training: every planned step on all rows, in Poisson batches.

The ledger (:mod:`synthvae.accounting`) fixes the steps, the sampling rate q and the
noise before training starts; every step then draws each row independently with
probability q, exactly as the accountant assumes, and takes one clipped, noised step
(:class:`synthvae.dp_tensorflow.PrivateStep`). There is no held-out split and no early
stopping or choice of epoch: each would read the private rows outside the accounted
steps. The batches and the noise come from fresh entropy, never from the fit's seed
(which the model file stores): the same seed gives the same transformers and initial
weights, not the same trained network.
"""

from __future__ import annotations

import secrets
import sys
import time

import numpy as np

from synthvae.backend import import_keras

keras = import_keras()


def train_private(build, matrix, *, epochs, plan, ledger, verbose):
    """Build a network with ``build()`` and train it with DP-SGD on every row of ``matrix``,
    with the steps, sampling rate and noise that ``ledger`` planned.

    Returns
    -------
    trained : synthvae.training.Trained
        Its history holds each epoch's mean loss, for the convergence check only (the
        model file keeps none of it: it was computed without noise).
    """
    from synthvae import dp_tensorflow
    from synthvae.training import Trained, stop_requested

    dp_tensorflow.check_backend()
    n_rows = len(matrix)
    entropy = secrets.randbits(63)
    batches = np.random.default_rng(entropy)
    network = build()
    step = dp_tensorflow.PrivateStep(network, keras.optimizers.Adam(plan.learning_rate), ledger.clip_norm,
                                     ledger.noise_multiplier, ledger.expected_batch_size, seed=entropy + 1)
    steps_per_epoch = ledger.steps // epochs
    losses = []
    started = time.perf_counter()
    for epoch in range(epochs):
        total, rows = 0.0, 0
        for _ in range(steps_per_epoch):
            drawn = matrix[batches.random(n_rows) < ledger.sampling_rate]
            total += float(np.sum(step.step(drawn)))
            rows += len(drawn)
        losses.append(total / max(rows, 1))
        if verbose:
            left = (time.perf_counter() - started) / (epoch + 1) * (epochs - epoch - 1)
            print(f"epoch {epoch + 1}/{epochs}  loss {losses[-1]:.4f}  private"
                  + (f"  at most {left:.0f}s left" if epoch + 1 < epochs else "  done"), file=sys.stderr, flush=True)
        if stop_requested():
            raise KeyboardInterrupt
        if not np.isfinite(losses[-1]):
            break
    sigma = keras.ops.convert_to_numpy(network.get_layer("reconstruction").sigma())
    return Trained(network, np.asarray(sigma, dtype=np.float32), {"loss": losses})
