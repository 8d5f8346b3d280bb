"""Differentially private fits (``epsilon``): per-row clipping, the calibrated noise, the
accountant's ε, the ledger in the model file and in ``inspect``, and what is refused."""

import json
import zipfile

import numpy as np
import pytest

from synthvae import SynthVAE
from synthvae.accounting import plan_privacy, spent_epsilon, training_event
from synthvae.errors import UsageError
from synthvae.schema import infer_schema

from conftest import TINY, cli

PRIVATE = {**TINY, "epochs": 2, "epsilon": 3.0}




def declared_schema(frame):
    """The frame's schema with every range and level declared (here read off the frame:
    the tests declare them public)."""
    schema = infer_schema(frame)
    for spec in schema.columns:
        values = frame[spec.name].dropna()
        if spec.kind in ("continuous", "integer"):
            spec.min, spec.max = float(values.min()), float(values.max())
        elif spec.kind == "datetime":
            spec.min, spec.max = str(values.min()), str(values.max())
        elif spec.kind == "categorical":
            spec.levels = sorted(values.unique().tolist())
    return schema


def network_and_rows(n_rows=12, seed=0):
    from synthvae.backend import import_keras

    import_keras()
    from synthvae.model import build_vae

    vae = build_vae(12, [0, 1, 2], [(3, 7), (7, 12)], latent_dim=4, hidden=(16, 8), beta=0.5, seed=seed)[0]
    rng = np.random.default_rng(seed)
    rows = np.zeros((n_rows, 12), dtype=np.float32)
    rows[:, :3] = rng.normal(size=(n_rows, 3)) * rng.choice([0.1, 1.0, 30.0], size=(n_rows, 1))
    rows[np.arange(n_rows), 3 + rng.integers(0, 4, n_rows)] = 1.0
    rows[np.arange(n_rows), 7 + rng.integers(0, 5, n_rows)] = 1.0
    return vae, rows


def private_step(vae, clip_norm, noise_multiplier=1.0, expected_batch_size=10.0, learning_rate=1e-3):
    import keras

    from synthvae.dp_tensorflow import PrivateStep

    return PrivateStep(vae, keras.optimizers.SGD(learning_rate), clip_norm, noise_multiplier, expected_batch_size, seed=7)


def row_gradients(step, vae, rows, eps):
    """Each row's gradient, one row at a time, from the network's own layers."""
    import tensorflow as tf

    encoder, decoder = vae.get_layer("encoder"), vae.get_layer("decoder")
    kl, reconstruction = vae.get_layer("kl"), vae.get_layer("reconstruction")
    gradients = []
    for i in range(len(rows)):
        with tf.GradientTape() as tape:
            mean, log_var = encoder(rows[i:i + 1])
            x_hat = decoder(mean + tf.exp(0.5 * log_var) * eps[i:i + 1])
            loss = (kl.beta * kl.row_kl(mean, log_var) + reconstruction.row_loss(rows[i:i + 1], x_hat))[0]
        gradients.append([np.asarray(g) for g in tape.gradient(loss, step.variables)])
    return gradients


def test_each_rows_gradient_is_clipped_to_the_clip_norm():
    vae, rows = network_and_rows()
    clip_norm = 300.0  # among the rows' norms (tens to millions): some are clipped, some not
    step = private_step(vae, clip_norm)
    step.generator.reset_from_seed(11)
    summed, norms, _ = step.clipped_sum(rows)
    step.generator.reset_from_seed(11)  # the same latent draws, for the row-by-row reference
    eps = step.generator.normal([len(rows), 4])
    reference = row_gradients(step, vae, rows, eps)

    reference_norms = np.array([np.sqrt(sum(np.sum(g * g) for g in row)) for row in reference])
    np.testing.assert_allclose(norms, reference_norms, rtol=1e-4)
    assert (reference_norms > clip_norm).any() and (reference_norms < clip_norm).any()
    clipped = [[g * min(1.0, clip_norm / n) for g in row] for row, n in zip(reference, reference_norms)]
    assert max(np.sqrt(sum(np.sum(g * g) for g in row)) for row in clipped) <= clip_norm * (1 + 1e-5)
    for i, total in enumerate(summed):
        expected = sum(row[i] for row in clipped)
        np.testing.assert_allclose(total, expected, rtol=1e-4, atol=1e-5 * np.abs(expected).max())


def test_a_step_adds_noise_of_the_calibrated_scale():
    """With no row drawn, an SGD step of rate 1 moves the weights by exactly the noise
    over the expected batch: its standard deviation must be σ·C / B."""
    vae, rows = network_and_rows()
    sigma, clip_norm, batch = 2.0, 0.5, 10.0
    step = private_step(vae, clip_norm, sigma, batch, learning_rate=1.0)
    moves = []
    for _ in range(3):
        before = [np.asarray(v).copy() for v in step.variables]
        step.step(rows[:0])
        moves += [(np.asarray(v) - b).ravel() for v, b in zip(step.variables, before)]
    moves = np.concatenate(moves)
    expected = sigma * clip_norm / batch
    assert len(moves) > 1000
    # The sample deviation of ~2,400 normal draws is within 1.5 % of the truth about 2 times in 3
    # and within 15 % all but once in 10**20: the tolerance cannot fail by chance.
    assert abs(moves.std() / expected - 1) < 0.15
    assert abs(moves.mean()) < 7 * expected / np.sqrt(len(moves))


def test_the_calibrated_noise_spends_at_most_the_target():
    ledger = plan_privacy(3.0, 1e-5, n_rows=1000, batch_size=50, epochs=10)
    assert ledger.steps == 200 and ledger.sampling_rate == pytest.approx(0.05)
    assert ledger.epsilon_spent <= 3.0
    # The smallest such noise: a tenth less would overspend.
    assert spent_epsilon(1e-5, training_event(ledger.noise_multiplier * 0.9, ledger.sampling_rate, ledger.steps)) > 3.0
    # The PLD accountant, tighter than RDP, agrees that the target holds.
    import dp_accounting
    from dp_accounting import pld

    accountant = pld.PLDAccountant()
    accountant.compose(dp_accounting.SelfComposedDpEvent(
        dp_accounting.PoissonSampledDpEvent(ledger.sampling_rate, dp_accounting.GaussianDpEvent(ledger.noise_multiplier)),
        ledger.steps))
    assert accountant.get_epsilon(1e-5) <= 3.0


def test_the_ledger_is_in_the_model_file_and_in_inspect(mixed_frame, tmp_path):
    data, schema_file, model_file = tmp_path / "data.csv", tmp_path / "public.json", tmp_path / "m.synthvae"
    mixed_frame.to_csv(data, index=False)
    schema_file.write_text(declared_schema(mixed_frame).to_json())
    status, out, err = cli("fit", data, "--schema", schema_file, "--epsilon", 2.5, "--delta", 1e-5, "--epochs", 2,
                           "--seed", 0, "-q", "-o", model_file)
    assert status == 0, err
    assert out == ""
    ledger_lines = [line for line in err.splitlines() if line.startswith("differential privacy:")]
    assert len(ledger_lines) == 1 and "of 2.5 at delta 1e-05" in ledger_lines[0], err

    with zipfile.ZipFile(model_file) as zf:
        meta = json.loads(zf.read("meta.json"))
    privacy = meta["privacy"]
    assert privacy["epsilon"] == 2.5 and privacy["delta"] == 1e-5
    assert 0 < privacy["epsilon_spent"] <= 2.5
    # Declared ranges and levels cost nothing; numeric quantiles and missing rates were
    # released first, and the accountant composed both parts within the target.
    assert set(privacy["split"]) == {"preprocessing", "training"}
    assert 0 < privacy["split"]["preprocessing"] < privacy["split"]["training"] < 2.5
    assert privacy["epsilon_spent"] <= sum(privacy["split"].values())
    assert privacy["released"] == {"income": ["quantiles"], "age": ["quantiles"], "visits": ["quantiles"],
                                   "color": ["missing"]}
    assert privacy["preprocessing_queries"] == 4 and privacy["preprocessing_noise_multiplier"] > 0
    assert privacy["threshold_delta"] == 0  # no level list was released
    assert privacy["sampling"] == "Poisson" and privacy["neighbouring"] == "add or remove one row"
    assert privacy["accountant"].startswith("RDP")
    assert privacy["steps"] == 2 * round(1 / privacy["sampling_rate"])
    assert meta["history"] == {}  # losses computed without noise stay out of the file

    status, text, err = cli("inspect", model_file)
    assert status == 0, err
    assert "privacy: differentially private for add or remove one row" in text
    assert "for 2 epochs" in text  # every planned epoch ran, though the file keeps no losses
    assert f"{privacy['steps']} steps" in text and "clip norm 1" in text
    assert "4 noisy histograms" in text and "color: missing" in text
    status, text, _ = cli("inspect", model_file, "--json")
    assert json.loads(text)["privacy"] == privacy

    model = SynthVAE.load(model_file)
    assert model.privacy_ == privacy
    rows = model.sample(50, random_state=1)
    assert list(rows.columns) == list(mixed_frame.columns)
    # Column facts come from the declared schema: every level is kept, none was counted.
    assert set(rows["color"].dropna()) <= {"red", " blue", "green "}

    status, _, err = cli("sample", 5, "-m", model_file, "--reject-copies", data)
    assert status == 0 and "not covered by the model's differential privacy" in err
    with pytest.warns(UserWarning, match="not covered by the model's differential privacy"):
        model.sample(5, reject_copies=mixed_frame)


def test_a_fit_without_epsilon_has_no_ledger(fitted, tmp_path):
    assert fitted.privacy_ is None
    fitted.save(tmp_path / "m.synthvae")
    status, text, _ = cli("inspect", tmp_path / "m.synthvae")
    assert "privacy: no differential privacy" in text


def test_epsilon_without_a_declared_schema_is_refused(mixed_frame, tmp_path):
    data = tmp_path / "data.csv"
    mixed_frame.to_csv(data, index=False)
    status, out, err = cli("fit", data, "--epsilon", 3, "-o", tmp_path / "m.synthvae")
    assert status == 2 and out == "" and err.count("\n") == 1
    assert err.startswith("error: --epsilon needs --schema")
    assert not (tmp_path / "m.synthvae").exists()
    with pytest.raises(UsageError, match="epsilon needs a schema declaring the columns"):
        SynthVAE(**PRIVATE).fit(mixed_frame)


def test_dates_without_a_range_and_personal_columns_are_refused(mixed_frame, tmp_path):
    schema = declared_schema(mixed_frame)
    schema["signup"].max = None
    schema["id"].kind, schema["id"].personal = "personal", "text"
    with pytest.raises(UsageError) as caught:
        SynthVAE(**PRIVATE).fit(mixed_frame, schema=schema)
    message = str(caught.value)
    assert "'signup' (datetime) needs min and max" in message and "'id' (personal) cannot be learned privately" in message
    with pytest.raises(UsageError, match="epsilon must be a positive number"):
        SynthVAE(**{**PRIVATE, "epsilon": 0}).fit(mixed_frame, schema=declared_schema(mixed_frame))
    with pytest.raises(UsageError, match="delta is only used with epsilon"):
        SynthVAE(**{**TINY, "delta": 1e-5}).fit(mixed_frame)
    with pytest.raises(UsageError, match="epsilon trains in float32 on one device"):
        SynthVAE(**PRIVATE, precision="mixed").fit(mixed_frame, schema=declared_schema(mixed_frame))
    with pytest.raises(UsageError, match="use fit, not fit_stream"):
        SynthVAE(**PRIVATE).fit_stream(tmp_path / "data.csv")
