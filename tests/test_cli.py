"""The command line, stdout and stderr apart. What only a process of its own shows (its
imports, its exit status, output byte-identical between processes, nothing on stdout or
stderr but what synthvae writes) is run as a user runs it, in a subprocess; the round
trips through fit and sample run in-process through click's CliRunner, so TensorFlow
loads once for all of them."""

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from synthvae.io import read_table
from synthvae.schema import infer_schema

from conftest import EXAMPLE, run_in_process, sample_table

ENV = {**os.environ, "PYTHONWARNINGS": "ignore"}


def synthvae(*args, cwd=None, check=True):
    result = subprocess.run(
        [sys.executable, "-m", "synthvae", *map(str, args)], capture_output=True, text=True, cwd=cwd, env=ENV
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


def synthvae_in_process(*args, cwd=None):
    result = run_in_process(*args, cwd=cwd)
    assert result.exit_code == 0, result.stderr
    return result


@pytest.mark.parametrize("name", ["titanic", "penguins", "taxis", "adult", "diamonds"])
def test_fit_then_sample_keeps_the_table(name, tmp_path):
    real = read_table(sample_table(name))
    if len(real) > 3000:
        real = real.sample(3000, random_state=0)
    data = tmp_path / f"{name}.csv"
    real.to_csv(data, index=False)
    real = read_table(data)

    fit = synthvae_in_process("fit", data, "--epochs", 30, "--seed", 0, cwd=tmp_path)
    assert fit.stdout == ""  # data only on stdout, and fit writes no data
    assert "epoch 1/30" in fit.stderr
    assert (tmp_path / "model.synthvae").exists()

    out = synthvae_in_process("sample", 4000, "--seed", 1, cwd=tmp_path)
    synth = read_table(io_path(tmp_path, out.stdout))

    assert list(synth.columns) == list(real.columns)
    assert synth.dtypes.to_dict() == real.dtypes.to_dict()
    assert len(synth) == 4000
    schema = infer_schema(real)
    for column in schema.columns:
        r, s = real[column.name], synth[column.name]
        assert abs(r.isna().mean() - s.isna().mean()) <= 0.03, column.name
        if column.kind in ("categorical", "boolean"):
            assert set(s.dropna()) <= set(r.dropna()), column.name
        if column.kind == "integer":
            values = s.dropna().to_numpy(float)
            assert (values == np.round(values)).all(), column.name
            assert values.min() >= r.min() and values.max() <= r.max(), column.name
        if column.kind == "datetime":
            parsed = pd.to_datetime(s.dropna(), format=column.format, errors="coerce")
            assert parsed.notna().all(), column.name


def io_path(folder, text):
    path = folder / "synth.csv"
    path.write_text(text)
    return path


def test_example_round_trip_and_identical_output_for_a_seed(tmp_path):
    synthvae_in_process("fit", EXAMPLE, "-o", tmp_path / "adult.synthvae", "--epochs", 3, "--seed", 0, "--quiet")
    # Two processes of their own, then this one: the same seed gives the same bytes in each.
    a = synthvae("sample", 500, "-m", tmp_path / "adult.synthvae", "--seed", 4).stdout
    b = synthvae("sample", 500, "-m", tmp_path / "adult.synthvae", "--seed", 4).stdout
    c = synthvae_in_process("sample", 500, "-m", tmp_path / "adult.synthvae", "--seed", 5).stdout
    assert a == b and a != c
    synthvae_in_process("sample", 500, "-m", tmp_path / "adult.synthvae", "--seed", 4, "-o", tmp_path / "out.csv")
    assert (tmp_path / "out.csv").read_text() == a
    synthvae_in_process("sample", 500, "-m", tmp_path / "adult.synthvae", "--seed", 4, "-o", tmp_path / "out.parquet")
    pd.testing.assert_frame_equal(
        read_table(tmp_path / "out.parquet"), read_table(io_path(tmp_path, a)), check_dtype=False
    )
    empty = synthvae_in_process("sample", 0, "-m", tmp_path / "adult.synthvae").stdout
    assert empty.strip() == a.splitlines()[0]


def test_quiet_fit_prints_nothing_and_no_tensorflow_noise(tmp_path):
    fit = synthvae("fit", EXAMPLE, "-o", tmp_path / "m.synthvae", "--epochs", 1, "--quiet")
    assert fit.stdout == "" and fit.stderr == ""


def test_fit_with_edited_schema(tmp_path):
    frame = read_table(EXAMPLE)
    schema = infer_schema(frame).to_dict()
    for column in schema["columns"]:
        if column["name"] == "age":
            column["kind"] = "categorical"
    (tmp_path / "s.json").write_text(json.dumps(schema))
    synthvae_in_process("fit", EXAMPLE, "--schema", tmp_path / "s.json", "--epochs", 2, "--quiet", cwd=tmp_path)
    out = synthvae_in_process("sample", 300, cwd=tmp_path).stdout
    ages = read_table(io_path(tmp_path, out))["age"]
    assert set(ages) <= set(frame["age"])


def test_schema_command_prints_valid_json():
    out = synthvae("schema", EXAMPLE).stdout
    spec = json.loads(out)
    kinds = {c["name"]: c["kind"] for c in spec["columns"]}
    assert kinds["workclass"] == "categorical" and kinds["fnlwgt"] == "integer"


def test_help_does_not_import_tensorflow():
    code = "import sys; from synthvae.cli import main; sys.argv=['synthvae','sample','--help']\n" \
           "try:\n    main()\nexcept SystemExit:\n    pass\n" \
           "print('tensorflow' in sys.modules, 'keras' in sys.modules, 'matplotlib' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV)
    assert result.stdout.strip().endswith("False False False"), result.stdout
    for verb in ("fit", "sample", "schema", "evaluate", "report"):
        text = synthvae_in_process(verb, "--help").stdout
        assert "Usage: " in text and "--help" in text


@pytest.mark.parametrize(
    "args, code, words",
    [
        (["fit", "/no/such.csv"], 1, "no such file"),
        (["sample", "-5"], 2, "N must be 0 or more"),
        (["sample", "ten"], 2, "whole number"),
        (["sample", "5", "-m", "/no/such.synthvae"], 1, "no such model file"),
        (["fit", EXAMPLE, "--epochs", "0"], 2, "epochs"),
        (["sample", "5", "-o", "/no/such/folder/x.csv"], 2, "does not exist"),
    ],
)
def test_errors_are_one_line(args, code, words, tmp_path):
    result = synthvae(*args, cwd=tmp_path, check=False)
    assert result.returncode == code, result.stderr
    assert words in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_not_a_model_file_is_one_line(tmp_path):
    (tmp_path / "model.synthvae").write_text("hello")
    result = synthvae("sample", 5, cwd=tmp_path, check=False)
    assert result.returncode == 1 and result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
