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
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from synthvae.errors import DataError, UsageError
from synthvae.formats import CsvDialect, TextFormatter, arrow_table
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
    dialect = dialect or CsvDialect()
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


def write_chunks(chunks, out, fmt, integer_columns=(), schema=None):
    """Write an iterable of DataFrames to ``out`` (a text stream, or a path written atomically).

    ``integer_columns`` are written as whole numbers even where gaps made them floats.
    ``schema`` (a :class:`synthvae.schema.Schema`), when given, says how the table is
    written: CSV cells in each column's written format and the file's layout
    (delimiter, quoting, line ends; its encoding too when ``out`` is a path), Parquet
    columns in their Arrow types.
    """
    formats = _Formats(schema)
    chunks = (integer_columns_for_output(chunk, integer_columns) for chunk in chunks)
    if fmt == "csv":
        chunks = (formats.text(chunk) for chunk in chunks)
    if isinstance(out, (str, Path)):
        with atomic_path(out) as tmp:
            if fmt == "parquet":
                _write_parquet(chunks, tmp, formats.arrow)
            else:
                encoding = formats.dialect.encoding
                with open(tmp, "w", encoding=encoding, errors="replace", newline="") as fh:
                    _write_csv(chunks, fh, formats.dialect)
    else:
        try:
            _write_csv(chunks, out, formats.dialect)
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


def _write_csv(chunks, fh, dialect=None):
    dialect = dialect or CsvDialect()
    for i, chunk in enumerate(chunks):
        if i == 0:
            fh.write(_header_text(chunk, dialect))
        if dialect.trailing_delimiter:
            chunk = chunk.assign(**{_AFTER_LAST: ""})
        fh.write(_csv_body(chunk, dialect))
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
_ARROW_KINDS = set("iufbOTU")


def _csv_body(frame, dialect=None):
    """``frame``'s rows as CSV text without a header, as :func:`frame_to_csv_text` reads
    them back: same values, same dtypes (floats keep their ``.0``), empty missing cells."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    dialect = dialect or CsvDialect()
    if not all(_dtype_kind(frame[name]) in _ARROW_KINDS for name in frame.columns):
        return frame_to_csv_text(frame, header=False, dialect=dialect)
    try:
        table = pa.Table.from_pandas(frame, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # an object column of mixed types
        return frame_to_csv_text(frame, header=False, dialect=dialect)
    # A cell holding one of these needs quotes, which Arrow's writer puts around
    # every text cell or none: such chunks go through pandas, which quotes only them.
    needs_quotes = ('"' + "\r\n" + dialect.delimiter).encode()
    columns = []
    for column in table.columns:
        kind = column.type
        if pa.types.is_string(kind) or pa.types.is_large_string(kind):
            if not dialect.quote_all and _holds_any(column, needs_quotes):
                return frame_to_csv_text(frame, header=False, dialect=dialect)
        elif pa.types.is_boolean(kind):
            column = pc.if_else(column, "True", "False")
        elif pa.types.is_floating(kind):
            column = _float_text(column, pc)
        elif not pa.types.is_integer(kind):
            return frame_to_csv_text(frame, header=False, dialect=dialect)
        columns.append(column)
    table = pa.table(columns, names=[str(i) for i in range(len(columns))])
    sink = pa.BufferOutputStream()
    options = pacsv.WriteOptions(include_header=False, delimiter=dialect.delimiter, eol=dialect.line_ending,
                                 quoting_style="all_valid" if dialect.quote_all else "none")
    pacsv.write_csv(table, sink, options)
    return sink.getvalue().to_pybytes().decode("utf-8")


def _holds_any(column, characters):
    """Whether a cell of the Arrow string column ``column`` holds one of the bytes
    ``characters``: a search of the bytes of its cells, all at once."""
    for chunk in column.chunks:
        if not len(chunk):
            continue
        offsets = chunk.buffers()[1]
        width = 8 if _is_large(chunk.type) else 4
        bounds = np.frombuffer(offsets, dtype=np.int64 if width == 8 else np.int32)
        start, stop = bounds[chunk.offset], bounds[chunk.offset + len(chunk)]
        data = chunk.buffers()[2]
        cells = data.to_pybytes()[start:stop] if data is not None else b""
        if any(bytes([c]) in cells for c in characters):
            return True
    return False


def _is_large(arrow_type):
    import pyarrow as pa

    return pa.types.is_large_string(arrow_type)


def _dtype_kind(series):
    dtype = series.dtype
    if isinstance(dtype, pd.StringDtype):
        return "T"
    if isinstance(dtype, pd.ArrowDtype) and dtype.pyarrow_dtype in ("string", "large_string"):
        return "T"
    return getattr(dtype, "kind", "?")


def _float_text(column, pc):
    """Arrow writes the float 38.0 as ``38``, which would read back as an integer
    column; pandas writes ``38.0``. Whole numbers get their ``.0`` back."""
    text = pc.cast(column, "string")
    bare = pc.invert(pc.match_substring_regex(text, "[.eEna]"))
    return pc.if_else(bare, pc.binary_join_element_wise(text, ".0", ""), text)


def _write_parquet(chunks, path, arrow_types=None):
    import pyarrow.parquet as pq

    writer = None
    try:
        for chunk in chunks:
            table = arrow_table(chunk, arrow_types)
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema)
            writer.write_table(table)
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
