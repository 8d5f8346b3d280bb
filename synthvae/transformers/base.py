"""The interface every column transformer shares, and the layout it declares.

A transformer turns some table columns into a block of matrix columns and back, in
the conventions of scikit-learn and RDT: ``fit`` learns, ``transform`` encodes,
``inverse_transform`` decodes, ``get_state`` / ``from_state`` keep the learned state
as JSON. It declares the layout of its block as ``spans`` and, for conditional
sampling, answers in its own terms how a value or a range of values maps into that
block, so no caller needs to know which class it is.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd


@dataclasses.dataclass(frozen=True)
class Span:
    """A run of matrix columns that belongs to one table column.

    ``kind`` is ``"continuous"`` (one real value per matrix column) or ``"softmax"``
    (a one-hot group: exactly one of ``width`` columns is 1). A transformer that writes
    several table columns labels its spans with the first of them.
    """

    column: str
    kind: str
    start: int
    width: int

    @property
    def stop(self):
        return self.start + self.width


@dataclasses.dataclass
class LevelSelection:
    """The slots of one softmax group that a set of allowed values selects."""

    span: Span
    slots: set
    # Share of the pooled rare slot's mass that is allowed (1: all of it or none).
    rare_share: float = 1.0
    # (allowed pooled values, their weights) when only some pooled values are allowed:
    # a row that takes the rare slot draws among these.
    pooled: tuple | None = None


class ColumnTransformer:
    """Base class of the column transformers: the interface, with its defaults.

    Layout and data
    ---------------
    columns : tuple of str
        The table columns it writes (one, today). Set by :class:`TableTransformer` when
        it makes or loads the transformer; a transformer used on its own has none.
    inputs : tuple of str
        Other table columns it reads to write its own (a derived column reads its
        source): ``fit`` gets them after its own column, ``inverse_transform`` gets
        them already decoded, by name, in ``decoded``.
    spans : tuple of (kind, width)
        Its block of the matrix, span by span (see :class:`Span`).
    positional : bool
        Whether what it writes depends on the rows' positions in the whole sample,
        given as ``row_offset`` (regenerated running numbers do).
    fit(series, *inputs) -> self
    transform(series, *inputs) -> float32 array, its block
    inverse_transform(block, rng=None, row_offset=0, decoded=None, codes=None) -> Series
        Where a value must be drawn (a pooled rare level) it is drawn with ``rng``.
        ``codes``, when the caller drew the levels: one entry per span of its block,
        the level index of each row (an int array) for a softmax span, None for a
        continuous one. Without them a softmax span's level is its largest entry;
        with them, no one looks for it in the block again (see :func:`span_levels`).
    inverse_levels(block, rng=None, row_offset=0, decoded=None, codes=None, levels=None) -> (positions, table)
        Optional, for category columns: the rows ``inverse_transform`` writes, as
        positions (an int array) in a table of values (an object array), so that what
        follows works once per value, not once per row. ``levels`` holds the category
        columns decoded so far in this form, by name, for one that reads another.
    get_state() -> dict; from_state(state) -> transformer
        What it learned, as JSON-able values, and a transformer made from that.

    Conditions
    ----------
    condition_type : {"levels", "range", "fixed", None}
        How a condition on its column is met, and so which questions it answers:

        - ``"levels"``, a set of known values. ``known_values()``: the values, for
          messages and to compare numbers with; ``match_value(value)``: the known
          values a condition value may mean; ``select_levels(allowed, table)``: the
          :class:`LevelSelection` that the values with level keys ``allowed`` make in
          the table's layout (a derived column answers with its source's).
        - ``"range"``, an interval of numbers (dates as seconds since the epoch).
          ``value_range()``: (smallest, largest) value written; ``indicator_span()``:
          index among its spans of the (present, missing) group, None when never
          missing; ``monotone_span()``: index of the continuous span whose value alone
          sets the written value, monotonically, None when there is none;
          ``scores_to_numbers(scores)``: the numbers written for values of that span.
        - ``"fixed"``, one value in every row. ``known_values()``: [the value];
          ``match_value(value)``: [the value] when ``value`` means it, else [].
        - None: no condition can be met, for the reason ``condition_refusal`` gives.
    """

    columns = ()
    inputs = ()
    spans = ()
    positional = False
    condition_type = None
    condition_refusal = "its values are not learned"

    def fit(self, series, *inputs):
        raise NotImplementedError

    def transform(self, series, *inputs):
        raise NotImplementedError

    def inverse_transform(self, block, rng=None, row_offset=0, decoded=None, codes=None):
        raise NotImplementedError

    def get_state(self):
        raise NotImplementedError

    @classmethod
    def from_state(cls, state):
        raise NotImplementedError


class EmptyBlock:
    """For transformers that write their column from what they learned alone: a block
    of no matrix columns."""

    spans = ()

    def transform(self, series, *inputs):
        return np.zeros((len(series), 0), dtype=np.float32)


# The key of a missing value among levels: one key for None, NaN and NA alike.
MISSING_KEY = "\x00<missing>"


def plain(value):
    """A JSON-able Python scalar (NaN -> None)."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def level_key(value):
    """What a level is compared by: its plain value, :data:`MISSING_KEY` when missing."""
    value = plain(value)
    return MISSING_KEY if value is None else value


def span_levels(block, codes=None, index=0, start=0, width=None):
    """The level of each row in softmax span number ``index`` of a transformer's block,
    which occupies ``width`` matrix columns from ``start`` (all of the block when
    ``width`` is None): as drawn when ``codes`` has it, else the largest entry."""
    if codes is not None and codes[index] is not None:
        return codes[index]
    return np.argmax(block if width is None else block[:, start : start + width], axis=1)
