"""synthvae: new rows for a table, learned by a variational autoencoder.

>>> from synthvae import SynthVAE
>>> synth = SynthVAE(random_state=0).fit(df).sample(10_000)   # doctest: +SKIP

Importing the package is cheap: pandas, scikit-learn and TensorFlow load only when
something that needs them is first used, so ``synthvae --help`` answers at once.
"""

from synthvae.errors import SynthVAEError

__version__ = "0.1.0"

__all__ = ["SynthVAE", "SynthVAEError", "evaluate", "write_report", "__version__"]


def __getattr__(name):
    if name == "SynthVAE":
        from synthvae.estimator import SynthVAE

        return SynthVAE
    if name == "evaluate":
        from synthvae.metrics import evaluate

        return evaluate
    if name == "write_report":
        from synthvae.report import write_report

        return write_report
    raise AttributeError(f"module 'synthvae' has no attribute {name!r}")
