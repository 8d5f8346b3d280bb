"""The network as plain arrays, and the decoder's forward pass in NumPy.

The Keras network (:mod:`synthvae.model`) is what training fits; what a model file
keeps of it is its weights, float32 arrays named ``layer/weight`` (``decoder_dense_0/kernel``),
and the architecture is rebuilt from the estimator's parameters by :func:`network_shapes`.
Sampling runs the decoder here, three small matrix products, so it needs neither
TensorFlow nor Keras: a Dense layer is ``relu(z @ kernel + bias)``, the last one linear,
all in float32 as Keras computes it.
"""

from __future__ import annotations

import numpy as np


def network_shapes(input_dim, n_continuous, latent_dim, hidden, encoder_hidden=None):
    """Every weight of the network :func:`synthvae.model.build_vae` builds, by name, with
    its shape, in the order the file lists them.

    Parameters
    ----------
    input_dim : int
        Width of the table matrix.
    n_continuous : int
        Continuous matrix columns (each has a learned output scale).
    latent_dim : int
    hidden : sequence of int
        The decoder's hidden widths, from the row side (it runs them in reverse).
    encoder_hidden : sequence of int or None
        The encoder's hidden widths; None: the same as ``hidden`` (as in files written
        before the two could differ).
    """
    shapes = {}

    def dense(name, n_in, n_out):
        shapes[f"{name}/kernel"] = (n_in, n_out)
        shapes[f"{name}/bias"] = (n_out,)

    width = input_dim
    for i, units in enumerate(hidden if encoder_hidden is None else encoder_hidden):
        dense(f"encoder_dense_{i}", width, units)
        width = units
    dense("z_mean", width, latent_dim)
    dense("z_log_var", width, latent_dim)
    shapes["kl/beta"] = ()
    width = latent_dim
    for i, units in enumerate(reversed(tuple(hidden))):
        dense(f"decoder_dense_{i}", width, units)
        width = units
    dense("x_hat", width, input_dim)
    if n_continuous:
        shapes["reconstruction/log_sigma"] = (n_continuous,)
    return shapes


class Decoder:
    """The decoder's forward pass: latent codes -> raw outputs in the table layout.

    Parameters
    ----------
    weights : dict
        The network's weights by name (at least the decoder's), as
        :func:`network_shapes` names them.
    n_hidden : int
        Hidden layers of the decoder.
    """

    def __init__(self, weights, n_hidden):
        names = [f"decoder_dense_{i}" for i in range(n_hidden)] + ["x_hat"]
        self.layers = [
            (np.ascontiguousarray(weights[f"{name}/kernel"], dtype=np.float32),
             np.ascontiguousarray(weights[f"{name}/bias"], dtype=np.float32))
            for name in names
        ]

    @property
    def latent_dim(self):
        return self.layers[0][0].shape[0]

    @property
    def output_dim(self):
        return self.layers[-1][0].shape[1]

    def __call__(self, z):
        """Raw decoder outputs (float32, one row per latent code)."""
        h = np.asarray(z, dtype=np.float32)
        last = len(self.layers) - 1
        for i, (kernel, bias) in enumerate(self.layers):
            h = h @ kernel
            h += bias
            if i < last:
                np.maximum(h, 0.0, out=h)
        return h

    def columns(self, z):
        """The same outputs laid out the other way: one row per output, one column per
        latent code. The last product is computed in that layout (the matrix library
        reads its operands transposed), so sampling, which works through the outputs
        one at a time, needs no transposing copy; values equal ``self(z).T`` to
        float32 rounding.

        Codes go through in blocks of :data:`BLOCK_ROWS`, so that each block's hidden
        values stay in the processor's cache between one product and the next (each
        row's values are the same however the rows are split)."""
        z = np.asarray(z, dtype=np.float32)
        kernel, bias = self.layers[-1]
        out = np.empty((kernel.shape[1], len(z)), dtype=np.float32)
        for start in range(0, len(z), BLOCK_ROWS):
            h = z[start : start + BLOCK_ROWS]
            for hidden_kernel, hidden_bias in self.layers[:-1]:
                h = h @ hidden_kernel
                h += hidden_bias
                np.maximum(h, 0.0, out=h)
            np.matmul(kernel.T, h.T, out=out[:, start : start + len(h)])
        out += bias[:, None]
        return out


# Latent codes decoded at once by :meth:`Decoder.columns`: a block's hidden values
# (rows x hidden width, float32) then fit in a core's cache.
BLOCK_ROWS = 2048
