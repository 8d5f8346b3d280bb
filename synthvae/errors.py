"""The one family of errors synthvae raises for bad input.

The command line turns each of these into a single ``error: ...`` line; the Python
API lets them propagate. They subclass the built-in exception a Python user would
expect, so ``except ValueError`` keeps working.
"""


class SynthVAEError(Exception):
    """Base class of every error synthvae raises on purpose."""

    exit_code = 1


class DataError(SynthVAEError, ValueError):
    """The data (a table, a schema, a model file) cannot be used as given."""


class UsageError(SynthVAEError, ValueError):
    """An argument is out of range or contradicts another."""

    exit_code = 2


class InputTypeError(SynthVAEError, TypeError):
    """An argument has the wrong type (say, a list where a DataFrame belongs)."""

    exit_code = 2


class MissingFileError(SynthVAEError, FileNotFoundError):
    """A file synthvae was asked to read does not exist."""


class ModelFileError(DataError):
    """A model file is damaged, foreign, or from an incompatible version."""


class TrainingError(DataError):
    """Training diverged; no model was written. Almost always a sign of extreme or
    wrongly scaled values in the data, hence a DataError (a ValueError)."""


class NotInstalledError(SynthVAEError, ImportError):
    """Something needs a package this installation lacks (training needs TensorFlow and
    Keras: ``pip install "synthvae[train]"``)."""
