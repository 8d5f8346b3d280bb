"""Reading tables from disk and writing them back, safely.

Reading is forgiving about the things real CSVs do (``?`` for missing, a latin-1
file, semicolons) and strict about the things that would silently corrupt a model
(duplicate headers, ragged rows). Writing always goes to a temporary file in the
destination folder that is renamed into place at the end, so an interrupted run
never leaves a half-written file and never destroys the previous one.
"""

from __future__ import annotations

import bz2
import contextlib
import csv
import gzip
import lzma
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from synthvae.errors import DataError, MissingFileError, UsageError

# Cells that mean "no value". Adult writes " ?" (with the leading space its
# categories carry), so the padded forms are listed too.
NA_TOKENS = ["", "?", " ?", "? ", "NA", " NA", "N/A", "NaN", "nan", "NULL", "null", "None", "#N/A"]
_DELIMITERS = ",;\t|"


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
        The file is not a table synthvae can read; the message says why.
    """
    path = Path(path)
    if not path.exists():
        raise MissingFileError(f"no such file: {path}")
    if path.is_dir():
        raise DataError(f"{path} is a folder; give the path of a CSV file")
    if path.suffix.lower() == ".parquet":
        return _read_parquet(path)
    head = _read_head(path)
    if not head.strip():
        raise DataError(f"{path} is empty; it needs a header line and at least one row")
    if "\x00" in head:
        raise DataError(f"{path} is not a text file (it contains NUL bytes); give a CSV file")
    encoding = _detect_encoding(path)
    delimiter = _detect_delimiter(head)
    try:
        frame = pd.read_csv(
            path,
            sep=delimiter,
            encoding=encoding,
            na_values=NA_TOKENS,
            keep_default_na=False,
            skipinitialspace=False,
            low_memory=False,
        )
    except pd.errors.ParserError as exc:
        raise DataError(f"cannot parse {path}: {_parser_message(exc)}") from None
    except pd.errors.EmptyDataError:
        raise DataError(f"{path} is empty; it needs a header line and at least one row") from None
    _check_header(frame, path)
    _check_short_rows(frame, path, delimiter, encoding)
    return frame


def read_chunks(path, chunk_rows):
    """Yield a CSV or Parquet file as DataFrames of at most ``chunk_rows`` rows.

    CSV is read as :func:`read_table` reads it: delimiter and encoding detected, the
    same missing-value tokens.
    """
    path = Path(path)
    if path.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        for batch in pq.ParquetFile(path).iter_batches(batch_size=chunk_rows):
            yield batch.to_pandas()
        return
    head = _read_head(path)
    if not head.strip():
        raise DataError(f"{path} is empty; it needs a header line and at least one row")
    reader = pd.read_csv(
        path, sep=_detect_delimiter(head), encoding=_detect_encoding(path),
        na_values=NA_TOKENS, keep_default_na=False, chunksize=chunk_rows, low_memory=False,
    )
    try:
        with reader:
            yield from reader
    except pd.errors.ParserError as exc:
        raise DataError(f"cannot parse {path}: {_parser_message(exc)}") from None


def _read_parquet(path):
    try:
        return pd.read_parquet(path)
    except ImportError:
        raise UsageError("reading Parquet needs pyarrow: pip install pyarrow") from None
    except Exception as exc:  # pyarrow raises several unrelated types for a bad file
        raise DataError(f"cannot read {path} as Parquet: {exc}") from None


_COMPRESSED = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}


def _open_bytes(path):
    """Open a file for reading bytes, decompressing .gz/.bz2/.xz as pandas will."""
    return _COMPRESSED.get(path.suffix.lower(), open)(path, "rb")


def _read_head(path, size=65536):
    try:
        with _open_bytes(path) as fh:
            raw = fh.read(size)
    except (OSError, EOFError, lzma.LZMAError) as exc:
        raise DataError(f"cannot read {path}: {exc}") from None
    return raw.decode("latin-1")


def _detect_encoding(path):
    """UTF-8 when the whole file decodes as UTF-8, else latin-1 (which decodes anything)."""
    with _open_bytes(path) as fh:
        try:
            for block in iter(lambda: fh.read(1 << 20), b""):
                block.decode("utf-8")
        except UnicodeDecodeError as exc:
            # A block boundary may split a multi-byte character: only an error away
            # from the block's end means the file is not UTF-8.
            if exc.start < len(block) - 3:
                return "latin-1"
    return "utf-8"


def _detect_delimiter(head):
    lines = [line for line in head.splitlines()[:50] if line.strip()]
    if len(lines) > 1 and not head.endswith("\n"):
        lines = lines[:-1]  # the last line of the sample may be cut short
    try:
        return csv.Sniffer().sniff("\n".join(lines), delimiters=_DELIMITERS).delimiter
    except csv.Error:
        return ","


def _parser_message(exc):
    text = str(exc).strip().splitlines()[-1]
    return f"{text}; every row must have as many fields as the header"


def _check_header(frame, path):
    names = [str(c) for c in frame.columns]
    mangled = [n for n in names if ".1" in n and n.rsplit(".", 1)[0] in names]
    if mangled:
        original = mangled[0].rsplit(".", 1)[0]
        raise DataError(f"{path} has the column name {original!r} more than once; rename one of them")
    if len(frame) == 0:
        raise DataError(f"{path} has a header but no rows")


def _check_short_rows(frame, path, delimiter, encoding):
    """pandas pads a row with too few fields with missing values; find and refuse it.

    Only a row whose last column is missing can be short, so the (slower) count of
    fields per line runs only when the last column has gaps.
    """
    if frame.shape[1] < 2 or not frame.iloc[:, -1].isna().any():
        return
    width = frame.shape[1]
    opener = _COMPRESSED.get(path.suffix.lower(), open)
    with opener(path, "rt", encoding=encoding, newline="") as fh:
        reader = csv.reader(fh, delimiter=delimiter)
        limit = csv.field_size_limit(2**31 - 1)  # pandas has no limit on a field's length
        try:
            for row in reader:
                if row and len(row) < width and any(cell.strip() for cell in row):
                    raise DataError(
                        f"cannot parse {path}: line {reader.line_num} has {len(row)} fields, the header "
                        f"has {width}; every row must have as many fields as the header"
                    )
        except csv.Error:
            return  # csv and pandas disagree about this file: pandas read it, leave it at that
        finally:
            csv.field_size_limit(limit)


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; rename it to ``path`` only on success.

    On any exception (Ctrl-C included) the temporary file is removed and an existing
    file at ``path`` is left as it was.
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise UsageError(f"cannot write {path}: the folder {folder} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


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


def write_chunks(chunks, out, fmt, integer_columns=()):
    """Write an iterable of DataFrames to ``out`` (a text stream, or a path written atomically).

    ``integer_columns`` are written as whole numbers even where gaps made them floats.
    """
    chunks = (integer_columns_for_output(chunk, integer_columns) for chunk in chunks)
    if isinstance(out, (str, Path)):
        with atomic_path(out) as tmp:
            if fmt == "parquet":
                _write_parquet(chunks, tmp)
            else:
                with open(tmp, "w", encoding="utf-8", newline="") as fh:
                    _write_csv(chunks, fh)
    else:
        _write_csv(chunks, out)


def _write_csv(chunks, fh):
    for i, chunk in enumerate(chunks):
        if i == 0:
            fh.write(frame_to_csv_text(chunk.iloc[:0], header=True))
        fh.write(_csv_body(chunk))
    fh.flush()


# Written as numbers, text or True/False by Arrow's CSV writer, several times faster
# than pandas' (which formats every cell in Python). Other dtypes go through pandas.
_ARROW_KINDS = set("iufbOT")
# A cell holding one of these would need quotes, which Arrow's writer puts around
# every text cell or none: such chunks go through pandas, which quotes only them.
_NEEDS_QUOTES = '[",\r\n]'


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
            if pc.any(pc.match_substring_regex(column, _NEEDS_QUOTES)).as_py():
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


def _float_text(column, pc):
    """Arrow writes the float 38.0 as ``38``, which would read back as an integer
    column; pandas writes ``38.0``. Whole numbers get their ``.0`` back."""
    text = pc.cast(column, "string")
    bare = pc.invert(pc.match_substring_regex(text, "[.eEna]"))
    return pc.if_else(bare, pc.binary_join_element_wise(text, ".0", ""), text)


def _write_parquet(chunks, path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    writer = None
    try:
        for chunk in chunks:
            table = pa.Table.from_pandas(chunk, preserve_index=False)
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
    numeric = data.select_dtypes(include=[np.number])
    if len(numeric.columns):
        values = numeric.to_numpy(dtype=np.float64, na_value=np.nan)
        bad = np.isinf(values).any(axis=0)
        if bad.any():
            name = numeric.columns[int(np.argmax(bad))]
            raise DataError(
                f"column {name!r} holds infinite values; replace them with numbers or empty cells"
            )
    return data
