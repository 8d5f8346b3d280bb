"""Reading tables from disk and writing them back, safely.

Reading is forgiving about the things real CSVs do (``?`` for missing, a latin-1
file, semicolons) and strict about the things that would silently corrupt a model
(duplicate headers, ragged rows). Writing always goes to a temporary file in the
destination folder that is renamed into place at the end, so an interrupted run
never leaves a half-written file and never destroys the previous one.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import io
import itertools
import os
import tempfile
from pathlib import Path

import pandas as pd

from synthvae.errors import DataError, UsageError
from synthvae.formats import CsvDialect, TextFormatter, arrow_table, categorical_cells
from synthvae.reader import NA_TOKENS, check_finite, open_table  # noqa: F401  (NA_TOKENS: part of this module's API)


def read_table(path):
    """Read a CSV (or Parquet) file into a DataFrame.

    Parameters
    ----------
    path : str or Path
        A ``.csv`` file (any of ``, ; tab |`` as delimiter, UTF-8 or latin-1; may be
        compressed as .gz, .bz2 or .xz) or a ``.parquet`` file.

    Returns
    -------
    pandas.DataFrame

    Raises
    ------
    MissingFileError
        The path does not exist.
    DataError
        The file is not a table synthvae can read, or would not be read as written
        (ragged rows, a repeated column name, infinite numbers); the message says why.
        See :mod:`synthvae.reader`.
    """
    return open_table(path).read()


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; rename it to ``path`` only on success.

    On any exception (Ctrl-C included) the temporary file is removed and an existing
    file at ``path`` is left as it was. A failure of the file system (a full disk, a
    read-only or forbidden folder, ``path`` being a folder) is one DataError naming
    ``path`` and the cause.
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise UsageError(f"cannot write {path}: the folder {folder} does not exist")
    if path.is_dir():
        raise DataError(f"cannot write {path}: it is a folder; give a file name")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
        os.close(fd)
    except OSError as exc:
        raise write_error(path, exc) from None
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and not isinstance(exc, (BrokenPipeError, FileNotFoundError)):
            raise write_error(path, exc) from None
        raise


_CAUSES = {
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "the disk quota is used up",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EISDIR: "it is a folder",
}


def write_error(path, exc):
    """The DataError for an OSError ``exc`` met while writing ``path``."""
    cause = _CAUSES.get(exc.errno) or exc.strerror or str(exc)
    return DataError(f"cannot write {path}: {cause}; nothing was written there")


def frame_to_csv_text(frame, header, dialect=None):
    """Render ``frame`` as CSV text (by default ``\\n`` line ends, empty cells for missing
    values; else as ``dialect``, a :class:`synthvae.formats.CsvDialect`, lays it out)."""
    if dialect is None:
        return frame.to_csv(index=False, header=header, lineterminator="\n", na_rep="")
    quoting = csv.QUOTE_ALL if dialect.quote_all else csv.QUOTE_MINIMAL
    return frame.to_csv(index=False, header=header, lineterminator=dialect.line_ending, na_rep="",
                        sep=dialect.delimiter, quoting=quoting)


def integer_columns_for_output(frame, integer_columns):
    """Give whole-number float columns a nullable integer dtype so CSV shows ``3``, not ``3.0``."""
    out = frame
    for name in integer_columns:
        if name in out.columns and out[name].dtype.kind == "f":
            if out is frame:
                out = frame.copy()
            out[name] = out[name].astype("Int64")
    return out


def output_format(path):
    """``"parquet"`` when the output name ends in .parquet, else ``"csv"``."""
    if path is not None and str(path).lower().endswith(".parquet"):
        return "parquet"
    return "csv"


def renderer(fmt, integer_columns=(), schema=None):
    """The function that turns one chunk of decoded rows into what is written: its CSV
    text without a header (``fmt="csv"``), or an Arrow table (``"parquet"``).

    This is the one place where a frame becomes output, and it runs on the threads that
    make the rows (see :meth:`synthvae.sampling.Sampler.iter_sample`), so that the
    formatting of several chunks proceeds at once. ``integer_columns`` are written as
    whole numbers even where gaps made them floats. ``schema`` (a
    :class:`synthvae.schema.Schema`), when given, says how the table is written: CSV
    cells in each column's written format and the file's layout (delimiter, quoting,
    line ends), Parquet columns in their Arrow types.
    """
    integer_columns = tuple(integer_columns)
    formats = _Formats(schema)

    def render(frame):
        frame = integer_columns_for_output(frame, integer_columns)
        if fmt == "parquet":
            return arrow_table(frame, formats.arrow)
        # The formatted cells go to Arrow's writer as the Arrow arrays they are made as,
        # with no frame built in between.
        columns = formats.text.cells(frame)
        if formats.dialect.trailing_delimiter:
            columns[_AFTER_LAST] = pd.Series("", index=frame.index)
        return _csv_body(columns, formats.dialect)

    # CSV text is made from a category column's values, each formatted once, when the
    # rows come with such columns as pandas Categoricals (see
    # synthvae.generation.Generator.chunks); Parquet keeps the plain columns' types.
    render.categories = fmt != "parquet"
    return render


def write_chunks(chunks, out, fmt, integer_columns=(), schema=None):
    """Write an iterable of DataFrames to ``out`` (a text stream, or a path written atomically).

    ``integer_columns`` are written as whole numbers even where gaps made them floats;
    ``schema`` says how the table is written (see :func:`renderer`).
    """
    chunks = iter(chunks)
    first = next(chunks, None)
    if first is None:  # nothing to write: an empty file, or nothing on a stream
        write_rendered([], out, fmt, None, schema)
        return
    render = renderer(fmt, integer_columns, schema)
    header = integer_columns_for_output(first.iloc[:0], integer_columns)
    write_rendered((render(chunk) for chunk in itertools.chain([first], chunks)), out, fmt, header, schema)


def write_rendered(parts, out, fmt, header, schema=None):
    """Write ``parts``, each made by :func:`renderer`, to ``out`` (a text stream, or a path
    written atomically), after the CSV header of the empty frame ``header`` (for
    Parquet, the table's columns when there are no parts; None: no header), laid out
    as ``schema`` says (its encoding too when ``out`` is a path)."""
    formats = _Formats(schema)
    if isinstance(out, (str, Path)):
        with atomic_path(out) as tmp:
            if fmt == "parquet":
                _write_parquet(parts, tmp, header, formats.arrow)
            else:
                with open(tmp, "w", encoding=formats.dialect.encoding, errors="replace", newline="") as fh:
                    _write_csv(parts, fh, header, formats.dialect)
    else:
        try:
            _write_csv(parts, out, header, formats.dialect)
        except OSError as exc:
            if isinstance(exc, BrokenPipeError):
                raise
            name = getattr(out, "name", None)
            raise write_error(name if isinstance(name, str) and not name.startswith("<") else "standard output",
                              exc) from None


class _Formats:
    """What a schema says about writing a table: a text formatter, the CSV layout and
    the Arrow types."""

    def __init__(self, schema):
        columns = schema.columns if schema is not None else []
        self.text = TextFormatter({c.name: c.written for c in columns if c.written is not None})
        self.dialect = CsvDialect.from_dict(schema.csv if schema is not None else None)
        self.arrow = {c.name: c.arrow for c in columns if c.arrow is not None}


def _write_csv(parts, fh, header, dialect=None):
    if header is not None:
        fh.write(_header_text(header, dialect or CsvDialect()))
    for text in parts:
        fh.write(text)
    fh.flush()


# The empty cell after a trailing delimiter, as a column while rows are written.
_AFTER_LAST = "\x00<after the last delimiter>"


def _header_text(frame, dialect):
    """The header line: as pandas writes it, or, for a file whose header has empty names
    or a trailing delimiter, as the file had it."""
    if not dialect.unnamed and not dialect.header_trailing_delimiter:
        return frame_to_csv_text(frame.iloc[:0], header=True, dialect=dialect)
    text = io.StringIO()
    quoting = csv.QUOTE_ALL if dialect.quote_all else csv.QUOTE_MINIMAL
    csv.writer(text, delimiter=dialect.delimiter, lineterminator=dialect.line_ending,
               quoting=quoting).writerow(dialect.header(frame.columns))
    return text.getvalue()


# Written as numbers, text or True/False by Arrow's CSV writer, several times faster
# than pandas' (which formats every cell in Python). Other dtypes go through pandas.
_ARROW_KINDS = set("iufbOT")
# A cell holding one of these, or the delimiter, would need quotes, which Arrow's
# writer puts around every text cell or none: such chunks go through pandas, which
# quotes only them.
_QUOTE_BYTES = tuple(c.encode() for c in '"\r\n')
# Whole floats below this size are written by Arrow as plain digits (``38``).
_PLAIN_WHOLE = 1e15


def _csv_body(frame, dialect=None):
    """``frame``'s rows as CSV text without a header, as :func:`frame_to_csv_text` reads
    them back: same values, same dtypes (floats keep their ``.0``), empty missing cells;
    laid out as ``dialect`` says when one is given. ``frame`` may also be its columns by
    name, each a Series or an Arrow array of the same length."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    series = {name: frame[name] for name in frame.columns} if isinstance(frame, pd.DataFrame) else frame

    def by_pandas():
        index = next((c.index for c in series.values() if isinstance(c, pd.Series)), None)
        whole = pd.DataFrame({name: c if isinstance(c, pd.Series) else pd.Series(pd.arrays.ArrowExtensionArray(c),
                                                                                 index=index)
                              for name, c in series.items()}, index=index)
        return frame_to_csv_text(whole, header=False, dialect=dialect)

    layout = dialect or CsvDialect()
    quote_bytes = _QUOTE_BYTES + (layout.delimiter.encode(),)

    def cells(column):
        """The column as an Arrow array Arrow's writer writes as pandas would, or None."""
        if isinstance(column, pd.Series):
            if _dtype_kind(column) not in _ARROW_KINDS:
                return None
            try:
                column = pa.array(column, from_pandas=True)
            except (pa.ArrowInvalid, pa.ArrowTypeError):  # an object column of mixed types
                return None
        if isinstance(column, pa.Array):
            column = pa.chunked_array([column])
        kind = column.type
        if pa.types.is_string(kind) or pa.types.is_large_string(kind):
            if not layout.quote_all and _needs_quotes(column, quote_bytes):
                return None
        elif pa.types.is_boolean(kind):
            column = pc.if_else(column, "True", "False")
        elif pa.types.is_floating(kind):
            column = _float_text(column, pc)
        elif not pa.types.is_integer(kind):
            return None
        return column

    columns = []
    for column in series.values():
        if isinstance(column, pd.Series) and isinstance(column.dtype, pd.CategoricalDtype):
            column = categorical_cells(column, cells)
        else:
            column = cells(column)
        if column is None:  # a column pandas must write: the whole chunk goes through pandas
            return by_pandas()
        columns.append(column)
    table = pa.table(columns, names=[str(i) for i in range(len(columns))])
    sink = pa.BufferOutputStream()
    options = pacsv.WriteOptions(include_header=False, delimiter=layout.delimiter, eol=layout.line_ending,
                                 quoting_style="all_valid" if layout.quote_all else "none")
    pacsv.write_csv(table, sink, options)
    return sink.getvalue().to_pybytes().decode("utf-8")


def _dtype_kind(series):
    dtype = series.dtype
    if isinstance(dtype, pd.StringDtype):
        return "T"
    if isinstance(dtype, pd.ArrowDtype) and dtype.pyarrow_dtype in ("string", "large_string"):
        return "T"
    return getattr(dtype, "kind", "?")


def _needs_quotes(column, quote_bytes=_QUOTE_BYTES + (b",",)):
    """Whether a text cell of ``column`` (an Arrow string column) holds a character that
    needs quotes (``quote_bytes``): a scan of the bytes the cells are stored in, not a
    match per cell."""
    for chunk in column.chunks:
        data = chunk.buffers()[2]
        # A slice's buffer may hold bytes beyond it: at worst a chunk is sent to pandas.
        data = data.to_pybytes() if data is not None else b""
        if any(c in data for c in quote_bytes):
            return True
    return False


def _float_text(column, pc):
    """Arrow writes the float 38.0 as ``38``, which would read back as an integer
    column; pandas writes ``38.0``. Whole numbers get their ``.0`` back."""
    import numpy as np
    import pyarrow as pa

    text = pc.cast(column, "string")
    values = column.to_numpy()
    with np.errstate(invalid="ignore"):
        whole = np.isfinite(values) & (np.trunc(values) == values)
        if not (np.abs(values[whole]) < _PLAIN_WHOLE).all():
            # Huge whole numbers: Arrow may write them with an exponent; read its text.
            whole = pc.invert(pc.match_substring_regex(text, "[.eEna]"))
    return pc.if_else(whole, pc.binary_join_element_wise(text, ".0", ""), text)


def _write_parquet(tables, path, header, arrow_types=None):
    import pyarrow.parquet as pq

    writer = None
    try:
        for table in tables:
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema)
            writer.write_table(table)
        if writer is None and header is not None:
            writer = pq.ParquetWriter(path, arrow_table(header, arrow_types).schema)
    finally:
        if writer is not None:
            writer.close()


def as_frame(data, what="data"):
    """Check that ``data`` is a non-empty DataFrame with unique string-able column names."""
    if not isinstance(data, pd.DataFrame):
        from synthvae.errors import InputTypeError

        raise InputTypeError(f"{what} must be a pandas DataFrame, not {type(data).__name__}")
    if data.columns.duplicated().any():
        dupe = data.columns[data.columns.duplicated()][0]
        raise DataError(f"{what} has the column name {dupe!r} more than once; rename one of them")
    check_finite(data, lambda i: f"row {i + 1}")
    return data
