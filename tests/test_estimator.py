import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from synthvae import SynthVAE
from synthvae.errors import DataError, InputTypeError, UsageError

from conftest import TINY


def test_sample_keeps_columns_dtypes_and_values(fitted, mixed_frame):
    synth = fitted.sample(400)
    assert list(synth.columns) == list(mixed_frame.columns)
    assert synth.dtypes.to_dict() == mixed_frame.dtypes.to_dict()
    assert len(synth) == 400
    assert set(synth["color"].dropna()) <= set(mixed_frame["color"].dropna())
    assert (synth["country"] == "NL").all()
    assert synth["visits"].between(mixed_frame["visits"].min(), mixed_frame["visits"].max()).all()
    assert synth["signup"].str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()


def test_identifiers_are_new_unique_and_in_pattern(fitted, mixed_frame):
    ids = fitted.sample(500)["id"]
    assert ids.is_unique
    assert ids.str.fullmatch(r"user-\d{6}").all()
    assert not set(ids) & set(mixed_frame["id"])


def test_same_seed_same_rows_other_seed_other_rows(fitted):
    a = fitted.sample(300, random_state=7)
    pd.testing.assert_frame_equal(a, fitted.sample(300, random_state=7))
    assert not a.equals(fitted.sample(300, random_state=8))


def test_fit_is_reproducible(mixed_frame):
    a = SynthVAE(random_state=3, **TINY).fit(mixed_frame).sample(200)
    b = SynthVAE(random_state=3, **TINY).fit(mixed_frame).sample(200)
    pd.testing.assert_frame_equal(a, b)


def test_rows_do_not_depend_on_how_they_are_split(fitted):
    from synthvae import generation

    whole = fitted.sample(50_000, random_state=1)
    assert len(whole) == 50_000 and whole.index.equals(pd.RangeIndex(50_000))
    # a slice straddling a chunk boundary, made on its own
    start, stop = generation.CHUNK_ROWS - 100, generation.CHUNK_ROWS + 100
    part = pd.concat(fitted.iter_sample(50_000, random_state=1, start=start, stop=stop))
    pd.testing.assert_frame_equal(part.reset_index(drop=True), whole.iloc[start:stop].reset_index(drop=True))


def test_argmax_makes_categories_deterministic_given_the_code(fitted):
    """With argmax, every softmax span takes the decoder's most likely level, whatever
    the random draws; without it, the levels are drawn and differ between generators."""
    from synthvae.decoder import Decoder
    from synthvae.generation import decode_to_matrix

    raw = Decoder(fitted.weights_, len(fitted.hidden))(fitted.prior_.sample(500, np.random.default_rng(0)))
    tt, sigma = fitted.transformer_, fitted.sigma_
    a = decode_to_matrix(raw, tt, sigma, np.random.default_rng(1), argmax=True)
    b = decode_to_matrix(raw, tt, sigma, np.random.default_rng(2), argmax=True)
    drawn = [decode_to_matrix(raw, tt, sigma, np.random.default_rng(s)) for s in (1, 2)]
    differs = False
    for span in tt.softmax_spans_:
        cols = slice(span.start, span.stop)
        np.testing.assert_array_equal(a[:, cols], b[:, cols])
        np.testing.assert_array_equal(a[:, cols].argmax(axis=1), raw[:, cols].argmax(axis=1))
        differs |= not np.array_equal(drawn[0][:, cols], drawn[1][:, cols])
    assert differs
    rows = fitted.sample(200, random_state=1, argmax=True)
    assert set(rows["color"].dropna()) <= {"red", " blue", "green "}


def test_sample_zero_rows_has_header_and_dtypes(fitted, mixed_frame):
    empty = fitted.sample(0)
    assert len(empty) == 0 and list(empty.columns) == list(mixed_frame.columns)


def test_save_load_gives_identical_samples(fitted, tmp_path):
    path = tmp_path / "m.synthvae"
    fitted.save(path)
    loaded = SynthVAE.load(path)
    pd.testing.assert_frame_equal(loaded.sample(300, random_state=5), fitted.sample(300, random_state=5))
    assert loaded.get_params() == fitted.get_params()


def test_sklearn_conventions(mixed_frame):
    model = SynthVAE(epochs=3, latent_dim=4, random_state=1)
    assert model.get_params()["latent_dim"] == 4
    model.set_params(latent_dim=6)
    assert model.latent_dim == 6
    copy = clone(model)
    assert copy.get_params() == model.get_params() and copy is not model
    with pytest.raises(NotFittedError):
        model.sample(10)
    assert not hasattr(model, "vae_")
    assert model.set_params(verbose=False).fit(mixed_frame) is model
    assert hasattr(model, "vae_") and hasattr(model, "schema_")


def test_constructor_stores_arguments_unchanged():
    hidden = [64, 32]
    model = SynthVAE(hidden=hidden)
    assert model.hidden is hidden


@pytest.mark.parametrize(
    "data, error, words",
    [
        ([1, 2, 3], InputTypeError, "DataFrame"),
        (pd.DataFrame({"a": [1.0, 2.0]}), DataError, "too few rows"),
    ],
)
def test_bad_data(data, error, words):
    with pytest.raises(error, match=words):
        SynthVAE(**TINY).fit(data)


def test_bad_params(mixed_frame):
    with pytest.raises(UsageError, match="epochs"):
        SynthVAE(epochs=0).fit(mixed_frame)
    with pytest.raises(UsageError, match="encoding"):
        SynthVAE(encoding="zip").fit(mixed_frame)


def test_bad_counts(fitted):
    with pytest.raises(UsageError, match="0 or more"):
        fitted.sample(-1)
    with pytest.raises(InputTypeError, match="whole number"):
        fitted.sample(2.5)


def test_mode_encoding_trains_and_samples(mixed_frame):
    synth = SynthVAE(encoding="mode", random_state=0, **TINY).fit(mixed_frame).sample(100)
    assert synth.dtypes.to_dict() == mixed_frame.dtypes.to_dict()


def test_calibration_matches_category_shares():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({
        "level": rng.choice(["common", "mid", "rare"], 2000, p=[0.8, 0.17, 0.03]),
        "x": rng.normal(size=2000),
    })
    shares = frame["level"].value_counts(normalize=True)
    params = {**TINY, "epochs": 2}
    raw = SynthVAE(random_state=0, calibrate=False, **params).fit(frame).sample(20_000)
    calibrated = SynthVAE(random_state=0, **params).fit(frame).sample(20_000)
    gap = lambda s: (s["level"].value_counts(normalize=True) - shares).abs().max()
    assert gap(calibrated) < 0.01
    assert gap(calibrated) < gap(raw)


def test_absurd_counts_are_refused(fitted):
    with pytest.raises(UsageError, match="at most"):
        fitted.sample(10**30)


def test_column_too_sparse_to_calibrate_is_not_clipped():
    # 6 values among 400 rows: too few for a quantile map, so the calibration must
    # pass that column through unchanged (it once clipped it to its upper half).
    rng = np.random.default_rng(0)
    sparse = np.full(400, np.nan)
    sparse[:6] = [1.0, 2.0, 3.0, 40.0, 50.0, 60.0]
    frame = pd.DataFrame({"sparse": sparse, "x": rng.normal(size=400)})
    from synthvae.schema import infer_schema

    schema = infer_schema(frame).to_dict()
    schema["columns"][0]["kind"] = "continuous"  # six values alone would be read as categorical
    # Value protection would keep only the 5th smallest to the 5th largest of six values.
    with pytest.warns(UserWarning, match="value protection is off"):
        model = SynthVAE(random_state=0, value_protection=False, **TINY).fit(frame, schema=schema)
    synth = model.sample(5000)
    values = synth["sparse"].dropna()
    assert len(values) > 0 and values.min() < 20


@pytest.mark.parametrize("n", [1, 7])
def test_decode_to_matrix_leaves_the_decoder_output_alone(fitted, n):
    """The conditional sampler reads the raw outputs again after decoding them."""
    from synthvae.decoder import Decoder
    from synthvae.generation import decode_to_matrix

    raw = Decoder(fitted.weights_, len(fitted.hidden))(fitted.prior_.sample(n, np.random.default_rng(0)))
    before = raw.copy()
    matrix = decode_to_matrix(raw, fitted.transformer_, fitted.sigma_, np.random.default_rng(1),
                              calibration=fitted.calibration_)
    np.testing.assert_array_equal(raw, before)
    for span in fitted.transformer_.softmax_spans_:
        np.testing.assert_array_equal(matrix[:, span.start:span.stop].sum(axis=1), np.ones(n))


def test_a_failed_refit_leaves_the_fitted_model_as_it_was(mixed_frame):
    """Fitted state is assigned only once a fit has succeeded: a refit that diverges
    leaves the earlier schema, transformer, network, prior and calibration together."""
    from synthvae.errors import TrainingError

    model = SynthVAE(random_state=0, **TINY).fit(mixed_frame)
    before = {name: getattr(model, name) for name in ("schema_", "transformer_", "vae_", "prior_", "calibration_")}
    rows = model.sample(100, random_state=1)
    other = mixed_frame.assign(income=mixed_frame["income"] * 1e7)
    with pytest.raises(TrainingError):
        model.set_params(learning_rate=1e6).fit(other)
    assert all(getattr(model, name) is value for name, value in before.items())
    pd.testing.assert_frame_equal(model.sample(100, random_state=1), rows)


def test_fit_and_sample_leave_the_global_generators_alone(mixed_frame):
    import random

    random.seed(11)
    np.random.seed(11)
    expected = (random.random(), np.random.random())
    random.seed(11)
    np.random.seed(11)
    SynthVAE(random_state=0, **TINY).fit(mixed_frame).sample(50)
    assert (random.random(), np.random.random()) == expected


def test_fit_seconds_name_every_stage_in_order(fitted):
    stages = fitted.fit_seconds_
    assert list(stages) == ["schema", "keras", "rules", "transformers", "training", "prior", "calibration"]
    assert all(seconds >= 0 for seconds in stages.values()) and stages["training"] > 0
