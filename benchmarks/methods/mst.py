"""MST (smartnoise-synth), the differentially private baseline of the privacy section.

``Synthesizer.create("mst", epsilon=ε, delta=δ)`` with its defaults otherwise; the
columns' kinds come from the same declared schema synthvae's private fits read
(``benchmarks/adult-kinds-schema.json``): categorical and boolean columns as
categorical, numbers as continuous (binned by MST's preprocessor, whose bounds take
``preprocessor_share`` of ε, subtracted from the training's). MST's preprocessor reads
the category lists from the rows without noise, as smartnoise-synth does by default:
its guarantee covers the marginals, not the lists of values.

Runs in its own interpreter, ``bench-out/mst-venv`` (see benchmarks/README.md):
smartnoise-synth pins pandas<3 and opendp. Fitted only by the privacy section, never
in the main tables (``IN_MAIN_TABLES``). MST takes no seed: numpy is seeded.
"""

import json
from pathlib import Path

LABEL = "MST"
PACKAGES = ("smartnoise-synth", "smartnoise-sql", "opendp", "mbi", "numpy", "pandas")
CACHED = True  # a few minutes per fit: reused until the versions or the settings change
PYTHON = "bench-out/mst-venv/bin/python"
IN_MAIN_TABLES = False
SCHEMA = Path(__file__).resolve().parents[1] / "adult-kinds-schema.json"


def settings(quick):
    return {"epsilon": 3.0, "preprocessor_share": 0.1}


def fit(train, settings):
    import numpy as np
    from snsynth import Synthesizer

    settings = dict(settings)
    epsilon, share = settings.pop("epsilon"), settings.pop("preprocessor_share")
    kinds = {c["name"]: c["kind"] for c in json.loads(Path(settings.pop("schema", SCHEMA)).read_text())["columns"]}
    np.random.seed(0)
    model = Synthesizer.create("mst", epsilon=float(epsilon), **settings)
    model.fit(train, categorical_columns=[c for c in train.columns if kinds[c] in ("categorical", "boolean")],
              continuous_columns=[c for c in train.columns if kinds[c] in ("continuous", "integer")],
              preprocessor_eps=share * float(epsilon), nullable=bool(train.isna().any().any()))
    return model


def info(model):
    return {"epsilon_left_for_training": float(model.epsilon), "delta": float(model.delta)}


def stages(model):
    return {}


def sample(model, n, seed):
    import numpy as np

    np.random.seed(seed)
    return model.sample(n)
