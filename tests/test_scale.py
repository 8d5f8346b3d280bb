"""Scale features: shards of one sample, tf.distribute strategies, mixed
precision, and streaming fit of a table read in chunks."""

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from synthvae import SynthVAE
from synthvae.errors import InputTypeError, UsageError
from synthvae.io import read_table
from synthvae.shard import parse_shard, shard_bounds

from conftest import EXAMPLE, REPO, TINY, run_in_process

ENV = {**os.environ, "PYTHONWARNINGS": "ignore", "PYTHONPATH": str(REPO)}


def run_cli(*args, cwd=None):
    return subprocess.Popen(
        [sys.executable, "-m", "synthvae", *map(str, args)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd, env=ENV,
    )


def finish(process):
    out, err = process.communicate(timeout=300)
    return process.returncode, out, err


@pytest.fixture(scope="module")
def adult_model(tmp_path_factory):
    """A tiny seeded model of the example, saved; and the same model saved without a seed."""
    folder = tmp_path_factory.mktemp("shard")
    model = SynthVAE(random_state=0, **TINY).fit(read_table(EXAMPLE).head(600))
    model.save(folder / "seeded.synthvae")
    unseeded = SynthVAE.load(folder / "seeded.synthvae")
    unseeded.random_state = None
    unseeded.save(folder / "unseeded.synthvae")
    return model, folder


# -- shards ---------------------------------------------------------------------------


def test_cli_shards_concatenate_to_the_whole_sample(adult_model):
    _, folder = adult_model
    # 40,000 rows in 3 shards: the boundary at row 26,666 falls inside the second
    # 16,384-row chunk, so a shard starts mid-chunk.
    n, k = 40_000, 3
    assert any(start % 16_384 for start, _ in (shard_bounds(n, (i, k)) for i in range(2, k + 1)))
    model = folder / "seeded.synthvae"
    # Started together, like a job array; each shard is its own process.
    procs = [run_cli("sample", n, "-m", model, "--seed", 7)]
    procs += [run_cli("sample", n, "-m", model, "--seed", 7, "--shard", f"{i}/{k}") for i in range(1, k + 1)]
    results = [finish(p) for p in procs]
    for code, _, err in results:
        assert code == 0, err
    whole = results[0][1]
    shards = [out for _, out, _ in results[1:]]
    header = whole.splitlines(keepends=True)[0]
    for text in shards:
        assert text.startswith(header)  # each shard is a complete CSV
    joined = header + "".join(text[len(header):] for text in shards)
    assert joined == whole
    sizes = [text.count("\n") - 1 for text in shards]
    assert sum(sizes) == n and max(sizes) - min(sizes) <= 1


@pytest.mark.parametrize(
    "shard, words",
    [("0/3", "between 1 and k=3"), ("4/3", "between 1 and k=3"), ("1/0", "must be 1 or more"),
     ("x", "must look like i/k"), ("1-3", "must look like i/k"), ("-1/3", "must look like i/k")],
)
def test_bad_shard_is_a_usage_error(shard, words):
    with pytest.raises(UsageError, match=words):
        parse_shard(shard)


def test_cli_bad_shard_and_missing_seed_exit_2(adult_model):
    _, folder = adult_model
    bad = run_cli("sample", 10, "-m", folder / "seeded.synthvae", "--shard", "5/4")
    no_seed = run_cli("sample", 10, "-m", folder / "unseeded.synthvae", "--shard", "1/2")
    for proc, words in ((bad, "between 1 and k=4"), (no_seed, "--shard needs --seed")):
        code, out, err = finish(proc)
        assert code == 2 and out == "" and err.startswith("error: ") and err.count("\n") == 1, err
        assert words in err


def test_python_shards_match_sample(adult_model):
    model, _ = adult_model
    whole = model.sample(1000, random_state=3)
    parts = [model.sample(1000, random_state=3, shard=(i, 4)) for i in range(1, 5)]
    pd.testing.assert_frame_equal(pd.concat(parts, ignore_index=True), whole)
    unseeded = SynthVAE(**model.get_params())
    unseeded.__dict__.update({k: v for k, v in model.__dict__.items() if k.endswith("_")})
    unseeded.random_state = None
    with pytest.raises(UsageError, match="needs a seed"):
        unseeded.sample(10, shard=(1, 2))
    with pytest.raises(InputTypeError):
        model.sample(10, shard=(1.5, 2))


def test_dask_bag_over_shards(adult_model):
    import dask.bag as dask_bag  # in the test extras
    _, folder = adult_model
    path = str(folder / "seeded.synthvae")
    n, k = 20_000, 3

    def make_shard(i):
        # What each worker runs: load the model file and write its shard.
        return SynthVAE.load(path).sample(n, random_state=11, shard=(i, k))

    frames = dask_bag.from_sequence(range(1, k + 1), npartitions=k).map(make_shard).compute(scheduler="synchronous")
    whole = SynthVAE.load(path).sample(n, random_state=11)
    pd.testing.assert_frame_equal(pd.concat(frames, ignore_index=True), whole)


# -- distribution strategies and mixed precision ----------------------------------------

MIRRORED_SCRIPT = """
import sys
import tensorflow as tf

# Two logical CPU devices: must be set before TensorFlow initializes its devices.
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras
from synthvae import SynthVAE
from synthvae.io import read_table

params = dict(epochs=2, batch_size=63, latent_dim=8, hidden=(32, 32), encoder_hidden=(32,), prior_components=5, verbose=False)
model = SynthVAE(random_state=0, strategy="mirrored", precision=sys.argv[2], **params)
model.fit(read_table(sys.argv[1]))
strategy_replicas = len(tf.config.list_logical_devices("CPU"))
model.save(sys.argv[3])
print(strategy_replicas, keras.config.dtype_policy().name, len(model.history_["loss"]))
"""


def free_ports(count):
    import socket

    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.fixture(scope="module")
def small_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "small.csv"
    read_table(EXAMPLE).head(400).to_csv(path, index=False)
    return path


def _load_and_sample(path, columns):
    model = SynthVAE.load(path)
    rows = model.sample(50, random_state=0)
    assert list(rows.columns) == columns and len(rows) == 50
    return model


# float32 only: mixed precision has its own test below, and each run here costs a
# TensorFlow start-up.
@pytest.mark.parametrize("precision", ["float32"])
def test_mirrored_over_two_logical_cpus(small_csv, tmp_path, precision):
    out = tmp_path / "m.synthvae"
    result = subprocess.run(
        [sys.executable, "-c", MIRRORED_SCRIPT, str(small_csv), precision, str(out)],
        capture_output=True, text=True, env={**ENV, "CUDA_VISIBLE_DEVICES": "-1"}, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    devices, policy, epochs = result.stdout.split()
    assert devices == "2" and policy == "float32" and epochs == "2"
    model = _load_and_sample(out, list(read_table(small_csv).columns))
    # The saved model is plain float32 whatever it was trained in.
    assert {layer.dtype_policy.name for layer in model.vae_.get_layer("decoder").layers} == {"float32"}


def test_multiworker_two_processes(small_csv, tmp_path):
    ports = free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    procs = []
    for index in range(2):
        folder = tmp_path / f"worker{index}"
        folder.mkdir()
        tf_config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "synthvae", "fit", small_csv, "-o", folder / "model.synthvae",
             "--strategy", "multiworker", "--seed", "0", "--epochs", "2"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=folder,
            env={**ENV, "TF_CONFIG": tf_config, "CUDA_VISIBLE_DEVICES": "-1"},
        ))
    results = [finish(p) for p in procs]
    for code, out, err in results:
        assert code == 0, err[-3000:]
        assert out == ""
    chief, worker = results
    assert "epoch 2/2" in chief[2] and "epoch 2/2" in worker[2]
    # Both workers took the same steps on the same averaged gradients.
    assert chief[2].split("loss ")[2].split()[0] == worker[2].split("loss ")[2].split()[0]
    assert "wrote" in chief[2] and "chief writes the model" in worker[2]
    assert list((tmp_path / "worker1").iterdir()) == []  # the worker wrote nothing at all
    _load_and_sample(tmp_path / "worker0" / "model.synthvae", list(read_table(small_csv).columns))


def test_multiworker_without_tf_config_is_a_usage_error(mixed_frame, monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(UsageError, match="needs TF_CONFIG"):
        SynthVAE(strategy="multiworker", **TINY).fit(mixed_frame)


def test_bad_strategy_or_precision_is_a_usage_error(mixed_frame):
    with pytest.raises(UsageError, match="strategy must be"):
        SynthVAE(strategy="ring", **TINY).fit(mixed_frame)
    with pytest.raises(UsageError, match="precision must be"):
        SynthVAE(precision="half", **TINY).fit(mixed_frame)


def test_mixed_precision_on_cpu_restores_the_policy(fitted, mixed_frame, tmp_path):
    import keras

    plain = fitted  # SynthVAE(random_state=0, **TINY) fitted on mixed_frame, in float32
    mixed = SynthVAE(random_state=0, precision="mixed", **TINY).fit(mixed_frame)
    assert keras.config.dtype_policy().name == "float32"
    # Same seed, same data: only the arithmetic differs, and it shows in the losses.
    assert np.isfinite(mixed.history_["loss"]).all()
    assert mixed.history_["loss"] != plain.history_["loss"]
    mixed.save(tmp_path / "mixed.synthvae")
    loaded = SynthVAE.load(tmp_path / "mixed.synthvae")
    assert loaded.precision == "mixed"
    pd.testing.assert_frame_equal(loaded.sample(200, random_state=1), mixed.sample(200, random_state=1))


@pytest.fixture(scope="module")
def long_frame():
    """Enough rows that the batch rule reaches the CPU's cap."""
    rng = np.random.default_rng(0)
    n = 150_000
    return pd.DataFrame({"x": rng.normal(size=n), "c": rng.choice(["a", "b", "c"], n)})


def _record_training(monkeypatch):
    """Wrap training.train so the test sees the batch and rate it is handed."""
    from synthvae import training

    seen = {}
    real = training.train

    def spy(build, train_rows, valid, *, plan, **kwargs):
        seen.update(batch_size=plan.batch_size, learning_rate=plan.learning_rate)
        return real(build, train_rows, valid, plan=plan, **kwargs)

    monkeypatch.setattr(training, "train", spy)
    return seen


def test_batch_and_learning_rate_follow_table_and_device(long_frame, monkeypatch, tmp_path):
    """The GPU path, exercised on the CPU: gpu_count() is made to report one GPU."""
    from synthvae import distribute
    from synthvae.training import MAX_BATCH_ROWS, MIN_BATCH_ROWS, MIN_STEPS_PER_EPOCH

    seen = _record_training(monkeypatch)
    # The batch rule looks at the rows and the device only, so a small network will do.
    params = dict(epochs=1, latent_dim=8, hidden=(32, 32), encoder_hidden=(32,), prior_components=0, random_state=0, verbose=False)

    def rate(batch):
        return pytest.approx(1e-3 * (batch / MIN_BATCH_ROWS) ** 0.5)

    # A table of a few thousand rows keeps the smallest batch and the base rate.
    small = SynthVAE(**params).fit(long_frame.iloc[:20_000])
    assert (small.device_, small.batch_size_, small.learning_rate_) == ("CPU", MIN_BATCH_ROWS, 1e-3)
    assert seen == {"batch_size": MIN_BATCH_ROWS, "learning_rate": 1e-3}

    n_train = len(long_frame) - len(long_frame) // 10  # a tenth is held out
    wanted = n_train // MIN_STEPS_PER_EPOCH
    assert MAX_BATCH_ROWS["CPU"] < wanted < MAX_BATCH_ROWS["GPU"]
    cpu = SynthVAE(**params).fit(long_frame)
    assert (cpu.device_, cpu.batch_size_) == ("CPU", MAX_BATCH_ROWS["CPU"])
    assert cpu.learning_rate_ == rate(MAX_BATCH_ROWS["CPU"])
    assert seen == {"batch_size": MAX_BATCH_ROWS["CPU"], "learning_rate": rate(MAX_BATCH_ROWS["CPU"])}

    monkeypatch.setattr(distribute, "gpu_count", lambda: 1)
    gpu = SynthVAE(**params).fit(long_frame)
    assert (gpu.device_, gpu.batch_size_) == ("GPU", wanted)
    assert seen == {"batch_size": wanted, "learning_rate": rate(wanted)}
    assert distribute.mixed_policy_name() == "mixed_float16"
    gpu.save(tmp_path / "gpu.synthvae")
    loaded = SynthVAE.load(tmp_path / "gpu.synthvae")
    assert (loaded.device_, loaded.batch_size_, loaded.learning_rate_) == ("GPU", wanted, gpu.learning_rate_)

    # Values the user gives are kept on any device.
    chosen = SynthVAE(batch_size=700, learning_rate=5e-4, **params).fit(long_frame)
    assert (chosen.batch_size_, chosen.learning_rate_) == (700, 5e-4)
    assert seen == {"batch_size": 700, "learning_rate": 5e-4}


@pytest.mark.parametrize("rate", [0, -1e-3, "fast", float("nan"), True])
def test_bad_learning_rate_is_a_usage_error(mixed_frame, rate):
    with pytest.raises(UsageError, match="learning_rate must be a positive number"):
        SynthVAE(learning_rate=rate, **TINY).fit(mixed_frame)


# -- streaming fit ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def example_csv(tmp_path_factory):
    frame = read_table(EXAMPLE)
    path = tmp_path_factory.mktemp("stream") / "adult.csv"
    frame.to_csv(path, index=False)
    return path, read_table(path)


def test_reservoir_sample_is_a_seeded_uniform_sample(example_csv):
    from synthvae.stream import reservoir_sample

    path, frame = example_csv
    sample, n_rows = reservoir_sample(path, 1000, seed=3, chunk_rows=700)
    assert n_rows == len(frame) and len(sample) == 1000
    assert sample.index.is_unique and sample.index.is_monotonic_increasing
    pd.testing.assert_frame_equal(sample, frame.loc[sample.index], check_dtype=False)
    # One random key per row, drawn in row order: the chunk size does not matter, the seed does.
    again, _ = reservoir_sample(path, 1000, seed=3, chunk_rows=1300)
    other, _ = reservoir_sample(path, 1000, seed=4, chunk_rows=700)
    assert list(again.index) == list(sample.index) and list(other.index) != list(sample.index)
    # Uniform over the table: each fifth of the rows holds about a fifth of the sample.
    counts = np.bincount(sample.index.to_numpy() * 5 // n_rows, minlength=5)
    assert counts.min() > 150 and counts.max() < 250, counts
    whole, n = reservoir_sample(path, 10**6, seed=0, chunk_rows=700)
    assert len(whole) == n == len(frame)


def test_stream_batches_cover_every_training_row_once(example_csv):
    from synthvae.stream import reservoir_sample, split_sample, stream_batches
    from synthvae.transformers import TableTransformer
    from synthvae.schema import infer_schema

    path, frame = example_csv
    sample, n_rows = reservoir_sample(path, 1000, seed=0, chunk_rows=700)
    transformer = TableTransformer(infer_schema(sample)).fit(sample)
    _, valid = split_sample(sample, 0, 0.1)
    batches = stream_batches(path, transformer, list(frame.columns), n_rows, valid.index.to_numpy(), 128, 0, 700)
    epoch = [batches[i][0] for i in range(batches.num_batches)]
    assert sum(len(b) for b in epoch) == n_rows - len(valid) == batches.n_train
    assert all(len(b) == 128 for b in epoch[:-1])
    stacked = np.concatenate(epoch)
    expected = transformer.transform(frame.drop(index=valid.index))
    # The same rows, shuffled: compare as sorted row sets.
    assert np.array_equal(np.unique(stacked, axis=0), np.unique(expected, axis=0))
    assert not np.array_equal(stacked, expected)
    batches.on_epoch_end()
    assert not np.array_equal(np.concatenate([batches[i][0] for i in range(batches.num_batches)]), stacked)


def test_fit_stream_then_sample(example_csv):
    path, frame = example_csv
    model = SynthVAE(random_state=0, **TINY).fit_stream(path, sample_rows=1500, chunk_rows=900)
    assert model.n_rows_ == len(frame)
    assert len(model.history_["loss"]) == TINY["epochs"] and np.isfinite(model.history_["loss"]).all()
    rows = model.sample(300, random_state=0)
    assert list(rows.columns) == list(frame.columns) and len(rows) == 300
    assert set(rows["workclass"].dropna()) <= set(frame["workclass"].dropna())


def test_cli_fit_folder_of_parts_streams(example_csv, tmp_path):
    _, frame = example_csv
    parts = tmp_path / "parts"
    parts.mkdir()
    frame.iloc[:2500].to_csv(parts / "part-0.csv", index=False)
    frame.iloc[2500:].to_parquet(parts / "part-1.parquet")
    (parts / "_SUCCESS").write_text("")  # as Spark writes: ignored
    # In this process, where TensorFlow is loaded already.
    result = run_in_process("fit", parts, "-o", tmp_path / "m.synthvae", "--epochs", 1, "--seed", 0)
    code, out, err = result.exit_code, result.stdout, result.stderr
    assert code == 0, err
    assert out == "" and f"({len(frame)} rows, {frame.shape[1]} columns learned)" in err
    _load_and_sample(tmp_path / "m.synthvae", list(frame.columns))
    result = run_in_process("fit", tmp_path / "m.synthvae.missing", "--stream")
    code, out, err = result.exit_code, result.stdout, result.stderr
    assert code == 1 and "no such file" in err and err.count("\n") == 1
