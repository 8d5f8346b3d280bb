"""The one table reader: a CSV or Parquet file read whole or in chunks, with the same checks.

Reading is forgiving about what real CSVs do (``?`` for missing, a latin-1 file,
semicolons, a delimiter at the end of every row) and strict about what would
silently change the table:

- the header is read as written, so ``x`` and ``x.1`` are two names and only two
  identical names are a duplicate;
- every row must have the header's number of fields (or every row one more, an empty
  one, after a trailing delimiter); the first row that does not is named by its line.
  pandas alone would pad a short row with gaps, drop a long row's extra fields or use
  the first field of every row as an index;
- a whole-number column written with leading zeros (``00501``) is read as text: it is
  a code, not a quantity;
- infinite numbers are refused, naming the column and the line;
- a whole-number column with gaps and numbers beyond 2**53 is read as nullable
  integers (``Int64``), which hold them exactly, where floats would round them;
- how the file writes each column (its missing cell, decimals, boolean spellings...)
  and its own layout are learned from its first rows as written, and kept in
  ``frame.attrs["written"]`` and ``frame.attrs["csv"]`` (see :mod:`synthvae.formats`);
- a column keeps one type from chunk to chunk: its type is taken from the first rows
  (or from the schema, once there is one), never guessed again per chunk, and a chunk
  whose values do not fit it is refused, naming the line.
"""

from __future__ import annotations

import bz2
import contextlib
import csv
import gzip
import io
import lzma
from pathlib import Path

import numpy as np
import pandas as pd

from synthvae.errors import DataError, MissingFileError, UsageError
from synthvae.formats import arrow_type_text, infer_dialect, infer_written

# Cells that mean "no value". Adult writes " ?" (with the leading space its
# categories carry), so the padded forms are listed too.
NA_TOKENS = ["", "?", " ?", "? ", "NA", " NA", "N/A", "NaN", "nan", "NULL", "null", "None", "#N/A"]
_DELIMITERS = ",;\t|"
# The first rows of a file decide which whole-number columns are codes.
CODE_SCAN_ROWS = 100_000
# Rows whose cells, as written, teach how each column is written.
FORMAT_SCAN_ROWS = 20_000
# Whole numbers beyond this lose digits as float64.
_EXACT_FLOAT_LIMIT = 2**53
# The name given to the empty field after a trailing delimiter while it is read.
_TRAILING = "\x00<after the last delimiter>"
_COMPRESSED = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}


def open_table(path):
    """A reader of the table in ``path``: a :class:`CsvFile` or a :class:`ParquetFile`.

    Raises
    ------
    MissingFileError
        The path does not exist.
    DataError
        The path is a folder, or not a table synthvae can read; the message says why.
    """
    path = Path(path)
    if not path.exists():
        raise MissingFileError(f"no such file: {path}")
    if path.is_dir():
        raise DataError(f"{path} is a folder; give the path of a CSV file")
    if path.suffix.lower() == ".parquet":
        return ParquetFile(path)
    return CsvFile(path)


# -- CSV -----------------------------------------------------------------------------------


class CsvFile:
    """A CSV file (``, ; tab |`` delimited, UTF-8 or latin-1, maybe .gz/.bz2/.xz)."""

    def __init__(self, path):
        self.path = path = Path(path)
        head = _read_head(path)
        if not head.strip():
            raise DataError(f"{path} is empty; it needs a header line and at least one row")
        if b"\x00" in head:
            raise DataError(f"{path} is not a text file (it contains NUL bytes); give a CSV file")
        self.encoding = _detect_encoding(path)
        self.delimiter = _detect_delimiter(head.decode("latin-1"))
        self.dialect = infer_dialect(head.decode(self.encoding, errors="replace"), self.delimiter, self.encoding)
        self._read_layout()

    def _read_layout(self):
        """The header's names, and whether the rows end in a trailing delimiter."""
        records = self._records()
        try:
            _, header = next(records)
        except StopIteration:
            raise DataError(f"{self.path} is empty; it needs a header line and at least one row") from None
        except csv.Error as exc:
            raise DataError(f"cannot parse {self.path}: {exc}") from None
        self.header_trailing = len(header) > 1 and header[-1] == ""
        names = header[:-1] if self.header_trailing else list(header)
        seen = set()
        for name in names:
            if name in seen and name != "":
                raise DataError(f"{self.path} has the column name {name!r} more than once; rename one of them")
            seen.add(name)
        # pandas' names for empty header cells
        self.names = [name if name != "" else f"Unnamed: {i}" for i, name in enumerate(names)]
        self.dialect.unnamed = [f"Unnamed: {i}" for i, name in enumerate(names) if name == ""]
        self.dialect.header_trailing_delimiter = self.header_trailing
        first = next(records, None)
        records.close()
        if first is None:
            raise DataError(f"{self.path} has a header but no rows")
        line, row = first
        self.trailing = len(row) == len(names) + 1 and row[-1] == ""
        self.dialect.trailing_delimiter = self.trailing
        if len(row) != len(names) and not self.trailing:
            self._ragged(line, len(row))

    def _open_text(self):
        opener = _COMPRESSED.get(self.path.suffix.lower(), open)
        encoding = "utf-8-sig" if self.encoding == "utf-8" else self.encoding
        return opener(self.path, "rt", encoding=encoding, newline="")

    def _records(self):
        """(line number, fields) of each record, header first; blank lines skipped as
        pandas skips them."""
        limit = csv.field_size_limit(2**31 - 1)  # pandas has no limit on a field's length
        try:
            with self._open_text() as fh:
                reader = csv.reader(fh, delimiter=self.delimiter)
                for row in reader:
                    # An empty line, or one of spaces; a lone quoted empty cell ("") is a row.
                    if not row or (len(row) == 1 and row[0] != "" and not row[0].strip()):
                        continue
                    yield reader.line_num, row
        finally:
            csv.field_size_limit(limit)

    def _fits(self, row):
        if self.trailing:
            return len(row) == len(self.names) + 1 and row[-1] == ""
        return len(row) == len(self.names)

    def _ragged(self, line, n_fields):
        if self.trailing:
            rule = (f"the rows before it have {len(self.names)} and an empty one after a trailing delimiter; "
                    "every row must end the same way")
        else:
            rule = f"the header has {len(self.names)}; every row must have as many fields as the header"
        raise DataError(f"cannot parse {self.path}: line {line} has {n_fields} fields, {rule}")

    def _row_checker(self):
        """A generator that, sent a number of rows, checks that many more records."""
        records = self._records()
        next(records)  # the header
        try:
            count = yield
            while True:
                for _ in range(count):
                    item = next(records, None)
                    if item is None:
                        break
                    if not self._fits(item[1]):
                        self._ragged(item[0], len(item[1]))
                count = yield
        except csv.Error:
            return  # csv and pandas disagree about this file: pandas read it, leave it at that
        finally:
            records.close()

    def line_of(self, row):
        """'line N': the file line of data row ``row`` (counted from 0)."""
        records = self._records()
        try:
            next(records)
            for i, (line, _) in enumerate(records):
                if i == row:
                    return f"line {line}"
        except csv.Error:
            pass
        finally:
            records.close()
        return f"data row {row + 1}"

    def _pandas_options(self, dtype=None):
        names = self.names + ([_TRAILING] if self.trailing else [])
        return dict(
            sep=self.delimiter, encoding=self.encoding, header=0, names=names, index_col=False,
            na_values=NA_TOKENS, keep_default_na=False, skipinitialspace=False, low_memory=False,
            dtype=dtype or None,
        )

    def _parse(self, **options):
        try:
            return pd.read_csv(self.path, **{**self._pandas_options(), **options})
        except pd.errors.ParserError as exc:
            self._check_all_rows()
            raise DataError(f"cannot parse {self.path}: {_parser_message(exc)}") from None
        except pd.errors.EmptyDataError:
            raise DataError(f"{self.path} is empty; it needs a header line and at least one row") from None

    def _check_all_rows(self):
        checker = self._row_checker()
        next(checker)
        _check_more(checker, 2**62)
        checker.close()

    def _code_columns(self, frame):
        """Whole-number columns whose first rows hold a number written with a leading
        zero: codes (zip codes, account numbers), to be read as text."""
        candidates = [name for name in frame.columns if name != _TRAILING and _whole_numbers(frame[name])]
        if not candidates:
            return []
        text = self._parse(usecols=candidates, dtype=str, nrows=CODE_SCAN_ROWS)
        return [name for name in candidates if text[name].dropna().str.match(r"0\d").any()]

    def _large_integer_columns(self, frame):
        """Whole-number columns with gaps that hold numbers float64 cannot keep exactly."""
        return [name for name in frame.columns
                if name != _TRAILING and frame[name].dtype.kind == "f" and frame[name].isna().any()
                and _whole_numbers(frame[name]) and np.nanmax(np.abs(frame[name].to_numpy())) > _EXACT_FLOAT_LIMIT]

    def cells(self, nrows=FORMAT_SCAN_ROWS):
        """The first ``nrows`` rows as the file writes them: every cell its text, an
        empty cell ``""``, nothing parsed."""
        cells = self._parse(dtype=str, na_values=[], keep_default_na=False, na_filter=False, nrows=nrows)
        return cells.drop(columns=[_TRAILING], errors="ignore")

    def formats(self, frame=None):
        """How the file writes each column (``"written"``) and its layout (``"csv"``),
        learned from its first rows; ``frame``: the table as read, else its first rows
        are read here."""
        if frame is None:
            frame = self._parse(nrows=FORMAT_SCAN_ROWS)
            for name in self._code_columns(frame):
                frame[name] = self.cells()[name]
        return {"written": infer_written(self.cells(), frame), "csv": self.dialect.to_dict()}

    def learn_formats(self, frame):
        """``frame`` with :meth:`formats` recorded in its ``attrs``."""
        frame.attrs.update(self.formats(frame))
        return frame

    def read(self):
        """The whole table as a DataFrame."""
        self._check_all_rows()
        frame = self._parse()
        codes = self._code_columns(frame)
        if codes:
            text = self._parse(usecols=codes, dtype=str)
            for name in codes:
                frame[name] = text[name]
        large = self._large_integer_columns(frame)
        if large:
            exact = self._parse(usecols=large, dtype={name: "Int64" for name in large})
            for name in large:
                frame[name] = exact[name]
        frame = frame.drop(columns=[_TRAILING], errors="ignore")
        if len(frame) == 0:
            raise DataError(f"{self.path} has a header but no rows")
        check_finite(frame, self.line_of)
        return self.learn_formats(frame)

    def chunks(self, chunk_rows, types, check_rows=True):
        """DataFrames of at most ``chunk_rows`` rows, indexed by row number from 0.

        ``types`` (:class:`synthvae.column_types.ColumnTypes`) is learned from the first chunk when it is
        empty and holds every chunk to one type per column. ``check_rows=False`` skips
        the count of fields per line (for a file already read once in full).
        """
        if not types.known:
            first = self._parse(nrows=chunk_rows)
            types.learn(first.drop(columns=[_TRAILING], errors="ignore"), self._code_columns(first))
        dtype = {name: str for name in types.text_columns(self.names)}
        checker = None
        if check_rows:
            checker = self._row_checker()
            next(checker)
        offset = 0
        try:
            reader = pd.read_csv(self.path, chunksize=chunk_rows, **self._pandas_options(dtype))
            with reader:
                for chunk in reader:
                    if checker is not None:
                        _check_more(checker, len(chunk))
                    chunk = _settled(chunk.drop(columns=[_TRAILING], errors="ignore"), offset, types, self.line_of)
                    offset += len(chunk)
                    yield chunk
        except pd.errors.ParserError as exc:
            self._check_all_rows()
            raise DataError(f"cannot parse {self.path}: {_parser_message(exc)}") from None
        finally:
            if checker is not None:
                checker.close()
        if offset == 0:
            raise DataError(f"{self.path} has a header but no rows")


def _check_more(checker, n_rows):
    """Check ``n_rows`` more records with a :meth:`CsvFile._row_checker`."""
    with contextlib.suppress(StopIteration):  # it stopped early: csv could not read the file
        checker.send(n_rows)


def _whole_numbers(series):
    if series.dtype.kind in "iu":
        return True
    if series.dtype.kind != "f":
        return False
    values = series.dropna().to_numpy()
    return len(values) > 0 and bool(np.all(np.isfinite(values) & (values == np.round(values))))


# -- Parquet ---------------------------------------------------------------------------------


class ParquetFile:
    """A Parquet file, read with pyarrow."""

    def __init__(self, path):
        self.path = Path(path)
        schema = self._call(lambda pq: pq.read_schema(self.path))
        self.names = list(schema.names)
        dupes = [n for i, n in enumerate(self.names) if n in self.names[:i]]
        if dupes:
            raise DataError(f"{self.path} has the column name {dupes[0]!r} more than once; rename one of them")

    def _call(self, func):
        try:
            import pyarrow.parquet as pq
        except ImportError:
            raise UsageError("reading Parquet needs pyarrow: pip install pyarrow") from None
        try:
            return func(pq)
        except Exception as exc:  # pyarrow raises several unrelated types for a bad file
            raise DataError(f"cannot read {self.path} as Parquet: {exc}") from None

    def line_of(self, row):
        return f"row {row + 1}"

    def formats(self, frame=None):
        """Each column's Arrow type (``"arrow"``), kept so that Parquet written back has them."""
        schema = self._call(lambda pq: pq.read_schema(self.path))
        return {"arrow": {field.name: arrow_type_text(field.type) for field in schema}}

    def read(self):
        frame = _nan_for_missing(self._call(lambda pq: pq.read_table(self.path).to_pandas()))
        if len(frame) == 0:
            raise DataError(f"{self.path} has a header but no rows")
        check_finite(frame, self.line_of)
        frame.attrs.update(self.formats())
        return frame

    def chunks(self, chunk_rows, types, check_rows=True):
        offset = 0
        for batch in self._call(lambda pq: pq.ParquetFile(self.path)).iter_batches(batch_size=chunk_rows):
            chunk = _settled(_nan_for_missing(batch.to_pandas()), offset, types, self.line_of)
            offset += len(chunk)
            yield chunk


def _nan_for_missing(frame):
    """Missing text cells as NaN, as the CSV reader gives them (Arrow gives None): a
    table reads the same from either format."""
    for name in frame.columns[frame.dtypes == object]:
        column = frame[name]
        if column.isna().any():
            frame[name] = column.where(column.notna(), np.nan)
    return frame


# -- checks shared by both ----------------------------------------------------------------


def _settled(chunk, offset, types, line_of):
    """A chunk indexed by row number from ``offset``, in its columns' types, checked for
    infinite numbers; ``line_of(row)`` names a row's place in the file."""
    chunk.index = pd.RangeIndex(offset, offset + len(chunk))
    chunk = types.settle(chunk, lambda i: line_of(offset + i))
    check_finite(chunk, lambda i: line_of(offset + i))
    return chunk



def check_finite(frame, where=None):
    """DataError naming the column (and, given ``where``, the place) of the first
    infinite number in ``frame``."""
    numeric = frame.select_dtypes(include=[np.number])
    if not len(numeric.columns):
        return
    values = numeric.to_numpy(dtype=np.float64, na_value=np.nan)
    bad = np.isinf(values)
    if not bad.any():
        return
    column = int(np.argmax(bad.any(axis=0)))
    row = int(np.argmax(bad[:, column]))
    at = f" ({where(row)})" if where is not None else ""
    raise DataError(
        f"column {numeric.columns[column]!r} holds infinite values{at}; replace them with numbers or empty cells"
    )


def _open_bytes(path):
    """Open a file for reading bytes, decompressing .gz/.bz2/.xz as pandas will."""
    return _COMPRESSED.get(path.suffix.lower(), open)(path, "rb")


def _read_head(path, size=65536):
    try:
        with _open_bytes(path) as fh:
            return fh.read(size)
    except (OSError, EOFError, lzma.LZMAError) as exc:
        raise DataError(f"cannot read {path}: {exc}") from None


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
    """The delimiter that splits the first lines into the most fields consistently
    (every row as many as the header, or every row one more, empty, after a trailing
    delimiter); else csv's guess; else a comma."""
    lines = [line for line in head.splitlines()[:50] if line.strip()]
    if len(lines) > 1 and not head.endswith("\n"):
        lines = lines[:-1]  # the last line of the sample may be cut short
    text = "\n".join(lines)
    best, best_width = None, 1
    for delimiter in _DELIMITERS:
        try:
            rows = [row for row in csv.reader(io.StringIO(text), delimiter=delimiter) if row]
        except csv.Error:
            continue
        if not rows:
            continue
        header, data = rows[0], rows[1:]
        width = len(header) - (1 if len(header) > 1 and header[-1] == "" else 0)
        exact = all(len(row) == width for row in data)
        trailing = all(len(row) == width + 1 and row[-1] == "" for row in data)
        if (exact or trailing) and width > best_width:
            best, best_width = delimiter, width
    if best is not None:
        return best
    ends = {line[-1] for line in lines[1:]}
    if len(ends) == 1 and ends <= set(_DELIMITERS) and ends.isdisjoint(lines[0]):
        return ends.pop()  # one column, every row ending in a trailing delimiter
    try:
        return csv.Sniffer().sniff(text, delimiters=_DELIMITERS).delimiter
    except csv.Error:
        return ","


def _parser_message(exc):
    text = str(exc).strip().splitlines()[-1]
    return f"{text}; every row must have as many fields as the header"

