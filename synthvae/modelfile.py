"""The model file: one zip holding data only, never code.

Members (all required, nothing else allowed):

- ``meta.json``: file format, synthvae/Keras versions, the estimator's parameters.
- ``schema.json``: the table schema (validates against schemas/table.schema.json).
- ``transformer.json``: the fitted state of every column transformer.
- ``prior.json``: the latent Gaussian mixture.
- ``model.keras``: the Keras model in its native format, loaded with
  ``safe_mode=True`` so no Python code (lambdas) in it can run.

No pickle anywhere: JSON and Keras weights only. Member names and sizes are
checked before anything is read.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from pathlib import Path

from synthvae.errors import MissingFileError, ModelFileError
from synthvae.io import atomic_path

FORMAT = "synthvae-model"
FORMAT_VERSION = 2
MEMBERS = ("meta.json", "schema.json", "transformer.json", "prior.json", "model.keras")
MAX_JSON_BYTES = 256 * 1024 * 1024
MAX_KERAS_BYTES = 4 * 1024 * 1024 * 1024


def save_model(path, params, fitted):
    """Write a fitted model (the estimator's parameters and its fitted parts) to ``path``.

    ``fitted`` holds the estimator's fitted attributes by name without the trailing
    underscore: schema, transformer, vae, prior, sigma, calibration, history, n_rows,
    device, batch_size, learning_rate.
    """
    from synthvae import __version__

    meta = {
        "synthvae_version": __version__,
        "params": {k: (list(v) if isinstance(v, tuple) else v) for k, v in params.items()},
        "n_rows": fitted["n_rows"],
        "sigma": fitted["sigma"].tolist(),
        "calibration": fitted["calibration"].get_state(),
        "history": fitted["history"],
        "training": {k: fitted[k] for k in ("device", "batch_size", "learning_rate")},
    }
    write_model_file(path, meta, fitted["schema"].to_dict(), fitted["transformer"].get_state(),
                     fitted["prior"].get_state(), fitted["vae"])


def load_model(path):
    """Read a model written by :func:`save_model`: ``(params, fitted)`` as it takes them.
    Never runs code from the file."""
    import numpy as np

    from synthvae import __version__
    from synthvae.calibration import Calibration
    from synthvae.prior import GaussianMixturePrior
    from synthvae.schema import Schema
    from synthvae.transformers import TableTransformer

    meta, schema, transformer, prior, vae = read_model_file(path, __version__)
    params = dict(meta["params"])
    params["hidden"] = tuple(params["hidden"])
    schema = Schema.from_dict(schema)
    # Written since this key was added; files of the same format without it load too.
    training = meta.get("training") or {}
    fitted = {
        "schema": schema,
        "transformer": TableTransformer.from_state(schema, transformer),
        "prior": GaussianMixturePrior.from_state(prior),
        "vae": vae,
        "sigma": np.asarray(meta["sigma"], dtype=np.float32),
        "calibration": Calibration.from_state(meta["calibration"]),
        "n_rows": meta["n_rows"],
        "history": meta["history"],
        **{k: training.get(k) for k in ("device", "batch_size", "learning_rate")},
    }
    return params, fitted


def write_model_file(path, meta, schema, transformer, prior, keras_model):
    """Write the parts atomically to ``path``."""
    import keras

    meta = {"format": FORMAT, "format_version": FORMAT_VERSION, "keras_version": keras.__version__, **meta}
    with atomic_path(path) as tmp, tempfile.TemporaryDirectory() as workdir:
        keras_path = os.path.join(workdir, "model.keras")
        keras_model.save(keras_path)
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("meta.json", json.dumps(meta, indent=2))
            zf.writestr("schema.json", json.dumps(schema, indent=2, ensure_ascii=False))
            zf.writestr("transformer.json", json.dumps(transformer, ensure_ascii=False))
            zf.writestr("prior.json", json.dumps(prior))
            zf.write(keras_path, "model.keras", compress_type=zipfile.ZIP_STORED)


def read_model_file(path, current_version):
    """Read and check a model file.

    Returns
    -------
    meta, schema, transformer, prior : dict
    keras_model : keras.Model
    """
    path = Path(path)
    if not path.exists():
        raise MissingFileError(f"no such model file: {path} (train one with: synthvae fit DATA)")
    if path.is_dir():
        raise ModelFileError(f"{path} is a folder, not a model file")
    if not zipfile.is_zipfile(path):
        raise ModelFileError(f"{path} is not a synthvae model file (not a zip archive; truncated or another kind of file?)")
    try:
        with zipfile.ZipFile(path) as zf:
            _check_members(zf, path)
            meta = _read_json(zf, "meta.json", path)
            _check_meta(meta, path, current_version)
            parts = [_read_json(zf, name, path) for name in ("schema.json", "transformer.json", "prior.json")]
            keras_model = _load_keras(zf, path)
    except (zipfile.BadZipFile, EOFError, OSError) as exc:
        raise ModelFileError(f"{path} is damaged ({exc}); fit the model again") from None
    return (meta, *parts, keras_model)


def _check_members(zf, path):
    infos = {info.filename: info for info in zf.infolist()}
    names = set(infos)
    if names != set(MEMBERS):
        missing = sorted(set(MEMBERS) - names)
        if missing and "meta.json" not in names:
            raise ModelFileError(f"{path} is a zip archive but not a synthvae model file")
        raise ModelFileError(
            f"{path} is not a valid synthvae model file: members differ (missing {missing}, unexpected {sorted(names - set(MEMBERS))})"
        )
    for name, info in infos.items():
        limit = MAX_KERAS_BYTES if name == "model.keras" else MAX_JSON_BYTES
        if info.file_size > limit:
            raise ModelFileError(f"{path}: member {name} is implausibly large ({info.file_size} bytes)")


def _read_json(zf, name, path):
    try:
        return json.loads(zf.read(name).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"{path}: {name} is not valid JSON ({exc}); the file is damaged") from None


def _check_meta(meta, path, current_version):
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelFileError(f"{path} is not a synthvae model file")
    version = meta.get("format_version")
    if version != FORMAT_VERSION:
        raise ModelFileError(
            f"{path} was written by synthvae {meta.get('synthvae_version', '?')} (model format {version}); "
            f"this is synthvae {current_version} (model format {FORMAT_VERSION}): fit the model again with this version"
        )


def _load_keras(zf, path):
    import keras

    from synthvae import model  # noqa: F401  registers the custom layers

    with tempfile.TemporaryDirectory() as workdir:
        keras_path = os.path.join(workdir, "model.keras")
        with open(keras_path, "wb") as fh:
            fh.write(zf.read("model.keras"))
        try:
            return keras.saving.load_model(keras_path, safe_mode=True, compile=False)
        except Exception as exc:  # Keras raises many types for a bad archive
            raise ModelFileError(f"{path}: the Keras model inside cannot be loaded ({exc})") from None
