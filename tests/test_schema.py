import json

import numpy as np
import pandas as pd
import pytest

from synthvae.errors import DataError
from synthvae.schema import Schema, infer_schema, load_schema, table_json_schema, validate_schema_dict


def test_infers_every_kind(mixed_frame):
    kinds = {c.name: c.kind for c in infer_schema(mixed_frame).columns}
    assert kinds == {
        "id": "identifier",
        "income": "continuous",
        "age": "integer",
        "visits": "integer",
        "color": "categorical",
        "member": "boolean",
        "signup": "datetime",
        "country": "constant",
    }


def test_records_gaps_and_formats(mixed_frame):
    schema = infer_schema(mixed_frame)
    assert schema["age"].nullable and schema["color"].nullable
    assert not schema["income"].nullable
    assert schema["signup"].format == "%Y-%m-%d"
    assert (schema["id"].prefix, schema["id"].width) == ("user-", 6)
    assert schema["country"].value == "NL"


def test_few_distinct_numbers_are_categorical():
    frame = pd.DataFrame({"stars": np.arange(400) % 5 + 1, "price": np.arange(400) * 1.5})
    kinds = {c.name: c.kind for c in infer_schema(frame).columns}
    assert kinds == {"stars": "categorical", "price": "continuous"}


def test_json_round_trip_validates(mixed_frame):
    schema = infer_schema(mixed_frame)
    text = schema.to_json()
    validate_schema_dict(json.loads(text))
    again = Schema.from_dict(json.loads(text))
    assert again.to_dict() == schema.to_dict()


def test_schema_file_is_a_json_schema():
    spec = table_json_schema()
    assert spec["$schema"].startswith("https://json-schema.org/")
    assert "identifier" in spec["$defs"]["column"]["properties"]["kind"]["enum"]


@pytest.mark.parametrize(
    "bad, words",
    [
        ({"version": 1, "columns": [{"name": "a", "kind": "banana"}]}, "columns/0/kind"),
        ({"version": 1, "columns": []}, "columns"),
        ({"version": 1, "columns": [{"name": "a", "kind": "datetime"}]}, "format"),
        ({"version": 1, "columns": [{"name": "a", "kind": "integer"}, {"name": "a", "kind": "integer"}]}, "twice"),
    ],
)
def test_invalid_schema_is_refused(bad, words):
    with pytest.raises(DataError, match=words):
        Schema.from_dict(bad)


def test_schema_naming_missing_columns_is_refused(mixed_frame, tmp_path):
    schema = infer_schema(mixed_frame).to_dict()
    schema["columns"].append({"name": "ghost", "kind": "integer"})
    path = tmp_path / "s.json"
    path.write_text(json.dumps(schema))
    with pytest.raises(DataError, match="ghost"):
        load_schema(path).check_frame(mixed_frame)


# -- inference in the right order -----------------------------------------------------------


def _kinds(frame):
    return {c.name: c.kind for c in infer_schema(frame).columns}


def test_inference_order_dates_numbers_identifiers():
    n = 60
    rng = np.random.default_rng(0)
    days = pd.Timestamp("2023-01-01") + pd.to_timedelta(np.arange(n) * 3, unit="D")
    frame = pd.DataFrame({
        "day": days.strftime("%Y%m%d").astype(np.int64),          # 20230101: a date, not an integer
        "seen": days.strftime("%Y-%m-%d"),                        # unique dates: never an identifier
        "ratio": rng.random(n).round(6) + 0.5,                     # unique decimals: never an identifier
        "order_id": np.arange(1000, 1000 + n, dtype=np.float64),  # unique whole numbers, 1000.0: identifier
        "amount": pd.Series([f"{v:.2f}" for v in rng.random(n) * 100], dtype=object).mask(np.arange(n) == 5, "n/a?"),
    })
    frame["seen"] = frame["seen"].mask(np.arange(n) == 7, "soon")
    kinds = _kinds(frame)
    assert kinds == {"day": "datetime", "seen": "datetime", "ratio": "continuous", "order_id": "identifier",
                     "amount": "categorical"}
    schema = infer_schema(frame)
    assert schema["day"].format == "%Y%m%d" and schema["day"].dtype == "int64"
    assert schema["seen"].nullable and not schema["day"].nullable  # the unreadable date is a gap


def test_codes_with_leading_zeros_are_categories_or_identifiers(tmp_path):
    from synthvae.io import read_table

    rows = "".join(f"{i:05d},{['01', '02', '10'][i % 3]},{i}\n" for i in range(40))
    frame = read_table(_write(tmp_path / "c.csv", "account,branch,n\n" + rows))
    schema = infer_schema(frame)
    assert (schema["account"].kind, schema["account"].width) == ("identifier", 5)
    assert schema["branch"].kind == "categorical" and frame["branch"].tolist()[:3] == ["01", "02", "10"]


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


# -- a schema that does not fit the data ----------------------------------------------------


def _table():
    return pd.DataFrame({
        "n": np.arange(30),
        "x": np.linspace(0, 1, 30),
        "k": ["a", "b", "c"] * 10,
        "when": ["2020-01-0%d" % (i % 9 + 1) for i in range(30)],
        "flag": [True, False] * 15,
    })


@pytest.mark.parametrize(
    "column, change, value, words",
    [
        ("n", {"kind": "integer"}, 2.5, r"'n' .*row 4 holds 2.5, which is not a whole number"),
        ("x", {"kind": "continuous"}, "lots", r"'x' .*row 4 holds 'lots', which is not a number"),
        ("x", {"kind": "continuous", "nullable": False}, None, r"'x' .*row 4 is empty .*nullable: false"),
        ("k", {"kind": "categorical", "levels": ["a", "b"]}, None, r"'k' .*row 3 holds 'c', which the schema's levels"),
        ("when", {"kind": "datetime", "format": "%Y-%m-%d", "nullable": False}, "soon",
         r"'when' .*row 4 holds 'soon', which is not a date in the format %Y-%m-%d"),
        ("flag", {"kind": "boolean"}, "maybe", r"'flag' .*row 4 holds 'maybe', which is not True/False"),
        ("k", {"kind": "constant", "value": "a"}, None, r"'k' .*row 2 holds 'b', but the schema says every row"),
    ],
)
def test_a_schema_that_does_not_fit_names_column_and_row(column, change, value, words):
    from synthvae.transformers import TableTransformer

    frame = _table()
    if value is not None or change.get("nullable") is False and "levels" not in change:
        frame[column] = frame[column].astype(object)
        frame.loc[3, column] = value
    schema = infer_schema(_table()).to_dict()
    for spec in schema["columns"]:
        if spec["name"] == column:
            spec.update(change)
    schema = Schema.from_dict(schema)
    with pytest.raises(DataError, match=words):
        schema.check_data(frame)
    with pytest.raises(DataError, match=words):
        TableTransformer(schema).fit(frame)  # before any training


def test_levels_round_trip_and_fit_when_complete():
    schema = infer_schema(_table()).to_dict()
    schema["columns"][2]["levels"] = ["a", "b", "c", "d"]
    again = Schema.from_dict(json.loads(json.dumps(schema)))
    assert again["k"].levels == ["a", "b", "c", "d"] and again.to_dict() == schema
    again.check_data(_table())
    assert "levels" not in infer_schema(_table()).to_json()  # never inferred


def test_an_inferred_schema_always_fits_its_data(mixed_frame):
    infer_schema(mixed_frame).check_data(mixed_frame)
