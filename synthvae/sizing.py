"""Parameters that follow the table's size: what a fit uses for each one left at None.

A table of a few hundred rows gives the network a few optimizer steps an epoch and
little to learn from, so the settings tuned on Adult (32,561 rows) do not carry over:
:func:`resolve` moves each setting left at None from its small-table value (at
:data:`SMALL_ROWS` rows and below) to its large-table value (at :data:`LARGE_ROWS`
and above) along the logarithm of the rows. Tables of :data:`LARGE_ROWS` rows or more
get the large-table values, the defaults tuned on Adult. A value the user gave is
kept as given.
"""

from __future__ import annotations

import math

SMALL_ROWS = 1_000
LARGE_ROWS = 5_000

# name: (small-table value, large-table value). Widths are rounded to multiples of 16,
# counts to whole numbers. A small table's held-out part is a few dozen rows, so its loss
# is noisy: with patience 20 a 200-row sample of Adult stopped after 35 to 94 epochs and
# its rows' ML efficacy swung from 0.45 to 0.75 over three seeds; training longer and
# with a weaker KL term (z carries more of each row) steadied it (BENCHMARKS.md). Capacity
# and the prior stay as tuned on Adult: the prior already takes one component per 50 rows.
# The encoder has one hidden layer: a second one cost about a sixth of each training step and
# made no row better on the benchmark's tables (BENCHMARKS.md, "what we tried").
VALUES = {
    "epochs": (300, 100),
    "patience": (40, 20),
    "latent_dim": (16, 16),
    "hidden": ((192, 192), (192, 192)),
    "encoder_hidden": ((192,), (192,)),
    "beta": (0.2, 0.5),
    "prior_components": (600, 600),
}
SIZED = tuple(VALUES)


def size_share(n_rows):
    """0 for a small table, 1 for a large one, log-linear between."""
    if n_rows <= SMALL_ROWS:
        return 0.0
    if n_rows >= LARGE_ROWS:
        return 1.0
    return math.log(n_rows / SMALL_ROWS) / math.log(LARGE_ROWS / SMALL_ROWS)


def _between(small, large, share):
    if isinstance(small, tuple):
        return tuple(int(16 * round((a + share * (b - a)) / 16)) for a, b in zip(small, large))
    value = small + share * (large - small)
    return float(round(value, 3)) if isinstance(large, float) else int(round(value))


def resolve(params, n_rows):
    """Each sized parameter's value for a table of ``n_rows`` rows: ``params``' own when
    it is not None, else the size rule's. A private fit (``epsilon``) takes the
    large-table values whatever its size: its noise is planned for a fixed training.

    Returns
    -------
    dict
        Every name in :data:`SIZED` with the value the fit uses.
    """
    share = 1.0 if params.get("epsilon") is not None else size_share(n_rows)
    return {name: params[name] if params.get(name) is not None else _between(*VALUES[name], share)
            for name in SIZED}
