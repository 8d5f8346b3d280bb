"""Reversible column transformers: a table of mixed types <-> one float32 matrix.

One small transformer per column kind (:mod:`.numeric`, :mod:`.categorical`,
:mod:`.keys`), each with the interface of :class:`.base.ColumnTransformer`, and a
:class:`TableTransformer` (:mod:`.table`) that composes them and records the layout
of the matrix: which matrix columns hold a continuous value and which form a softmax
group. The model reads only the layout; the sampler turns decoder outputs back into
values with ``inverse_transform``; conditional sampling asks the transformers how a
value or a range maps into their spans. What they learn from the data is computed in
one place, :mod:`.learned`.

Every transformer is deterministic. Where a value must be drawn (a pooled rare
category, say) ``inverse_transform`` takes the caller's random generator.
"""

from synthvae.transformers.base import MISSING_KEY, ColumnTransformer, LevelSelection, Span, level_key, plain
from synthvae.transformers.categorical import (
    CategoricalTransformer,
    DerivedTransformer,
    find_derived_columns,
    parse_bool,
)
from synthvae.transformers.keys import ConstantTransformer, IdentifierTransformer
from synthvae.transformers.numeric import (
    DatetimeTransformer,
    MissingIndicator,
    ModeEncoder,
    NumericTransformer,
    QuantileEncoder,
)
from synthvae.transformers.personal import PersonalTransformer
from synthvae.transformers.table import TableTransformer, transformer_for

__all__ = [
    "MISSING_KEY",
    "CategoricalTransformer",
    "ColumnTransformer",
    "ConstantTransformer",
    "DatetimeTransformer",
    "DerivedTransformer",
    "IdentifierTransformer",
    "LevelSelection",
    "MissingIndicator",
    "ModeEncoder",
    "NumericTransformer",
    "PersonalTransformer",
    "QuantileEncoder",
    "Span",
    "TableTransformer",
    "find_derived_columns",
    "level_key",
    "parse_bool",
    "plain",
    "transformer_for",
]
