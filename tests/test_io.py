"""The CSV writer: Arrow's fast path must read back exactly as pandas' own CSV does."""

import io

import numpy as np
import pandas as pd
import pytest

from synthvae import io as sio


def _frame(text_values):
    n = len(text_values)
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "count": rng.integers(-5, 10**12, n),
            "price": np.where(rng.random(n) < 0.2, np.nan, rng.normal(0, 1e4, n).round(3)),
            "whole": rng.integers(0, 90, n).astype(float),  # a float column of whole numbers
            "tiny": rng.choice([1e-05, -0.0, 1e16, 0.1, np.inf], n),
            "gappy": pd.array(np.where(rng.random(n) < 0.3, None, rng.integers(0, 9, n)), dtype="Int64"),
            "flag": rng.random(n) < 0.5,
            "label": pd.Series(text_values, dtype=object),
        }
    )


def _read_back(text):
    return pd.read_csv(io.StringIO(text), keep_default_na=False, na_values=[""])


def _written(frame):
    out = io.StringIO()
    sio.write_chunks([frame.iloc[: len(frame) // 2], frame.iloc[len(frame) // 2 :]], out, "csv")
    return out.getvalue()


def test_fast_writer_reads_back_like_pandas(monkeypatch):
    frame = _frame([" Private", None, "Self-emp", "ünïcode"] * 50)
    expected = _read_back(sio.frame_to_csv_text(frame, header=True))
    calls = []
    original = sio.frame_to_csv_text
    monkeypatch.setattr(sio, "frame_to_csv_text",
                        lambda f, header, **layout: calls.append(len(f)) or original(f, header, **layout))
    got = _read_back(_written(frame))
    pd.testing.assert_frame_equal(got, expected)
    assert calls == [0], "only the header should go through pandas"
    assert got["whole"].dtype == np.float64 and got["count"].dtype == np.int64
    assert got["label"].iloc[0] == " Private"


@pytest.mark.parametrize("awkward", ['say "hi"', "a,b", "two\nlines"])
def test_text_needing_quotes_goes_through_pandas(awkward):
    frame = _frame(["plain", awkward] * 20)
    got = _read_back(_written(frame))
    pd.testing.assert_frame_equal(got, _read_back(sio.frame_to_csv_text(frame, header=True)))
    assert (got["label"] == awkward).sum() == 20
