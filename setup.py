from setuptools import find_packages, setup

# Training needs TensorFlow and Keras; sampling a model file does not (the decoder runs
# in NumPy), so they are an extra: `pip install "synthvae[train]"` to fit, plain
# `pip install synthvae` on machines that only sample (Spark executors, CI).
# Floors exclude known code-execution flaws: Keras' safe_mode bypasses up to 3.13
# (CVE-2025-1550, CVE-2025-8747, CVE-2025-9905, CVE-2025-9906, CVE-2026-1462);
# Keras 3.14 needs Python 3.11.
TRAIN = ["tensorflow>=2.16", "keras>=3.14"]

setup(
    name="synthvae",
    version="0.1.0",
    description="Tabular synthetic data from a variational autoencoder",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.11",
    # The top-level schemas/ folder is shipped inside the package as synthvae.schemas,
    # so the JSON Schema users read in the repo is the one the code validates against.
    packages=find_packages(include=["synthvae", "synthvae.*"]) + ["synthvae.schemas"],
    package_dir={"synthvae.schemas": "schemas"},
    package_data={"synthvae.schemas": ["*.json"]},
    install_requires=[
        "pandas>=2.2",
        "numpy>=1.26",
        # Fits the transformers and the prior, scores samples; sampling uses it only
        # for --reject-copies. 1.5 fixes CVE-2024-5206.
        "scikit-learn>=1.5",
        "click>=8.1",
        # 4.18 brought the `referencing` registry the model file's schema is checked with.
        "jsonschema>=4.18",
        # Writes CSV several times faster than pandas, and reads and writes Parquet.
        # 14.0.1 fixes CVE-2023-47248 (code execution when reading a crafted IPC or Parquet file).
        "pyarrow>=14.0.1",
        # Draws the figures of 'synthvae report'; imported only by that command.
        "matplotlib>=3.8",
        # Word lists for regenerated personal columns (names, e-mail addresses, text);
        # imported only when a model has such a column.
        "faker>=20",
    ],
    extras_require={
        # sdmetrics only checks that our quality figures agree with the reference
        # implementation; it is never imported by synthvae itself.
        # dask only runs the README's shard example in a test.
        # jax (its CPU wheel) trains a model under Keras' JAX backend in a test; pyspark
        # runs the README's Spark example on a local Spark (it also needs a Java runtime,
        # which .ci/run installs from the system's packages).
        "train": TRAIN,
        "test": TRAIN + ["pytest>=8", "hypothesis>=6", "sdmetrics>=0.32", "dask>=2024.1",
                         "jax>=0.4.34", "pyspark>=4.0"],
    },
    entry_points={"console_scripts": ["synthvae=synthvae.cli:main"]},
)
