"""Columns that take no matrix columns: constants, written back as they are, and
identifiers, regenerated as running numbers."""

from __future__ import annotations

import numpy as np
import pandas as pd

from synthvae.transformers import learned
from synthvae.transformers.base import ColumnTransformer, EmptyBlock, plain


class ConstantTransformer(EmptyBlock, ColumnTransformer):
    """A column with one value (or none at all): nothing to learn, written back as is."""

    condition_type = "fixed"

    def __init__(self, value=None):
        self.value = value

    def fit(self, series):
        return self

    def inverse_transform(self, block, rng=None, row_offset=0, decoded=None, codes=None):
        return pd.Series([self.value] * len(block), dtype=object)

    def get_state(self):
        return {"value": self.value}

    @classmethod
    def from_state(cls, state):
        return cls(state["value"])

    def known_values(self):
        return [self.value]

    def match_value(self, value):
        """[the value] when ``value`` is it, as a value or as text with surrounding
        spaces ignored; else []."""
        same = plain(value) == self.value or str(value).strip() == str(self.value).strip()
        return [self.value] if same else []


class IdentifierTransformer(EmptyBlock, ColumnTransformer):
    """Unique-per-row keys: never learned or copied, regenerated as a running number
    in the column's own pattern, counted on from past the largest training number so a
    generated key never equals a training key."""

    positional = True
    condition_refusal = "it is an identifier column, regenerated as running numbers"

    def __init__(self, prefix="", suffix="", width=0):
        self.prefix = prefix
        self.suffix = suffix
        self.width = width

    def fit(self, series):
        self.start_ = learned.next_number(series, self.prefix, self.suffix)
        self.numeric_ = pd.api.types.is_numeric_dtype(series.dtype)
        return self

    def inverse_transform(self, block, rng=None, row_offset=0, decoded=None, codes=None):
        numbers = np.arange(self.start_ + row_offset, self.start_ + row_offset + len(block))
        if self.numeric_:
            return pd.Series(numbers)
        text = pd.Series(numbers.astype(str), dtype=object)
        if self.width:
            text = text.str.zfill(self.width)
        return self.prefix + text + self.suffix

    def get_state(self):
        return {"prefix": self.prefix, "suffix": self.suffix, "width": self.width,
                "start": self.start_, "numeric": self.numeric_}

    @classmethod
    def from_state(cls, state):
        self = cls(state["prefix"], state["suffix"], state["width"])
        self.start_, self.numeric_ = state["start"], state["numeric"]
        return self
