"""Every kind of bad input ends in one ``error: ...`` line, never a traceback.

Failures are checked through the command line (click's CliRunner, in-process, so
TensorFlow loads once; a real subprocess where signals are involved) and through the
Python API, which raises the same words as ``synthvae.errors`` classes. Inputs that
look odd but are fine are fitted with tiny models and sampled (the oddities that a small
table shows share one table and one fit).
"""

import json
import os
import signal
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from synthvae import SynthVAE
from synthvae.errors import (
    DataError,
    MissingFileError,
    ModelFileError,
    SynthVAEError,
    TrainingError,
)
from synthvae.io import read_table

from conftest import TINY, cli, write_future_model_file

FAST = {**TINY, "epochs": 2}




def assert_one_line_error(args, code, *words):
    status, out, err = cli(*args)
    assert status == code, err
    assert out == ""
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    for word in words:
        assert word in err, err
    return err


def write(path, text, encoding="utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


def small_table(n=60, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"x": rng.normal(50, 10, n).round(2), "k": rng.choice(["a", "b", "c"], n)})


def fit_sample(frame, n=300):
    model = SynthVAE(random_state=0, **FAST).fit(frame)
    return model, model.sample(n)


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "m.synthvae"
    SynthVAE(random_state=0, **FAST).fit(small_table(200)).save(path)
    return path


TOWNS = ["Zürich", "Besançon", "Málaga", "Köln"]
LONG_STRINGS = ["lorem " * 5000, "ipsum " * 8000 + "end", "short"]


@pytest.fixture(scope="module")
def odd_table(tmp_path_factory):
    """One latin-1 CSV whose columns each look odd but are fine: accented words, an empty
    column, constant columns, numbers mixed with words, very long strings, and dates with
    cells that do not read. Returns the frame written, the frame read back, and a tiny
    model of it with the rows it made: one fit serves each oddity's test."""
    n = 200
    rng = np.random.default_rng(0)
    days = pd.Series(pd.Timestamp("2021-01-01") + pd.to_timedelta(rng.integers(0, 500, n), unit="D"))
    dates = days.dt.strftime("%Y-%m-%d").to_numpy(object)
    dates[[3, 50, 120]] = ["not a date", "2021-13-45", "soon"]
    written = small_table(n).assign(
        town=rng.choice(TOWNS, n),
        blank="",
        site="Delft",
        version=3,
        mixed=rng.choice(["1", "2", "3.5", "n/a-ish", "high"], n),
        note=rng.choice(LONG_STRINGS, n),
        when=dates,
    )
    path = write(tmp_path_factory.mktemp("odd") / "odd.csv", written.to_csv(index=False), "latin-1")
    frame = read_table(path)
    model, synth = fit_sample(frame)
    return written, frame, model, synth


# -- input files ------------------------------------------------------------------------


def test_missing_path(tmp_path):
    assert_one_line_error(["fit", tmp_path / "no.csv"], 1, "no such file")
    with pytest.raises(MissingFileError):
        read_table(tmp_path / "no.csv")


def test_directory(tmp_path):
    assert_one_line_error(["fit", tmp_path], 1, "folder")
    with pytest.raises(DataError):
        read_table(tmp_path)


def test_empty_file(tmp_path):
    assert_one_line_error(["fit", write(tmp_path / "e.csv", "")], 1, "empty")


def test_header_only(tmp_path):
    assert_one_line_error(["fit", write(tmp_path / "h.csv", "a,b,c\n")], 1, "no rows")


def test_single_row(tmp_path):
    path = write(tmp_path / "one.csv", "a,b\n1,x\n")
    assert_one_line_error(["fit", path, "--epochs", 2], 1, "too few rows", "at least 10")
    with pytest.raises(DataError, match="too few rows.*at least 10"):
        SynthVAE(**FAST).fit(read_table(path))


def test_binary_garbage(tmp_path):
    path = tmp_path / "junk.csv"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    assert_one_line_error(["fit", path], 1, "not a text file")


def test_latin1_with_accents(odd_table):
    written, frame, _, synth = odd_table
    assert set(frame["town"]) == set(written["town"])
    assert set(synth["town"]) <= set(TOWNS) and len(set(synth["town"])) >= 2


@pytest.mark.parametrize("sep", [";", "\t"])
def test_semicolon_and_tab(tmp_path, sep):
    frame = small_table()
    path = tmp_path / "d.csv"
    frame.to_csv(path, sep=sep, index=False)
    back = read_table(path)
    assert list(back.columns) == ["x", "k"]
    pd.testing.assert_frame_equal(back, read_table(write(tmp_path / "c.csv", frame.to_csv(index=False))))


@pytest.mark.parametrize(
    "text, line",
    [("a,b,c\n1,2,3\n4,5,6\n7,8,9,10\n1,2,3\n", "line 4"), ("a,b,c\n1,2,3\n4,5\n7,8,9\n", "line 3")],
    ids=["long", "short"],
)
def test_ragged_rows(tmp_path, text, line):
    assert_one_line_error(["fit", write(tmp_path / "r.csv", text)], 1, line, "fields")


def test_duplicate_column_names(tmp_path):
    assert_one_line_error(["fit", write(tmp_path / "d.csv", "age,city,age\n1,a,2\n")], 1, "'age'", "more than once")
    frame = pd.DataFrame([[1, 2]] * 20, columns=["age", "age"])
    with pytest.raises(DataError, match="'age'"):
        SynthVAE(**FAST).fit(frame)


@pytest.mark.parametrize("value", ["inf", "-inf"])
def test_infinite_numbers(tmp_path, value):
    rows = "".join(f"{i},{i * 1.5}\n" for i in range(30))
    path = write(tmp_path / "i.csv", f"n,score\n{rows}3,{value}\n")
    assert_one_line_error(["fit", path], 1, "'score'", "infinite")
    frame = small_table()
    frame.loc[3, "x"] = float(value)
    with pytest.raises(DataError, match="'x'.*infinite"):
        SynthVAE(**FAST).fit(frame)


def test_entirely_empty_column(odd_table):
    _, _, _, synth = odd_table
    assert synth["blank"].isna().all()


def test_constant_column(odd_table):
    _, _, _, synth = odd_table
    assert (synth["site"] == "Delft").all() and (synth["version"] == 3).all()


def test_numbers_mixed_with_words(odd_table):
    _, frame, model, synth = odd_table
    assert model.schema_["mixed"].kind == "categorical"
    assert set(synth["mixed"].astype(str)) <= set(frame["mixed"].astype(str))


def test_identifier_column_of_20000_rows(tmp_path):
    n = 20_000
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"user": [f"user-{i:06d}" for i in range(n)], "x": rng.normal(0, 1, n).round(3)})
    frame = read_table(write(tmp_path / "ids.csv", frame.to_csv(index=False)))
    model, synth = fit_sample(frame, 1000)
    assert model.schema_["user"].kind == "identifier"
    assert model.transformer_.width_ < 10  # the identifier takes no matrix columns
    assert synth["user"].str.fullmatch(r"user-\d{6}").all()
    assert synth["user"].is_unique and not set(synth["user"]) & set(frame["user"])


def test_high_cardinality_categorical_is_pooled():
    n = 30_000
    rng = np.random.default_rng(0)
    levels = np.array([f"shop {i}" for i in range(12_000)])
    shops = np.concatenate([levels, levels[rng.integers(0, len(levels), n - len(levels))]])
    frame = pd.DataFrame({"shop": shops, "x": rng.normal(0, 1, n).round(3)})
    model, synth = fit_sample(frame, 500)
    assert frame["shop"].nunique() >= 10_000
    assert model.transformer_.width_ <= 600
    assert set(synth["shop"].dropna()) <= set(frame["shop"])


def test_very_long_strings(odd_table):
    _, _, _, synth = odd_table
    assert set(synth["note"]) <= set(LONG_STRINGS)


def test_dates_with_unparseable_entries(odd_table):
    written, _, model, synth = odd_table
    # Dates they are, and the cells that do not read are gaps, learned as such.
    spec = model.schema_["when"]
    assert (spec.kind, spec.format, spec.nullable) == ("datetime", "%Y-%m-%d", True)
    assert len(synth) == 300
    present = synth["when"].dropna()
    assert len(present) > 250
    assert pd.to_datetime(present, format="%Y-%m-%d", errors="coerce").notna().all()
    valid = pd.to_datetime(written["when"], format="%Y-%m-%d", errors="coerce").dropna().dt.strftime("%Y-%m-%d")
    assert present.min() >= valid.min() and present.max() <= valid.max()


def test_schema_file_failing_json_schema(tmp_path):
    data = write(tmp_path / "d.csv", small_table().to_csv(index=False))
    schema = write(tmp_path / "s.json", json.dumps({"columns": [{"name": "x", "kind": "wibble"}]}))
    assert_one_line_error(["fit", data, "--schema", schema], 1, "schema file is not valid")
    broken = write(tmp_path / "b.json", "{not json")
    assert_one_line_error(["fit", data, "--schema", broken], 1, "cannot read schema file")


def test_schema_naming_columns_the_csv_lacks(tmp_path):
    from synthvae.schema import infer_schema

    frame = small_table()
    spec = infer_schema(frame.assign(extra=1.0)).to_dict()
    data = write(tmp_path / "d.csv", frame.to_csv(index=False))
    schema = write(tmp_path / "s.json", json.dumps(spec))
    assert_one_line_error(["fit", data, "--schema", schema], 1, "lacks", "extra")


def test_schema_that_does_not_fit_the_data(tmp_path):
    from synthvae.schema import infer_schema

    frame = small_table()
    spec = infer_schema(frame).to_dict()
    frame.loc[4, "x"] = None
    data = write(tmp_path / "d.csv", frame.to_csv(index=False))
    schema = write(tmp_path / "s.json", json.dumps(spec))
    assert_one_line_error(["fit", data, "--schema", schema], 1, "'x'", "row 5 is empty", "nullable: false")
    with pytest.raises(DataError, match="'x' does not fit the schema: row 5"):
        SynthVAE(**FAST).fit(read_table(data), schema=spec)


# -- arguments ---------------------------------------------------------------------------


def test_sample_zero_is_header_only(model_file):
    status, out, err = cli("sample", 0, "-m", model_file)
    assert status == 0, err
    assert out == "x,k\n"


@pytest.mark.parametrize(
    "n, words",
    [("-5", "0 or more"), ("2.5", "whole number"), ("ten", "whole number"), (str(10**30), "at most 10**12")],
)
def test_bad_counts(model_file, n, words):
    assert_one_line_error(["sample", n, "-m", model_file], 2, words)


def test_output_folder_missing(model_file, tmp_path):
    assert_one_line_error(["sample", 5, "-m", model_file, "-o", tmp_path / "no" / "x.csv"], 2, "does not exist")


def test_zero_epochs(tmp_path):
    data = write(tmp_path / "d.csv", small_table().to_csv(index=False))
    assert_one_line_error(["fit", data, "--epochs", 0], 2, "--epochs")
    assert_one_line_error(["fit", data, "--no-such-option"], 2, "--no-such-option")


def test_not_a_model(tmp_path):
    path = write(tmp_path / "m.synthvae", "x,k\n1,a\n")
    assert_one_line_error(["sample", 5, "-m", path], 1)
    with pytest.raises(ModelFileError):
        SynthVAE.load(path)


# -- faults ------------------------------------------------------------------------------


def test_newer_model_file_is_refused_with_both_versions(model_file, tmp_path):
    from synthvae import __version__

    path = tmp_path / "future.synthvae"
    write_future_model_file(model_file, path)
    assert_one_line_error(["sample", 5, "-m", path], 1, "9.0.0", __version__)


def test_sigint_during_fit_keeps_the_previous_model(model_file, tmp_path):
    rng = np.random.default_rng(0)
    n = 5000
    frame = pd.DataFrame({"x": rng.normal(0, 1, n).round(3), "y": rng.gamma(2, 3, n).round(2), "k": rng.choice(list("abcde"), n)})
    data = write(tmp_path / "d.csv", frame.to_csv(index=False))
    target = tmp_path / "model.synthvae"
    target.write_bytes(model_file.read_bytes())
    before = target.read_bytes()

    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "synthvae", "fit", str(data), "-o", str(target), "--epochs", "10000", "--seed", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    try:
        seen = []
        for line in proc.stderr:
            seen.append(line)
            if line.startswith("epoch "):
                break
        assert seen and seen[-1].startswith("epoch "), "".join(seen)
        proc.send_signal(signal.SIGINT)
        out, rest = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130
    assert out == ""
    assert rest.startswith("error: ") and rest.count("\n") == 1 and "interrupted" in rest, rest
    assert target.read_bytes() == before
    assert not list(tmp_path.glob(".*.tmp"))


# -- training that goes wrong -----------------------------------------------------------


def test_diverging_training_stops_with_a_clear_message(tmp_path, capsys):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {"x": rng.normal(0, 1, 300), "huge": rng.normal(1e7, 1e6, 300), "k": rng.choice(["a", "b"], 300)}
    )
    model = SynthVAE(random_state=0, learning_rate=1e6, **{**FAST, "epochs": 5})
    with pytest.raises(TrainingError, match=r"diverged.*no model was written.*'huge'") as info:
        model.fit(frame)
    assert isinstance(info.value, SynthVAEError) and isinstance(info.value, ValueError)
    assert capsys.readouterr().out == ""  # Keras' own NaN notice stays off stdout
    with pytest.raises(Exception):
        model.save(tmp_path / "m.synthvae")
    assert not list(tmp_path.iterdir())


def test_a_swallowed_interrupt_still_stops_training(mixed_frame):
    """The flag the command line's SIGINT handler sets stops training at the epoch's end,
    even where the KeyboardInterrupt itself was lost inside library code."""
    from synthvae import training

    training.stop_at_epoch_end()
    try:
        with pytest.raises(KeyboardInterrupt):
            SynthVAE(random_state=0, **{**TINY, "epochs": 50}).fit(mixed_frame)
    finally:
        training.clear_stop()
