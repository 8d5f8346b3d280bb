"""Training on more devices or in lower precision: tf.distribute strategies and
Keras mixed precision, as one context that ``SynthVAE.fit`` enters around training.

Both change only how the weights are learned. After training the weights are copied
into a plain float32 model built outside any strategy, so the saved model loads and
samples like any other (under the default dtype policy, on any machine).

TensorFlow is imported only here and only when a strategy is asked for: the rest of
synthvae stays backend-neutral.
"""

from __future__ import annotations

import contextlib
import json
import os

from synthvae.errors import UsageError

STRATEGIES = (None, "mirrored", "multiworker")
PRECISIONS = ("float32", "mixed")


def check_options(strategy, precision):
    if strategy not in STRATEGIES:
        raise UsageError(f"strategy must be None, 'mirrored' or 'multiworker', got {strategy!r}")
    if precision not in PRECISIONS:
        raise UsageError(f"precision must be 'float32' or 'mixed', got {precision!r}")


def _tensorflow():
    import keras

    if keras.backend.backend() != "tensorflow":
        raise UsageError(
            f"a distribution strategy needs the TensorFlow backend of Keras; KERAS_BACKEND is "
            f"{keras.backend.backend()!r} (unset it or set it to 'tensorflow')"
        )
    import tensorflow as tf

    return tf


def make_strategy(name):
    """Create the ``tf.distribute`` strategy called ``name`` (None for Keras' default).

    Create it before anything else runs on TensorFlow: MultiWorkerMirroredStrategy
    must set up its collective ops before the runtime starts.
    """
    if name is None:
        return None
    tf = _tensorflow()
    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        # Without a GPU, mirror over the CPU devices: one normally, several when a
        # program split the CPU into logical devices (as the tests do).
        devices = [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]
        return tf.distribute.MirroredStrategy(devices=devices)
    if not os.environ.get("TF_CONFIG"):
        raise UsageError(
            "--strategy multiworker needs TF_CONFIG: a JSON cluster spec naming every worker and this "
            "process's task (see 'Distributed training' in the README)"
        )
    try:
        json.loads(os.environ["TF_CONFIG"])
    except ValueError:
        raise UsageError("TF_CONFIG is not valid JSON") from None
    return _multi_worker_class(tf)()


def _multi_worker_class(tf):
    class ScalarSafeMultiWorkerMirroredStrategy(tf.distribute.MultiWorkerMirroredStrategy):
        """MultiWorkerMirroredStrategy that reduces scalars without an axis.

        Keras 3's fit reduces every logged value with ``reduce("MEAN", v, axis=0)`` in
        multi-worker mode, which fails for scalar losses with "Invalid reduction dimension
        0 for input with 0 dimensions" (tensorflow/tensorflow#72388). A scalar has
        nothing to reduce along, so the axis is dropped for it.
        """

        def reduce(self, reduce_op, value, axis):
            if axis is not None:
                local = self.experimental_local_results(value)
                if local and getattr(local[0], "shape", None) is not None and local[0].shape.rank == 0:
                    axis = None
            return super().reduce(reduce_op, value, axis)

    return ScalarSafeMultiWorkerMirroredStrategy


def is_chief(strategy):
    """Whether this process writes results: always, except on multi-worker non-chiefs.

    The chief is the task of type "chief" or, when the cluster has none, worker 0.
    """
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    if resolver.task_type == "chief":
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return resolver.task_type == "worker" and resolver.task_id == 0 and not has_chief


def gpu_count():
    """How many GPUs Keras' backend (TensorFlow, JAX or PyTorch) trains on."""
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return len(tf.config.list_physical_devices("GPU"))
    if backend == "jax":
        import jax

        return sum(device.platform == "gpu" for device in jax.devices())
    if backend == "torch":
        import torch

        return torch.cuda.device_count()
    return 0


def mixed_policy_name():
    """float16 where a GPU computes it fast; bfloat16 on the CPU (float16 is slow there)."""
    return "mixed_float16" if gpu_count() else "mixed_bfloat16"


def replicas(strategy):
    return 1 if strategy is None else int(strategy.num_replicas_in_sync)


def global_batch_size(batch_size, strategy):
    """Round the batch to a multiple of the replicas, so every replica gets an equal share
    (MirroredStrategy fails on a batch it cannot split evenly)."""
    n = replicas(strategy)
    return max(n, batch_size - batch_size % n)


@contextlib.contextmanager
def training_scope(strategy, precision):
    """Build, compile and fit inside this: the strategy's scope and the dtype policy.

    The global dtype policy is restored on the way out, whatever happens, so models
    built later are not affected.
    """
    import keras

    previous = keras.config.dtype_policy()
    try:
        if precision == "mixed":
            keras.config.set_dtype_policy(mixed_policy_name())
        with strategy.scope() if strategy is not None else contextlib.nullcontext():
            yield
    finally:
        keras.config.set_dtype_policy(previous)
