"""Categories: text, booleans and numbers with few values, as one-hot groups, and
categorical columns looked up from another column they are a function of.

A condition on such a column is a set of its known values. The columns answer it
in their own terms: which values they know, which of them a condition value means,
and which slots of which softmax group a set of allowed values selects.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from synthvae.transformers import learned
from synthvae.transformers.base import (MISSING_KEY, ColumnTransformer, EmptyBlock, LevelSelection, level_key, plain,
                                        span_levels)

# Categories beyond this many are pooled into one "rare" level (drawn back from the
# pooled values' frequencies) so a 300k-level column never becomes a 300k-wide softmax.
MAX_LEVELS = 500
# A source with more levels than this, or with fewer rows per level than this,
# could "determine" another column by chance.
_DERIVED_MAX_SOURCE_LEVELS = 100
_DERIVED_MIN_ROWS_PER_LEVEL = 10


class LevelColumn(ColumnTransformer):
    """What the transformers of columns with a set of known values share: how a
    condition value is matched to one of them."""

    condition_type = "levels"

    def known_values(self):
        """The values the column takes, most frequent first where that is known."""
        raise NotImplementedError

    def match_value(self, value):
        """The known values ``value`` may mean: the exact value, else those written as
        its text, else those written as its text with surrounding spaces ignored
        (" Female" for "Female"). One value is a match; several, an ambiguity."""
        known = self.known_values()
        key = level_key(value)
        for level in known:
            if level_key(level) == key and type(plain(level)) is type(plain(value)):
                return [level]
        for level in known:
            if level_key(level) == key:
                return [level]
        text = str(value)
        for compare in (str, str.strip):
            hits = [lv for lv in known if lv is not None and compare(_level_text(lv)) == compare(text)]
            if hits:
                return hits
        return []

    def select_levels(self, allowed, table):
        """The :class:`LevelSelection` that the values with level keys ``allowed``
        (see :func:`level_key`) make in ``table``'s layout."""
        raise NotImplementedError


def _level_text(value):
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


class CategoricalTransformer(LevelColumn):
    """Categories (text, booleans, numbers with few levels) <-> a one-hot group.

    A missing value is a level of its own, so missingness is learned jointly with the
    rest of the row. Levels beyond ``max_levels`` are pooled into one rare level, the
    last slot of the group; a value it has not seen, or one the learning policy
    withheld (see :mod:`.learned`), is encoded there too, never as a known level.

    ``unseen_slot``: keep that last slot even when nothing is pooled, for a column
    learned from a sample of a table whose other rows may hold values the sample lacks
    (a streamed table). The slot is decoded as the row's most likely known level.
    ``missing_level``: a missing level even when the sample has no gap (the table has).
    """

    def __init__(self, max_levels=MAX_LEVELS, unseen_slot=False, missing_level=False):
        self.max_levels = max_levels
        self.unseen_slot = unseen_slot
        self.missing_level = missing_level

    @property
    def spans(self):
        return (("softmax", len(self.levels_) + (1 if self.pooled_ or self.spare_slot_ else 0)),)

    def fit(self, series):
        self.levels_, self.pooled_, self.pooled_weights_, withheld = learned.levels(series, self.max_levels)
        if self.missing_level and None not in self.levels_ + self.pooled_:
            self.levels_.append(None)
        if not self.levels_:
            # Every value withheld: the rows are written as gaps, never as a value.
            self.levels_ = [None]
        # Withheld values' rows are encoded in the last slot and written as kept values
        # (a pooled one where there are, else the row's most likely level).
        self.spare_slot_ = self.unseen_slot or withheld
        return self

    def _codes(self, series):
        lookup = pd.Index([level_key(v) for v in self.levels_], dtype=object)
        keys = series.astype(object).where(series.notna(), MISSING_KEY)
        codes = lookup.get_indexer(keys)
        return np.where(codes < 0, len(self.levels_), codes)  # unseen or pooled -> rare slot

    def transform(self, series):
        codes = self._codes(series)
        out = np.zeros((len(series), self.spans[0][1]), dtype=np.float32)
        # Without a rare slot every value was seen in fitting (the codes stay in range).
        out[np.arange(len(series)), np.minimum(codes, out.shape[1] - 1)] = 1.0
        return out

    def inverse_transform(self, block, rng=None, row_offset=0, decoded=None, codes=None):
        positions, table = self.inverse_levels(block, rng, row_offset, decoded, codes)
        return pd.Series(table[positions], dtype=object)

    def inverse_levels(self, block, rng=None, row_offset=0, decoded=None, codes=None, levels=None):
        """The rows :meth:`inverse_transform` writes, as positions in a table of values
        (see :class:`~synthvae.transformers.base.ColumnTransformer`): its levels, the gap,
        then the pooled values."""
        codes = span_levels(block, codes)
        n_levels = len(self.levels_)
        table = np.array(self.levels_ + [None] + self.pooled_, dtype=object)
        positions = np.minimum(codes, n_levels)
        rare = codes >= n_levels
        if rare.any():
            if not self.pooled_:
                # The slot of unseen values: the row's most likely known level (looked
                # for in those rows alone).
                positions[rare] = np.argmax(block[rare, :n_levels], axis=1)
            elif rng is None:
                positions[rare] = n_levels + 1
            else:
                positions[rare] = n_levels + 1 + rng.choice(len(self.pooled_), int(rare.sum()), p=self.pooled_weights_)
        return positions, table

    def get_state(self):
        state = {"levels": self.levels_, "pooled": self.pooled_, "pooled_weights": self.pooled_weights_}
        if self.spare_slot_:
            state["unseen_slot"] = True
        return state

    @classmethod
    def from_state(cls, state):
        self = cls(unseen_slot=bool(state.get("unseen_slot", False)))
        self.spare_slot_ = self.unseen_slot
        self.levels_ = list(state["levels"])
        self.pooled_ = list(state["pooled"])
        self.pooled_weights_ = list(state["pooled_weights"])
        return self

    def known_values(self):
        return list(self.levels_) + list(self.pooled_)

    def select_levels(self, allowed, table):
        slots = {i for i, level in enumerate(self.levels_) if level_key(level) in allowed}
        pool = [(v, w) for v, w in zip(self.pooled_, self.pooled_weights_) if level_key(v) in allowed]
        selection = LevelSelection(table.spans_for(self)[0], slots)
        if pool:
            slots.add(len(self.levels_))
            if len(pool) < len(self.pooled_):
                selection.pooled = ([v for v, _ in pool], np.array([w for _, w in pool]))
                selection.rare_share = float(sum(w for _, w in pool))
        return selection


class DerivedTransformer(EmptyBlock, LevelColumn):
    """A categorical column that is an exact function of another one in the training
    data (education -> education-num, class -> pclass): not learned, looked up from
    its source column's value, so the relation holds in every generated row.

    Drawing both columns independently from their softmaxes would break such a
    relation in a share of rows, and every broken row is an obvious fake.
    """

    def __init__(self, source=None, mapping=()):
        self.source = source
        self.mapping = list(mapping)

    @property
    def inputs(self):
        return (self.source,)

    def fit(self, series, source_series):
        self.mapping = learned.lookup(series, source_series)
        return self

    def inverse_transform(self, block, rng=None, row_offset=0, decoded=None, codes=None):
        positions, table = self.inverse_levels(block, rng, row_offset, decoded, codes)
        return pd.Series(table[positions], dtype=object)

    def inverse_levels(self, block, rng=None, row_offset=0, decoded=None, codes=None, levels=None):
        """The rows as positions in the table of looked-up values (the value for a
        missing or unknown source last). A source given in ``levels`` is looked up once
        per value of its table, not once per row."""
        present = [(a, b) for a, b in self.mapping if a is not None]
        when_missing = next((b for a, b in self.mapping if a is None), None)
        keys = pd.Index([a for a, _ in present], dtype=object)
        targets = np.array([b for _, b in present] + [when_missing], dtype=object)
        source = (levels or {}).get(self.source)
        if source is None:
            found = keys.get_indexer(pd.Series(decoded[self.source], dtype=object))
            return np.where(found < 0, len(present), found), targets
        source_positions, source_values = source
        found = keys.get_indexer(pd.Series(source_values, dtype=object))
        return np.where(found < 0, len(present), found)[source_positions], targets

    def get_state(self):
        return {"source": self.source, "mapping": self.mapping}

    @classmethod
    def from_state(cls, state):
        return cls(state["source"], state["mapping"])

    def known_values(self):
        return list(dict.fromkeys(b for _, b in self.mapping))

    def select_levels(self, allowed, table):
        """The source column's selection: the source values that map to an allowed value."""
        source_allowed = {level_key(a) for a, b in self.mapping if level_key(b) in allowed}
        return table.column_transformer(self.source).select_levels(source_allowed, table)


def find_derived_columns(frame, schema):
    """Map each categorical column that is a function of an earlier-modelled categorical
    column to that source column's name."""
    candidates = [c.name for c in schema.columns if c.kind in ("categorical", "boolean")]
    # Missing values share one code (0), as they share one level when modelled.
    codes = {name: pd.factorize(frame[name], use_na_sentinel=True)[0] + 1 for name in candidates}
    levels = {name: len(np.unique(c)) for name, c in codes.items()}
    derived = {}
    for target in candidates:
        if levels[target] < 2:
            continue
        for source in candidates:
            if source == target or source in derived or target == derived.get(source):
                continue
            if levels[source] > _DERIVED_MAX_SOURCE_LEVELS or len(frame) < _DERIVED_MIN_ROWS_PER_LEVEL * levels[source]:
                continue
            joint = codes[source].astype(np.int64) * (int(codes[target].max()) + 1) + codes[target]
            if len(np.unique(joint)) == levels[source]:
                derived[target] = source
                break
    # a column that others derive from must itself be modelled
    return {t: s for t, s in derived.items() if s not in derived}


def parse_bool(value):
    """``value`` as a bool when it is one or is written as one ("true", "0", "yes" ...);
    anything else unchanged."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    return value
