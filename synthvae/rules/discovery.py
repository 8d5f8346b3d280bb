"""Find the rules that every training row obeys.

What is searched (columns of the kinds the schema names; constant and identifier
columns take part in nothing):

* **order** ``a <= b`` (``a < b`` when no row ties) between two numeric columns
  (continuous, integer, or categorical with numbers for levels, like a toll of a
  few amounts) or two datetime columns, over the rows where both are present;
* **sum** ``c = a + b (+ ...)`` exactly, or ``c >= a + b (+ ...)``, in whole units of
  the columns' decimals, with up to ``MAX_PARTS`` parts that are never negative in
  the training rows (money, counts, durations). Parts that are never negative make
  every part at most the total, so the parts of ``c`` are looked for only among the
  columns found ``<= c`` by the order search; a set of parts starts from one whose
  order with ``c`` is surprising and grows one surprising part at a time (see
  ``_sums_of``): a 200-column table takes seconds. A single part, ``c = a``, is two
  equal columns;
* **depends** ``b`` is a function of ``a`` between category (categorical or
  boolean) columns, whatever ``a``'s number of levels, missing being a level;
* **combinations** of two category columns that are not a dependency: the value
  pairs seen in fewer than ``RARE_ROWS`` (5) rows although the columns' frequencies
  would put at least ``CHANCE_BREAKS`` rows there (Adult's Husband/Female, seen
  once). They are recorded as excluded, so a generator never produces them.

Not chance. A rule must hold in every training row where its columns are present,
and be *surprising*: were its columns independent, at least ``CHANCE_BREAKS`` (30)
rows would be expected to break it. For order and sum rules the expectation is
exact (each row's value against the other side's distribution); for a dependency it
is the rows beyond the first of each level of ``a`` times the chance that two rows
differ in ``b``. No break where 30 are expected happens by chance with probability
about ``e**-30``, 1e-13 (and fewer than 5 rows where 30 are expected, 4e-9): small
enough for the million candidates of a 200-column table. This threshold is also the
support threshold: a rule over a handful of rows, between columns whose ranges do
not overlap, or towards a nearly constant column is not surprising and not kept.

Reduction, so that the rules are few and can be built in one pass over the columns:

* order: the Hasse diagram. ``a <= c`` is dropped when ``a <= b`` and ``b <= c`` are
  kept and ``b`` is present wherever ``a`` and ``c`` are (strict when either link
  is, if ``a < c``); two columns equal in every row are a one-part sum, not two
  orders;
* sum: only the largest sets of parts for a total (``c >= a + b + d`` implies
  ``c >= a + b``), an exact sum implying its subsets, and ``c >= t >= a + b``
  making ``c >= a + b`` redundant; an order ``a <= c`` (or
  ``a < c``: the sum keeps the bound, not the strictness) is dropped when a kept sum
  of ``c`` has the part ``a`` and the other parts are present wherever ``a`` and
  ``c`` are;
* depends: columns that determine each other (a one-to-one relation like Adult's
  education and education-num) form a class, whose other members depend on its first
  column; between classes, the transitive reduction (``a -> b -> c`` makes
  ``a -> c`` redundant). A column may still depend on two columns unrelated to
  each other; one-pass construction derives it from one, and the pair of the two
  sources then only takes the combinations that agree;
* combinations: looked for only between class leaders, never between a column and a
  column it determines, and an excluded pair that follows from another through a
  dependency is dropped (sex x adult_male's ``(female, True)`` from sex x who's
  ``(female, man)`` when who determines adult_male).

Not searched: dependencies on two columns together, sums with parts that can be
negative, orders between a date and a number, combinations of three columns.
"""

from __future__ import annotations

import numpy as np

from synthvae.rules.types import RARE_ROWS, Combinations, Depends, Order, Sum
from synthvae.rules.values import codes_of, column, decimals, numbers

# Were a rule's columns independent, at least this many rows should be expected to
# break it (see the module docstring): the support threshold of every rule found.
CHANCE_BREAKS = 30
# At most this many parts in a sum.
MAX_PARTS = 4
# At most this many sets of parts are tried for one total: a bound on the search
# that real tables stay far below.
MAX_SUM_SETS = 500
# Order pairs are first screened on this many rows, most pairs failing there.
SCREEN_ROWS = 512
# Rows compared at once in the order search, and columns at once in the dependency
# search (bounds their memory).
CHUNK_ROWS = 65536
TARGET_BLOCK = 16

NUMERIC_KINDS = ("continuous", "integer")
CATEGORY_KINDS = ("categorical", "boolean")


def discover(frame, schema=None):
    """The rules every row of ``frame`` obeys, reduced to a non-redundant set.

    Parameters
    ----------
    frame : pandas.DataFrame
        The training rows.
    schema : synthvae.schema.Schema, optional
        Column kinds (and datetime formats); inferred from ``frame`` when omitted.

    Returns
    -------
    list
        Rules: orders, then sums, dependencies and combinations, each group in the
        table's column order. Dependencies carry their mapping and combinations
        their excluded value pairs, learned from ``frame``.
    """
    if schema is None:
        from synthvae.schema import infer_schema

        schema = infer_schema(frame)
    names = [n for n in schema.names if any(str(c) == n for c in frame.columns)]
    kinds = {n: schema[n].kind for n in names}
    if len(frame) == 0:
        return []

    rules = []
    numeric = [n for n in names if kinds[n] in NUMERIC_KINDS or _numeric_levels(schema[n])]
    if len(numeric) >= 2:
        values = np.column_stack([numbers(column(frame, n), schema[n]) for n in numeric])
        rules += _orders_and_sums(numeric, values, with_sums=True)
    dates = [n for n in names if kinds[n] == "datetime"]
    if len(dates) >= 2:
        values = np.column_stack([numbers(column(frame, n), schema[n]) for n in dates])
        rules += _orders_and_sums(dates, values, with_sums=False)
    categories = [n for n in names if kinds[n] in CATEGORY_KINDS]
    if len(categories) >= 2:
        rules += _categories(frame, categories)
    return rules


def _numeric_levels(spec):
    """A categorical column of numbers (few distinct amounts, like tolls) is numbers too."""
    if spec.kind != "categorical":
        return False
    try:
        return np.dtype(spec.dtype).kind in "iuf"
    except TypeError:
        return False


# ------------------------------------------------------------------ order and sum


def _holds(values):
    """``holds[i, j]``: column i <= column j wherever both are present."""
    n_cols = values.shape[1]
    holds = np.zeros((n_cols, n_cols), dtype=bool)
    screen = values[:SCREEN_ROWS]
    for i in range(n_cols):
        candidates = ~np.any(screen[:, [i]] > screen, axis=0)  # NaN compares False
        candidates[i] = False
        idx = np.flatnonzero(candidates)
        for start in range(SCREEN_ROWS, len(values), CHUNK_ROWS):
            if not idx.size:
                break
            block = values[start:start + CHUNK_ROWS]
            idx = idx[~np.any(block[:, [i]] > block[:, idx], axis=0)]
        holds[i, idx] = True
    return holds


def _expected_breaks(low, high, strict):
    """Rows expected to break ``low <= high`` (``<``) were the two independent."""
    if len(low) == 0:
        return 0.0
    side = "right" if strict else "left"
    return float(np.searchsorted(np.sort(high), low, side=side).sum() / len(high))


def _orders_and_sums(names, values, with_sums):
    present = ~np.isnan(values)
    holds = _holds(values)
    equal = holds & holds.T
    n_cols = len(names)

    edges = {}  # (i, j) -> strict, the surprising orders
    for i, j in zip(*np.nonzero(holds & ~equal)):
        both = present[:, i] & present[:, j]
        low, high = values[both, i], values[both, j]
        strict = bool(np.all(low < high))
        if _expected_breaks(low, high, strict) >= CHANCE_BREAKS:
            edges[(i, j)] = strict

    def covered(col, where):
        rows = np.logical_and.reduce([present[:, w] for w in where])
        return bool(np.all(present[rows, col]))

    kept = {}
    for (i, k), strict in edges.items():
        redundant = any(
            (i, j) in edges and (j, k) in edges and covered(j, (i, k))
            and (not strict or edges[(i, j)] or edges[(j, k)])
            for j in range(n_cols)
        )
        if not redundant:
            kept[(i, k)] = strict

    sums = []
    if with_sums:
        sums = _sums(names, values, present, holds, equal, edges, covered)
        for total, parts, _ in sums:
            for part in parts:
                others = [p for p in parts if p != part]
                if (part, total) in kept and all(covered(p, (part, total)) for p in others):
                    del kept[(part, total)]

        sums = [s for s in sums if not _sum_implied(s, sums, edges, covered)]

    rules = [Order((names[i], names[j]), strict) for (i, j), strict in sorted(kept.items())]
    rules += [Sum(names[t], tuple(names[p] for p in parts), remainder)
              for t, parts, remainder in sorted(sums)]
    return rules


def _sums(names, values, present, holds, equal, edges, covered):
    places = [decimals(values[:, j]) for j in range(len(names))]
    nonnegative = [bool(present[:, j].any() and np.nanmin(values[:, j]) >= 0) for j in range(len(names))]
    found = []
    for total in range(len(names)):
        if places[total] is None:
            continue
        # c = a: two equal columns (the later one is the total).
        for a in np.flatnonzero(equal[:total, total]):
            if places[a] is None:
                continue
            c, s = _residual(total, (a,), values, present, places)
            if len(c) and _exact_breaks(c, s) >= CHANCE_BREAKS:
                found.append((total, (int(a),), "zero"))
        candidates = [a for a in range(len(names))
                      if a != total and holds[a, total] and places[a] is not None and nonnegative[a]]
        if candidates:
            found += _sums_of(total, candidates, values, present, places, edges, covered)
    return found


def _sum_implied(candidate, sums, edges, covered):
    """Whether ``c >= a + b`` follows from ``c >= t`` and ``t >= a + b (+ ...)``."""
    total, parts, remainder = candidate
    if remainder != "nonnegative":
        return False
    for other, other_parts, _ in sums:
        if (other, total) in edges and set(parts) <= set(other_parts):
            where = (total, *parts)
            if covered(other, where) and all(covered(p, where) for p in set(other_parts) - set(parts)):
                return True
    return False


def _residual(total, parts, values, present, places):
    """The total and the sum of the parts, in whole units, over the rows with all present."""
    rows = present[:, total] & np.logical_and.reduce([present[:, p] for p in parts])
    scale = 10.0 ** max(places[c] for c in (total, *parts))
    whole = np.round(values[rows][:, [total, *parts]] * scale)
    return whole[:, 0], whole[:, 1:].sum(axis=1)


def _sums_of(total, candidates, values, present, places, edges, covered):
    """The kept sums of one total, as ``(total, parts, remainder)``.

    Sets of parts grow from a part whose order with the total is surprising, one
    part at a time, a part joining only if the total still covers the sum in every
    row and the part is surprising against the room left (were it independent of
    that room, ``CHANCE_BREAKS`` rows would overflow it). A part's room only shrinks
    as others join, so every part of a grown set stays surprising: a set never
    carries a small column that fits anywhere (a count of 0 to 9 under a total in
    the hundreds).
    """
    found = []
    grown = {}  # frozenset of parts -> exact
    stack = [frozenset((a,)) for a in candidates if (a, total) in edges]
    while stack and len(grown) < MAX_SUM_SETS:
        parts = stack.pop()
        if parts in grown:
            continue
        c, s = _residual(total, tuple(parts), values, present, places)
        grown[parts] = bool(np.all(c == s))
        if len(parts) == MAX_PARTS:
            continue
        for b in candidates:
            bigger = parts | {b}
            if b in parts or bigger in grown:
                continue
            columns = (total, *sorted(parts), b)
            rows = np.logical_and.reduce([present[:, j] for j in columns])
            scale = 10.0 ** max(places[j] for j in columns)
            whole = np.round(values[rows][:, columns] * scale)
            room = whole[:, 0] - whole[:, 1:-1].sum(axis=1)
            part = whole[:, -1]
            if len(room) and np.all(part <= room) and _expected_breaks(part, room, strict=False) >= CHANCE_BREAKS:
                stack.append(bigger)

    for parts, exact in grown.items():
        if len(parts) < 2:
            continue
        implied = any(parts < other and all(covered(p, (*parts, total)) for p in other - parts)
                      for other in grown)
        if not implied:
            found.append((total, tuple(sorted(parts)), "zero" if exact else "nonnegative"))
    return found


def _exact_breaks(total, parts_sum):
    """Rows expected to break ``total = parts_sum`` were the two sides independent."""
    ordered = np.sort(total)
    ties = np.searchsorted(ordered, parts_sum, "right") - np.searchsorted(ordered, parts_sum, "left")
    return float(len(total) - ties.sum() / len(total))


# ------------------------------------------------------------ depends, combinations


def _categories(frame, names):
    series = [column(frame, n) for n in names]
    coded = [codes_of(s) for s in series]
    codes = np.column_stack([c for c, _ in coded]).astype(np.int32)
    values = [v for _, v in coded]
    levels = np.array([len(v) for v in values])
    n_rows, n_cols = codes.shape
    collision = np.array([np.sum((np.bincount(codes[:, j]) / n_rows) ** 2) for j in range(n_cols)])

    determines = np.zeros((n_cols, n_cols), dtype=bool)  # [a, b]: a determines b
    for a in range(n_cols):
        evidence = n_rows - levels[a]  # rows beyond the first of each level of a
        targets = np.flatnonzero((levels <= levels[a]) & (evidence * (1 - collision) >= CHANCE_BREAKS))
        targets = targets[targets != a]
        if not targets.size:
            continue
        order = np.argsort(codes[:, a], kind="stable")
        same = np.diff(codes[order, a]) == 0
        for start in range(0, len(targets), TARGET_BLOCK):
            some = targets[start:start + TARGET_BLOCK]
            block = codes[np.ix_(order, some)]
            changes = (block[1:] != block[:-1]) & same[:, None]
            determines[a, some[~changes.any(axis=0)]] = True

    leader = list(range(n_cols))  # each column's class leader (first of its class)
    for b in range(n_cols):
        for a in range(b):
            if determines[a, b] and determines[b, a]:
                leader[b] = leader[a]
                break
    leaders = sorted(set(leader))
    rules = [(b, leader[b]) for b in range(n_cols) if leader[b] != b]
    for a in leaders:
        for c in leaders:
            if a == c or not determines[a, c]:
                continue
            if not any(determines[a, b] and determines[b, c] for b in leaders if b not in (a, c)):
                rules.append((c, a))
    out = [Depends(names[b], names[a], _mapping(codes[:, a], codes[:, b], values[a], values[b]))
           for b, a in sorted(rules)]

    excluded = {}  # (a, b) -> {(code of a, code of b)}, both orientations
    for i, a in enumerate(leaders):
        for b in leaders[i + 1:]:
            if determines[a, b] or determines[b, a]:
                continue
            pairs = _rare_pairs(codes[:, a], codes[:, b], levels[a], levels[b])
            if pairs:
                excluded[(a, b)] = set(pairs)
                excluded[(b, a)] = {(j, i) for i, j in pairs}
    for (a, b), pairs in sorted(excluded.items()):
        if a > b:
            continue
        pairs = _not_implied(a, b, pairs, excluded, determines, codes, leaders)
        pairs = {(j, i) for i, j in _not_implied(b, a, {(j, i) for i, j in pairs}, excluded,
                                                  determines, codes, leaders)}
        if pairs:
            keys = tuple((values[a][i], values[b][j]) for i, j in sorted(pairs))
            out.append(Combinations((names[a], names[b]), excluded=keys))
    return out


def _not_implied(x, b, pairs, excluded, determines, codes, leaders):
    """The pairs ``(x value, b value)`` not implied by another excluded pair and a
    dependency: ``(female, True)`` of sex x adult_male follows from ``(female, man)``
    of sex x who when who determines adult_male (man being who's only value that
    gives True)."""
    kept = set(pairs)
    for a in leaders:
        if a in (x, b) or not determines[a, b] or (x, a) not in excluded:
            continue
        first = np.unique(codes[:, a], return_index=True)[1]
        image = codes[first, b]  # the b value each a value gives
        for vx, vb in list(kept):
            sources = np.flatnonzero(image == vb)
            if all((vx, int(va)) in excluded[(x, a)] for va in sources):
                kept.discard((vx, vb))
    return kept


def _mapping(on, col, on_values, col_values):
    """``((on value, column value), ...)`` in the order of the levels of ``on``."""
    first = np.unique(on, return_index=True)[1]
    return tuple((on_values[on[r]], col_values[col[r]]) for r in first)


def _rare_pairs(a, b, levels_a, levels_b):
    """Pairs of codes seen in fewer than RARE_ROWS rows although CHANCE_BREAKS are expected."""
    n_rows = len(a)
    count_a = np.bincount(a, minlength=levels_a)
    count_b = np.bincount(b, minlength=levels_b)
    rows_a = np.flatnonzero(count_a * count_b.max() >= CHANCE_BREAKS * n_rows)
    rows_b = np.flatnonzero(count_b * count_a.max() >= CHANCE_BREAKS * n_rows)
    if not rows_a.size or not rows_b.size:
        return []
    expected = np.outer(count_a[rows_a], count_b[rows_b]) / n_rows
    joint = a.astype(np.int64) * levels_b + b
    wanted = rows_a[:, None] * levels_b + rows_b[None, :]
    if levels_a * levels_b <= 4 * n_rows:
        observed = np.bincount(joint, minlength=levels_a * levels_b)[wanted]
    else:
        keys, seen = np.unique(joint, return_counts=True)
        pos = np.clip(np.searchsorted(keys, wanted), 0, len(keys) - 1)
        observed = np.where(keys[pos] == wanted, seen[pos], 0)
    hits = np.argwhere((expected >= CHANCE_BREAKS) & (observed < RARE_ROWS))
    return [(int(rows_a[i]), int(rows_b[j])) for i, j in hits]
