"""The engines users bring: Keras' other backends, and a real Spark for sharded sampling.

Each runs where it is installed. In CI (``.ci/run`` installs jax and pyspark through the
test extras and a Java runtime from the system's packages) none of them may skip:
``SYNTHVAE_REQUIRE_ENGINES=1`` turns a missing engine into a failure, so the suite's
output shows the tests ran.
"""

import importlib.util
import os
import shutil
import subprocess
import sys

import pandas as pd
import pytest

from synthvae import SynthVAE
from conftest import REPO, sample_table

REQUIRED = os.environ.get("SYNTHVAE_REQUIRE_ENGINES") == "1"


def need(available, what):
    """Skip without ``what``; fail instead where the engines are required (CI)."""
    if available:
        return
    if REQUIRED:
        pytest.fail(f"{what} is missing, and SYNTHVAE_REQUIRE_ENGINES=1 requires it")
    pytest.skip(f"{what} is not installed")


# The command line, in a process where TensorFlow cannot be imported: as on a machine
# that has only JAX (or only PyTorch), so nothing on the way may need TensorFlow.
_CLI_WITHOUT_TENSORFLOW = (
    "import sys; sys.modules['tensorflow'] = None; "
    "from synthvae.cli import main; sys.argv[0] = 'synthvae'; main()"
)


# PyTorch is not in the test extras (its wheel is large): CI runs JAX only.
@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_fit_under_another_keras_backend(backend, tmp_path, capsys):
    installed = importlib.util.find_spec(backend) is not None
    if backend == "torch" and not installed:
        pytest.skip("PyTorch is not installed (not in the test extras: its wheel is large)")
    need(installed, backend)
    # 266 rows: 26 held out and 240 trained on in full batches of 16, so the backend
    # compiles one training step, not a second one for a short last batch.
    data = tmp_path / "penguins.csv"
    source = pd.read_csv(sample_table("penguins")).head(266)
    source.to_csv(data, index=False)
    model_path = tmp_path / "model.synthvae"
    env = {**os.environ, "KERAS_BACKEND": backend, "OMP_NUM_THREADS": "1"}
    fit = subprocess.run(
        [sys.executable, "-c", _CLI_WITHOUT_TENSORFLOW, "fit", str(data),
         "-o", str(model_path), "--epochs", "2", "--seed", "3"],
        capture_output=True, text=True, env=env, timeout=600,
    )
    assert fit.returncode == 0, fit.stderr
    assert fit.stdout == ""
    assert "epoch 2/2" in fit.stderr

    # The file is like any other: it loads and samples here, without the backend.
    model = SynthVAE.load(model_path)
    assert model.trained_with_["backend"].startswith(backend + " ")
    assert len(model.history_["loss"]) == 2
    rows = model.sample(500, random_state=1)
    assert list(rows.columns) == list(source.columns)
    assert set(rows["species"]) <= set(source["species"])
    assert rows["body_mass_g"].dropna().between(source["body_mass_g"].min(), source["body_mass_g"].max()).all()
    pd.testing.assert_frame_equal(rows, model.sample(500, random_state=1))
    with capsys.disabled():
        # Shown in the suite's output, so a CI log says which backend really trained.
        print(f"\n[keras on {model.trained_with_['backend']}, without TensorFlow] fit 2 epochs, "
              f"sampled {len(rows)} rows from the file", file=sys.stderr)


# -- Spark: the README's mapInPandas example, run as written ------------------------------

def readme_block(after):
    """The first ```python block of the README that follows the line starting ``after``."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    start = text.index("```python\n", text.index(after)) + len("```python\n")
    return text[start : text.index("```", start)]


@pytest.fixture(scope="module")
def spark(tmp_path_factory):
    """A local Spark whose driver runs in a fresh folder: the README's relative paths
    ("model.synthvae", "synth/") are resolved there by the JVM, as on a user's machine."""
    need(importlib.util.find_spec("pyspark") is not None, "pyspark")
    need(shutil.which("java") or os.environ.get("JAVA_HOME"), "a Java runtime")
    from pyspark.sql import SparkSession

    folder = tmp_path_factory.mktemp("spark")
    previous = os.getcwd()
    os.chdir(folder)

    # One local core, no web UI: the smallest Spark there is, but a real one (a JVM
    # driver, Python workers fed through Arrow).
    session = (SparkSession.builder.master("local[1]").appName("synthvae-tests")
               .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "1")
               .config("spark.pyspark.python", sys.executable).getOrCreate())
    try:
        yield session, folder
    finally:
        session.stop()
        os.chdir(previous)


def test_readme_spark_example_writes_the_rows_of_one_sample(spark, fitted, capsys):
    import pyarrow.parquet as pq

    spark, folder = spark

    code = readme_block("Spark, one task per shard with `mapInPandas`")
    constants = "N, K, SEED = 1_000_000_000, 1000, 42"
    assert constants in code
    n, k, seed = 3000, 3, 42
    code = code.replace(constants, f"N, K, SEED = {n}, {k}, {seed}")
    fitted.save(folder / "model.synthvae")

    exec(compile(code, "README.md (Spark example)", "exec"), {"spark": spark})

    parts = sorted((folder / "synth").glob("part-*.parquet"))
    assert parts, "Spark wrote no parquet parts"
    written = pd.concat([pq.read_table(p).to_pandas() for p in parts], ignore_index=True)
    whole = SynthVAE.load(folder / "model.synthvae").sample(n, random_state=seed)
    assert len(written) == n
    pd.testing.assert_frame_equal(written, whole, check_dtype=False)
    with capsys.disabled():
        # Shown in the suite's output, so a CI log says Spark really ran.
        print(f"\n[spark {spark.version}, {spark.sparkContext.master}] README example wrote "
              f"{len(parts)} parts, {len(written)} rows, equal to one sample", file=sys.stderr)
