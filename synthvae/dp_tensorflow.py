"""One DP-SGD step on TensorFlow: the only backend-specific part of private training.

Each row's gradient is clipped to the norm C without ever being formed, by the
per-layer norm trick for dense layers: a dense layer z = a·W + b gives row i the
gradients aᵢᵀgᵢ for W and gᵢ for b, where gᵢ = ∂lossᵢ/∂zᵢ, so their squared norms are
‖aᵢ‖²‖gᵢ‖² and ‖gᵢ‖². One forward pass records every dense layer's input a and output
z, one backward pass of the summed row losses gives every g (row i's loss depends on
row i alone), and the output scales' gradients are taken per row the same way, from one
copy of them per row. With each row's factor cᵢ = min(1, C / ‖gradientᵢ‖) the clipped
sum of a kernel's gradients is aᵀ(c·g): a batch costs about one ordinary training step
and a few matrix products.

Gaussian noise of standard deviation σ·C is added to every coordinate of the clipped
sum, which is divided by the expected batch size (a fixed number, so the step does not
reveal how many rows were drawn) before Adam applies it. The network stays plain Keras
(its layers are read, not changed): other backends fit it without ``epsilon``.
"""

from __future__ import annotations

from synthvae.backend import import_keras
from synthvae.errors import UsageError

keras = import_keras()


def check_backend():
    """Raise UsageError unless Keras runs on TensorFlow."""
    backend = keras.backend.backend()
    if backend != "tensorflow":
        raise UsageError(f"epsilon (differentially private training) needs Keras' TensorFlow backend; "
                         f"this one runs {backend} (set KERAS_BACKEND=tensorflow)")


class PrivateStep:
    """Clipped, noised optimizer steps for ``network`` (built by :func:`synthvae.model.build_vae`).

    ``seed`` seeds the noise and the latent draws; a fit passes fresh entropy, never the
    seed stored in the model file (noise that could be drawn again would protect nothing).
    """

    def __init__(self, network, optimizer, clip_norm, noise_multiplier, expected_batch_size, seed):
        import tensorflow as tf

        self.optimizer = optimizer
        encoder, decoder = network.get_layer("encoder"), network.get_layer("decoder")
        self.encoder_layers = [l for l in encoder.layers if l.name.startswith("encoder_dense_")]
        self.mean_layer, self.log_var_layer = encoder.get_layer("z_mean"), encoder.get_layer("z_log_var")
        self.decoder_layers = [l for l in decoder.layers if l.name.startswith("decoder_dense_")]
        self.output_layer = decoder.get_layer("x_hat")
        self.kl = network.get_layer("kl")
        self.reconstruction = network.get_layer("reconstruction")
        self.dense_layers = [*self.encoder_layers, self.mean_layer, self.log_var_layer, *self.decoder_layers,
                             self.output_layer]
        self.variables = [v for layer in self.dense_layers for v in (layer.kernel, layer.bias)]
        if self.reconstruction.log_sigma is not None:
            self.variables.append(self.reconstruction.log_sigma)
        missing = {id(v) for v in network.trainable_variables} - {id(v) for v in self.variables}
        if missing:
            raise TypeError("private training knows only the dense layers and output scales of build_vae's network")
        self.clip_norm = float(clip_norm)
        self.noise_std = float(noise_multiplier) * float(clip_norm)
        self.expected_batch_size = float(expected_batch_size)
        self.latent_dim = int(self.mean_layer.units)
        self.generator = tf.random.Generator.from_seed(seed)
        optimizer.build(self.variables)
        signature = [tf.TensorSpec([None, encoder.input_shape[-1]], tf.float32)]
        self.clipped_sum = tf.function(self._clipped_sum, input_signature=signature)
        self.step = tf.function(self._step, input_signature=signature)

    def _forward(self, rows, eps, taps):
        """Each row's loss; ``taps`` gets (layer, input, pre-activation) of every dense layer."""
        import tensorflow as tf

        def dense(layer, a):
            z = tf.matmul(a, layer.kernel) + layer.bias
            taps.append((layer, a, z))
            return layer.activation(z)

        h = rows
        for layer in self.encoder_layers:
            h = dense(layer, h)
        mean, log_var = dense(self.mean_layer, h), dense(self.log_var_layer, h)
        h = mean + tf.exp(0.5 * log_var) * eps
        for layer in self.decoder_layers:
            h = dense(layer, h)
        x_hat = dense(self.output_layer, h)
        log_sigma = None
        if self.reconstruction.log_sigma is not None:  # one copy per row: its gradient is per row
            log_sigma = tf.tile(self.reconstruction.log_sigma[None, :], [tf.shape(rows)[0], 1])
            taps.append((None, None, log_sigma))
        return self.kl.beta * self.kl.row_kl(mean, log_var) + self.reconstruction.row_loss(rows, x_hat, log_sigma)

    def _clipped_sum(self, rows):
        """The sum of the rows' gradients (in ``self.variables``' order), each clipped to
        the norm C; each row's gradient norm before clipping; each row's loss."""
        import tensorflow as tf

        eps = self.generator.normal([tf.shape(rows)[0], self.latent_dim])
        taps = []
        with tf.GradientTape() as tape:
            losses = self._forward(rows, eps, taps)
            total = tf.reduce_sum(losses)
        outputs = tape.gradient(total, [z for _, _, z in taps])
        squares = 0.0
        for (layer, a, _), g in zip(taps, outputs):
            g_squares = tf.reduce_sum(tf.square(g), axis=1)
            squares += g_squares if layer is None else g_squares * (1.0 + tf.reduce_sum(tf.square(a), axis=1))
        norms = tf.sqrt(squares)
        scale = tf.minimum(1.0, self.clip_norm / tf.maximum(norms, 1e-12))
        summed = []
        for (layer, a, _), g in zip(taps, outputs):
            weighted = g * scale[:, None]
            if layer is not None:
                summed.append(tf.matmul(a, weighted, transpose_a=True))
            summed.append(tf.reduce_sum(weighted, axis=0))
        return summed, norms, losses

    def _step(self, rows):
        """One private step on the rows drawn; returns their losses (for progress only)."""
        summed, _, losses = self._clipped_sum(rows)
        noisy = [(s + self.generator.normal(s.shape, stddev=self.noise_std)) / self.expected_batch_size
                 for s in summed]
        self.optimizer.apply_gradients(zip(noisy, self.variables))
        return losses
