"""Sampling needs neither TensorFlow nor Keras (nor scikit-learn, nor SciPy unless a
range condition asks for it), and its rows do not depend on how many threads run."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from conftest import REPO

HEAVY = ("tensorflow", "keras", "jax", "torch", "sklearn", "scipy", "matplotlib")

# Run inside a fresh interpreter: the command line's sample verb, then the modules loaded.
# With BLOCK set, importing any of those packages fails, as on a machine where they are
# not installed.
_RUNNER = r"""
import json, sys
blocked = tuple(sys.argv[1].split(",")) if sys.argv[1] else ()

class Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in blocked:
            raise ModuleNotFoundError(f"No module named {name!r}")
        return None

sys.meta_path.insert(0, Blocker())
from synthvae.cli import main
sys.argv = ["synthvae"] + sys.argv[2:]
try:
    main()
except SystemExit as exc:
    code = exc.code
heavy = sorted({m.split(".")[0] for m in sys.modules} & set(%r))
print(json.dumps({"code": code, "heavy": heavy}), file=sys.stderr)
""" % (HEAVY,)


def _sample(args, blocked=(), env=None):
    environment = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    result = subprocess.run([sys.executable, "-c", _RUNNER, ",".join(blocked), *args],
                            capture_output=True, text=True, env=environment, cwd=REPO, timeout=300)
    status = json.loads(result.stderr.strip().splitlines()[-1])
    return result.stdout, status, result.stderr


@pytest.fixture(scope="module")
def model_path(fitted, tmp_path_factory):
    path = tmp_path_factory.mktemp("sampling") / "model.synthvae"
    fitted.save(path)
    return str(path)


@pytest.mark.parametrize(
    "extra, allowed",
    [
        ([], ()),
        (["--shard", "2/3"], ()),
        (["--where", "color=red"], ()),
        (["--where", "income>20000"], ("scipy",)),
    ],
)
def test_sample_imports_nothing_heavy(model_path, extra, allowed):
    out, status, err = _sample(["sample", "500", "-m", model_path, "--seed", "1", *extra])
    assert status["code"] == 0, err
    assert set(status["heavy"]) <= set(allowed), status["heavy"]
    assert len(out.splitlines()) > 100


def test_reject_copies_needs_only_nearest_neighbours(model_path, mixed_frame, tmp_path):
    reference = tmp_path / "real.csv"
    mixed_frame.to_csv(reference, index=False)
    _, status, err = _sample(["sample", "300", "-m", model_path, "--seed", "1", "--reject-copies", str(reference)])
    assert status["code"] == 0, err
    assert not {"tensorflow", "keras", "jax", "torch"} & set(status["heavy"])


def test_samples_where_tensorflow_and_keras_are_not_installed(model_path):
    """Sampling on a machine without TensorFlow and Keras (their imports fail) gives the
    same rows as here; fitting there says what to install."""
    here, status, err = _sample(["sample", "400", "-m", model_path, "--seed", "3"])
    there, status_there, err_there = _sample(["sample", "400", "-m", model_path, "--seed", "3"],
                                             blocked=("tensorflow", "keras", "jax", "torch"))
    assert status_there["code"] == 0, err_there
    assert there == here
    _, fit_status, fit_err = _sample(["fit", str(REPO / "examples" / "adult-sample.csv.gz"), "-o", os.devnull, "-q"],
                                     blocked=("tensorflow", "keras"))
    assert fit_status["code"] == 1
    assert 'pip install "synthvae[train]"' in fit_err and "Traceback" not in fit_err


def test_rows_do_not_depend_on_the_thread_count(model_path):
    outputs = [
        _sample(["sample", "20000", "-m", model_path, "--seed", "4", "--threads", threads],
                env={"OMP_NUM_THREADS": n, "OPENBLAS_NUM_THREADS": n, "MKL_NUM_THREADS": n})[0]
        for n, threads in (("1", "1"), ("2", "3"))
    ]
    assert outputs[0] == outputs[1] and len(outputs[0].splitlines()) == 20_001


@pytest.mark.parametrize("options", [{}, {"where": ["color=red"]}, {"shard": (2, 3)}, {"reject_copies": True}])
def test_rows_do_not_depend_on_how_many_threads_make_chunks(model_path, mixed_frame, options):
    """Three chunks (and a part of one), made on one thread or on several at once."""
    from synthvae.generation import CHUNK_ROWS
    from synthvae.sampling import Sampler

    sampler = Sampler.load(model_path)
    if options.get("reject_copies"):
        options = {"reject_copies": mixed_frame}
    n = 3 * CHUNK_ROWS + 100
    one, three = (sampler.sample(n, random_state=5, threads=threads, **options) for threads in (1, 3))
    pd.testing.assert_frame_equal(one, three)
    assert len(one) == (n // 3 if "shard" in options else n)
    if "where" in options:
        assert (one["color"] == "red").all()
    if "reject_copies" in options:
        assert one.attrs["replaced_copies"] == three.attrs["replaced_copies"]


def test_estimator_load_and_sample_import_no_keras(model_path):
    code = ("import sys; from synthvae import SynthVAE; m = SynthVAE.load(sys.argv[1]); m.sample(100, random_state=0); "
            "print(sorted({n.split('.')[0] for n in sys.modules} & {'tensorflow', 'keras'}))")
    result = subprocess.run([sys.executable, "-c", code, model_path], capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=REPO, timeout=300)
    assert result.stdout.strip() == "[]", result.stderr


def test_inspect_shows_what_the_file_holds(model_path, mixed_frame):
    text, status, err = _sample(["inspect", model_path])
    assert status["code"] == 0 and not status["heavy"], err
    for words in ("format 3", "color", "categorical (nullable)", "' blue'", "regenerated as user-{000000}",
                  "always 'NL'", "quantile table of", "protection:", "parameters:", "Keras 3."):
        assert words in text, words
    described, status, err = _sample(["inspect", model_path, "--json"])
    info = json.loads(described)
    assert [c["name"] for c in info["columns"]] == list(mixed_frame.columns)
    color = next(c for c in info["columns"] if c["name"] == "color")
    assert set(color["levels"]) == set(mixed_frame["color"].unique())
    assert info["training"]["rows"] == len(mixed_frame) and info["parameters"]["latent_dim"] == 8


@pytest.mark.parametrize("levels", [3, 250])
def test_a_draw_takes_the_first_level_whose_cumulative_weight_reaches_the_uniform(levels):
    import numpy as np

    from synthvae.generation import draw_levels

    rng = np.random.default_rng(levels)
    weights = rng.exponential(size=(levels, 4000)).astype(np.float32)
    weights[rng.random(weights.shape) < 0.3] = 0.0  # empty levels make ties in the cumulative weights
    codes = draw_levels(weights.copy(), np.random.default_rng(1))
    cumulative = np.cumsum(weights, axis=0)
    u = np.random.default_rng(1).random(weights.shape[1], dtype=np.float32) * cumulative[-1]
    expected = [np.searchsorted(cumulative[:-1, i], u[i], side="left") for i in range(weights.shape[1])]
    assert codes.tolist() == expected
    assert len(set(codes.tolist())) > levels // 2


@pytest.mark.parametrize("earlier_levels, levels", [(40, 3), (3, 40)])
def test_a_tied_group_loses_exactly_the_levels_the_earlier_group_excludes(earlier_levels, levels):
    """Either way of zeroing (by excluded level, or by excluding earlier level) gives the
    weights times the allowed pairs."""
    import numpy as np

    from synthvae.generation import _exclude

    rng = np.random.default_rng(earlier_levels)
    blocked = rng.random((earlier_levels, levels)) < 0.2
    earlier = rng.integers(0, earlier_levels, 5000)
    weights = rng.exponential(size=(levels, 5000)).astype(np.float32)
    expected = weights * (~blocked).T[:, earlier]
    _exclude(weights, blocked, earlier)
    np.testing.assert_array_equal(weights, expected)
    assert (weights == 0).any() and (weights > 0).any()


def test_the_levels_handed_over_give_the_rows_the_one_hot_rows_give(model_path):
    import numpy as np

    from synthvae.generation import Generator
    from synthvae.sampling import Sampler

    sampler = Sampler.load(model_path)
    generator = Generator(sampler.decoder, sampler.prior, sampler.transformer, sampler.sigma, sampler.calibration)
    matrix, codes = generator.matrix(np.random.default_rng(0), 3000)
    spans = sampler.transformer.softmax_spans_
    assert sorted(codes) == [s.start for s in spans]
    for span in spans:  # the matrix holds the same levels, one-hot
        assert (matrix[:, span.start : span.stop].argmax(axis=1) == codes[span.start]).all()
    handed = sampler.transformer.inverse_transform(matrix, rng=np.random.default_rng(1), codes=codes)
    found = sampler.transformer.inverse_transform(matrix, rng=np.random.default_rng(1))
    pd.testing.assert_frame_equal(handed, found)


def test_the_decoder_gives_the_same_outputs_in_either_layout(model_path):
    import numpy as np

    from synthvae.decoder import BLOCK_ROWS
    from synthvae.sampling import Sampler

    decoder = Sampler.load(model_path).decoder
    z = np.random.default_rng(0).standard_normal((2 * BLOCK_ROWS + 7, decoder.latent_dim)).astype(np.float32)
    by_output = decoder.columns(z)
    assert by_output.shape == (decoder.output_dim, len(z))
    np.testing.assert_allclose(by_output, decoder(z).T, rtol=1e-5, atol=1e-5)


def test_quantile_tables_are_read_back_as_a_search_would():
    import numpy as np

    from synthvae.transformers.numeric import _interp_even

    rng = np.random.default_rng(0)
    u = np.concatenate([rng.random(5000), [0.0, 1.0, 0.5, 1e-12, 1 - 1e-12]])
    for size in (1, 2, 7, 1000):
        table = np.sort(rng.standard_normal(size) * 100)
        table[size // 2 :][:3] = table[size // 2]  # repeated quantiles: a point mass
        np.testing.assert_allclose(_interp_even(u, table), np.interp(u, np.linspace(0, 1, size), table),
                                   rtol=1e-9, atol=1e-9)


def test_calibration_maps_give_what_numpy_interpolation_gives_bit_for_bit():
    import numpy as np

    from synthvae.calibration import QuantileInterpolator

    rng = np.random.default_rng(0)
    tables = [np.sort(rng.standard_normal(353)), np.sort(rng.standard_t(1, 353)),  # crowded middle, far tails
              np.array([0.0, 0.0, 1.0, 1.0, 2.0]), np.array([0.0, 1e-300, 1.0]), np.array([-1e12, 1e12]),
              np.array([3.0, 3.0]), np.array([5.0])]
    for xp in tables:
        fp = np.cumsum(rng.exponential(size=len(xp)))
        x = np.concatenate([rng.standard_normal(20000) * 3, xp, np.nextafter(xp, np.inf), np.nextafter(xp, -np.inf),
                            [1e300, -1e300]])
        mapped = QuantileInterpolator(xp, fp)(x)
        assert mapped.tobytes() == np.interp(x, xp, fp).tobytes()
    assert np.isnan(QuantileInterpolator(tables[0], tables[0])(np.array([0.0, np.nan])))[1]
