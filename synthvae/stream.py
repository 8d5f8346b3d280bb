"""Fitting a table larger than memory: read it in chunks, never whole.

Two passes over the data, then one per epoch:

1. ``reservoir_sample`` reads every chunk once, counts the rows and keeps a uniform
   random sample of at most ``sample_rows`` of them (bottom-k of a random key per row,
   the same as reservoir sampling). The schema, the column transformers, the held-out
   rows, the latent prior and the calibration are all fitted on that sample; rules
   found in it are kept only when every row of the table obeys them
   (``rules_that_hold``, one more pass, only when there are rules to check).
   ``check_table`` then reads the table once more to check every row against the
   schema, so a row the sample did not hold cannot fail half-way through training.
2. ``StreamBatches`` (a ``keras.utils.PyDataset``) reads the table again each epoch,
   transforms each chunk, shuffles its rows (the chunk is the shuffle buffer) and hands
   Keras full batches; the held-out rows are left out by their row numbers.

Memory is bounded by the sample plus a few chunks, whatever the table's size.

When the transformed table fits comfortably in memory (:func:`fits_in_memory`; float32,
4 bytes a matrix cell, much less than the table as a DataFrame), :class:`HeldRows`
transforms it once, in the same pass that checks it, and training shuffles the whole
matrix each epoch instead of reading the file again: memory is then the float32 matrix
and the sample.

:func:`read_whole` chooses, before anything is read in full, whether the command line
reads a table whole or in chunks, from the memory its first rows take and the memory
this machine has available.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import numpy as np
import pandas as pd

from synthvae.errors import DataError, MissingFileError
from synthvae.column_types import ColumnTypes
from synthvae.reader import open_table

# The table is read this many rows at a time; one chunk is also the shuffle buffer.
CHUNK_ROWS = 100_000
# Rows kept to fit the schema, the transformers, the prior and the calibration.
SAMPLE_ROWS = 200_000
# Held-out rows, taken from the sample, to pick the best epoch.
MAX_VALID_ROWS = 20_000
# Rows of the first chunk measured to estimate what the whole table takes in memory.
ESTIMATE_ROWS = 10_000
# Compressed bytes read to estimate a compressed CSV's decompressed size.
COMPRESSED_PROBE_BYTES = 4 << 20
# A fit that reads the table whole holds, at its peak, about this many times the
# DataFrame (the frame, its copy in the schema's columns, the transformed matrix and
# its training and held-out parts, and what Keras makes of them): 6.8 GB for the 1.9 GB
# frame of diamonds repeated 150 times (BENCHMARKS.md).
WHOLE_READ_FACTOR = 3.6
# The table is read whole only when that peak stays below this share of the available
# memory and below WHOLE_READ_BYTES: above it, fitting the transformers on a sample and
# holding only the float32 matrix costs nothing in quality (they fit on subsamples of
# at most 20,000 values anyway) and a fraction of the memory.
MEMORY_SHARE = 0.5
WHOLE_READ_BYTES = 1 << 30
# Bytes per matrix cell while training from a held matrix: the float32 matrix, and the
# batches and per-epoch order drawn from it.
HELD_CELL_BYTES = 4.5

_SUFFIXES = (".csv", ".csv.gz", ".csv.bz2", ".csv.xz", ".tsv", ".txt", ".parquet")


def table_parts(source):
    """The files that make up ``source``: the file itself, or a folder's CSV/Parquet parts
    in name order (hidden files and others are ignored)."""
    path = Path(source)
    if not path.exists():
        raise MissingFileError(f"no such file: {path}")
    if not path.is_dir():
        return [path]
    parts = sorted(
        p for p in path.iterdir()
        if p.is_file() and not p.name.startswith((".", "_")) and p.name.lower().endswith(_SUFFIXES)
    )
    if not parts:
        raise DataError(f"{path} is a folder with no CSV or Parquet files in it; give a table file or a folder of its parts")
    return parts


def total_bytes(source):
    return sum(os.path.getsize(p) for p in table_parts(source))


def available_memory():
    """Bytes of memory this machine can give a process now without swapping (Linux's
    MemAvailable), else its physical memory."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, OSError, ValueError):
        return 8 << 30


def estimated_frame_bytes(source):
    """What ``source`` would take as one DataFrame: the memory of its first
    ESTIMATE_ROWS rows, scaled to the whole table by the share of the file they are.

    Parquet files know their rows. For CSV the share is the text those rows take of
    the (decompressed) file; a compressed file's decompressed size is estimated from
    how far its first rows reached into it.
    """
    total = 0.0
    for part in table_parts(source):
        first = next(iter_chunks(part, ESTIMATE_ROWS))
        per_row = first.memory_usage(deep=True).sum() / max(1, len(first))
        total += per_row * _estimated_rows(part, len(first))
    return int(total)


def _estimated_rows(part, rows_read):
    """The rows of one part, from the text its first ``rows_read`` rows take."""
    if part.name.lower().endswith(".parquet"):
        import pyarrow.parquet as pq

        return pq.ParquetFile(part).metadata.num_rows
    import bz2
    import gzip
    import lzma

    opener = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}.get(part.suffix.lower())
    with open(part, "rb") as raw, (opener(raw) if opener else contextlib.nullcontext(raw)) as text:
        head = 0
        for _ in range(rows_read + 1):  # the header, then the rows
            line = text.readline()
            if not line:
                return rows_read  # that was the whole table
            head += len(line)
        text_bytes = os.path.getsize(part)
        if opener:
            # The decompressed size, from how much text the first few MB of the file
            # give (the decompressor reads ahead, so a small reading would overstate
            # what the head took); exact when that reaches the end.
            decompressed = head
            while raw.tell() < COMPRESSED_PROBE_BYTES:
                block = text.read(1 << 20)
                if not block:
                    break
                decompressed += len(block)
            text_bytes = decompressed if not block else decompressed * os.path.getsize(part) / raw.tell()
    return int(rows_read * text_bytes / max(1, head))


def read_whole(source):
    """Whether ``synthvae fit`` reads ``source`` as one DataFrame when not told: only a
    file whose whole-table fit (about WHOLE_READ_FACTOR times its DataFrame) stays
    within MEMORY_SHARE of the available memory and WHOLE_READ_BYTES. Anything else is
    read in chunks (:meth:`SynthVAE.fit_stream`), and its matrix held in memory or
    streamed as :func:`fits_in_memory` says."""
    if Path(source).is_dir():
        return False
    try:
        peak = estimated_frame_bytes(source) * WHOLE_READ_FACTOR
    except DataError:
        return True  # a table that cannot be read: the whole read says why, in its words
    return peak <= min(available_memory() * MEMORY_SHARE, WHOLE_READ_BYTES)


def fits_in_memory(n_rows, width):
    """Whether a float32 matrix of this shape, and training from it, fit well within the
    memory available now."""
    return n_rows * width * HELD_CELL_BYTES <= available_memory() * MEMORY_SHARE


def iter_chunks(source, chunk_rows=CHUNK_ROWS, types=None, check_rows=True):
    """Yield DataFrames of at most ``chunk_rows`` rows, part after part, in file order,
    indexed by their row number in the whole table.

    Every part is read by the reader :func:`synthvae.io.read_table` uses, with its
    checks (see :mod:`synthvae.reader`), and must have the first part's columns. Each
    column keeps one type throughout: ``types`` (a :class:`ColumnTypes`, e.g. from the
    schema) or, when None, the types of the first chunk. ``check_rows=False`` skips
    counting the fields of every line, for a table already read once in full.
    """
    columns, offset = None, 0
    types = ColumnTypes() if types is None else types
    for part in table_parts(source):
        table = open_table(part)
        if columns is None:
            columns = list(table.names)
        elif list(table.names) != columns:
            raise DataError(f"{part} has other columns than the first part; every part needs the same header")
        rows = 0
        for chunk in table.chunks(chunk_rows, types, check_rows=check_rows):
            rows += len(chunk)
            chunk.index = chunk.index + offset
            yield chunk
        offset += rows


def reservoir_sample(source, size, seed, chunk_rows=CHUNK_ROWS):
    """A uniform random sample of at most ``size`` rows of the whole table, in one pass.

    Returns
    -------
    sample : pandas.DataFrame
        The kept rows, in table order, indexed by their row number in the table.
        ``sample.attrs`` records what the sample alone cannot show: ``"table_rows"``,
        the rows of the whole table, and ``"gaps"``, the columns with a missing value
        anywhere in it.
    n_rows : int
        Rows in the whole table.
    """
    rng = np.random.default_rng([seed, 7])
    kept, keys, n_rows, gaps = None, np.empty(0), 0, set()
    for chunk in iter_chunks(source, chunk_rows):
        chunk = chunk.set_axis(np.arange(n_rows, n_rows + len(chunk)), axis=0)
        n_rows += len(chunk)
        gaps.update(chunk.columns[chunk.isna().any().to_numpy()])
        chunk_keys = rng.random(len(chunk))
        if kept is None:
            kept, keys = chunk.iloc[:0], np.empty(0)
        # Only rows whose key beats the current k-th smallest can enter.
        if len(keys) >= size:
            threshold = np.partition(keys, size - 1)[size - 1]
            entering = chunk_keys < threshold
            chunk, chunk_keys = chunk[entering], chunk_keys[entering]
        kept = pd.concat([kept, chunk]) if len(kept) else chunk
        keys = np.concatenate([keys, chunk_keys])
        if len(keys) > size:
            best = np.sort(np.argpartition(keys, size - 1)[:size])
            kept, keys = kept.iloc[best], keys[best]
    if kept is None or n_rows == 0:
        raise DataError(f"{source} has a header but no rows")
    sample = kept.sort_index()
    sample.attrs = {"table_rows": n_rows, "gaps": sorted(gaps, key=list(sample.columns).index)}
    sample.attrs.update(open_table(table_parts(source)[0]).formats())
    return sample, n_rows


class StreamedRows:
    """The training rows of a streamed table: the held-out rows come from the sample,
    the rest is read from ``source`` each epoch (:func:`stream_batches`).

    Attributes
    ----------
    valid : numpy.ndarray or None
        The held-out rows, transformed.
    n_train : int
        Rows that training reads each epoch.
    """

    def __init__(self, source, transformer, sample, n_rows, seed, chunk_rows, valid_share):
        check_table(source, transformer.schema, chunk_rows)
        _, valid_part = split_sample(sample, seed, valid_share)
        self.valid = transformer.transform(valid_part) if len(valid_part) else None
        self.n_train = n_rows - len(valid_part)
        self._batch_args = (source, transformer, list(sample.columns), n_rows, valid_part.index.to_numpy())
        self._seed, self._chunk_rows = seed, chunk_rows

    def batches(self, batch_size):
        return stream_batches(*self._batch_args, batch_size, self._seed, self._chunk_rows)


class HeldRows:
    """The training rows of a table read in chunks, transformed once into one float32
    matrix held in memory: the held-out rows come from the sample, as for
    :class:`StreamedRows`, and every other row is checked against the schema and
    transformed in the same pass. Training then shuffles the whole matrix each epoch
    (:func:`held_batches`), without a copy of it.
    """

    def __init__(self, source, transformer, sample, n_rows, seed, chunk_rows, valid_share):
        _, valid_part = split_sample(sample, seed, valid_share)
        self.valid = transformer.transform(valid_part) if len(valid_part) else None
        self.n_train = n_rows - len(valid_part)
        self.matrix = _transform_all(source, transformer, list(sample.columns), n_rows,
                                     valid_part.index.to_numpy(), chunk_rows)
        self._seed = seed

    def batches(self, batch_size):
        return held_batches(self.matrix, batch_size, self._seed)


def _transform_all(source, transformer, columns, n_rows, exclude, chunk_rows):
    """Every row of the table but ``exclude`` (row numbers), transformed, in one float32
    matrix filled chunk by chunk; each chunk is checked against the schema first."""
    schema = transformer.schema
    types = ColumnTypes.from_schema(schema)
    exclude = np.sort(np.asarray(exclude, dtype=np.int64))
    matrix = np.empty((n_rows - len(exclude), transformer.width_), dtype=np.float32)
    start, filled = 0, 0
    for chunk in iter_chunks(source, chunk_rows, types, check_rows=False):
        schema.check_data(chunk[schema.names])
        rows = np.arange(start, start + len(chunk))
        start += len(chunk)
        keep = ~np.isin(rows, exclude, assume_unique=True)
        part = transformer.transform(chunk.loc[keep, columns] if not keep.all() else chunk[columns])
        matrix[filled : filled + len(part)] = part
        filled += len(part)
    if filled != len(matrix):
        raise DataError(f"{source} changed while it was read: {start} rows now, {n_rows} before")
    return matrix


def held_batches(matrix, batch_size, seed):
    """A ``keras.utils.PyDataset`` of batches of ``matrix``, in a new random order each
    epoch; each batch is gathered when asked for, so the matrix is never copied whole."""

    class HeldBatches(_keras_py_dataset()):
        def __init__(self):
            super().__init__(workers=1, use_multiprocessing=False)
            self.epoch = 0
            self._order = self._draw_order()

        def _draw_order(self):
            return np.random.default_rng([seed, 10, self.epoch]).permutation(len(matrix))

        @property
        def num_batches(self):
            return max(1, -(-len(matrix) // batch_size))

        def __getitem__(self, index):
            if index >= self.num_batches:
                raise IndexError(index)
            rows = np.sort(self._order[index * batch_size : (index + 1) * batch_size])
            return (matrix[rows],)

        def on_epoch_end(self):
            self.epoch += 1
            self._order = self._draw_order()

    return HeldBatches()


def check_table(source, schema, chunk_rows=CHUNK_ROWS):
    """Read the table once more, as training will read it, and raise DataError at the
    first row that does not fit ``schema``: the rows the sample did not hold are
    checked before any training, not found half-way through an epoch."""
    types = ColumnTypes.from_schema(schema)
    for chunk in iter_chunks(source, chunk_rows, types, check_rows=False):
        schema.check_data(chunk[schema.names])


def rules_that_hold(source, rules, schema, chunk_rows=CHUNK_ROWS):
    """Of the rules found in the sample, those that every row of the table obeys
    (see :func:`synthvae.rules.rules_that_hold`), reading it once more."""
    from synthvae.rules import rules_that_hold as holding

    if not rules:
        return []
    types = ColumnTypes.from_schema(schema)
    chunks = (chunk[schema.names] for chunk in iter_chunks(source, chunk_rows, types, check_rows=False))
    return holding(rules, chunks, schema)


def split_sample(sample, seed, share):
    """Held-out rows from the sample (``share`` of it, at most MAX_VALID_ROWS), and the rest."""
    n_valid = min(int(len(sample) * share), MAX_VALID_ROWS)
    if n_valid < 20:
        return sample, sample.iloc[:0]
    order = np.random.default_rng([seed, 8]).permutation(len(sample))
    return sample.iloc[np.sort(order[n_valid:])], sample.iloc[np.sort(order[:n_valid])]


def _keras_py_dataset():
    import keras

    return keras.utils.PyDataset


def stream_batches(source, transformer, columns, n_rows, exclude, batch_size, seed, chunk_rows=CHUNK_ROWS):
    """A ``keras.utils.PyDataset`` of transformed, shuffled batches of the table (see module doc)."""

    class StreamBatches(_keras_py_dataset()):
        def __init__(self):
            super().__init__(workers=1, use_multiprocessing=False)
            self.exclude = np.sort(np.asarray(exclude, dtype=np.int64))
            self.n_train = n_rows - len(self.exclude)
            self.epoch = 0
            self._restart()

        @property
        def num_batches(self):
            return max(1, -(-self.n_train // batch_size))

        def _restart(self):
            self._batches = self._generate(self.epoch)
            self._next = 0

        def _generate(self, epoch):
            rng = np.random.default_rng([seed, 9, epoch])
            start, carry = 0, None
            # The first pass (the sample) checked every line; the schema now fixes the types.
            types = ColumnTypes.from_schema(transformer.schema)
            for chunk in iter_chunks(source, chunk_rows, types, check_rows=False):
                rows = np.arange(start, start + len(chunk))
                start += len(chunk)
                keep = ~np.isin(rows, self.exclude, assume_unique=True)
                matrix = transformer.transform(chunk.loc[keep, columns] if not keep.all() else chunk[columns])
                matrix = matrix[rng.permutation(len(matrix))]
                if carry is not None and len(carry):
                    matrix = np.concatenate([carry, matrix])
                full = len(matrix) - len(matrix) % batch_size
                for i in range(0, full, batch_size):
                    yield (matrix[i : i + batch_size],)
                carry = matrix[full:]
            if carry is not None and len(carry):
                yield (carry,)

        def __getitem__(self, index):
            # Keras asks for batches in order (fit's shuffle is off: the chunks are
            # shuffled here) after peeking at the first ones for their shape.
            if index != self._next:
                self._restart()
                for _ in range(index):
                    next(self._batches)
                self._next = index
            self._next += 1
            try:
                return next(self._batches)
            except StopIteration:
                raise IndexError(index) from None

        def on_epoch_end(self):
            self.epoch += 1
            self._restart()

    return StreamBatches()
