"""Scale features (issue 4): shards of one sample, tf.distribute strategies, mixed
precision, and streaming fit of a table read in chunks."""

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

from conftest import EXAMPLE, REPO, TINY

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
