"""synthvae with its defaults: ``SynthVAE(random_state=0).fit(train)``."""

import subprocess
import time
from pathlib import Path

LABEL = "synthvae"
PACKAGES = ("synthvae", "numpy", "pandas", "scikit-learn", "pyarrow", "tensorflow", "keras")
SEED = "random_state"  # the setting --seeds varies
CACHED = False  # the code under test: fitted afresh on every run (--reuse to keep it)
WARM_UP = "from synthvae.backend import import_keras; import_keras()"  # run once before the first fit


def settings(quick):
    return {"random_state": 0, **({"epochs": 10} if quick else {})}


def code_version():
    """Git tree id of synthvae/ at HEAD, marked when the working copy differs from it."""
    repo = Path(__file__).resolve().parents[2]
    tree = subprocess.run(["git", "rev-parse", "--short", "HEAD:synthvae"], cwd=repo, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain", "synthvae"], cwd=repo, capture_output=True, text=True)
    return tree.stdout.strip() + ("+changes" if dirty.stdout.strip() else "")


IMPORTS = {}


def fit(train, settings):
    clock = time.perf_counter()
    from synthvae import SynthVAE
    from synthvae.backend import import_keras

    import_keras()  # fit's first import, as a fit makes it; timed on its own here, for the ledger

    IMPORTS["imports"] = time.perf_counter() - clock
    settings = dict(settings)
    schema = settings.pop("schema", None)  # a schema file (the privacy section's declared kinds)
    if schema is not None:
        from synthvae.schema import load_schema

        schema = load_schema(Path(__file__).resolve().parents[2] / schema)
    return SynthVAE(**settings).fit(train, schema=schema)


def stages(model):
    """Wall seconds of each stage of the fit: the imports, then as the estimator records them."""
    return {**IMPORTS, **getattr(model, "fit_seconds_", {})}


def info(model):
    privacy = model.privacy_ or {}
    return {"epochs": len(model.history_.get("loss", [])) or (model.epochs if privacy else 0),
            "batch_size": model.batch_size_, "chosen": dict(getattr(model, "chosen_", {})),
            **{k: privacy[k] for k in ("epsilon_spent", "delta", "noise_multiplier", "split") if k in privacy}}


def save(model, path):
    model.save(path)


def sample(model, n, seed):
    return model.sample(n, random_state=seed)
