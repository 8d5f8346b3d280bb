"""Training the network: one loop for a table in memory and for one streamed from disk.

:func:`plan_training` chooses the batch and the learning rate for the table and the
device; :func:`train` builds the network (inside a tf.distribute strategy and a
mixed-precision policy when asked), fits it on a matrix or on a stream of batches,
keeps the weights of the best held-out epoch and returns what the sampler needs: the
network, the learned output scale of each continuous column and the loss history.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import sys
import threading
import time

import numpy as np
import pandas as pd

from synthvae import distribute
from synthvae.backend import import_keras
from synthvae.errors import TrainingError

# Imported on first use of this module, which only a fit imports.
keras = import_keras()

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
# Optimizer steps per call into the compiled training function. One call per step
# spent about a sixth of an Adult epoch in Python between steps; the steps and the
# weights they give are the same either way. Under a tf.distribute strategy Keras'
# multi-step loop fails ("You must feed a value for placeholder tensor"), so there
# it is one step per call. Only TensorFlow compiles the steps together: JAX's trainer
# loops over them in Python (nothing gained) and PyTorch's refuses more than one.
STEPS_PER_EXECUTION = 32
# Rows whose KL divergence the progress line reports.
PROBE_ROWS = 1024

# Set by stop_at_epoch_end() (the command line's SIGINT handler). A Ctrl-C raises
# KeyboardInterrupt where Python happens to be, and once in a while that was inside
# library code that swallowed it (a bare ``except``): training went on and a model was
# written. The flag makes the interrupt stick at the end of the epoch it arrived in.
_STOP = threading.Event()


def stop_at_epoch_end():
    """Make every running fit raise KeyboardInterrupt at the end of its current epoch."""
    _STOP.set()


def clear_stop():
    """Let fits run again after :func:`stop_at_epoch_end`."""
    _STOP.clear()


def stop_requested():
    return _STOP.is_set()


@dataclasses.dataclass(frozen=True)
class TrainingPlan:
    """Where training runs and with which step: ``device`` is "CPU" or "GPU"."""

    device: str
    batch_size: int
    learning_rate: float


def plan_training(n_train, batch_size=None, learning_rate=None, strategy=None):
    """The batch for this table and device, and the learning rate that goes with it.

    ``batch_size=None``: the training rows / 64, from 500 up to the device's cap;
    ``learning_rate=None``: 1e-3 × √(batch / 500). A small table gets a smaller batch
    (:func:`effective_batch_size`), and the batch is rounded to the replicas.
    """
    device = "GPU" if distribute.gpu_count() else "CPU"
    batch = batch_size
    if batch is None:
        batch = int(np.clip(n_train // MIN_STEPS_PER_EPOCH, MIN_BATCH_ROWS, MAX_BATCH_ROWS[device]))
    rate = float(learning_rate if learning_rate is not None
                 else BASE_LEARNING_RATE * np.sqrt(max(1.0, batch / MIN_BATCH_ROWS)))
    return TrainingPlan(device, distribute.global_batch_size(effective_batch_size(batch, n_train), strategy), rate)


def effective_batch_size(batch_size, n_rows):
    """Small tables get smaller batches: a few hundred rows in one batch would give
    one optimizer step per epoch, far too few to learn anything in a few epochs."""
    return int(max(1, min(batch_size, max(16, n_rows // 20))))


def split_rows(matrix, seed):
    """Shuffle rows into training and held-out parts (no held-out part for tiny tables)."""
    n_valid = int(len(matrix) * VALIDATION_SHARE)
    if n_valid < 20:
        return matrix, None
    order = np.random.default_rng(seed).permutation(len(matrix))
    return matrix[order[n_valid:]], matrix[order[:n_valid]]


@dataclasses.dataclass
class Trained:
    """A trained network and what sampling needs from training."""

    network: object  # keras.Model, float32, outside any strategy
    sigma: np.ndarray  # learned output scale per continuous matrix column
    history: dict  # per-epoch "loss" and, with held-out rows, "val_loss"


def train(build, train_rows, valid, *, epochs, plan, patience, verbose, probe, strategy=None,
          precision="float32"):
    """Build a network with ``build()`` and fit it; keep the best held-out epoch's weights.

    Parameters
    ----------
    build : callable
        Returns a new, uncompiled network (:func:`synthvae.model.build_vae`).
    train_rows : numpy.ndarray or keras.utils.PyDataset
        The training matrix (shuffled each epoch), or a stream of batches that shuffles
        itself (:mod:`synthvae.stream`).
    valid : numpy.ndarray or None
        Held-out rows; None trains every epoch asked for.
    plan : TrainingPlan
    probe : numpy.ndarray
        A few training rows whose KL divergence the progress line reports.

    The loss may have diverged: :func:`check_converged` says so.
    """
    in_memory = isinstance(train_rows, np.ndarray)
    # stdout carries data only, and Keras prints some notices there (a TrainingError
    # says in words what went wrong).
    with distribute.training_scope(strategy, precision), contextlib.redirect_stdout(io.StringIO()):
        network = build()
        network.compile(optimizer=keras.optimizers.Adam(plan.learning_rate),
                        steps_per_execution=_steps_per_execution(strategy))
        fitted = network.fit(
            train_rows,
            batch_size=plan.batch_size if in_memory else None,
            epochs=epochs,
            shuffle=in_memory,
            verbose=0,
            callbacks=_callbacks(epochs, valid, patience, verbose, probe),
        )
    history = {k: [float(v) for v in values] for k, values in fitted.history.items()}
    if strategy is not None or precision != "float32":
        # A plain float32 copy: it saves, loads and samples like any other model.
        trained, network = network, build()
        network.set_weights(trained.get_weights())
    sigma = keras.ops.convert_to_numpy(network.get_layer("reconstruction").sigma())
    return Trained(network, np.asarray(sigma, dtype=np.float32), history)


def _steps_per_execution(strategy):
    if strategy is None and keras.backend.backend() == "tensorflow":
        return STEPS_PER_EXECUTION
    return 1


def check_converged(trained, frame, schema, plan):
    """Raise TrainingError if the loss became NaN or infinite, saying at which epoch and
    which numeric column most likely drove it."""
    losses = np.asarray(trained.history.get("loss", []), dtype=np.float64)
    if np.isfinite(losses).all():
        return
    message = (f"training diverged at epoch {int(np.argmin(np.isfinite(losses))) + 1} "
               "(the loss became NaN or infinite); no model was written. ")
    suspect = _largest_numeric_column(frame, schema)
    if suspect is not None:
        name, size = suspect
        message += (f"The numeric column with the largest values is {name!r} (up to {size:.3g}): "
                    "check it for extreme or wrongly scaled values; ")
    raise TrainingError(message + f"a smaller learning_rate (now {plan.learning_rate:.3g}) may also help")


def _largest_numeric_column(frame, schema):
    best = None
    for column in schema.columns:
        if column.kind not in ("continuous", "integer"):
            continue
        values = pd.to_numeric(frame[column.name], errors="coerce").to_numpy(np.float64, na_value=np.nan)
        values = np.abs(values[np.isfinite(values)])
        if values.size and (best is None or values.max() > best[1]):
            best = (column.name, float(values.max()))
    return best


def _callbacks(epochs, valid, patience, verbose, probe):
    """Stop on an interrupt or divergence, the held-out loss and early stopping on it when
    there are held-out rows, and the progress line if verbose."""
    callbacks = [_StopOnRequest(), _StopOnNonFiniteLoss()]
    held_out = valid is not None and len(valid)
    if held_out:
        callbacks.append(_HeldOutLoss(valid))  # before the callbacks that read val_loss
    if verbose:
        callbacks.append(_Progress(epochs, probe))
    if held_out:
        callbacks.append(keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience,
                                                       restore_best_weights=True))
    return callbacks


class _StopOnRequest(keras.callbacks.Callback):
    """Raises KeyboardInterrupt at the end of an epoch once a stop was requested."""

    def on_epoch_end(self, epoch, logs=None):
        if _STOP.is_set():
            raise KeyboardInterrupt


class _StopOnNonFiniteLoss(keras.callbacks.Callback):
    """Stops training after an epoch whose loss is NaN or infinite.

    Keras' TerminateOnNaN checks after every batch, which turns each step's loss into
    a Python number: about 4 % of an Adult epoch. A diverged run costs one epoch more
    this way, and :func:`train` reports it from the history either way.
    """

    def on_epoch_end(self, epoch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not np.isfinite(float(loss)):
            self.model.stop_training = True


class _HeldOutLoss(keras.callbacks.Callback):
    """Puts the loss on the held-out rows into the epoch's logs as ``val_loss``.

    One ``test_on_batch`` call: Keras' own per-epoch evaluation builds an epoch
    iterator and a callback list each time, which on Adult cost more (about 80 ms)
    than the forward pass itself (5 ms), 8 s over a 100-epoch fit.
    """

    def __init__(self, rows):
        super().__init__()
        self.rows = rows

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["val_loss"] = float(self.model.test_on_batch(self.rows, return_dict=True)["loss"])


class _Progress(keras.callbacks.Callback):
    """Progress on stderr: epoch, loss, held-out loss, KL of a probe batch, time left.

    On a terminal one line is rewritten in place; into a file or a pipe each epoch
    writes a line of its own, so a log keeps them all.
    """

    def __init__(self, epochs, probe):
        super().__init__()
        self.epochs = epochs
        self.probe = probe

    def on_train_begin(self, logs=None):
        self._started = time.perf_counter()
        self._in_place = sys.stderr.isatty()

    def on_epoch_begin(self, epoch, logs=None):
        self._t0 = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        from keras import ops

        logs = logs or {}
        now = time.perf_counter()
        mean, log_var = self.model.get_layer("encoder")(self.probe, training=False)
        kl = -0.5 * ops.mean(ops.sum(1.0 + log_var - ops.square(mean) - ops.exp(log_var), axis=-1))
        parts = [f"epoch {epoch + 1}/{self.epochs}", f"loss {logs.get('loss', float('nan')):.4f}"]
        if "val_loss" in logs:
            parts.append(f"held-out {logs['val_loss']:.4f}")
        parts.append(f"kl {float(ops.convert_to_numpy(kl)):.3f}")
        parts.append(f"{now - self._t0:.2f}s")
        left = (now - self._started) / (epoch + 1) * (self.epochs - epoch - 1)
        parts.append(f"at most {left:.0f}s left" if epoch + 1 < self.epochs else "done")
        line = "  ".join(parts)
        if self._in_place:
            print(f"\r{line}\x1b[K", end="", file=sys.stderr, flush=True)
        else:
            print(line, file=sys.stderr, flush=True)

    def on_train_end(self, logs=None):
        if self._in_place:
            print(file=sys.stderr, flush=True)
