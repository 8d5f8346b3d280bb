"""The network's reconstruction loss: each row's negative log-likelihood under the
decoder's output, for any layout of continuous columns and softmax spans."""

import numpy as np
import pytest


def expected_row_loss(x, x_hat, continuous, spans, log_sigma):
    """The loss written out in NumPy: Gaussian for continuous columns (scale clamped to
    [0.01, 1]), cross-entropy against the logits of each softmax span."""
    loss = np.zeros(len(x))
    if continuous:
        sigma = np.clip(np.exp(log_sigma), 0.01, 1.0)
        loss += (0.5 * ((x[:, continuous] - x_hat[:, continuous]) / sigma) ** 2 + np.log(sigma)).sum(axis=1)
    for start, stop in spans:
        logits = x_hat[:, start:stop].astype(np.float64)
        shifted = logits - logits.max(axis=1, keepdims=True)
        log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        loss -= (x[:, start:stop] * log_p).sum(axis=1)
    return loss


@pytest.mark.parametrize("width, continuous, spans", [
    (12, [0, 5, 6, 7], [(1, 5), (8, 12)]),  # continuous columns between and beside spans
    (9, [3, 1], [(4, 7)]),  # scales listed out of matrix order; columns no part reads
    (8, [], [(0, 3), (5, 8)]),  # no continuous column
    (3, [0, 1, 2], []),  # no span
    (1, [0], []),  # one column: a single piece
    (4, [], [(0, 4)]),
])
def test_row_loss_is_each_rows_negative_log_likelihood(width, continuous, spans):
    from synthvae.backend import import_keras

    keras = import_keras()
    from synthvae.model import ReconstructionLoss

    rng = np.random.default_rng(0)
    layer = ReconstructionLoss(continuous, spans)
    log_sigma = rng.normal(scale=1.5, size=len(continuous)).astype(np.float32)
    if continuous:
        layer.log_sigma.assign(log_sigma)
    x = rng.normal(size=(40, width)).astype(np.float32)
    x_hat = rng.normal(scale=3.0, size=(40, width)).astype(np.float32)
    for start, stop in spans:
        x[:, start:stop] = np.eye(stop - start)[rng.integers(0, stop - start, len(x))]

    layer([keras.Input(shape=(width,)), keras.Input(shape=(width,))])  # traced as the network is built
    got = keras.ops.convert_to_numpy(layer.row_loss(x, x_hat))
    np.testing.assert_allclose(got, expected_row_loss(x, x_hat, continuous, spans, log_sigma), rtol=1e-5, atol=1e-4)
    if continuous:  # scales given per row, as private training passes them
        per_row = np.tile(log_sigma + 0.3, (len(x), 1))
        got = keras.ops.convert_to_numpy(layer.row_loss(x, x_hat, per_row))
        np.testing.assert_allclose(got, expected_row_loss(x, x_hat, continuous, spans, log_sigma + 0.3),
                                   rtol=1e-5, atol=1e-4)
