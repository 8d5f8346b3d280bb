"""Reading tables from disk and writing them back, safely.

Reading is forgiving about the things real CSVs do (``?`` for missing, a latin-1
file, semicolons) and strict about the things that would silently corrupt a model
(duplicate headers, ragged rows). Writing always goes to a temporary file in the
destination folder that is renamed into place at the end, so an interrupted run
never leaves a half-written file and never destroys the previous one.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import os
import tempfile
from pathlib import Path

import pandas as pd

from synthvae.errors import DataError, UsageError
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


def frame_to_csv_text(frame, header):
    """Render ``frame`` as CSV text (``\\n`` line ends, empty cells for missing values)."""
    return frame.to_csv(index=False, header=header, lineterminator="\n", na_rep="")


def integer_columns_for_output(frame, integer_columns):
    """Give whole-number float columns a nullable integer dtype so CSV shows ``3``, not ``3.0``."""
    out = frame
    for name in integer_columns:
        if out[name].dtype.kind == "f":
            if out is frame:
                out = frame.copy()
            out[name] = out[name].astype("Int64")
    return out


def output_format(path):
    """``"parquet"`` when the output name ends in .parquet, else ``"csv"``."""
    if path is not None and str(path).lower().endswith(".parquet"):
        return "parquet"
    return "csv"


def renderer(fmt, integer_columns=()):
    """The function that turns one chunk of decoded rows into what is written: its CSV
    text without a header (``fmt="csv"``), or an Arrow table (``"parquet"``).

    This is the one place where a frame becomes output, and it runs on the threads that
    make the rows (see :meth:`synthvae.sampling.Sampler.iter_sample`), so that the
    formatting of several chunks proceeds at once. ``integer_columns`` are written as
    whole numbers even where gaps made them floats.
    """
    integer_columns = tuple(integer_columns)

    def render(frame):
        frame = integer_columns_for_output(frame, integer_columns)
        if fmt == "parquet":
            import pyarrow as pa

            return pa.Table.from_pandas(frame, preserve_index=False)
        return _csv_body(frame)

    return render


def write_chunks(chunks, out, fmt, integer_columns=()):
    """Write an iterable of DataFrames to ``out`` (a text stream, or a path written atomically).

    ``integer_columns`` are written as whole numbers even where gaps made them floats.
    """
    chunks = iter(chunks)
    first = next(chunks, None)
    if first is None:  # nothing to write: an empty file, or nothing on a stream
        write_rendered([], out, fmt, None)
        return
    render = renderer(fmt, integer_columns)
    header = integer_columns_for_output(first.iloc[:0], integer_columns)
    write_rendered((render(chunk) for chunk in itertools.chain([first], chunks)), out, fmt, header)


def write_rendered(parts, out, fmt, header):
    """Write ``parts``, each made by :func:`renderer`, to ``out`` (a text stream, or a path
    written atomically), after the CSV header of the empty frame ``header`` (for
    Parquet, the table's columns when there are no parts; None: no header)."""
    if isinstance(out, (str, Path)):
        with atomic_path(out) as tmp:
            if fmt == "parquet":
                _write_parquet(parts, tmp, header)
            else:
                with open(tmp, "w", encoding="utf-8", newline="") as fh:
                    _write_csv(parts, fh, header)
    else:
        try:
            _write_csv(parts, out, header)
        except OSError as exc:
            if isinstance(exc, BrokenPipeError):
                raise
            name = getattr(out, "name", None)
            raise write_error(name if isinstance(name, str) and not name.startswith("<") else "standard output",
                              exc) from None


def _write_csv(parts, fh, header):
    if header is not None:
        fh.write(frame_to_csv_text(header, header=True))
    for text in parts:
        fh.write(text)
    fh.flush()


# Written as numbers, text or True/False by Arrow's CSV writer, several times faster
# than pandas' (which formats every cell in Python). Other dtypes go through pandas.
_ARROW_KINDS = set("iufbOT")
# A cell holding one of these would need quotes, which Arrow's writer puts around
# every text cell or none: such chunks go through pandas, which quotes only them.
_NEEDS_QUOTES = '[",\r\n]'
_QUOTE_BYTES = tuple(c.encode() for c in '",\r\n')
# Whole floats below this size are written by Arrow as plain digits (``38``).
_PLAIN_WHOLE = 1e15


def _csv_body(frame):
    """``frame``'s rows as CSV text without a header, as :func:`frame_to_csv_text` reads
    them back: same values, same dtypes (floats keep their ``.0``), empty missing cells."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    if not all(_dtype_kind(frame[name]) in _ARROW_KINDS for name in frame.columns):
        return frame_to_csv_text(frame, header=False)
    try:
        table = pa.Table.from_pandas(frame, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # an object column of mixed types
        return frame_to_csv_text(frame, header=False)
    columns = []
    for column in table.columns:
        kind = column.type
        if pa.types.is_string(kind) or pa.types.is_large_string(kind):
            if _needs_quotes(column):
                return frame_to_csv_text(frame, header=False)
        elif pa.types.is_boolean(kind):
            column = pc.if_else(column, "True", "False")
        elif pa.types.is_floating(kind):
            column = _float_text(column, pc)
        elif not pa.types.is_integer(kind):
            return frame_to_csv_text(frame, header=False)
        columns.append(column)
    table = pa.table(columns, names=[str(i) for i in range(len(columns))])
    sink = pa.BufferOutputStream()
    pacsv.write_csv(table, sink, pacsv.WriteOptions(include_header=False, quoting_style="none"))
    return sink.getvalue().to_pybytes().decode("utf-8")


def _dtype_kind(series):
    dtype = series.dtype
    if isinstance(dtype, pd.StringDtype):
        return "T"
    return getattr(dtype, "kind", "?")


def _needs_quotes(column):
    """Whether a text cell of ``column`` (an Arrow string column) holds a character that
    needs quotes: a scan of the bytes the cells are stored in, not a match per cell."""
    for chunk in column.chunks:
        data = chunk.buffers()[2]
        # A slice's buffer may hold bytes beyond it: at worst a chunk is sent to pandas.
        data = data.to_pybytes() if data is not None else b""
        if any(c in data for c in _QUOTE_BYTES):
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


def _write_parquet(tables, path, header):
    import pyarrow as pa
    import pyarrow.parquet as pq

    writer = None
    try:
        for table in tables:
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema)
            writer.write_table(table)
        if writer is None and header is not None:
            writer = pq.ParquetWriter(path, pa.Table.from_pandas(header, preserve_index=False).schema)
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
