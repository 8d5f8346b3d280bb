import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from synthvae import SynthVAE
from synthvae.errors import ModelFileError

from conftest import write_future_model_file


@pytest.fixture(scope="module")
def model_path(fitted, tmp_path_factory):
    path = tmp_path_factory.mktemp("m") / "model.synthvae"
    fitted.save(path)
    return path


JSON_MEMBERS = {"meta.json", "schema.json", "transformer.json", "prior.json"}


def test_model_file_is_json_and_plain_float32_arrays(model_path, fitted):
    with zipfile.ZipFile(model_path) as zf:
        names = set(zf.namelist())
        arrays = names - JSON_MEMBERS
        assert JSON_MEMBERS < names and arrays
        parts = {name: json.loads(zf.read(name)) for name in JSON_MEMBERS}
        index = {entry["member"]: entry for entry in parts["meta.json"]["network"]["weights"]}
        assert set(index) == arrays
        for name in arrays:
            raw = zf.read(name)
            assert raw.startswith(b"\x93NUMPY") and b"'descr': '<f4'" in raw[:128]
            array = np.load(io.BytesIO(raw), allow_pickle=False)
            assert array.dtype == np.dtype("<f4") and list(array.shape) == index[name]["shape"]
    assert parts["meta.json"]["format_version"] == 3
    text = json.dumps(parts)
    # Nothing names code to run: no class paths, modules or layers to deserialize.
    for word in ("module", "class_name", "registered_name", "lambda", "keras.", "__"):
        assert word not in text, word
    jsonschema = pytest.importorskip("jsonschema")
    from synthvae.modelfile import _validator

    assert not list(_validator().iter_errors(parts))
    assert isinstance(jsonschema.Draft202012Validator, type)


def test_model_json_schema_is_shipped_and_standard():
    import jsonschema

    from synthvae.modelfile import model_json_schema

    schema = model_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    shipped = Path(__file__).resolve().parent.parent / "schemas" / "model.schema.json"
    assert json.loads(shipped.read_text()) == schema


def test_fast_number_check_agrees_with_the_standard_validator(model_path):
    import jsonschema
    from referencing import Registry, Resource

    from synthvae.modelfile import _validator, model_json_schema
    from synthvae.schema import table_json_schema

    table = table_json_schema()
    standard = jsonschema.Draft202012Validator(
        model_json_schema(), registry=Registry().with_resource(table["$id"], Resource.from_contents(table)))
    with zipfile.ZipFile(model_path) as zf:
        parts = {name: json.loads(zf.read(name)) for name in JSON_MEMBERS}
    for bad in ("x", True, None, [1.0]):
        broken = json.loads(json.dumps(parts))
        broken["prior.json"]["weights"][0] = bad
        broken["meta.json"]["sigma"].append(bad)
        ours = sorted(e.message for e in _validator().iter_errors(broken))
        theirs = sorted(e.message for e in standard.iter_errors(broken))
        assert ours == theirs and ours


def test_numpy_decoder_matches_keras(fitted):
    from keras import ops

    from synthvae.decoder import Decoder

    z = fitted.prior_.sample(2_000, np.random.default_rng(3))
    keras_out = ops.convert_to_numpy(fitted.vae_.get_layer("decoder")(z, training=False))
    numpy_out = Decoder(fitted.weights_, len(fitted.hidden))(z)
    assert numpy_out.dtype == np.float32 and numpy_out.shape == keras_out.shape
    np.testing.assert_allclose(numpy_out, keras_out, rtol=1e-5, atol=1e-5)


def test_loaded_model_rebuilds_the_keras_network_on_request(fitted, model_path):
    from keras import ops

    loaded = SynthVAE.load(model_path)
    assert "_network" not in vars(loaded)
    x = fitted.transformer_.transform(fitted.transformer_.inverse_transform(
        np.eye(fitted.transformer_.width_, dtype=np.float32)[:3]))
    before = ops.convert_to_numpy(fitted.vae_.get_layer("encoder")(x)[0])
    after = ops.convert_to_numpy(loaded.vae_.get_layer("encoder")(x)[0])
    np.testing.assert_array_equal(before, after)
    assert set(loaded.weights_) == set(fitted.weights_)
    assert loaded.trained_with_ == fitted.trained_with_ and loaded.trained_with_["keras_version"]


def test_model_file_holds_no_training_identifiers(model_path, mixed_frame):
    raw = b""
    with zipfile.ZipFile(model_path) as zf:
        for name in zf.namelist():
            raw += zf.read(name)
    assert b"user-000123" not in raw


def test_saving_replaces_atomically(fitted, model_path, tmp_path, monkeypatch):
    target = tmp_path / "model.synthvae"
    target.write_bytes(model_path.read_bytes())
    before = target.read_bytes()

    # A save that stops half-way (Ctrl-C while the zip is written) changes nothing.
    def interrupted(self, *args, **kwargs):
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(zipfile.ZipFile, "writestr", interrupted)
        with pytest.raises(KeyboardInterrupt):
            fitted.save(target)
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.synthvae"]

    # A save that completes replaces the file with one that loads and samples alike.
    fitted.save(target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.synthvae"]
    loaded = SynthVAE.load(target)
    assert loaded.sample(50, random_state=2).equals(fitted.sample(50, random_state=2))


@pytest.mark.parametrize(
    "content, words",
    [
        (b"", "not a zip"),
        (b"\x00\xff garbage" * 100, "not a zip"),
        (b"a,b\n1,2\n", "not a zip"),
    ],
)
def test_not_a_model(tmp_path, content, words):
    path = tmp_path / "bad.synthvae"
    path.write_bytes(content)
    with pytest.raises(ModelFileError, match=words):
        SynthVAE.load(path)


def test_foreign_zip(tmp_path):
    path = tmp_path / "other.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("hello.txt", "hi")
    with pytest.raises(ModelFileError, match="not a synthvae model"):
        SynthVAE.load(path)


def test_truncated_model(tmp_path, model_path):
    path = tmp_path / "cut.synthvae"
    path.write_bytes(model_path.read_bytes()[: model_path.stat().st_size // 2])
    with pytest.raises(ModelFileError):
        SynthVAE.load(path)


def test_newer_format_is_refused_with_versions(tmp_path, model_path):
    path = tmp_path / "future.synthvae"
    write_future_model_file(model_path, path)
    with pytest.raises(ModelFileError, match=r"synthvae 9\.0\.0.*format 99"):
        SynthVAE.load(path)


def test_missing_model(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such model"):
        SynthVAE.load(tmp_path / "nope.synthvae")


def test_no_pickle_in_package():
    package = Path(__file__).resolve().parent.parent / "synthvae"
    for source in package.glob("*.py"):
        text = source.read_text()
        for word in ("import pickle", "import joblib", "cloudpickle", "allow_pickle=True", "safe_mode=False"):
            assert word not in text, f"{source.name} uses {word}"


def _rewrite(source, path, change=None, drop=(), add=None):
    """Copy a model file, changing members: ``change(name, data) -> data``."""
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(path, "w") as dst:
        for item in src.infolist():
            if item.filename in drop:
                continue
            data = src.read(item.filename)
            dst.writestr(item, change(item.filename, data) if change else data)
        for name, data in (add or {}).items():
            dst.writestr(name, data)
    return path


def _edit_json(member, edit):
    def change(name, data):
        if name != member:
            return data
        obj = json.loads(data)
        edit(obj)
        return json.dumps(obj).encode()
    return change


def _npy(array):
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def _object_npy():
    """An .npy header that announces Python objects (a pickle would follow)."""
    header = "{'descr': '|O', 'fortran_order': False, 'shape': (1,), }".ljust(117) + "\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode() + b"\x80\x04N."


def _set(path, value):
    def edit(obj):
        *keys, last = path
        for key in keys:
            obj = obj[key]
        obj[last] = value
    return edit


@pytest.mark.parametrize(
    "tamper, words",
    [
        (dict(change=_edit_json("meta.json", _set(["params", "latent_dim"], "8"))), "meta.json is not valid at params/latent_dim"),
        (dict(change=_edit_json("meta.json", _set(["params", "hidden"], [32]))), "network/weights"),
        (dict(change=_edit_json("meta.json", _set(["params", "surprise"], 1))), "meta.json is not valid at params"),
        (dict(change=_edit_json("meta.json", lambda m: m.pop("calibration"))), "meta.json is not valid at top level"),
        (dict(change=_edit_json("meta.json", _set(["sigma", 0], float("nan")))), "meta.json is not valid at sigma"),
        (dict(change=_edit_json("meta.json", _set(["sigma"], [0.5]))), "continuous columns"),
        (dict(change=_edit_json("prior.json", _set(["weights", 0], "a lot"))), "prior.json is not valid at weights/0"),
        (dict(change=_edit_json("prior.json", lambda p: p["means"].pop())), "prior.json"),
        (dict(change=_edit_json("transformer.json", _set(["transformers", 0, "type"], "os.system"))), "transformer.json is not valid at transformers/0/type"),
        (dict(change=_edit_json("transformer.json", lambda t: t["transformers"][1]["state"].pop("min"))), "transformer.json is not valid at transformers/1/state"),
        (dict(change=_edit_json("transformer.json", lambda t: t["transformers"].pop())), "transformer.json does not fit schema.json"),
        (dict(change=_edit_json("schema.json", _set(["columns", 0, "kind"], "text"))), "schema.json is not valid at columns/0/kind"),
        (dict(change=lambda n, d: _npy(np.zeros((3, 3), np.float32)) if n == "network/x_hat/kernel.npy" else d), "expected little-endian float32 of shape"),
        (dict(change=lambda n, d: _npy(np.load(io.BytesIO(d)).astype(np.float64)) if n == "network/x_hat/bias.npy" else d), "float64"),
        (dict(change=lambda n, d: _object_npy() if n == "network/x_hat/bias.npy" else d), "not a plain NumPy array"),
        (dict(change=lambda n, d: d[:20] if n == "network/x_hat/bias.npy" else d), "x_hat/bias.npy"),
        (dict(drop=("network/x_hat/bias.npy",)), "x_hat/bias.npy is missing"),
        (dict(add={"network/evil/code.npy": b"x"}), "unexpected members"),
        (dict(add={"model.keras": b"x"}), "unexpected"),
        (dict(drop=("prior.json",)), "missing ['prior.json']"),
    ],
)
def test_tampered_model_file_is_one_clear_error(model_path, tmp_path, tamper, words):
    path = _rewrite(model_path, tmp_path / "tampered.synthvae", **tamper)
    with pytest.raises(ModelFileError) as info:
        SynthVAE.load(path)
    if words:
        assert words in str(info.value), str(info.value)
    assert "\n" not in str(info.value)


def test_a_valid_file_is_checked_against_the_schema_once_and_a_changed_one_again(model_path, tmp_path, monkeypatch):
    import synthvae.modelfile as modelfile

    monkeypatch.setenv("SYNTHVAE_CACHE_DIR", str(tmp_path / "cache"))
    checks = []
    full_check = modelfile.validate_parts
    monkeypatch.setattr(modelfile, "validate_parts", lambda *a, **k: checks.append(1) or full_check(*a, **k))
    SynthVAE.load(model_path)
    SynthVAE.load(model_path)
    assert len(checks) == 1
    assert len(list((tmp_path / "cache" / "validated-models").iterdir())) == 1
    # One changed byte of JSON is another file: checked in full, and refused.
    tampered = _rewrite(model_path, tmp_path / "tampered.synthvae",
                        change=_edit_json("prior.json", _set(["weights", 0], "a lot")))
    with pytest.raises(ModelFileError, match="prior.json is not valid at weights/0"):
        SynthVAE.load(tampered)
    assert len(checks) == 2
    # A folder that cannot be written remembers nothing, and loading still works.
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("SYNTHVAE_CACHE_DIR", str(tmp_path / "file"))
    SynthVAE.load(model_path)
    assert len(checks) == 3


def test_older_format_is_refused_with_both_versions(model_path, tmp_path):
    path = _rewrite(model_path, tmp_path / "old.synthvae",
                    change=_edit_json("meta.json", _set(["format_version"], 2)), add={"model.keras": b"PK"})
    with pytest.raises(ModelFileError, match=r"model format 2\).*model format 3\): fit the model again"):
        SynthVAE.load(path)


def test_encoder_and_decoder_widths_are_their_own_and_older_files_mirror_them(mixed_frame, tmp_path):
    from keras import ops

    from synthvae.errors import UsageError
    from synthvae.sizing import resolve

    # Left at None, the encoder takes its width from the table's size: one hidden layer,
    # while the decoder keeps the two that ``hidden`` gives.
    chosen = resolve(SynthVAE().get_params(), len(mixed_frame))["encoder_hidden"]
    model = SynthVAE(epochs=2, batch_size=128, latent_dim=8, hidden=(24, 24), prior_components=5, verbose=False,
                     random_state=0).fit(mixed_frame)
    assert model.chosen_["encoder_hidden"] == chosen and len(chosen) == 1
    assert [n for n in model.weights_ if n.startswith("encoder_dense_")] == ["encoder_dense_0/kernel", "encoder_dense_0/bias"]
    assert model.weights_["encoder_dense_0/kernel"].shape[1] == chosen[0]
    assert {"decoder_dense_0/kernel", "decoder_dense_1/kernel"} <= set(model.weights_)

    # A file written before the encoder had widths of its own has no encoder_hidden:
    # its encoder mirrored the decoder, and it loads, samples and rebuilds as one.
    mirrored = SynthVAE(epochs=2, batch_size=128, latent_dim=8, hidden=(24, 16), encoder_hidden=(24, 16),
                        prior_components=5, verbose=False, random_state=0).fit(mixed_frame)
    path = tmp_path / "new.synthvae"
    mirrored.save(path)
    drop = _edit_json("meta.json", lambda meta: meta["params"].pop("encoder_hidden"))
    old = SynthVAE.load(_rewrite(path, tmp_path / "old.synthvae", change=drop))
    assert old.encoder_hidden == (24, 16)
    pd.testing.assert_frame_equal(old.sample(50, random_state=1), mirrored.sample(50, random_state=1))
    x = mirrored.transformer_.transform(mixed_frame.head(5))
    np.testing.assert_array_equal(ops.convert_to_numpy(old.vae_.get_layer("encoder")(x)[0]),
                                  ops.convert_to_numpy(mirrored.vae_.get_layer("encoder")(x)[0]))

    # No hidden layer at all (a linear encoder) is a width list too, kept as such.
    linear = SynthVAE(epochs=1, batch_size=128, latent_dim=8, hidden=(24,), encoder_hidden=(), prior_components=5,
                      verbose=False, random_state=0).fit(mixed_frame)
    linear.save(tmp_path / "linear.synthvae")
    assert SynthVAE.load(tmp_path / "linear.synthvae").encoder_hidden == ()
    assert not any(name.startswith("encoder_dense_") for name in linear.weights_)

    with pytest.raises(UsageError, match="encoder_hidden must be a tuple of positive whole numbers"):
        SynthVAE(encoder_hidden=(0,)).fit(mixed_frame)
