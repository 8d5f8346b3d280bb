import json
import zipfile
from pathlib import Path

import pytest

from synthvae import SynthVAE
from synthvae.errors import ModelFileError

from conftest import write_future_model_file


@pytest.fixture(scope="module")
def model_path(fitted, tmp_path_factory):
    path = tmp_path_factory.mktemp("m") / "model.synthvae"
    fitted.save(path)
    return path


def test_model_file_is_json_and_keras_only(model_path):
    with zipfile.ZipFile(model_path) as zf:
        names = set(zf.namelist())
        assert names == {"meta.json", "schema.json", "transformer.json", "prior.json", "model.keras"}
        for name in names - {"model.keras"}:
            json.loads(zf.read(name))
        with zipfile.ZipFile(zf.open("model.keras")) as inner:
            for member in inner.namelist():
                assert not member.endswith((".pkl", ".pickle", ".npy"))
            config = json.loads(inner.read("config.json"))
            assert "lambda" not in json.dumps(config).lower()


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
        patch.setattr(zipfile.ZipFile, "write", interrupted)
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
