"""Keras and its backend as synthvae uses them: imported late and quietly, seeded once.

Importing TensorFlow takes seconds and prints start-up chatter, so nothing imports
Keras at module level except the network itself (``synthvae.model``), and everything
that needs it goes through :func:`import_keras` first. Only training needs it (the
``train`` extra installs it): sampling decodes in NumPy.

What a fit changes in the process, and why (``seeded`` restores the rest):

- TensorFlow's global seed (``tf.random.set_seed``) and op determinism
  (``tf.config.experimental.enable_op_determinism``) stay set after ``fit``: the same
  seed must give the same weights, and TensorFlow offers no way to read back or undo
  either setting.
- Python's ``random`` and NumPy's global generator, which Keras seeds along with
  TensorFlow's, are put back as they were.

Under Keras' JAX or PyTorch backend nothing here needs TensorFlow; Keras' seeding
still imports and seeds it when it is installed (for tf.data pipelines).
"""

from __future__ import annotations

import contextlib
import os
import random
import sys

import numpy as np


def import_keras():
    """Import Keras with TensorFlow's start-up chatter silenced.

    TF_CPP_MIN_LOG_LEVEL covers most of it, but a few lines (oneDNN, CUDA probing)
    are written before TensorFlow reads it, so stderr is closed while importing.
    SYNTHVAE_DEBUG=1 leaves it open.
    """
    if "keras" in sys.modules:
        return sys.modules["keras"]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        if os.environ.get("SYNTHVAE_DEBUG"):
            import keras

            return keras
        with stderr_closed(), unused_packages_skipped():
            import keras
    except ImportError as exc:
        from synthvae.errors import NotInstalledError

        raise NotInstalledError(
            f"training needs TensorFlow and Keras, which this installation lacks ({exc}); "
            'install them with: pip install "synthvae[train]" (sampling works without them)'
        ) from None
    return keras


# Packages that Keras and TensorFlow import on start-up when they are installed, for
# features training never uses: plotting (matplotlib), notebook display (IPython) and,
# under TensorFlow, TF Lite's JAX conversion (jax). Together about 1.3 CPU seconds of the
# 5 to 6 that importing Keras takes. Both libraries import them in a
# ``try``/``except ImportError``, and these few features stay off in that process.
UNUSED_PACKAGES = ("matplotlib", "IPython")
UNUSED_UNDER_TENSORFLOW = ("jax",)


@contextlib.contextmanager
def unused_packages_skipped():
    """Make importing the unused packages fail meanwhile (a None entry in sys.modules),
    unless they are imported already; they import normally again afterwards."""
    names = UNUSED_PACKAGES + (UNUSED_UNDER_TENSORFLOW if backend_chosen() == "tensorflow" else ())
    skipped = [name for name in names if name not in sys.modules]
    for name in skipped:
        sys.modules[name] = None
    try:
        yield
    finally:
        for name in skipped:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]


def backend_chosen():
    """The backend Keras will load, as it decides (KERAS_BACKEND, else the ``backend``
    of its keras.json, else TensorFlow); None when unsure."""
    if os.environ.get("KERAS_BACKEND"):
        return os.environ["KERAS_BACKEND"]
    import json

    homes = [os.environ["KERAS_HOME"]] if os.environ.get("KERAS_HOME") else [
        os.path.join(os.path.expanduser("~"), ".keras"), os.path.join("/tmp", ".keras")]
    for home in homes:
        try:
            with open(os.path.join(home, "keras.json")) as file:
                return json.load(file).get("backend", "tensorflow")
        except FileNotFoundError:
            continue
        except (OSError, ValueError, AttributeError):
            return None
    return "tensorflow"


@contextlib.contextmanager
def stderr_closed():
    """Send whatever is written to file descriptor 2 to /dev/null meanwhile."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield saved
    finally:
        os.dup2(saved, 2)
        os.close(saved)


@contextlib.contextmanager
def native_logs_silenced():
    """Silence what TensorFlow's C++ runtime writes to stderr, but not Python's stderr.

    The runtime logs through its own channel, which TF_CPP_MIN_LOG_LEVEL reaches only
    when it is set before TensorFlow is first imported: a caller who imported Keras
    first sees ``E0000 ... NodeDef mentions attribute use_unbounded_threadpool`` as a
    fit starts its data pipeline. File descriptor 2 goes to /dev/null meanwhile, and
    when ``sys.stderr`` writes to that descriptor it is pointed at a copy of it, so
    progress lines and warnings still arrive. SYNTHVAE_DEBUG=1 leaves it all open.
    """
    if os.environ.get("SYNTHVAE_DEBUG"):
        yield
        return
    python_stderr = sys.stderr
    try:
        on_fd2 = python_stderr.fileno() == 2
    except (AttributeError, OSError, ValueError):
        on_fd2 = False  # captured (a test runner, a notebook): fd 2 is not Python's
    with stderr_closed() as saved:
        if not on_fd2:
            yield
            return
        sys.stderr = os.fdopen(os.dup(saved), "w", buffering=1, encoding=python_stderr.encoding,
                               errors=python_stderr.errors)
        try:
            yield
        finally:
            sys.stderr.close()
            sys.stderr = python_stderr


@contextlib.contextmanager
def seeded(seed):
    """Seed Keras' backend for reproducible training; restore Python's and NumPy's
    global generators on the way out (see the module docstring)."""
    with global_generators_kept():
        keras = import_keras()
        keras.utils.set_random_seed(seed)
        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            tf.config.experimental.enable_op_determinism()
        yield


@contextlib.contextmanager
def global_generators_kept():
    """Put Python's ``random`` and NumPy's global generator back as they were on the way
    out. Importing TensorFlow for the first time in a process draws from ``random``, so
    a fit keeps them from its very start."""
    python_state, numpy_state = random.getstate(), np.random.get_state()
    try:
        yield
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)


def resolve_seed(random_state):
    """A whole-number seed: the one given, or fresh entropy for None."""
    from synthvae.errors import UsageError

    if random_state is None:
        return int(np.random.default_rng().integers(2**31 - 1))
    if not isinstance(random_state, (int, np.integer)) or isinstance(random_state, bool):
        raise UsageError(f"random_state must be a whole number or None, got {random_state!r}")
    return int(random_state)
