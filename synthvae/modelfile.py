"""The model file (format 3): one zip holding data only, never code.

Members (all required, nothing else allowed):

- ``meta.json``: file format, synthvae version, the estimator's parameters, the training
  history and setup, the privacy ledger of a differentially private fit, the learned output scales, the sampler's calibration, and the
  index of the network's weights (names, shapes, members).
- ``schema.json``: the table schema (validates against schemas/table.schema.json).
- ``transformer.json``: the fitted state of every column transformer.
- ``prior.json``: the latent Gaussian mixture.
- ``network/LAYER/WEIGHT.npy``: each weight of the network, a little-endian float32
  NumPy array written and read without pickle.

Nothing in the file names a class, layer or function to deserialize: the network's
architecture is rebuilt from the stored parameters (:func:`synthvae.decoder.network_shapes`)
and each array must have the shape it gives. Before anything is used, member names and
sizes are checked, the JSON members are validated against schemas/model.schema.json, and
the parts are checked against each other; whatever is wrong is one ModelFileError naming
the member and the field.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import re
import zipfile
import zlib
from pathlib import Path

import numpy as np

from synthvae import validated
from synthvae.errors import DataError, MissingFileError, ModelFileError
from synthvae.io import atomic_path

FORMAT = "synthvae-model"
FORMAT_VERSION = 3
JSON_MEMBERS = ("meta.json", "schema.json", "transformer.json", "prior.json")
WEIGHT_MEMBER = re.compile(r"^network/[a-z][a-z0-9_]*/[a-z][a-z0-9_]*\.npy$")
MAX_JSON_BYTES = 256 * 1024 * 1024
# An .npy header is at most a few hundred bytes.
NPY_HEADER_BYTES = 4096
WEIGHT_DTYPE = np.dtype("<f4")


def save_model(path, params, fitted):
    """Write a fitted model (the estimator's parameters and its fitted parts) to ``path``.

    ``fitted`` holds the estimator's fitted attributes by name without the trailing
    underscore: schema, transformer, weights, prior, sigma, calibration, history, n_rows,
    device, batch_size, learning_rate, trained_with and, for a differentially private fit,
    privacy (its ledger).
    """
    from synthvae import __version__

    transformer = fitted["transformer"]
    weights = fitted["weights"]
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "synthvae_version": __version__,
        "params": {k: (list(v) if isinstance(v, tuple) else v) for k, v in params.items()},
        # Which of the values above the fit chose from the table's size (the estimator's were None).
        **({"chosen": sorted(fitted["chosen"])} if fitted.get("chosen") else {}),
        "n_rows": int(fitted["n_rows"]),
        "history": fitted["history"],
        "training": {
            **{k: fitted[k] for k in ("device", "batch_size", "learning_rate")},
            **(fitted.get("trained_with") or {"keras_version": None, "backend": None}),
        },
        "sigma": np.asarray(fitted["sigma"], dtype=np.float64).tolist(),
        "calibration": fitted["calibration"].get_state(),
        **({"privacy": fitted["privacy"]} if fitted.get("privacy") else {}),
        "network": {
            "input_dim": int(transformer.width_),
            "continuous_columns": len(transformer.continuous_columns_),
            "weights": [
                {"name": name, "shape": list(np.shape(array)), "member": _member(name)}
                for name, array in weights.items()
            ],
        },
    }
    with atomic_path(path) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("meta.json", json.dumps(meta, indent=2))
            zf.writestr("schema.json", json.dumps(fitted["schema"].to_dict(), indent=2, ensure_ascii=False))
            zf.writestr("transformer.json", json.dumps(transformer.get_state(), ensure_ascii=False))
            zf.writestr("prior.json", json.dumps(fitted["prior"].get_state()))
            for name, array in weights.items():
                buffer = io.BytesIO()
                np.save(buffer, np.asarray(array, dtype=WEIGHT_DTYPE), allow_pickle=False)
                zf.writestr(_member(name), buffer.getvalue())


def _member(name):
    return f"network/{name}.npy"


def load_model(path):
    """Read a model written by :func:`save_model`: ``(params, fitted)`` as it takes them.
    Imports neither Keras nor scikit-learn, and never runs code from the file."""
    from synthvae.calibration import Calibration
    from synthvae.prior import GaussianMixturePrior
    from synthvae.schema import Schema
    from synthvae.transformers import TableTransformer

    parts, weights = read_model_file(path)
    meta = parts["meta.json"]
    params = dict(meta["params"])
    # Files written before value protection existed kept every value exactly.
    params.setdefault("value_protection", False)
    params["hidden"] = tuple(params["hidden"])
    # Files written before the encoder had widths of its own mirrored the decoder.
    params["encoder_hidden"] = tuple(params.get("encoder_hidden", params["hidden"]))
    # The values chosen from the table's size go to the fitted parts; the parameters
    # return to None, as the estimator that was fitted had them.
    chosen = {name: params[name] for name in meta.get("chosen", [])}
    try:
        schema = Schema.from_dict(parts["schema.json"], checked=True)
    except DataError as exc:
        raise ModelFileError(f"{path}: schema.json: {exc}") from None
    try:
        transformer = TableTransformer.from_state(schema, parts["transformer.json"])
    except (DataError, KeyError, TypeError, ValueError, IndexError) as exc:
        raise ModelFileError(f"{path}: transformer.json does not fit schema.json ({_reason(exc)})") from None
    prior = GaussianMixturePrior.from_state(parts["prior.json"])
    calibration = Calibration.from_state(meta["calibration"])
    sigma = np.asarray(meta["sigma"], dtype=np.float32)
    _check_consistent(path, meta, params, transformer, prior, calibration, sigma)
    training = meta["training"]
    fitted = {
        "schema": schema,
        "transformer": transformer,
        "prior": prior,
        "weights": weights,
        "sigma": sigma,
        "calibration": calibration,
        "n_rows": meta["n_rows"],
        "history": meta["history"],
        "privacy": meta.get("privacy"),
        "chosen": chosen,
        "trained_with": {k: training[k] for k in ("keras_version", "backend")},
        **{k: training[k] for k in ("device", "batch_size", "learning_rate")},
    }
    return {**params, **dict.fromkeys(chosen)}, fitted


def read_model_file(path):
    """Read and check a model file.

    Returns
    -------
    parts : dict
        The JSON members by name, validated against schemas/model.schema.json.
    weights : dict
        The network's float32 arrays by weight name, each of the shape the
        architecture in ``meta.json`` gives.
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
            names = zf.namelist()
            if "meta.json" not in names:
                raise ModelFileError(f"{path} is a zip archive but not a synthvae model file")
            if zf.getinfo("meta.json").file_size > MAX_JSON_BYTES:
                raise ModelFileError(f"{path}: member meta.json is implausibly large")
            digest = hashlib.sha256(_schemas_text().encode("utf-8"))
            meta = _read_json(zf, "meta.json", path, digest)
            # The version first: a file of another format is named as such, whatever it holds.
            _check_format(meta, path)
            infos = _check_members(zf, path)
            parts = {"meta.json": meta}
            for name in JSON_MEMBERS[1:]:
                parts[name] = _read_json(zf, name, path, digest)
            if validated.seen(digest.hexdigest()):
                _check_finite(parts, path)
            else:
                validate_parts(parts, path)
                validated.remember(digest.hexdigest())
            weights = _read_weights(zf, infos, meta, path)
    except (zipfile.BadZipFile, EOFError, OSError, zlib.error) as exc:
        raise ModelFileError(f"{path} is damaged ({exc}); fit the model again") from None
    return parts, weights


def _check_members(zf, path):
    infos = {}
    for info in zf.infolist():
        if info.filename in infos:
            raise ModelFileError(f"{path}: member {info.filename} appears twice")
        infos[info.filename] = info
    names = set(infos)
    if "meta.json" not in names:
        raise ModelFileError(f"{path} is a zip archive but not a synthvae model file")
    missing = sorted(set(JSON_MEMBERS) - names)
    unexpected = sorted(n for n in names - set(JSON_MEMBERS) if not WEIGHT_MEMBER.match(n))
    if missing or unexpected:
        raise ModelFileError(
            f"{path} is not a valid synthvae model file: members differ (missing {missing}, unexpected {unexpected})"
        )
    for name in JSON_MEMBERS:
        if infos[name].file_size > MAX_JSON_BYTES:
            raise ModelFileError(f"{path}: member {name} is implausibly large ({infos[name].file_size} bytes)")
    return infos


def _read_json(zf, name, path, digest=None):
    data = zf.read(name)
    if digest is not None:
        digest.update(f"\x00{name}\x00{len(data)}\x00".encode())
        digest.update(data)
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"{path}: {name} is not valid JSON ({exc}); the file is damaged") from None


def _check_format(meta, path):
    from synthvae import __version__

    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelFileError(f"{path} is not a synthvae model file")
    version = meta.get("format_version")
    if version != FORMAT_VERSION:
        older = isinstance(version, int) and version < FORMAT_VERSION
        raise ModelFileError(
            f"{path} was written by synthvae {meta.get('synthvae_version', '?')} (model format {version}); "
            f"this is synthvae {__version__} (model format {FORMAT_VERSION}): "
            + ("fit the model again with this version" if older else "use that version or a newer one to read it")
        )


# -- validation against the JSON Schema ------------------------------------------------

_VALIDATOR = None


def model_json_schema():
    """The JSON Schema (draft 2020-12) of the model file's JSON members, as a dict."""
    return json.loads(_model_schema_text())


def _model_schema_text():
    from importlib import resources

    try:
        return resources.files("synthvae.schemas").joinpath("model.schema.json").read_text("utf-8")
    except (ModuleNotFoundError, FileNotFoundError):
        # A source checkout: the file sits in the repository's top-level schemas/.
        return (Path(__file__).resolve().parent.parent / "schemas" / "model.schema.json").read_text("utf-8")


def _schemas_text():
    """What a validation's verdict depends on besides the file: the schemas it checks
    against and the version of the code that checks."""
    from synthvae import __version__
    from synthvae.schema import table_json_schema_text

    return "\x00".join([__version__, _model_schema_text(), table_json_schema_text()])


def _validator():
    global _VALIDATOR
    if _VALIDATOR is None:
        import jsonschema
        from referencing import Registry, Resource

        from synthvae.schema import table_json_schema

        table = table_json_schema()
        registry = Registry().with_resource(table["$id"], Resource.from_contents(table))
        base = jsonschema.Draft202012Validator
        # Quantile tables and the prior hold tens of thousands of numbers: an array
        # whose items must be numbers is checked in one pass here, with the verdict and
        # message the standard keyword gives, instead of one schema walk per number.
        standard_items = base.VALIDATORS["items"]

        def items(validator, item_schema, instance, schema):
            if isinstance(item_schema, dict) and item_schema.get("type") == "number" and len(item_schema) == 1:
                if isinstance(instance, list):
                    for index, value in enumerate(instance):
                        if type(value) is not float and type(value) is not int:
                            yield jsonschema.ValidationError(f"{value!r} is not of type 'number'", path=[index])
                            return
                return
            yield from standard_items(validator, item_schema, instance, schema)

        fast = jsonschema.validators.extend(base, {"items": items})
        _VALIDATOR = fast(model_json_schema(), registry=registry)
    return _VALIDATOR


def validate_parts(parts, path, validator=None):
    """Raise ModelFileError naming the member and field of the first thing in ``parts``
    (JSON members by name) that does not validate against schemas/model.schema.json."""
    validator = validator or _validator()
    error = next(iter(sorted(validator.iter_errors(parts), key=lambda e: list(map(str, e.absolute_path)))), None)
    if error is None:
        _check_finite(parts, path)
        return
    where = list(error.absolute_path)
    member = where[0] if where else "the file"
    field = "/".join(str(p) for p in where[1:]) or "top level"
    raise ModelFileError(f"{path}: {member} is not valid at {field}: {_short(error.message)}")


def _short(text, limit=200):
    return text if len(text) <= limit else text[:limit] + "..."


def _check_finite(parts, path):
    meta, prior = parts["meta.json"], parts["prior.json"]
    checks = [("meta.json", "sigma", meta["sigma"]), ("meta.json", "calibration/logit_bias", meta["calibration"]["logit_bias"]),
              ("prior.json", "weights", prior["weights"])]
    checks += [("prior.json", f"{key}/{i}", row) for key in ("means", "stds") for i, row in enumerate(prior[key])]
    for member, field, values in checks:
        if not all(math.isfinite(v) for v in values):
            raise ModelFileError(f"{path}: {member} is not valid at {field}: a value is not a finite number")


def _reason(exc):
    if isinstance(exc, KeyError):
        return f"no entry {exc}"
    return str(exc)


# -- the network's arrays ----------------------------------------------------------------

def expected_weights(meta):
    """The network's weights by name with their shapes, rebuilt from ``meta``'s parameters."""
    from synthvae.decoder import network_shapes

    network, params = meta["network"], meta["params"]
    return network_shapes(network["input_dim"], network["continuous_columns"], params["latent_dim"], params["hidden"],
                          params.get("encoder_hidden"))


def _read_weights(zf, infos, meta, path):
    expected = expected_weights(meta)
    index = {entry["name"]: entry for entry in meta["network"]["weights"]}
    listed = [entry["name"] for entry in meta["network"]["weights"]]
    if len(listed) != len(index) or set(index) != set(expected):
        raise ModelFileError(
            f"{path}: meta.json is not valid at network/weights: it lists {sorted(index)}, but the parameters "
            f"give a network with {sorted(expected)}"
        )
    members = {_member(name) for name in expected}
    stray = sorted(n for n in infos if n not in JSON_MEMBERS and n not in members)
    if stray or any(index[name]["member"] != _member(name) for name in expected):
        raise ModelFileError(f"{path} is not a valid synthvae model file: unexpected members {stray or 'named in meta.json'}")
    weights = {}
    for name, shape in expected.items():
        member = _member(name)
        if tuple(index[name]["shape"]) != shape:
            raise ModelFileError(
                f"{path}: meta.json is not valid at network/weights: {name} has shape {tuple(index[name]['shape'])}, "
                f"the parameters give {shape}"
            )
        if member not in infos:
            raise ModelFileError(f"{path} is not a valid synthvae model file: member {member} is missing")
        limit = WEIGHT_DTYPE.itemsize * math.prod(shape) + NPY_HEADER_BYTES
        if infos[member].file_size > limit:
            raise ModelFileError(f"{path}: member {member} is implausibly large ({infos[member].file_size} bytes)")
        try:
            array = np.load(io.BytesIO(zf.read(member)), allow_pickle=False)
        except ValueError as exc:
            raise ModelFileError(f"{path}: member {member} is not a plain NumPy array ({exc})") from None
        if not isinstance(array, np.ndarray) or array.dtype != WEIGHT_DTYPE or array.shape != shape:
            raise ModelFileError(
                f"{path}: member {member} holds {getattr(array, 'dtype', type(array).__name__)} of shape "
                f"{getattr(array, 'shape', '?')}; expected little-endian float32 of shape {shape}"
            )
        if not np.isfinite(array).all():
            raise ModelFileError(f"{path}: member {member} holds values that are not finite numbers")
        weights[name] = array
    return weights


def _check_consistent(path, meta, params, transformer, prior, calibration, sigma):
    """The parts must fit together: the layout's width and continuous columns, the
    prior's dimension, the calibration's sizes."""
    network = meta["network"]
    n_continuous = len(transformer.continuous_columns_)
    problems = []
    if network["input_dim"] != transformer.width_:
        problems.append(f"meta.json network/input_dim is {network['input_dim']}, the transformers' layout has {transformer.width_} columns")
    if network["continuous_columns"] != n_continuous or len(sigma) != n_continuous:
        problems.append(f"meta.json has {network['continuous_columns']} continuous columns and {len(sigma)} output "
                        f"scales, the transformers' layout has {n_continuous}")
    if len(calibration.logit_bias) != transformer.width_:
        problems.append(f"meta.json calibration/logit_bias has {len(calibration.logit_bias)} values, the layout {transformer.width_}")
    if len(calibration.source_quantiles) not in (0, n_continuous) or \
            calibration.source_quantiles.shape != calibration.target_quantiles.shape:
        problems.append("meta.json calibration quantile tables do not match the continuous columns")
    k, dim = len(prior.weights_), params["latent_dim"]
    if prior.means_.shape != (k, dim) or prior.stds_.shape != (k, dim):
        problems.append(f"prior.json means and stds must be {k} rows of {dim} (the latent size)")
    elif not (prior.weights_ >= 0).all() or not abs(prior.weights_.sum() - 1) < 1e-6 or not (prior.stds_ > 0).all():
        problems.append("prior.json weights must be >= 0 and sum to 1, and stds > 0")
    if problems:
        raise ModelFileError(f"{path} is inconsistent: " + "; ".join(problems))
