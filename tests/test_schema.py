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
