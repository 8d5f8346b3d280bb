import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from synthvae.schema import infer_schema
from synthvae.transformers import CategoricalTransformer, TableTransformer, level_key


def assert_round_trip(frame, encoding):
    tt = TableTransformer(infer_schema(frame), encoding=encoding).fit(frame)
    matrix = tt.transform(frame)
    assert matrix.dtype == np.float32 and matrix.shape == (len(frame), tt.width_)
    back = tt.inverse_transform(matrix)
    assert list(back.columns) == list(frame.columns)
    for name in frame.columns:
        a, b = frame[name], back[name]
        assert a.dtype == b.dtype, name
        assert (a.isna() == b.isna()).all(), name
        if pd.api.types.is_numeric_dtype(a) and not pd.api.types.is_bool_dtype(a):
            scale = 1e-4 * (1 + np.nanmax(np.abs(a.to_numpy(float))))
            assert np.allclose(a.to_numpy(float), b.to_numpy(float), atol=scale, equal_nan=True), name
        else:
            assert a.fillna("<na>").astype(str).tolist() == b.fillna("<na>").astype(str).tolist(), name


@pytest.mark.parametrize("encoding", ["quantile", "mode"])
def test_round_trip_mixed(mixed_frame, encoding):
    frame = mixed_frame.drop(columns=["id"])  # identifiers are regenerated, not restored
    assert_round_trip(frame, encoding)


def test_layout_covers_matrix(mixed_frame):
    tt = TableTransformer(infer_schema(mixed_frame)).fit(mixed_frame)
    covered = np.zeros(tt.width_, dtype=int)
    for span in tt.spans_:
        covered[span.start : span.stop] += 1
        assert span.kind in ("continuous", "softmax")
        assert span.kind == "softmax" or span.width == 1
    assert (covered == 1).all()
    # id and the constant take no columns; the rest at least one each
    assert {s.column for s in tt.spans_} == set(mixed_frame.columns) - {"id", "country"}


def test_inverse_clips_and_rounds_integers(mixed_frame):
    tt = TableTransformer(infer_schema(mixed_frame)).fit(mixed_frame)
    matrix = tt.transform(mixed_frame)
    matrix[:, tt.continuous_columns_] = 40.0  # far outside any value seen
    back = tt.inverse_transform(matrix)
    assert back["visits"].max() == mixed_frame["visits"].max()
    assert (back["visits"] == back["visits"].round()).all()
    assert back["income"].max() == mixed_frame["income"].max()


def test_categories_only_from_training(mixed_frame):
    tt = TableTransformer(infer_schema(mixed_frame)).fit(mixed_frame)
    rng = np.random.default_rng(1)
    noise = rng.normal(size=(500, tt.width_)).astype(np.float32)
    back = tt.inverse_transform(noise)
    assert set(back["color"].dropna()) <= set(mixed_frame["color"].dropna())
    assert set(back["member"]) <= {True, False}


def test_rare_levels_are_pooled():
    values = [f"v{i}" for i in range(2000)] * 3
    frame = pd.DataFrame({"many": values, "x": np.arange(len(values), dtype=float)})
    tt = TableTransformer(infer_schema(frame)).fit(frame)
    span = next(s for s in tt.spans_ if s.column == "many")
    assert span.width <= 501
    back = tt.inverse_transform(tt.transform(frame), rng=np.random.default_rng(0))
    assert set(back["many"]) <= set(values)


def test_state_round_trip(mixed_frame):
    tt = TableTransformer(infer_schema(mixed_frame)).fit(mixed_frame)
    again = TableTransformer.from_state(tt.schema, tt.get_state())
    matrix = tt.transform(mixed_frame)
    assert np.array_equal(again.transform(mixed_frame), matrix)
    pd.testing.assert_frame_equal(again.inverse_transform(matrix), tt.inverse_transform(matrix))


column_names = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=8)


@st.composite
def mixed_frames(draw):
    n = draw(st.integers(min_value=25, max_value=60))
    names = draw(st.lists(column_names, min_size=1, max_size=5, unique=True))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    columns = {}
    for name in names:
        kind = draw(st.sampled_from(["float", "int", "text", "bool", "date"]))
        missing = rng.random(n) < draw(st.sampled_from([0.0, 0.2]))
        if kind == "float":
            values = pd.Series(rng.normal(0, draw(st.sampled_from([1e-3, 1.0, 1e6])), n).round(3))
        elif kind == "int":
            values = pd.Series(rng.integers(-1000, 1000, n)).astype(float if missing.any() else int)
        elif kind == "text":
            values = pd.Series(rng.choice(["a", " b", "c c", "é"], n), dtype=object)
        elif kind == "bool":
            values = pd.Series(rng.random(n) < 0.5, dtype=object if missing.any() else bool)
        else:
            days = rng.integers(0, 3000, n)
            values = pd.Series((pd.Timestamp("2001-01-01") + pd.to_timedelta(days, unit="D")).strftime("%Y-%m-%d"), dtype=object)
        if missing.any():
            values = values.mask(missing)
        columns[name] = values
    return pd.DataFrame(columns)


@given(frame=mixed_frames(), encoding=st.sampled_from(["quantile", "mode"]))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_round_trip_property(frame, encoding):
    schema = infer_schema(frame)
    keep = [c.name for c in schema.columns if c.kind != "identifier"]
    assert_round_trip(frame[keep], encoding)


def test_exact_functions_of_another_column_are_looked_up():
    rng = np.random.default_rng(0)
    education = rng.choice(["HS", "BSc", "MSc", "PhD"], 400)
    frame = pd.DataFrame({
        "education": education,
        "years": pd.Series(education).map({"HS": 12, "BSc": 16, "MSc": 18, "PhD": 21}),
        "city": rng.choice(["a", "b", "c"], 400),
    })
    tt = TableTransformer(infer_schema(frame)).fit(frame)
    learned = {s.column for s in tt.spans_}
    assert "city" in learned and len(learned) == 2  # one of the pair is looked up, not learned
    noise = rng.normal(size=(300, tt.width_)).astype(np.float32)
    back = tt.inverse_transform(noise)
    expected = back["education"].map({"HS": 12, "BSc": 16, "MSc": 18, "PhD": 21})
    assert (back["years"] == expected).all() and back["years"].dtype == frame["years"].dtype
    assert_round_trip(frame, "quantile")


@given(frame=mixed_frames())
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_fit_then_sample_never_crashes_property(frame):
    from synthvae import SynthVAE

    from conftest import TINY

    model = SynthVAE(random_state=0, **{**TINY, "epochs": 1}).fit(frame)
    synth = model.sample(50)
    assert list(synth.columns) == list(frame.columns)
    assert synth.dtypes.to_dict() == frame.dtypes.to_dict()


def test_none_and_nan_are_one_missing_level():
    """A table read from CSV and Parquet parts holds both None and NaN for a gap;
    pandas 2 counts them as two values, which once made two missing levels."""
    series = pd.Series(["a", None, np.nan, "b", "a", None], dtype=object)
    transformer = CategoricalTransformer().fit(series)
    assert sum(level is None for level in transformer.levels_) == 1
    codes = transformer.transform(series).argmax(axis=1)
    assert codes[1] == codes[2] == codes[5]
    back = transformer.inverse_transform(transformer.transform(series))
    assert back.isna().tolist() == series.isna().tolist()


def test_transformers_answer_conditions_in_their_own_terms(mixed_frame):
    frame = mixed_frame.assign(tier=mixed_frame["color"].map({"red": 1, " blue": 2, "green ": 3}))
    tt = TableTransformer(infer_schema(frame)).fit(frame)
    kinds = {name: tt.column_transformer(name).condition_type for name in frame.columns}
    assert kinds == {"id": None, "income": "range", "age": "range", "visits": "range", "color": "levels",
                     "member": "levels", "signup": "range", "country": "fixed", "tier": "levels"}
    assert [name for name in frame.columns if tt.column_transformer(name).positional] == ["id"]

    # A derived column reads its source and answers with its source's softmax group.
    derived = next(tt.column_transformer(n) for n in ("color", "tier") if tt.column_transformer(n).inputs)
    source = tt.column_transformer(derived.inputs[0])
    assert derived.columns != source.columns and tt.spans_for(derived) == []
    picked = derived.known_values()[0]
    selection = derived.select_levels({level_key(picked)}, tt)
    assert selection.span == tt.spans_for(source)[0] and len(selection.slots) == 1

    color = tt.column_transformer("color")
    assert color.match_value("blue") == [" blue"] and color.match_value("purple") == []

    # A nullable number: the (present, missing) group first, then the monotone score.
    age = tt.column_transformer("age")
    assert age.indicator_span() == 0 and age.monotone_span() == 1
    assert age.value_range() == (frame["age"].min(), frame["age"].max())
    written = age.scores_to_numbers(np.linspace(-6, 6, 101))
    assert np.all(np.diff(written) >= 0) and written[0] == frame["age"].min()
    assert tt.column_transformer("country").match_value(" NL") == ["NL"]


def test_mode_encoding_is_not_monotone_in_one_score(mixed_frame):
    tt = TableTransformer(infer_schema(mixed_frame), encoding="mode").fit(mixed_frame)
    assert tt.column_transformer("income").monotone_span() is None


@pytest.mark.parametrize("format", ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d", "%d/%m/%Y %H:%M"])
def test_dates_are_written_as_strftime_writes_them(format):
    from synthvae.datetimes import from_seconds

    rng = np.random.default_rng(0)
    edges = [pd.Timestamp.min.ceil("s"), pd.Timestamp.max.floor("s"), pd.Timestamp(0), pd.Timestamp("1999-12-31 23:59:59")]
    seconds = np.concatenate([rng.integers(-9 * 10**9, 9 * 10**9, 2000),
                              [int(t.value // 10**9) for t in edges]]).astype(np.float64)
    written = from_seconds(seconds, format)
    assert written.dtype == object
    expected = [pd.Timestamp(int(s), unit="s").strftime(format) for s in seconds]
    assert written.tolist() == expected


def test_the_unseen_slot_is_written_as_the_rows_most_likely_known_level():
    t = CategoricalTransformer(unseen_slot=True).fit(pd.Series(["a", "b", "c"] * 10))
    block = np.array([[0.1, 0.2, 0.0, 0.7],    # unseen slot: b is the likeliest known level
                      [0.05, 0.05, 0.3, 0.6],  # unseen slot: c
                      [0.6, 0.2, 0.1, 0.1]], dtype=np.float32)
    assert t.inverse_transform(block).tolist() == ["b", "c", "a"]
    # The same when the levels drawn are handed over, and the codes given are left as they were.
    codes = np.array([3, 3, 0])
    assert t.inverse_transform(block, codes=[codes]).tolist() == ["b", "c", "a"]
    assert codes.tolist() == [3, 3, 0]
