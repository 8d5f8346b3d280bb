"""What keeps the costlier figures fast and repeatable: seeded row samples and one thread.

Every random choice is seeded with ``SEED``, so the same inputs always give the same
figures.
"""

from __future__ import annotations

import contextlib

import numpy as np

SEED = 0

# The models' OpenMP threads and the distance products' BLAS threads are pinned to
# one. On tables of this size a second thread gains little on an idle machine, and
# when other processes compete for the cores (generators training alongside, a test
# runner) spinning OpenMP threads made the same fits 5-15x slower.
MODEL_THREADS = 1


def sample_rows(rng, n, cap):
    """Sorted positions of at most ``cap`` of ``n`` rows, drawn without replacement."""
    if n <= cap:
        return np.arange(n)
    return np.sort(rng.choice(n, size=cap, replace=False))


def single_threaded():
    """Context capping OpenMP and BLAS threads at MODEL_THREADS (no-op without threadpoolctl)."""
    try:
        from threadpoolctl import threadpool_limits  # a dependency of scikit-learn
    except ImportError:  # pragma: no cover
        return contextlib.nullcontext()
    return threadpool_limits(limits=MODEL_THREADS)
