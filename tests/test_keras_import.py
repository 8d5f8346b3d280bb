"""Importing Keras for a fit: packages it would load only for features training never
uses are skipped meanwhile, and import normally afterwards."""

import importlib.util
import os
import subprocess
import sys

import pytest

from synthvae import backend
from conftest import REPO


def test_keras_loads_without_the_unused_packages_which_still_import_afterwards():
    installed = [name for name in backend.UNUSED_PACKAGES + backend.UNUSED_UNDER_TENSORFLOW
                 if importlib.util.find_spec(name) is not None]
    if not installed:
        pytest.skip("none of the unused packages is installed here")
    code = ("import importlib, sys; from synthvae.backend import import_keras; import_keras(); "
            f"names = {installed!r}; print([n for n in names if n in sys.modules]); "
            "print([importlib.import_module(n).__name__ for n in names])")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO), "KERAS_BACKEND": "tensorflow"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.splitlines() == ["[]", repr(installed)]


def test_a_package_imported_already_is_left_alone(monkeypatch):
    import json

    monkeypatch.setattr(backend, "UNUSED_PACKAGES", ("json", "synthvae_no_such_package"))
    with backend.unused_packages_skipped():
        import json as again

        assert again is json
        with pytest.raises(ImportError):
            import synthvae_no_such_package  # noqa: F401
    assert "synthvae_no_such_package" not in sys.modules
    assert sys.modules["json"] is json
