"""A whole table <-> one float32 matrix: one transformer per column, composed."""

from __future__ import annotations

import numpy as np
import pandas as pd

from synthvae.errors import DataError
from synthvae.rules import rules_from_dicts, rules_to_dicts
from synthvae.schema import ColumnSpec, Schema
from synthvae.transformers import learned
from synthvae.transformers.base import Span, level_key, plain
from synthvae.transformers.categorical import CategoricalTransformer, DerivedTransformer, find_derived_columns, parse_bool
from synthvae.transformers.keys import ConstantTransformer, IdentifierTransformer
from synthvae.transformers.numeric import DatetimeTransformer, MissingIndicator, NumericTransformer
from synthvae.transformers.personal import PersonalTransformer
from synthvae.transformers.ruled import ExclusionTransformer, GapTransformer, exclusion_pairs, plan_construction

# The transformer classes a model file may name, by the names it stores.
TYPES = {
    cls.__name__: cls
    for cls in (NumericTransformer, DatetimeTransformer, CategoricalTransformer,
                MissingIndicator, ConstantTransformer, IdentifierTransformer, DerivedTransformer,
                PersonalTransformer, GapTransformer, ExclusionTransformer)
}


def transformer_for(spec: ColumnSpec, encoding="quantile", random_state=0, sampled=False):
    """The transformer that handles a column of this kind. ``sampled``: it is fitted on
    a sample of a larger table, whose other rows may hold categories the sample lacks."""
    if spec.kind in ("continuous", "integer"):
        inner = NumericTransformer(encoding, integer=spec.kind == "integer", random_state=random_state)
    elif spec.kind == "datetime":
        inner = DatetimeTransformer(spec.format, encoding, random_state=random_state)
    elif spec.kind in ("categorical", "boolean"):
        if sampled:
            return CategoricalTransformer(unseen_slot=True, missing_level=spec.nullable)
        return CategoricalTransformer()
    elif spec.kind == "constant":
        return ConstantTransformer(spec.value)
    elif spec.kind == "identifier":
        return IdentifierTransformer(spec.prefix, spec.suffix, spec.width)
    elif spec.kind == "personal":
        return PersonalTransformer(spec.personal or "text")
    else:
        raise DataError(f"column {spec.name!r} has unknown kind {spec.kind!r}")
    return MissingIndicator(inner) if spec.nullable else inner


class TableTransformer:
    """A whole table <-> one float32 matrix, column by column, in schema order.

    Parameters
    ----------
    schema : Schema
    encoding : {"quantile", "mode"}
        How continuous, integer and datetime values are encoded.
    derive : bool
        Look up categorical columns that are an exact function of another categorical
        column (see :class:`DerivedTransformer`) instead of learning them, and find the
        rules the rows obey when the schema declares none. False: nothing is found in
        the rows (a private fit, whose rows are a stand-in built from the schema).
    rules : list or None
        The rules the training rows obey, when the caller found them already (see
        :func:`synthvae.rules.discover`); None: found in the rows ``fit`` is given.
        Unused when the schema declares rules.
    random_state : int
        Seeds the subsampling and mixture fits, so the same data gives the same state.

    Attributes
    ----------
    rules_ : list
        The rules every generated row obeys, kept by construction: the schema's
        declared rules, or those found in the training rows
        (:func:`synthvae.rules.discover`). See :mod:`synthvae.transformers.ruled`.
    transformers_ : list
        One fitted transformer per schema column.
    spans_ : list of Span
        The matrix layout.
    width_ : int
        Matrix columns in all.
    """

    def __init__(self, schema: Schema, encoding="quantile", derive=True, rules=None, random_state=0):
        self.schema = schema
        self.encoding = encoding
        self.derive = derive
        self.rules = rules
        self.random_state = random_state

    def fit(self, frame):
        """Learn every column of ``frame``, after checking that it fits the schema.

        ``frame.attrs["table_rows"]``, when larger than ``frame``, says that ``frame`` is a
        sample of a larger table (as :func:`synthvae.stream.reservoir_sample` marks it):
        categorical columns then keep a slot for values the sample lacks.
        """
        self.schema.check_data(frame)
        sampled = frame.attrs.get("table_rows", len(frame)) > len(frame)
        plan = self._plan(frame)
        derived = {**plan.found_depends, **plan.depends}
        # Values withheld by value protection are learned as kept values from here on
        # (see learned.replacements). The mapping names withheld values, so it lives
        # only while this process fits and encodes the rows: the model file never has it.
        self._replacements = {
            spec.name: mapping for spec in self.schema.columns
            if spec.kind in ("categorical", "boolean") and spec.name not in derived
            and (mapping := learned.replacements(
                _prepared(frame[spec.name], spec),
                frame[[t for t, source in derived.items() if source == spec.name]]))
        }
        frame = self._substituted(frame)
        self.transformers_ = []
        for spec in self.schema.columns:
            series = _prepared(frame[spec.name], spec)
            if spec.name in derived:
                transformer = DerivedTransformer(derived[spec.name])
            elif spec.name in plan.bounds:
                transformer = GapTransformer(
                    plan.bounds[spec.name], datetime=spec.kind == "datetime", format=spec.format,
                    input_formats={n: self.schema[n].format for b in plan.bounds[spec.name] for n in b["parts"]
                                   if self.schema[n].kind == "datetime"},
                    integer=spec.kind == "integer", nullable=spec.nullable, encoding=self.encoding,
                    random_state=self.random_state)
            elif spec.name in plan.exclusions:
                exclusions = [{"on": on, "pairs": exclusion_pairs(rule, on, target, frame, spec.name)}
                              for on, rule, target in plan.exclusions[spec.name]]
                transformer = ExclusionTransformer(exclusions, unseen_slot=sampled,
                                                   missing_level=sampled and spec.nullable)
            else:
                transformer = transformer_for(spec, self.encoding, self.random_state, sampled)
                if spec.kind in ("continuous", "integer", "datetime") and not transformer.present(series).any():
                    raise DataError(f"column {spec.name!r} has no {spec.kind} values to learn from")
            transformer.columns = (spec.name,)
            inputs = [_prepared(frame[name], self.schema[name]) for name in transformer.inputs]
            self.transformers_.append(transformer.fit(series, *inputs))
        self.rules_ = plan.built
        self._build_layout()
        return self

    def _plan(self, frame):
        """How each column is built so that the rules hold: the declared rules, or
        those found in ``frame``. A declared rule that cannot be built is an error."""
        from synthvae.rules import construction_order, discover

        declared = self.schema.rules is not None
        if declared:
            rules = self.schema.rules
        elif not self.derive:
            rules = []
        else:
            rules = discover(frame, self.schema) if self.rules is None else list(self.rules)
        found = find_derived_columns(frame, self.schema) if self.derive else {}
        plan = plan_construction(rules, self.schema, found)
        if declared and plan.unbuilt:
            rule, reason = plan.unbuilt[0]
            raise DataError(f"the rule {rule.describe()!r} cannot be kept in generated rows: {reason}")
        construction_order(plan.built, self.schema.names)
        return plan

    def _build_layout(self):
        spans, self._blocks, start = [], [], 0
        for transformer in self.transformers_:
            block = []
            for kind, width in transformer.spans:
                block.append(Span(transformer.columns[0], kind, start, width))
                start += width
            self._blocks.append(block)
            spans.extend(block)
        self._writers = {name: t for t in self.transformers_ for name in t.columns}
        self.spans_ = spans
        self.width_ = start
        self.couplings_ = self._couplings()

    def _couplings(self):
        """``(on span, span, allowed)`` for each combinations rule whose two columns are
        both learned as one-hot groups, the earlier group first: ``allowed`` (float32,
        the first group's width x the second's) is 0 where the rule excludes the pair
        of slots. The sampler draws the two groups together from the decoder's own
        probabilities restricted to the allowed pairs (see
        :func:`synthvae.generation.decode_to_matrix`); the column's check after
        decoding covers what a slot cannot say (pooled values, imposed conditions)."""
        couplings = []
        for transformer, block in zip(self.transformers_, self._blocks):
            if not isinstance(transformer, ExclusionTransformer):
                continue
            for on in transformer.inputs:
                source = self._writers.get(on)
                if not isinstance(source, CategoricalTransformer) or source is transformer:
                    continue
                on_span = self.spans_for(source)[0]
                if on_span.start >= block[0].start:
                    continue
                excluded = transformer.excluded_slots(on, source.levels_, on_span.width)
                if excluded.any():
                    couplings.append((on_span, block[0], (~excluded).astype(np.float32)))
        return couplings

    @property
    def continuous_columns_(self):
        """Matrix column indices that hold a continuous value."""
        return np.array([s.start for s in self.spans_ if s.kind == "continuous"], dtype=np.int64)

    @property
    def softmax_spans_(self):
        return [s for s in self.spans_ if s.kind == "softmax"]

    def column_transformer(self, name):
        """The fitted transformer that writes table column ``name``."""
        if name not in self._writers:
            raise DataError(f"no column named {name!r}; the columns are: {', '.join(self.schema.names)}")
        return self._writers[name]

    def spans_for(self, transformer):
        """The spans of ``transformer``'s block, in order."""
        index = next(i for i, t in enumerate(self.transformers_) if t is transformer)
        return list(self._blocks[index])

    def _substituted(self, frame):
        """``frame`` with each withheld value (and the columns looked up from it) written
        as its replacement; ``frame`` itself when nothing is withheld."""
        replacements = getattr(self, "_replacements", {})
        if not replacements:
            return frame
        frame = frame.copy()
        for name, mapping in replacements.items():
            keys = frame[name].map(level_key)
            hits = keys.isin(list(mapping))
            if not hits.any():
                continue
            written = {name: {key: value for key, (value, _) in mapping.items()}}
            for key, (_, children) in mapping.items():
                for child, value in children.items():
                    written.setdefault(child, {})[key] = value
            for column, values in written.items():
                original = frame[column]
                updated = original.astype(object)
                updated[hits] = keys[hits].map(values)
                try:
                    frame[column] = updated.astype(original.dtype)
                except (TypeError, ValueError):
                    frame[column] = updated
        return frame

    def transform(self, frame):
        self.schema.check_frame(frame)
        frame = self._substituted(frame)
        specs = {spec.name: spec for spec in self.schema.columns}
        blocks = [
            t.transform(_prepared(frame[spec.name], spec), *(_prepared(frame[n], specs[n]) for n in t.inputs))
            for spec, t in zip(self.schema.columns, self.transformers_)
        ]
        return np.concatenate(blocks, axis=1).astype(np.float32) if blocks else np.zeros((len(frame), 0), np.float32)

    def inverse_transform(self, matrix, rng=None, row_offset=0, codes=None, categories=False):
        """Rows back from a matrix in this layout.

        Softmax groups may hold one-hot rows or probabilities: the largest entry wins,
        unless ``codes`` gives the level drawn in each (a dict: a softmax span's first
        matrix column -> its rows' level indices, as
        :func:`synthvae.generation.draw_matrix` returns it).
        ``row_offset`` numbers regenerated identifiers, so that chunks of one sample
        get consecutive keys. A transformer with inputs (a derived column) is decoded
        once the columns it reads are.

        Category columns are decoded as positions in a table of their values (see
        ``inverse_levels`` in :class:`~synthvae.transformers.base.ColumnTransformer`):
        the table is put in the column's dtype, and columns looked up from it read it,
        once per value. ``categories``: such a column comes back as a pandas
        Categorical of the same values (where its values allow: distinct, gaps as
        NaN or None), for a writer that formats each value once
        (:func:`synthvae.io.renderer`); by default, as the plain column.
        """
        levels, specs = {}, {spec.name: spec for spec in self.schema.columns}
        decoded = _Columns(levels)
        waiting = list(range(len(self.transformers_)))
        while waiting:
            ready = [i for i in waiting if all(name in decoded for name in self.transformers_[i].inputs)]
            if not ready:
                names = ", ".join(repr(self.transformers_[i].columns[0]) for i in waiting)
                raise DataError(f"model file is inconsistent: columns {names} are looked up from each other")
            for i in ready:
                transformer, spans = self.transformers_[i], self._blocks[i]
                start = spans[0].start if spans else 0
                block = matrix[:, start : start + sum(s.width for s in spans)]
                own = None if codes is None else [codes.get(s.start) if s.kind == "softmax" else None for s in spans]
                name = transformer.columns[0]
                spec = specs[name]
                if hasattr(transformer, "inverse_levels") and not spec.dtype.startswith("datetime"):
                    positions, table = transformer.inverse_levels(block, rng, row_offset=row_offset, decoded=decoded,
                                                                  codes=own, levels=levels)
                    positions, values = _restored_levels(positions, table, spec)
                    levels[name] = (positions, values)
                else:
                    values = transformer.inverse_transform(block, rng, row_offset=row_offset, decoded=decoded, codes=own)
                    decoded[name] = _restore_dtype(values.reset_index(drop=True), spec)
            waiting = [i for i in waiting if i not in ready]
        if categories:
            for name, (positions, values) in levels.items():
                categorical = _categorical(positions, values)
                if categorical is not None:
                    decoded[name] = categorical
        return pd.DataFrame({name: decoded[name] for name in self.schema.names}, columns=self.schema.names)

    def renumber(self, rows, row_offset):
        """``rows`` with positional columns (regenerated identifiers) written anew for rows
        that start at ``row_offset``: rows drawn in another order than their final one
        (conditional draws) get the running numbers of their final positions."""
        for spec, t in zip(self.schema.columns, self.transformers_):
            if t.positional:
                values = t.inverse_transform(np.zeros((len(rows), 0), np.float32), row_offset=row_offset)
                rows[spec.name] = values.astype(rows[spec.name].dtype).to_numpy()
        return rows

    def get_state(self):
        return {
            "encoding": self.encoding,
            "derive": self.derive,
            "transformers": [{"type": type(t).__name__, "state": t.get_state()} for t in self.transformers_],
            "rules": rules_to_dicts(self.rules_),
        }

    @classmethod
    def from_state(cls, schema, state):
        self = cls(schema, encoding=state["encoding"], derive=state["derive"])
        if len(state["transformers"]) != len(schema.columns):
            raise DataError("model file is inconsistent: transformer and schema column counts differ")
        self.transformers_ = []
        for spec, entry in zip(schema.columns, state["transformers"]):
            if entry["type"] not in TYPES:
                raise DataError(f"model file names an unknown transformer {entry['type']!r}")
            transformer = TYPES[entry["type"]].from_state(entry["state"])
            transformer.columns = (spec.name,)
            self.transformers_.append(transformer)
        self.rules_ = rules_from_dicts(state.get("rules", []))
        self._build_layout()
        return self


def _prepared(series, spec):
    """The column as the transformer expects it: booleans as Python bools, text as text."""
    if spec.kind == "boolean":
        return series.map(lambda v: plain(v) if plain(v) is None else parse_bool(v))
    return series


def _restored_levels(positions, table, spec):
    """A column given as ``positions`` in ``table`` (an object array), with the table cut
    to the values the rows take and put in the column's dtype: ``(positions, values)``.
    Taking ``values`` at ``positions`` gives what restoring the whole column gives, at
    the cost of restoring a few values: the restored dtype depends only on which
    values there are (a gap among whole numbers makes floats)."""
    used = np.flatnonzero(np.bincount(positions, minlength=len(table)))
    if len(used) < len(table):
        renumber = np.zeros(len(table), dtype=np.intp)
        renumber[used] = np.arange(len(used))
        positions = renumber[positions]
    return positions, _restore_dtype(pd.Series(table[used], dtype=object), spec).reset_index(drop=True)


class _Columns(dict):
    """Decoded columns by name; a category column decoded as positions in its values
    (``levels``) is made whole only when asked for, as columns looked up from it read
    the positions."""

    def __init__(self, levels):
        super().__init__()
        self.levels = levels

    def __missing__(self, name):
        if name not in self.levels:
            raise KeyError(name)
        positions, values = self.levels[name]
        column = self[name] = _taken(values, positions)
        return column

    def __contains__(self, name):
        return super().__contains__(name) or name in self.levels


def _taken(values, positions):
    """``values`` (a Series) at ``positions``, as a new Series in the same dtype."""
    if isinstance(values.dtype, np.dtype):
        return pd.Series(values.to_numpy()[positions], dtype=values.dtype)
    return pd.Series(values.array.take(positions))


def _categorical(positions, values):
    """The column ``values`` taken at ``positions`` as a pandas Categorical Series, or
    None where a Categorical cannot say the same: values that compare equal but are
    written apart (1 and 1.0, 0.0 and -0.0), or gaps in a dtype that has no NaN."""
    dtype = values.dtype
    if not isinstance(dtype, np.dtype) or dtype.kind not in "Ofiub":
        return None
    missing = values.isna().to_numpy()
    if missing.any() and dtype.kind not in "fO":
        return None
    kept = pd.Index(values.to_numpy()[~missing], dtype=dtype)
    if not kept.is_unique:
        return None
    renumber = np.cumsum(~missing) - 1
    renumber[missing] = -1
    # The codes are in range by construction: pandas need not check every row's.
    return pd.Series(pd.Categorical.from_codes(renumber[positions], dtype=pd.CategoricalDtype(kept), validate=False))


def _restore_dtype(values, spec):
    dtype = spec.dtype
    if str(values.dtype) == dtype and (dtype == "object" or values.dtype.kind in "iub"):
        return values  # already so: no copy (a float column may still hold gaps to check)
    try:
        if dtype.startswith("int") or dtype.startswith("uint"):
            if values.isna().any():
                return values.astype("float64")
            return values.astype(dtype)
        if dtype == "str" and int(pd.__version__.split(".")[0]) < 3:
            return values.astype(object)  # pandas 2 has no missing-aware "str" dtype
        if dtype.startswith("datetime64"):
            stamps = pd.to_datetime(values)
            zoned = pd.api.types.pandas_dtype(dtype)
            if getattr(zoned, "tz", None) is not None:
                # Times are modelled in UTC: back to the column's own zone.
                return stamps.dt.tz_localize("UTC").dt.tz_convert(zoned.tz).astype(dtype)
            return stamps.astype(dtype)
        if dtype[:1] in "IUB" or dtype == "boolean":  # nullable integers and booleans
            return values.astype(dtype)
        return values.astype(dtype)
    except (TypeError, ValueError):
        return values
