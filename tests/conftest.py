import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# Verdicts on model files are remembered in a cache of the tests' own, not the user's.
os.environ["SYNTHVAE_CACHE_DIR"] = tempfile.mkdtemp(prefix="synthvae-tests-")

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "adult-sample.csv.gz"
# Samples of public tables shipped with the tests (titanic and penguins whole, 3,000
# rows of taxis and of diamonds); adult is the example above.
DATA = REPO / "tests" / "data"

# Small and fast: tests check behaviour, not quality.
TINY = dict(epochs=4, batch_size=128, latent_dim=8, hidden=(32, 32), encoder_hidden=(32,), prior_components=5, verbose=False)


def sample_table(name):
    """The path of a shipped sample of a public table."""
    return EXAMPLE if name == "adult" else DATA / f"{name}-sample.csv.gz"


@pytest.fixture(scope="session")
def mixed_frame():
    """A small frame with one column of every kind, and gaps."""
    rng = np.random.default_rng(0)
    n = 300
    age = rng.integers(18, 90, n).astype(float)
    age[rng.random(n) < 0.1] = np.nan
    color = rng.choice(["red", " blue", "green "], n).astype(object)
    color[rng.random(n) < 0.05] = None
    return pd.DataFrame(
        {
            "id": [f"user-{i:06d}" for i in range(n)],
            "income": rng.lognormal(10, 1, n).round(2),
            "age": age,
            "visits": rng.poisson(30, n),
            "color": color,
            "member": rng.random(n) < 0.3,
            "signup": pd.Series(pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 900, n), unit="D")).dt.strftime("%Y-%m-%d"),
            "country": ["NL"] * n,
        }
    )


@pytest.fixture(scope="session")
def fitted(mixed_frame):
    from synthvae import SynthVAE

    return SynthVAE(random_state=0, **TINY).fit(mixed_frame)


def pytest_configure(config):
    # Keras' TensorFlow backend calls np.array(tensor, copy=False) internally; the
    # warning is theirs, not ours.
    config.addinivalue_line("filterwarnings", "ignore:__array__ implementation doesn't accept a copy keyword")


def write_future_model_file(source, path):
    """Copy a model file as if a future synthvae (format 99, version 9.0.0) had written it."""
    import json
    import zipfile

    with zipfile.ZipFile(source) as src, zipfile.ZipFile(path, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "meta.json":
                meta = json.loads(data)
                meta.update(format_version=99, synthvae_version="9.0.0")
                data = json.dumps(meta).encode()
            dst.writestr(item, data)


def run_in_process(*args, cwd=None):
    """Run the ``synthvae`` command in this process through click's CliRunner, so that
    TensorFlow, once loaded, serves every command; the result holds exit_code, stdout and
    stderr apart. An exception other than the command's exit is raised, not returned."""
    from click.testing import CliRunner

    from synthvae.cli import main

    previous = os.getcwd()
    if cwd is not None:
        os.chdir(cwd)
    try:
        result = CliRunner().invoke(main, [str(a) for a in args])
    finally:
        os.chdir(previous)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def cli(*args):
    """:func:`run_in_process`, as (exit code, stdout, stderr)."""
    result = run_in_process(*args)
    return result.exit_code, result.stdout, result.stderr
