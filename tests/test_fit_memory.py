"""How a fit chooses to read a table by the memory it takes: whole, in chunks with its
float32 matrix held in memory, or streamed each epoch."""

import numpy as np
import pandas as pd
import pytest

from synthvae import SynthVAE, stream
from synthvae.io import read_table

from conftest import EXAMPLE, TINY


@pytest.fixture(scope="module")
def example_files(tmp_path_factory):
    """The example table as plain CSV, gzipped CSV and Parquet, and as one DataFrame."""
    folder = tmp_path_factory.mktemp("memory")
    frame = read_table(EXAMPLE)
    paths = [folder / "table.csv", folder / "table.csv.gz", folder / "table.parquet"]
    frame.to_csv(paths[0], index=False)
    frame.to_csv(paths[1], index=False)
    frame.to_parquet(paths[2])
    return paths, frame


def test_frame_memory_is_estimated_from_the_first_rows(example_files, monkeypatch):
    paths, frame = example_files
    actual = frame.memory_usage(deep=True).sum()
    monkeypatch.setattr(stream, "ESTIMATE_ROWS", 500)  # a tenth of the table, then scaled
    for path in paths:
        estimate = stream.estimated_frame_bytes(path)
        assert 0.75 * actual < estimate < 1.25 * actual, (path.name, estimate, actual)


def test_read_whole_only_what_fits_the_memory_available(example_files, monkeypatch):
    paths, _ = example_files
    monkeypatch.setattr(stream, "available_memory", lambda: 64 << 30)
    assert stream.read_whole(paths[0])
    assert not stream.read_whole(paths[0].parent)  # a folder is always read in chunks
    monkeypatch.setattr(stream, "available_memory", lambda: 1 << 20)
    assert not stream.read_whole(paths[0])
    # However much memory there is, a table whose whole-table fit would pass
    # WHOLE_READ_BYTES is read in chunks.
    monkeypatch.setattr(stream, "available_memory", lambda: 1 << 50)
    monkeypatch.setattr(stream, "WHOLE_READ_BYTES", 1 << 20)
    assert not stream.read_whole(paths[0])


def test_held_rows_shuffle_every_training_row_once_an_epoch(example_files):
    from synthvae.schema import infer_schema
    from synthvae.transformers import TableTransformer

    paths, frame = example_files
    sample, n_rows = stream.reservoir_sample(paths[0], 1000, seed=0, chunk_rows=700)
    transformer = TableTransformer(infer_schema(sample)).fit(sample)
    rows = stream.HeldRows(paths[0], transformer, sample, n_rows, 0, 700, 0.1)
    _, valid = stream.split_sample(sample, 0, 0.1)
    assert rows.matrix.dtype == np.float32 and len(rows.matrix) == rows.n_train == n_rows - len(valid)
    expected = transformer.transform(frame.drop(index=valid.index))
    np.testing.assert_array_equal(rows.matrix, expected)  # in table order, held-out rows left out

    batches = rows.batches(128)
    epochs = []
    for _ in range(2):
        epoch = [batches[i][0] for i in range(batches.num_batches)]
        assert all(len(b) == 128 for b in epoch[:-1])
        epochs.append(np.concatenate(epoch))
        batches.on_epoch_end()
    for stacked in epochs:
        assert np.array_equal(np.unique(stacked, axis=0), np.unique(expected, axis=0))
        assert not np.array_equal(stacked, expected)
    assert not np.array_equal(epochs[0], epochs[1])
    with pytest.raises(IndexError):
        batches[batches.num_batches]


def test_fit_stream_holds_the_matrix_when_it_fits(example_files, monkeypatch, tmp_path):
    paths, frame = example_files
    chosen = []
    for name in ("HeldRows", "StreamedRows"):
        kind = getattr(stream, name)
        monkeypatch.setattr(stream, name, type(name, (kind,), {
            "__init__": lambda self, *args, _kind=kind, _name=name: (chosen.append(_name), _kind.__init__(self, *args))[1],
        }))
    monkeypatch.setattr(stream, "available_memory", lambda: 1 << 20)
    assert not stream.fits_in_memory(len(frame), 100)
    monkeypatch.setattr(stream, "available_memory", lambda: 64 << 30)
    model = SynthVAE(random_state=0, **TINY).fit_stream(paths[1], sample_rows=1500, chunk_rows=900, hold=None)
    assert chosen == ["HeldRows"]
    assert model.n_rows_ == len(frame)
    assert len(model.history_["loss"]) == TINY["epochs"] and np.isfinite(model.history_["loss"]).all()
    rows = model.sample(300, random_state=0)
    assert list(rows.columns) == list(frame.columns)
    assert set(rows["workclass"].dropna()) <= set(frame["workclass"].dropna())
    # Fitted on a sample of the table (categorical columns keep a slot for values the
    # sample lacked): the file holds that too, and samples the same rows.
    model.save(tmp_path / "held.synthvae")
    pd.testing.assert_frame_equal(SynthVAE.load(tmp_path / "held.synthvae").sample(300, random_state=0), rows)
