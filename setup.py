from setuptools import find_packages, setup

setup(
    name="synthvae",
    version="0.1.0",
    description="Tabular synthetic data from a variational autoencoder",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    # The top-level schemas/ folder is shipped inside the package as synthvae.schemas,
    # so the JSON Schema users read in the repo is the one the code validates against.
    packages=find_packages(include=["synthvae", "synthvae.*"]) + ["synthvae.schemas"],
    package_dir={"synthvae.schemas": "schemas"},
    package_data={"synthvae.schemas": ["*.json"]},
    install_requires=[
        "tensorflow>=2.16",
        "keras>=3.3",
        "pandas>=2.2",
        "numpy>=1.26",
        "scikit-learn>=1.4",
        "click>=8.1",
        "jsonschema>=4.0",
        # Writes CSV several times faster than pandas, and reads and writes Parquet.
        "pyarrow>=14",
        # Draws the figures of 'synthvae report'; imported only by that command.
        "matplotlib>=3.8",
    ],
    extras_require={
        # sdmetrics only checks that our quality figures agree with the reference
        # implementation; it is never imported by synthvae itself.
        # dask only runs the README's shard example in a test.
        "test": ["pytest>=8", "hypothesis>=6", "sdmetrics>=0.32", "dask>=2024.1"],
    },
    entry_points={"console_scripts": ["synthvae=synthvae.cli:main"]},
)
