"""Shards of one sample: rows ``N*(i-1)//k`` to ``N*i//k`` of ``sample(N, seed)``.

Shards are numbered from 1 (``1/4`` .. ``4/4``), as job arrays and most people count.
Because the sampler seeds each chunk of rows by (seed, chunk number), a shard made on
its own machine holds exactly the rows the whole sample has at those positions, so the
k shards concatenated in order are the whole sample.
"""

from __future__ import annotations

import re

from synthvae.errors import InputTypeError, UsageError

_SHARD = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


def parse_shard(text):
    """Read ``"i/k"`` (1-based) into ``(i, k)``; a UsageError says what is wrong."""
    match = _SHARD.match(str(text))
    if match is None:
        raise UsageError(f"--shard must look like i/k with whole numbers (e.g. 1/4), got {text!r}")
    return check_shard((int(match.group(1)), int(match.group(2))))


def check_shard(shard):
    """Check a ``(i, k)`` pair: k >= 1 and 1 <= i <= k."""
    try:
        index, count = shard
    except (TypeError, ValueError):
        raise InputTypeError(f"shard must be a pair (i, k), got {shard!r}") from None
    for value in (index, count):
        if isinstance(value, bool) or not isinstance(value, int) and not hasattr(value, "__index__"):
            raise InputTypeError(f"shard must be a pair of whole numbers (i, k), got {shard!r}")
    index, count = int(index), int(count)
    if count < 1:
        raise UsageError(f"the number of shards k must be 1 or more, got {count}")
    if not 1 <= index <= count:
        raise UsageError(f"shard i must be between 1 and k={count} (shards count from 1), got {index}")
    return index, count


def shard_bounds(n, shard):
    """Rows ``[start, stop)`` of shard ``(i, k)`` of ``n`` rows; sizes differ by at most one."""
    index, count = check_shard(shard)
    return n * (index - 1) // count, n * index // count
