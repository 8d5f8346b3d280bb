"""How each column is written as text, so that what comes out reads like what went in.

A column's *written format* is learned from the file's own cells when a CSV is read
(:func:`infer_written`), kept in the column's schema entry as ``written`` and applied
to every chunk of rows written as CSV (:class:`TextFormatter`). It says:

- ``missing``: the cell that stands for no value (``?``, ``NA``, empty, ...);
- ``true`` / ``false``: a boolean column's two cells, as spelled in the file;
- ``decimals`` / ``min_decimals``: the most and fewest digits after the point among
  the file's numbers: every number is written with ``decimals`` digits, trailing
  zeros dropped down to ``min_decimals`` (``decimals == min_decimals``: a fixed count);
- ``exponent``: numbers written in scientific notation, ``e`` or ``E``, with
  ``exponent_digits`` digits at least and a ``+`` before positive exponents when
  ``exponent_plus`` (``1.5e-07``, ``2.0E+3``);
- ``width``: digits-only text of one width (``02134``): numbers are zero-padded to it.

The table's own layout (delimiter, quoting, line ends, encoding) is a :class:`CsvDialect`,
learned by the reader and kept at the schema's top level as ``csv``.

Formatting works a column at a time over a whole chunk, in Arrow's compute kernels,
so writing costs the sampler little.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

# Digits after the point beyond which a number is written as it comes.
MAX_DECIMALS = 15
# A number as a CSV cell: sign, digits, an optional fraction, an optional exponent.
_NUMBER = r"^\s*[+-]?(?:\d*)(?:\.(?P<fraction>\d*))?(?:(?P<e>[eE])(?P<sign>[+-]?)(?P<exponent>\d+))?\s*$"
# Keys a column's written format may hold.
WRITTEN_KEYS = ("missing", "true", "false", "decimals", "min_decimals", "exponent", "exponent_digits",
                "exponent_plus", "width")


# -- learning ----------------------------------------------------------------------------------


def infer_written(cells, frame):
    """The written format of every column of ``frame``, learned from ``cells``.

    Parameters
    ----------
    cells : pandas.DataFrame
        The file's first rows as it holds them: every cell the text between its
        delimiters (an empty cell ``""``), never parsed.
    frame : pandas.DataFrame
        The same table as read (its first ``len(cells)`` rows are those of ``cells``).

    Returns
    -------
    dict
        Column name -> written format (a dict with some of :data:`WRITTEN_KEYS`).
    """
    head = frame.iloc[: len(cells)]
    return {name: infer_column_written(cells[name], head[name]) for name in frame.columns if name in cells}


def infer_column_written(cells, parsed):
    """The written format of one column: ``cells`` as the file holds them, ``parsed``
    the same rows as read."""
    cells = pd.Series(cells.to_numpy(dtype=object), dtype=object).fillna("")
    missing = parsed.isna().to_numpy()
    out = {}
    if missing.any():
        out["missing"] = str(cells[missing].value_counts().index[0])
    present, values = cells[~missing], parsed[~missing]
    if not len(present):
        return out
    if pd.api.types.is_bool_dtype(values.dtype) or values.map(type).eq(bool).all():
        truth = values.astype(bool).to_numpy()
        for key, which in (("true", truth), ("false", ~truth)):
            if which.any():
                out[key] = str(present[which].value_counts().index[0])
        return out
    digits = present.str.fullmatch(r"\d+")
    if digits.all() and present.str.match(r"0\d").any() and present.str.len().nunique() == 1:
        out["width"] = int(len(present.iloc[0]))
    elif pd.api.types.is_numeric_dtype(values.dtype):
        out.update(_number_format(present))
    return out


def _number_format(cells):
    """Decimals and notation of numbers written as ``cells``."""
    parts = cells.str.extract(_NUMBER)
    fraction = parts["fraction"].fillna("").str.len()
    out = {}
    if fraction.max() > 0:
        out["decimals"] = int(min(fraction.max(), MAX_DECIMALS))
        out["min_decimals"] = int(min(fraction.min(), out["decimals"]))
    exponents = parts["e"].dropna()
    if len(exponents) and len(exponents) >= 0.5 * len(cells):
        out["exponent"] = str(exponents.value_counts().index[0])
        out["exponent_digits"] = int(parts["exponent"].dropna().str.len().min())
        out["exponent_plus"] = bool((parts["sign"].dropna() == "+").any())
        out["decimals"] = out.get("decimals", 0)
        out["min_decimals"] = out.get("min_decimals", 0)
    return out


# -- the file's layout --------------------------------------------------------------------------


@dataclasses.dataclass
class CsvDialect:
    """How a CSV file is laid out: what separates cells, what ends a line, whether
    every cell is quoted, how its bytes are decoded, and its header's empty names and
    trailing delimiters."""

    delimiter: str = ","
    line_ending: str = "\n"
    quote_all: bool = False
    encoding: str = "utf-8"
    # A delimiter after the last cell of every row, and of the header line.
    trailing_delimiter: bool = False
    header_trailing_delimiter: bool = False
    # The names given to empty header cells ("Unnamed: 3"), written back empty.
    unnamed: list = dataclasses.field(default_factory=list)

    def header(self, names):
        """The header line's cells for columns ``names``, as the file had them."""
        cells = ["" if name in self.unnamed else str(name) for name in names]
        return cells + ([""] if self.header_trailing_delimiter else [])

    def to_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, obj):
        return cls(**(obj or {}))


def infer_dialect(head_text, delimiter, encoding):
    """The :class:`CsvDialect` of a file whose first bytes, decoded, are ``head_text``."""
    crlf = head_text.count("\r\n")
    line_ending = "\r\n" if crlf and crlf >= head_text.count("\n") - crlf else "\n"
    lines = [line for line in head_text.splitlines() if line.strip()][:50]
    if len(lines) > 2:
        lines = lines[:-1]  # the last line may be cut short
    cells = [cell for line in lines for cell in line.split(delimiter)]
    quoted = sum(1 for cell in cells if cell.startswith('"') and cell.endswith('"') and len(cell) > 1)
    return CsvDialect(delimiter=delimiter, line_ending=line_ending,
                      quote_all=bool(cells) and quoted == len(cells), encoding=encoding)


# -- writing ----------------------------------------------------------------------------------


class TextFormatter:
    """Writes each column of a chunk of rows as text in its written format.

    Parameters
    ----------
    written : dict
        Column name -> written format; columns not named are left as they are.
    """

    def __init__(self, written):
        self.written = {name: dict(spec) for name, spec in written.items() if spec is not None}

    def __call__(self, frame):
        """``frame`` with every column that has a written format as text (a string
        column holding no gaps: the missing cell is written as the file has it)."""
        if not self.written:
            return frame
        columns = {name: _as_series(column, frame.index) for name, column in self.cells(frame).items()}
        out = pd.DataFrame(columns, index=frame.index)
        out.attrs = frame.attrs
        return out

    def cells(self, frame):
        """The same columns by name, without building a frame: an Arrow string array
        for each column that has a written format, the column as it is otherwise. The
        CSV writer takes the arrays as they are (see :func:`synthvae.io.renderer`)."""
        return {name: frame[name] if self.written.get(name) is None else format_cells(frame[name], self.written[name])
                for name in frame.columns}


def _as_series(column, index):
    if isinstance(column, pd.Series):
        return column
    return pd.Series(pd.arrays.ArrowExtensionArray(column), index=index)


def format_column(series, spec):
    """The cells of ``series`` written as ``spec`` (a written format) says, as a pandas
    Series of Arrow strings without gaps."""
    return _as_series(format_cells(series, spec), series.index)


def format_cells(series, spec):
    """:func:`format_column`'s cells as an Arrow string array."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(series.dtype, pd.CategoricalDtype):
        return categorical_cells(series, lambda values: format_cells(values, spec))
    text = _cells(series, spec, pa, pc)
    if text.null_count:
        text = pc.fill_null(text, spec.get("missing", ""))
    return text


def categorical_cells(series, cells):
    """The cells of a pandas Categorical column: ``cells`` (a function from a column
    to its Arrow cells, each cell made from its own value) applied to its categories,
    and a gap where a row has none, then taken row by row in Arrow. The same cells as
    the plain column's, each value formatted once instead of once a row. None where
    ``cells`` gives None."""
    import pyarrow as pa

    codes = series.cat.codes.to_numpy()
    values = series.cat.categories.to_numpy()
    gap = len(values)
    if (codes < 0).any():
        values = np.append(values, np.nan if values.dtype.kind == "f" else None)
    made = cells(pd.Series(values, dtype=values.dtype))
    if made is None:
        return None
    return made.take(pa.array(np.where(codes < 0, gap, codes)))


def _cells(series, spec, pa, pc):
    """An Arrow string array of the present cells of ``series`` (null where missing)."""
    dtype = series.dtype
    if dtype == object:
        # Arrow reads the values' type (and their gaps) in one pass.
        cells = series.to_numpy()
        try:
            values = pa.array(cells, from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError):  # values of several types: each as its text
            values = pa.array([None if pd.isna(v) else str(v) for v in cells], type=pa.string())
        if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
            return _padded(values, spec, pc)
        if pa.types.is_null(values.type):
            return pa.nulls(len(values), pa.string())
        if pa.types.is_boolean(values.type):
            return _bool_cells(values, spec, pc)
        if pa.types.is_integer(values.type) or pa.types.is_floating(values.type):
            if pa.types.is_integer(values.type):
                values = values.cast(pa.int64())
                exact = values.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)  # no floats
                series = pd.Series(exact.array, index=series.index)
            else:
                series = pd.Series(values.to_numpy(zero_copy_only=False), index=series.index)
            dtype = series.dtype
        else:
            return _padded(pc.cast(values, pa.string()), spec, pc)
    if pd.api.types.is_bool_dtype(dtype):
        return _bool_cells(pa.array(series, from_pandas=True), spec, pc)
    if pd.api.types.is_numeric_dtype(dtype):
        return _number_cells(series, series.isna().to_numpy(), spec, pa, pc)
    return _padded(pc.cast(pa.array(series, from_pandas=True), pa.string()), spec, pc)


def _bool_cells(values, spec, pc):
    """True and false as the file spells them."""
    return pc.if_else(values, spec.get("true", "True"), spec.get("false", "False"))


def _padded(text, spec, pc):
    width = spec.get("width")
    return pc.utf8_lpad(text, width, "0") if width else text


def _number_cells(series, missing, spec, pa, pc):
    """Numbers as text with the column's decimals (or exponent), exactly for integers."""
    if "exponent" in spec:
        return _scientific(series, missing, spec, pa)
    decimals = int(spec.get("decimals", 0))
    dtype = series.dtype
    if decimals == 0 and (pd.api.types.is_integer_dtype(dtype)):
        # Integers are written from their int64 values: exact however large.
        ints = pa.array(series.astype("Int64") if dtype.kind == "O" else series, from_pandas=True)
        return _padded(pc.cast(ints.cast(pa.int64()), pa.string()), spec, pc)
    numbers = series.to_numpy(dtype=np.float64, na_value=np.nan)
    scale = 10.0**decimals
    scaled = np.round(numbers * scale)
    fits = np.isfinite(scaled) & (np.abs(scaled) < 2**62)
    if not fits[~missing].all():
        return _python_cells(numbers, missing, decimals, spec, pa)
    ints = np.where(fits, scaled, 0).astype(np.int64)
    least = int(spec.get("min_decimals", decimals))
    return _padded(_decimal_text(ints, decimals, least, missing, pa), spec, pc)


def _decimal_text(ints, decimals, least, missing, pa):
    """The numbers ``ints / 10**decimals`` as text with ``decimals`` digits after the
    point, trailing zeros dropped down to ``least``: every row's characters are laid
    out in one byte matrix, the ones kept picked by a mask, and the bytes made an Arrow
    string array as they are, with no Python per cell."""
    negative = ints < 0
    magnitude = np.abs(ints)
    width = max(len(str(int(magnitude.max()))) if len(ints) else 1, decimals + 1)
    digits = np.empty((len(ints), width), dtype=np.uint8)
    rest = magnitude.copy()
    for column in range(width - 1, -1, -1):  # least significant first
        digits[:, column] = rest % 10
        rest //= 10
    units = width - 1 - decimals  # the column of the units digit
    chars = np.empty((len(ints), width + 2), dtype=np.uint8)
    keep = np.zeros(chars.shape, dtype=bool)
    chars[:, 0], keep[:, 0] = ord("-"), negative
    chars[:, 1 : units + 2] = digits[:, : units + 1] + ord("0")
    # Leading zeros go, all but the units digit.
    keep[:, 1 : units + 2] = np.maximum.accumulate(digits[:, : units + 1] > 0, axis=1)
    keep[:, units + 1] = True
    if decimals:
        fraction = digits[:, units + 1 :]
        chars[:, units + 2], chars[:, units + 3 :] = ord("."), fraction + ord("0")
        # A fraction digit stays when it or a digit after it is not zero, or when it is
        # among the first ``least``.
        kept = np.maximum.accumulate((fraction > 0)[:, ::-1], axis=1)[:, ::-1]
        kept[:, :least] = True
        keep[:, units + 3 :] = kept
        keep[:, units + 2] = kept[:, 0]
    else:
        chars, keep = chars[:, :-1], keep[:, :-1]
    keep[missing] = False
    offsets = np.zeros(len(ints) + 1, dtype=np.int32)
    np.cumsum(keep.sum(axis=1), out=offsets[1:])
    valid = pa.array(~missing).buffers()[1] if missing.any() else None
    return pa.StringArray.from_buffers(len(ints), pa.py_buffer(offsets), pa.py_buffer(chars[keep]), valid)


def _python_cells(numbers, missing, decimals, spec, pa):
    """Numbers too large for the integer route, one at a time (rare)."""
    least = int(spec.get("min_decimals", decimals))
    cells = []
    for value, gap in zip(numbers, missing):
        if gap:
            cells.append(None)
            continue
        cell = f"{round(value, decimals) + 0.0:.{decimals}f}"  # + 0.0: no "-0"
        if least < decimals:
            head, _, tail = cell.partition(".")
            tail = tail.rstrip("0").ljust(least, "0")
            cell = f"{head}.{tail}" if tail else head
        cells.append(cell)
    return pa.array(cells, type=pa.string())


def _scientific(series, missing, spec, pa):
    """Numbers in scientific notation: the mantissa's decimals, the exponent's letter,
    sign and least digits as the file writes them (a rare format, written with NumPy)."""
    numbers = series.to_numpy(dtype=np.float64, na_value=np.nan)
    decimals = int(spec.get("decimals", 0))
    letter, digits = spec.get("exponent", "e"), int(spec.get("exponent_digits", 1))
    plus = "+" if spec.get("exponent_plus", False) else ""
    cells = np.full(len(numbers), None, dtype=object)
    present = ~missing
    if present.any():
        text = np.char.mod(f"%.{decimals}e", numbers[present])
        parts = np.char.partition(text, "e")
        exponent = parts[:, 2]
        sign = np.where(np.char.startswith(exponent, "-"), "-", plus)
        power = np.char.zfill(np.char.lstrip(exponent, "+-"), digits)
        power = np.char.lstrip(power, "0")
        power = np.char.zfill(power, digits)
        cells[present] = np.char.add(np.char.add(np.char.add(parts[:, 0], letter), sign), power)
    return pa.array(cells, type=pa.string())


# -- Parquet: Arrow types -----------------------------------------------------------------------

_TIMESTAMP = r"timestamp\[(?P<unit>s|ms|us|ns)(?:, tz=(?P<tz>[^\]]+))?\]"
_DICTIONARY = r"dictionary<values=(?P<values>.+), indices=(?P<indices>\w+), ordered=(?P<ordered>[01])>"
_DECIMAL = r"decimal(?:128|256)\((?P<precision>\d+), (?P<scale>\d+)\)"


def arrow_type_text(arrow_type):
    """An Arrow type as the text the schema keeps (``timestamp[us, tz=UTC]``, ``int64``)."""
    return str(arrow_type)


def arrow_type_from_text(text):
    """The Arrow type that :func:`arrow_type_text` wrote as ``text``; ValueError when
    it names none."""
    import re

    import pyarrow as pa

    match = re.fullmatch(_TIMESTAMP, text)
    if match:
        return pa.timestamp(match["unit"], tz=match["tz"])
    match = re.fullmatch(_DICTIONARY, text)
    if match:
        return pa.dictionary(arrow_type_from_text(match["indices"]), arrow_type_from_text(match["values"]),
                             ordered=match["ordered"] == "1")
    match = re.fullmatch(_DECIMAL, text)
    if match:
        return pa.decimal128(int(match["precision"]), int(match["scale"]))
    try:
        return pa.type_for_alias(text)
    except (ValueError, KeyError):
        raise ValueError(f"{text!r} is not an Arrow type synthvae can write") from None


def arrow_table(frame, arrow_types):
    """``frame`` as an Arrow table, each column named in ``arrow_types`` (name -> type
    text) cast to that type: Parquet written back keeps the input's types (time zones,
    nullable integers, dictionaries, nullable booleans)."""
    import pyarrow as pa

    table = pa.Table.from_pandas(frame, preserve_index=False)
    if not arrow_types:
        return table
    fields = []
    for field in table.schema:
        text = arrow_types.get(field.name)
        fields.append(field if text is None else pa.field(field.name, arrow_type_from_text(text)))
    columns = [_cast(column, field.type) for column, field in zip(table.columns, fields)]
    return pa.table(columns, schema=pa.schema(fields, metadata=table.schema.metadata))


def _cast(column, target):
    import pyarrow as pa
    import pyarrow.compute as pc

    if column.type == target:
        return column
    if pa.types.is_timestamp(target) and pa.types.is_timestamp(column.type):
        if column.type.tz is None and target.tz is not None:
            column = pc.assume_timezone(column, "UTC")  # datetimes come back counted in UTC
        return column.cast(target, safe=False)
    if pa.types.is_timestamp(target) and (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        return pc.cast(pc.strptime(column, "%Y-%m-%dT%H:%M:%S", "s", error_is_null=True), target)
    if pa.types.is_dictionary(target):
        return pc.dictionary_encode(column.cast(target.value_type)).cast(target)
    if pa.types.is_integer(target) and pa.types.is_floating(column.type):
        return pc.round(column).cast(target)
    return column.cast(target)
