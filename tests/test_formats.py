"""What comes out reads like what went in: each column's text format and the file's
layout are learned, kept in the schema, and applied to sampled CSV; Parquet keeps its
Arrow types."""

import io
import json
import os
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synthvae import SynthVAE, datetimes
from synthvae.formats import (arrow_type_from_text, arrow_type_text, format_column, infer_column_written,
                              infer_dialect)
from synthvae.io import read_table, write_chunks
from synthvae.reader import NA_TOKENS
from synthvae.schema import (DATETIME_FORMATS, Schema, detect_datetime_format, infer_schema, load_schema,
                             validate_schema_dict)

from conftest import TINY

# Fitting only needs to carry the formats through: two epochs do.
FIT = {**TINY, "epochs": 2}

ENV = {**os.environ, "PYTHONWARNINGS": "ignore"}


def synthvae(*args):
    result = subprocess.run([sys.executable, "-m", "synthvae", *map(str, args)], capture_output=True, text=True,
                            env=ENV)
    assert result.returncode == 0, result.stderr
    return result


def written_back(cells):
    """``cells`` (text, "" empty) read as the reader reads them, then written in the
    format learned from them."""
    parsed = pd.read_csv(pd.io.common.StringIO("x\n" + "\n".join(f'"{c}"' for c in cells) + "\n"),
                         na_values=NA_TOKENS, keep_default_na=False)["x"]
    spec = infer_column_written(pd.Series(cells, dtype=object), parsed)
    return format_column(parsed, spec).tolist(), spec


# -- the format layer, property-tested ------------------------------------------------------------

finite = st.floats(min_value=-1e9, max_value=1e9, allow_nan=False, allow_infinity=False)


@settings(max_examples=30, deadline=None)
@given(st.lists(finite, min_size=1, max_size=30), st.integers(0, 6), st.sampled_from(["", "?", "NA", " ?", "NULL"]))
def test_numbers_with_a_fixed_count_of_decimals_come_back_as_written(values, decimals, missing):
    cells = [f"{v:.{decimals}f}" for v in values] + [missing]
    got, spec = written_back(cells)
    # "-0.00" reads as 0 and is written "0.00": the sign of zero is the one difference.
    assert got == [re.sub(r"^-(?=0\.?0*$)", "", c) for c in cells[:-1]] + [missing]
    assert spec.get("decimals", 0) == decimals


@settings(max_examples=30, deadline=None)
@given(st.lists(finite, min_size=1, max_size=30), st.integers(1, 5))
def test_numbers_keep_up_to_their_decimals_and_no_more(values, decimals):
    cells = [np.format_float_positional(round(v, decimals), trim="-") for v in values] + ["1.5"]
    got, spec = written_back(cells)
    assert [float(c) for c in got] == pytest.approx([float(c) for c in cells])
    most, least = spec.get("decimals", 0), spec.get("min_decimals", 0)
    assert all(re.fullmatch(rf"-?\d+(\.\d{{{max(least, 1)},{most}}})?", c) for c in got)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(-(2**63), 2**63 - 1), min_size=1, max_size=30))
def test_integers_are_exact_however_large(values):
    assert format_column(pd.Series(values, dtype="int64"), {}).tolist() == [str(v) for v in values]
    with_gap = pd.Series(values + [None], dtype="Int64")
    assert format_column(with_gap, {"missing": "NA"}).tolist() == [str(v) for v in values] + ["NA"]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(min_value=1e-30, max_value=1e30), min_size=1, max_size=20), st.integers(0, 4),
       st.sampled_from(["e", "E"]))
def test_scientific_notation_comes_back_as_written(values, decimals, letter):
    cells = [f"{v:.{decimals}{letter}}" for v in values]
    got, spec = written_back(cells)
    assert got == cells and spec["exponent"] == letter


@settings(max_examples=40, deadline=None)
@given(st.lists(st.booleans(), min_size=2, max_size=20),
       st.sampled_from([("True", "False"), ("true", "false"), ("TRUE", "FALSE")]),
       st.sampled_from(["", "NA", "?"]))
def test_booleans_keep_their_spelling_and_missing_cell(values, tokens, missing):
    cells = [tokens[0] if v else tokens[1] for v in values] + [missing]
    got, spec = written_back(cells)
    assert got == cells


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 99999), min_size=2, max_size=20))
def test_zero_padded_codes_keep_their_width(values):
    cells = [f"{v:05d}" for v in values] + ["00042"]
    got, spec = written_back(cells)
    assert spec["width"] == 5
    assert format_column(pd.Series([int(c) for c in cells]), spec).tolist() == cells


zoned = st.sampled_from(["", "+01:00", "Z", "%:z", "%z"])


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(-2 * 10**9, 4 * 10**9), min_size=3, max_size=30), st.sampled_from(DATETIME_FORMATS),
       st.sampled_from(["", ".%3f", ".%6f"]), zoned)
def test_dates_are_read_and_written_in_their_own_format(seconds, base, fraction, zone):
    fraction = fraction if base.endswith("%S") else ""
    fmt = base + fraction + zone
    if "%H" not in fmt and zone:
        return  # a date alone has no zone
    text = datetimes.from_seconds(np.array(seconds), fmt)
    found = detect_datetime_format(text)
    assert found is not None
    assert datetimes.from_seconds(datetimes.to_seconds(text, found), found).tolist() == text.tolist()


@pytest.mark.parametrize("arrow_type", [
    pa.int64(), pa.int8(), pa.uint32(), pa.float32(), pa.bool_(), pa.string(), pa.large_string(), pa.date32(),
    pa.timestamp("us", tz="Europe/Paris"), pa.timestamp("ns"), pa.timestamp("ms", tz="+01:00"),
    pa.dictionary(pa.int32(), pa.string()), pa.dictionary(pa.int8(), pa.string(), ordered=True),
    pa.decimal128(12, 2),
])
def test_arrow_types_are_kept_as_text_and_read_back(arrow_type):
    assert arrow_type_from_text(arrow_type_text(arrow_type)) == arrow_type


def test_the_layout_of_a_file_is_read_from_its_first_bytes():
    dialect = infer_dialect('"a";"b"\r\n"1";"x"\r\n"2";"y"\r\n', ";", "latin-1")
    assert (dialect.delimiter, dialect.line_ending, dialect.quote_all, dialect.encoding) == (";", "\r\n", True, "latin-1")
    assert not infer_dialect('a,b\n1,"x,y"\n2,z\n', ",", "utf-8").quote_all


# -- through the command line ---------------------------------------------------------------------


def _table(n=300, seed=0):
    """A small table with a column of each format the issue lists."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2024-01-01")
    quarter = start + pd.to_timedelta(rng.integers(0, 6000, n) * 15, unit="min")
    unique = start + pd.to_timedelta(rng.permutation(100 * n)[:n] * 60, unit="min")
    return pd.DataFrame({
        "zip code": [f"{z:05d}" for z in rng.choice(rng.integers(1000, 99999, 12), n)],
        "hours": rng.choice(["40", "35", "?"], n),
        "amount": [f"{x:.2f}" for x in rng.lognormal(15, 2, n)],
        "member": rng.choice(["true", "false"], n),
        "seen": [t.strftime("%Y-%m-%dT%H:%M:%S+01:00") for t in unique],
        "slot": [t.strftime("%Y-%m-%d %H:%M") for t in quarter],
        "day": [t.strftime("%Y%m%d") for t in start + pd.to_timedelta(rng.integers(0, 400, n), unit="D")],
        "at": [t.strftime("%H:%M:%S.%f")[:-3] for t in quarter],
        "account": np.where(rng.random(n) < 0.1, "", (2**60 + rng.integers(0, 8, n)).astype(str)),
        "rate": [f"{x:.3e}" for x in rng.lognormal(-12, 1, n)],
        "clocked": [t.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
                    for t in start + pd.to_timedelta(rng.integers(0, 30 * 86_400_000, n), unit="ms")],
    })


PATTERNS = {
    "zip code": r"\d{5}",
    "hours": r"40|35|\?",
    "amount": r"\d+\.\d\d",
    "member": r"true|false",
    "seen": r"\d{4}-\d\d-\d\dT\d\d:\d\d:00\+01:00",
    "slot": r"\d{4}-\d\d-\d\d \d\d:(00|15|30|45)",
    "day": r"20(24|25)\d{4}",
    "at": r"\d\d:(00|15|30|45):00\.\d{3}",
    "account": r"11529215046068469(7[6-9]|8[0-3])|",
    "rate": r"\d\.\d{3}e-\d\d",
    "clocked": r"2024-01-\d\d \d\d:\d\d:\d\d\.\d{3}",
}


@pytest.fixture(scope="module")
def csv_round_trip(tmp_path_factory):
    """A table written with ';' and CRLF line ends, fitted once; its rows and 300
    sampled through the command line."""
    folder = tmp_path_factory.mktemp("formats")
    data = folder / "real.csv"
    with open(data, "w", newline="") as fh:
        _table().to_csv(fh, index=False, sep=";", lineterminator="\r\n")
    model = folder / "model.synthvae"
    SynthVAE(random_state=0, **FIT).fit(read_table(data)).save(model)
    out = folder / "synth.csv"
    synthvae("sample", 300, "-m", model, "-o", out, "--seed", 1)
    return data, model, out


def test_sampled_csv_reads_like_the_real_one(csv_round_trip):
    data, _, out = csv_round_trip
    real = pd.read_csv(data, sep=";")
    synth = pd.read_csv(out, sep=";")
    assert list(synth.columns) == list(real.columns)
    assert synth.dtypes.to_dict() == real.dtypes.to_dict()


def test_every_sampled_cell_matches_its_column_pattern(csv_round_trip):
    _, _, out = csv_round_trip
    cells = pd.read_csv(out, sep=";", dtype=str, keep_default_na=False)
    for name, pattern in PATTERNS.items():
        bad = cells[name][~cells[name].str.fullmatch(pattern)]
        assert bad.empty, f"{name}: {bad.head().tolist()}"
    # The gaps are drawn too, as the file writes them.
    assert (cells["hours"] == "?").any() and (cells["account"] == "").any()


def test_fractions_of_a_second_come_back(csv_round_trip):
    """Times in whole milliseconds are drawn in milliseconds, not rounded to the second,
    and a condition with a fraction of a second holds to the millisecond."""
    data, model, out = csv_round_trip
    cells = pd.read_csv(out, sep=";", dtype=str)["clocked"]
    assert (~cells.str.endswith(".000")).mean() > 0.9
    bound = pd.read_csv(data, sep=";", dtype=str)["clocked"].sort_values().iloc[150]
    rows = pd.read_csv(io.StringIO(synthvae("sample", 200, "-m", model, "--seed", 2, "--where",
                                            f"clocked>{bound}").stdout), sep=";", dtype=str)
    assert len(rows) == 200 and (rows["clocked"] > bound).all()


@pytest.mark.parametrize("fraction, unit", [(".%3f", 0.001), (".%6f", 1e-06), ("", 1)])
def test_times_keep_their_fractions_of_a_second(fraction, unit):
    from synthvae.transformers.learned import time_unit

    rng = np.random.default_rng(1)
    micro = rng.integers(-10**15, 4 * 10**15, 500)
    micro -= micro % round(unit * 10**6)
    text = datetimes.from_seconds(micro / 10**6, "%Y-%m-%d %H:%M:%S" + fraction)
    seconds = datetimes.to_seconds(text, "%Y-%m-%d %H:%M:%S" + fraction)
    np.testing.assert_array_equal(np.round(seconds * 10**6), micro)
    assert time_unit(pd.Series(seconds)) == unit


def test_the_file_layout_comes_back(csv_round_trip):
    data, _, out = csv_round_trip
    real, synth = data.read_bytes(), out.read_bytes()
    assert synth.split(b"\r\n")[0] == real.split(b"\r\n")[0]  # the header, byte for byte
    assert synth.count(b"\r\n") == 301 and synth.count(b"\n") == 301


def test_the_schema_holds_the_formats_and_a_version_1_schema_still_fits(csv_round_trip):
    data, _, _ = csv_round_trip
    schema = infer_schema(read_table(data)).to_dict()
    validate_schema_dict(schema)
    assert schema["version"] == 2 and schema["csv"]["delimiter"] == ";"
    by_name = {c["name"]: c for c in schema["columns"]}
    assert by_name["hours"]["written"]["missing"] == "?"
    assert by_name["amount"]["written"]["decimals"] == 2
    assert by_name["member"]["written"] == {"true": "true", "false": "false"}
    assert by_name["seen"]["kind"] == "datetime" and by_name["seen"]["format"] == "%Y-%m-%dT%H:%M:%S+01:00"
    # An edited written format is used; an older schema without formats learns them.
    old = {"version": 1, "columns": [{k: v for k, v in c.items() if k != "written"} for c in schema["columns"]]}
    assert Schema.from_dict(old).with_formats(read_table(data))["hours"].written == {"missing": "?"}


def test_edited_formats_are_written(csv_round_trip, tmp_path):
    data, _, _ = csv_round_trip
    schema = infer_schema(read_table(data)).to_dict()
    schema["csv"] = {"delimiter": ",", "line_ending": "\n"}
    for column in schema["columns"]:
        if column["name"] == "hours":
            column["written"]["missing"] = "n/a"
        if column["name"] == "member":
            column["written"].update(true="Y", false="N")
    path = tmp_path / "schema.json"
    path.write_text(json.dumps(schema))
    loaded = load_schema(path)
    frame = pd.DataFrame({"hours": [40.0, None], "member": [True, False]})
    from synthvae.formats import TextFormatter

    written = TextFormatter({c.name: c.written for c in loaded.columns})(frame)
    assert written["hours"].tolist() == ["40", "n/a"] and written["member"].tolist() == ["Y", "N"]


def test_parquet_keeps_its_arrow_types(tmp_path):
    rng = np.random.default_rng(0)
    n = 200
    frame = pd.DataFrame({
        "when": pd.Timestamp("2024-01-01", tz="Europe/Paris") + pd.to_timedelta(rng.integers(0, 10**6, n), unit="min"),
        "count": pd.array(np.where(rng.random(n) < 0.1, None, rng.integers(0, 1000, n)), dtype="Int64"),
        "color": pd.Categorical(rng.choice(["red", "green", "blue"], n)),
        "flag": pd.array(np.where(rng.random(n) < 0.1, None, rng.random(n) < 0.5), dtype="boolean"),
    })
    data, model, out = tmp_path / "real.parquet", tmp_path / "model.synthvae", tmp_path / "synth.parquet"
    frame.to_parquet(data)
    SynthVAE(random_state=0, **FIT).fit(read_table(data)).save(model)
    synthvae("sample", 200, "-m", model, "-o", out)
    assert pq.read_schema(out).remove_metadata() == pq.read_schema(data).remove_metadata()
    synth = pd.read_parquet(out)
    assert synth.dtypes.to_dict() == pd.read_parquet(data).dtypes.to_dict()
    assert synth["count"].isna().any() and synth["flag"].isna().any()


def test_a_table_reads_the_same_from_parquet_and_from_csv(tmp_path):
    table = pa.table({"name": ["x", None, "y"], "size": [1.5, None, 2.0]})
    pq.write_table(table, tmp_path / "t.parquet")
    (tmp_path / "t.csv").write_text("name,size\nx,1.5\n,\ny,2.0\n")
    from_parquet, from_csv = read_table(tmp_path / "t.parquet"), read_table(tmp_path / "t.csv")
    assert from_parquet["name"].tolist()[1] is not None  # one missing marker, NaN, as from CSV
    pd.testing.assert_frame_equal(from_parquet, from_csv)


def test_the_real_table_written_with_its_schema_is_the_same_file(csv_round_trip, tmp_path):
    data, _, _ = csv_round_trip
    frame = read_table(data)
    out = tmp_path / "again.csv"
    write_chunks([frame], out, "csv", schema=infer_schema(frame))
    assert out.read_bytes() == data.read_bytes()


def test_empty_header_names_and_trailing_delimiters_come_back(tmp_path):
    data, out = tmp_path / "odd.csv", tmp_path / "out.csv"
    data.write_bytes(b"a;;b;\r\n1;x;2.50;\r\n2;y;3.00;\r\n3;;NA;\r\n")
    frame = read_table(data)
    write_chunks([frame], out, "csv", schema=infer_schema(frame))
    assert out.read_bytes() == data.read_bytes()


def test_a_streamed_table_learns_its_formats_from_its_first_part(csv_round_trip):
    from synthvae.stream import reservoir_sample

    data, _, _ = csv_round_trip
    sample, _ = reservoir_sample(data, 100, seed=0)
    schema = infer_schema(sample)
    assert schema["hours"].written == {"missing": "?"} and schema.csv["line_ending"] == "\r\n"


@pytest.mark.parametrize("quoted", [False, True])  # a cell that needs quotes: the chunk goes through pandas
@pytest.mark.parametrize("written", [None, {}, {"missing": "?", "decimals": 2, "min_decimals": 1}])
def test_category_columns_given_as_categoricals_are_written_as_their_plain_columns(written, quoted):
    import numpy as np

    from synthvae.io import renderer
    from synthvae.schema import ColumnSpec, Schema
    from synthvae.transformers.table import _categorical

    rng = np.random.default_rng(0)
    tables = {  # the values a column takes (gaps included), as the sampler restores them
        "text": pd.Series([" Private", "Self-emp", None, "a,b" if quoted else "a"], dtype=object),
        "counts": pd.Series([3, 1, 12], dtype="int64"),
        "counts_with_gaps": pd.Series([3.0, np.nan, 12.0], dtype="float64"),
        "amounts": pd.Series([0.0, 2.5, 5.75], dtype="float64"),
        "flags": pd.Series([True, False], dtype="bool"),
        "mixed": pd.Series(["x", 7, 2.5, None], dtype=object),
        "alike": pd.Series([1, 1.0, True, "1"], dtype=object),  # equal values written apart: stays plain
    }
    positions = {name: rng.integers(0, len(values), 5000) for name, values in tables.items()}
    plain = pd.DataFrame({name: pd.Series(values.to_numpy()[positions[name]], dtype=values.dtype)
                          for name, values in tables.items()})
    coded = pd.DataFrame({name: (c if (c := _categorical(positions[name], values)) is not None else plain[name])
                          for name, values in tables.items()})
    assert isinstance(coded["text"].dtype, pd.CategoricalDtype) and not isinstance(coded["alike"].dtype,
                                                                                    pd.CategoricalDtype)
    schema = None
    if written is not None:
        schema = Schema([ColumnSpec(n, "categorical", dtype=str(tables[n].dtype), written=written) for n in tables])
    render = renderer("csv", (), schema)
    assert render.categories
    assert render(coded) == render(plain)
    assert render(coded.iloc[:0]) == render(plain.iloc[:0])
