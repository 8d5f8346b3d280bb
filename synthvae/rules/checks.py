"""Rules against data: declared rules the data must obey, rules found in a sample
kept only where the whole table obeys them, lists of rules as JSON, and the column
order in which rules can be made true one column at a time."""

from __future__ import annotations

import dataclasses
import heapq

import numpy as np
import pandas as pd

from synthvae.errors import DataError
from synthvae.rules.types import Combinations, Depends, Order, Sum, rule_from_dict
from synthvae.rules.values import column


def rules_to_dicts(rules):
    """The JSON form of a list of rules."""
    return [rule.to_dict() for rule in rules]


def rules_from_dicts(objs):
    """The rules a list of JSON objects declares (DataError naming the first bad one)."""
    if not isinstance(objs, list):
        raise DataError("rules are a list of objects")
    return [rule_from_dict(obj) for obj in objs]


def rules_that_hold(rules, frames, schema=None):
    """The rules of ``rules`` (found in a sample of a table) that hold in the whole
    table, given as ``frames``, its rows in parts (chunks read in turn).

    A rule that some row breaks is dropped; a combinations rule keeps the excluded
    combinations that fewer than its ``min_rows`` rows of the table hold (a near-rule
    stays one), and is dropped when none is left.
    """
    rules = list(rules)
    combos = {i: {c: 0 for c in rule.excluded} for i, rule in enumerate(rules)
              if isinstance(rule, Combinations) and rule.excluded and rule.allowed is None}
    broken = set()
    for frame in frames:
        for i, rule in enumerate(rules):
            if i in broken:
                continue
            if i in combos:
                for combo in combos[i]:
                    one = dataclasses.replace(rule, excluded=(combo,))
                    combos[i][combo] += int(one.violations(frame, schema).sum())
            elif rule.violations(frame, schema).any():
                broken.add(i)
    kept = []
    for i, rule in enumerate(rules):
        if i in combos:
            rare = tuple(c for c, rows in combos[i].items() if rows < rule.min_rows)
            if rare:
                kept.append(rule if len(rare) == len(rule.excluded) else dataclasses.replace(rule, excluded=rare))
        elif i not in broken:
            kept.append(rule)
    return kept


def check_declared(frame, rules, schema=None):
    """Raise DataError unless every row of ``frame`` obeys every rule.

    The message names the rule, the first breaking row (1-based, as rows of data
    after the header) with its values in the rule's columns, and how many rows break it.
    A combination that a combinations rule excludes may be held by fewer than its
    ``min_rows`` rows: the exceptions of a near-rule, which are kept in the data and
    left out of what is generated.

    Parameters
    ----------
    frame : pandas.DataFrame
    rules : list
        Rules, as :func:`synthvae.rules.rule_from_dict` makes them.
    schema : synthvae.schema.Schema, optional
        Tells datetime columns and their formats.
    """
    for rule in rules:
        for name in rule.columns:
            try:
                column(frame, name)
            except DataError:
                raise DataError(f"the rule {rule.describe()!r} names {name!r}, which the data lacks") from None
        if isinstance(rule, Combinations):
            broken = rule.violations(frame, schema, rare_ok=True)
        else:
            broken = rule.violations(frame, schema)
        if broken.any():
            row = int(np.argmax(broken))
            values = ", ".join(f"{name}={_shown(column(frame, name).iloc[row])}" for name in rule.columns)
            count = int(broken.sum())
            others = f" ({count} rows break it)" if count > 1 else ""
            raise DataError(f"the data breaks the rule {rule.describe()!r} in row {row + 1}: {values}{others}")


def _shown(value):
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "missing"
    return repr(value.item() if isinstance(value, np.generic) else value)


def construction_order(rules, columns):
    """Columns in an order where every rule can be made true by its last column.

    An order makes each column come after the ones it is at least (or at most)
    compared with, a sum's total after its parts, a dependent column after the column
    it depends on, and a combination's columns in the table's order. Among columns
    free to go anywhere, the table's order is kept.

    Raises
    ------
    DataError
        The rules go round in a circle (``a <= b``, ``b <= a`` ...).
    """
    position = {name: i for i, name in enumerate(columns)}
    after = {name: set() for name in columns}
    for rule in rules:
        if isinstance(rule, Order):
            links = zip(rule.columns, rule.columns[1:])
        elif isinstance(rule, Sum):
            links = ((part, rule.total) for part in rule.parts)
        elif isinstance(rule, Depends):
            links = [(rule.on, rule.column)]
        elif isinstance(rule, Combinations):
            ordered = sorted(rule.columns, key=lambda n: position.get(n, len(position)))
            links = zip(ordered, ordered[1:])
        else:
            links = ()
        for before, later in links:
            if before not in position or later not in position:
                missing = before if before not in position else later
                raise DataError(f"the rule {rule.describe()!r} names {missing!r}, which is not a column")
            after[before].add(later)
    waiting = {name: 0 for name in columns}
    for name in columns:
        for later in after[name]:
            waiting[later] += 1
    ready = [position[n] for n in columns if waiting[n] == 0]
    heapq.heapify(ready)
    out = []
    while ready:
        name = columns[heapq.heappop(ready)]
        out.append(name)
        for later in after[name]:
            waiting[later] -= 1
            if waiting[later] == 0:
                heapq.heappush(ready, position[later])
    if len(out) < len(columns):
        stuck = [n for n in columns if waiting[n] > 0]
        raise DataError(f"the rules go round in a circle through {', '.join(stuck)}")
    return out
