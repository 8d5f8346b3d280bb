"""The variational autoencoder, in Keras 3 (keras.layers / keras.ops / keras.random only,
so it runs under any Keras backend).

    x ──encoder──> (mean, log_var) ──KLDivergence──> z ──decoder──> x_hat
                                        │                              │
                                  β·KL added to losses      ReconstructionLoss(x, x_hat)
                                                            added to losses

The decoder has one linear output whose columns follow the table layout: each
continuous span is a value (Gaussian likelihood with a learned scale per column), each
softmax span is the logits of one categorical column (cross-entropy). Everything the
loss needs is inside the model, so training is a plain ``model.fit(x)``.
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import layers, ops


@keras.saving.register_keras_serializable(package="synthvae")
class KLDivergence(layers.Layer):
    """Draws z = mean + exp(log_var / 2) * eps and adds beta * KL(q(z|x) || N(0, I)).

    ``beta`` is a non-trainable variable so a callback can warm it up during training.
    Outside training the layer returns the mean: encoding a row is then deterministic.
    """

    def __init__(self, beta=1.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.initial_beta = float(beta)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.beta = self.add_weight(
            shape=(), initializer=keras.initializers.Constant(self.initial_beta),
            trainable=False, name="beta",
        )

    def call(self, inputs, training=False):
        mean, log_var = inputs
        self.add_loss(self.beta * ops.mean(self.row_kl(mean, log_var)))
        if not training:
            return mean
        eps = keras.random.normal(ops.shape(mean), seed=self.seed_generator)
        return mean + ops.exp(0.5 * log_var) * eps

    @staticmethod
    def row_kl(mean, log_var):
        """KL(q(z|x) || N(0, I)) of each row."""
        return -0.5 * ops.sum(1.0 + log_var - ops.square(mean) - ops.exp(log_var), axis=-1)

    def get_config(self):
        return {**super().get_config(), "beta": self.initial_beta, "seed": self.seed}


@keras.saving.register_keras_serializable(package="synthvae")
class ReconstructionLoss(layers.Layer):
    """Adds the negative log-likelihood of x under the decoder's output.

    Continuous columns: Gaussian with a learned per-column scale (clamped to
    [0.01, 1] in the normalized units), so no column drowns the others and the
    scale can be used to add the right amount of noise when sampling. Softmax spans:
    cross-entropy of the one-hot target against the logits. The layer passes x_hat
    through unchanged.
    """

    def __init__(self, continuous, softmax_spans, **kwargs):
        super().__init__(**kwargs)
        self.continuous = [int(i) for i in continuous]
        self.softmax_spans = [(int(a), int(b)) for a, b in softmax_spans]
        # A table with no continuous column has no scale to learn (an unused weight
        # would only draw a "no gradient" warning).
        self.log_sigma = None
        if self.continuous:
            self.log_sigma = self.add_weight(
                shape=(len(self.continuous),),
                initializer=keras.initializers.Constant(math.log(0.1)),
                name="log_sigma",
            )

    def sigma(self):
        if self.log_sigma is None:
            return ops.zeros((0,))
        return ops.clip(ops.exp(self.log_sigma), 0.01, 1.0)

    def call(self, inputs):
        x, x_hat = inputs
        self.add_loss(ops.mean(self.row_loss(x, x_hat)))
        return x_hat

    def row_loss(self, x, x_hat, log_sigma=None):
        """The negative log-likelihood of each row. ``log_sigma``: the scales' logarithms
        to use instead of the layer's own (one row of them per row, say)."""
        # One split of each matrix into the layout's pieces rather than a slice or gather
        # per column: the gradient of each slice is a zero-filled matrix of the full
        # width, and these were summed at the end (about 7 % of a training step on Adult).
        cuts, roles = self._pieces(x_hat.shape[-1])
        x_parts, x_hat_parts = (ops.split(x, cuts, axis=1), ops.split(x_hat, cuts, axis=1)) if cuts else ([x], [x_hat])
        loss = 0.0
        if self.continuous:
            sigma = self.sigma() if log_sigma is None else ops.clip(ops.exp(log_sigma), 0.01, 1.0)
            order = np.argsort(self.continuous, kind="stable")
            if (order != np.arange(len(order))).any():  # the pieces come in matrix order
                sigma = ops.take(sigma, order, axis=-1)
            pieces = [i for i, role in enumerate(roles) if role == "continuous"]
            diff = (_joined([x_parts[i] for i in pieces]) - _joined([x_hat_parts[i] for i in pieces]))
            loss = loss + ops.sum(0.5 * ops.square(diff / sigma) + ops.log(sigma), axis=-1)
        for i, role in enumerate(roles):
            if role == "softmax":
                loss = loss - ops.sum(x_parts[i] * ops.log_softmax(x_hat_parts[i], axis=-1), axis=-1)
        return loss

    def _pieces(self, width):
        """Where to split a matrix row of ``width`` columns, and what each piece is:
        "softmax" (one span), "continuous" (a run of neighbouring continuous columns)
        or None (columns the loss does not read)."""
        intervals = sorted([(a, b, "softmax") for a, b in self.softmax_spans]
                           + [(i, i + 1, "continuous") for i in self.continuous])
        cuts, roles, position = [], [], 0
        for start, stop, role in intervals:
            if role == "continuous" and roles and roles[-1] == role and cuts[-1] == start:
                cuts[-1] = position = stop  # the run of continuous columns goes on
                continue
            if start > position:
                cuts.append(start)
                roles.append(None)
            cuts.append(stop)
            roles.append(role)
            position = stop
        if position < width:
            roles.append(None)
        else:
            cuts.pop()  # the last piece ends at the last column
        return cuts, roles

    def get_config(self):
        return {**super().get_config(), "continuous": self.continuous, "softmax_spans": self.softmax_spans}


def _joined(parts):
    return parts[0] if len(parts) == 1 else ops.concatenate(parts, axis=1)


def _mlp(x, widths, name):
    for i, width in enumerate(widths):
        x = layers.Dense(width, activation="relu", name=f"{name}_dense_{i}")(x)
    return x


def build_vae(input_dim, continuous, softmax_spans, latent_dim=32, hidden=(256, 256), beta=0.01, seed=None,
              encoder_hidden=None):
    """Build the training model and its encoder and decoder.

    Parameters
    ----------
    input_dim : int
        Width of the table matrix.
    continuous : list of int
        Matrix columns that hold a continuous value.
    softmax_spans : list of (start, stop)
        Matrix column ranges that form one categorical column each.
    latent_dim : int
    hidden : tuple of int
        Widths of the decoder's hidden layers, from the row side: the decoder runs
        them in reverse (z → hidden[-1] → … → hidden[0] → x_hat).
    beta : float
        Weight of the KL term.
    seed : int or None
    encoder_hidden : tuple of int or None
        Widths of the encoder's hidden layers (x → encoder_hidden[0] → … → z); None:
        the same as ``hidden``.

    Returns
    -------
    vae, encoder, decoder : keras.Model
        ``vae`` is compiled-ready (its losses are added by its layers); ``encoder``
        maps x to (mean, log_var); ``decoder`` maps z to raw outputs in the layout.
    """
    x_in = keras.Input(shape=(input_dim,), name="x")
    h = _mlp(x_in, tuple(hidden if encoder_hidden is None else encoder_hidden), "encoder")
    # The latent heads stay float32 under mixed precision: exp(log_var) overflows
    # in float16, and the KL term reads them.
    mean = layers.Dense(latent_dim, name="z_mean", dtype="float32")(h)
    log_var = layers.Dense(latent_dim, name="z_log_var", dtype="float32")(h)
    encoder = keras.Model(x_in, [mean, log_var], name="encoder")

    z_in = keras.Input(shape=(latent_dim,), name="z")
    h = _mlp(z_in, tuple(reversed(hidden)), "decoder")
    # Outputs and losses stay float32 under a mixed-precision policy (logits and
    # log-likelihoods lose too much in 16 bits).
    x_out = layers.Dense(input_dim, name="x_hat", dtype="float32")(h)
    decoder = keras.Model(z_in, x_out, name="decoder")

    x = keras.Input(shape=(input_dim,), name="row")
    z = KLDivergence(beta=beta, seed=seed, name="kl", dtype="float32")(encoder(x))
    x_hat = ReconstructionLoss(continuous, softmax_spans, name="reconstruction", dtype="float32")([x, decoder(z)])
    vae = keras.Model(x, x_hat, name="vae")
    return vae, encoder, decoder


def _weight_layers(network):
    """The layers that hold weights, through the nested encoder and decoder models."""
    for layer in network.layers:
        if isinstance(layer, keras.Model):
            yield from _weight_layers(layer)
        elif layer.weights:
            yield layer


def network_weights(network):
    """The network's weights as float32 NumPy arrays by name (``layer/weight``), the
    names :func:`synthvae.decoder.network_shapes` gives."""
    return {
        f"{layer.name}/{variable.name}": np.asarray(ops.convert_to_numpy(variable), dtype=np.float32)
        for layer in _weight_layers(network)
        for variable in layer.weights
    }


def set_network_weights(network, weights):
    """Assign weights by name (as :func:`network_weights` returns them) to a network
    built by :func:`build_vae` with the same parameters."""
    for layer in _weight_layers(network):
        for variable in layer.weights:
            variable.assign(weights[f"{layer.name}/{variable.name}"])
    return network


def rebuild_network(transformer, weights, latent_dim, hidden, beta, encoder_hidden=None):
    """The trained network again, from its weights (as a model file holds them) and the
    parameters and layout it was built with."""
    vae = build_vae(
        transformer.width_, transformer.continuous_columns_, [(s.start, s.stop) for s in transformer.softmax_spans_],
        latent_dim=latent_dim, hidden=tuple(hidden), beta=beta, encoder_hidden=encoder_hidden,
    )[0]
    return set_network_weights(vae, weights)


def trained_with():
    """The Keras version and backend (with its version) that train here."""
    import sys

    backend = keras.backend.backend()
    version = getattr(sys.modules.get(backend), "__version__", None)
    return {"keras_version": keras.__version__, "backend": f"{backend} {version}" if version else backend}
