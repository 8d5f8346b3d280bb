"""Copy guard: the model file holds no training rows, and --reject-copies
replaces sampled rows that copy or nearly copy a reference row."""

import io
import struct
import zipfile

import numpy as np
import pandas as pd
import pytest

from synthvae.copyguard import CopyGuard
from synthvae.errors import DataError


def test_model_file_holds_no_training_row(fitted, mixed_frame, tmp_path):
    path = tmp_path / "m.synthvae"
    fitted.save(path)
    with zipfile.ZipFile(path) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    assert {"meta.json", "schema.json", "transformer.json", "prior.json"} < set(members)
    assert all(name.startswith("network/") for name in set(members) - {"meta.json", "schema.json", "transformer.json", "prior.json"})
    texts = {name: data.decode("utf-8", errors="replace") for name, data in members.items()}
    # The search reads what is stored: category levels and a column's kept extreme (the
    # 5th largest value, under value protection) are.
    assert '"green "' in texts["transformer.json"]
    assert repr(float(np.sort(mixed_frame["income"])[-5])) in texts["transformer.json"]

    lines = mixed_frame.to_csv(index=False, header=False).splitlines()
    numeric = mixed_frame[["income", "age", "visits"]].to_numpy(np.float64)
    for line, values in zip(lines, numeric):
        present = values[~np.isnan(values)]
        as_text = [line, ", ".join(map(str, present)), ",".join(map(str, present)),
                   ", ".join(repr(float(v)) for v in present)]
        as_bytes = [struct.pack(f"<{len(present)}d", *present), struct.pack(f"<{len(present)}f", *present)]
        for name in members:
            for needle in as_text:
                assert needle not in texts[name], (name, needle)
            for needle in as_bytes:
                assert needle not in members[name], (name, values)


@pytest.fixture(scope="module")
def plain(fitted):
    return fitted.sample(2000, random_state=4)


def test_exact_copies_are_replaced_and_the_rest_kept(fitted, mixed_frame, plain):
    # The reference holds 50 of the sample's own rows: those 50 are exact copies.
    reference = pd.concat([mixed_frame, plain.iloc[:50]], ignore_index=True)
    guard = CopyGuard(reference, fitted.schema_)
    flagged = guard.copies(plain)
    assert flagged[:50].all()

    rows = fitted.sample(2000, random_state=4, reject_copies=guard)
    assert len(rows) == 2000
    assert rows.attrs["replaced_copies"] == guard.replaced_ == int(flagged.sum())
    assert not guard.copies(rows).any()
    keep = ~flagged
    pd.testing.assert_frame_equal(rows[keep], plain[keep])
    assert rows["id"].equals(plain["id"])  # replaced rows keep their running numbers
    assert list(rows.dtypes) == list(plain.dtypes)


def test_near_copies_are_replaced_same_seed_same_rows(fitted, mixed_frame, plain):
    # A generous threshold (the median nearest-neighbour distance) so many rows count
    # as near copies and must be replaced.
    guard = CopyGuard(mixed_frame, fitted.schema_, percentile=50)
    flagged = guard.copies(plain)
    assert flagged.sum() > 100
    rows = fitted.sample(2000, random_state=4, reject_copies=guard)
    again = fitted.sample(2000, random_state=4, reject_copies=CopyGuard(mixed_frame, fitted.schema_, percentile=50))
    pd.testing.assert_frame_equal(rows, again)
    assert len(rows) == 2000 and rows.attrs["replaced_copies"] == int(flagged.sum())
    assert not guard.copies(rows).any()


def test_default_guard_against_training_rows(fitted, mixed_frame):
    rows = fitted.sample(1000, random_state=11, reject_copies=mixed_frame, where=["color=red"])
    guard = CopyGuard(mixed_frame, fitted.schema_)
    assert guard.threshold_ > 0
    assert len(rows) == 1000 and (rows["color"] == "red").all()
    assert not guard.copies(rows).any()


def test_reference_with_other_columns_is_an_error(fitted, mixed_frame):
    with pytest.raises(DataError, match="does not have the model's columns: it lacks visits"):
        fitted.sample(10, reject_copies=mixed_frame.drop(columns="visits"))


def test_cli_reject_copies(fitted, mixed_frame, plain, tmp_path):
    from click.testing import CliRunner

    from synthvae.cli import main

    model = tmp_path / "m.synthvae"
    fitted.save(model)
    reference = tmp_path / "train.csv"
    pd.concat([mixed_frame, plain.iloc[:30]]).to_csv(reference, index=False)
    args = ["sample", "2000", "-m", str(model), "--seed", "4", "--reject-copies", str(reference)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.stderr
    rows = pd.read_csv(io.StringIO(result.stdout))
    assert len(rows) == 2000
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("replaced ") and " of 2000 rows that copied or nearly copied a row of train.csv" in last
    assert int(last.split()[1]) >= 30
    again = CliRunner().invoke(main, args)
    assert again.stdout == result.stdout
