"""SDV's TVAESynthesizer with its defaults (300 epochs, batch 500), the anchor.

Runs in its own interpreter (sdv pins pandas<3; see benchmarks/README.md). Metadata
detection counts as part of the fit. TVAE takes no seed: numpy and torch are seeded.
"""

LABEL = "TVAE"
PACKAGES = ("sdv", "ctgan", "rdt", "torch", "numpy", "pandas", "scikit-learn")
CACHED = True  # ~9 minutes per Adult fit: reused until sdv, torch or the settings change
PYTHON = "bench-out/venv/bin/python"
TABLE = "table"
WARM_UP = "import torch, sdv.single_table"  # run once before the first fit


def settings(quick):
    return {"epochs": 10} if quick else {}


def fit(train, settings):
    import numpy as np
    import torch
    from sdv.metadata import Metadata
    from sdv.single_table import TVAESynthesizer

    np.random.seed(0)
    torch.manual_seed(0)
    metadata = Metadata.detect_from_dataframes({TABLE: train})
    model = TVAESynthesizer(metadata, **settings)
    model.fit({TABLE: train})
    return model


def sample(model, n, seed):
    import numpy as np
    import torch

    np.random.seed(seed)
    torch.manual_seed(seed)
    frame = model.sample(num_rows=n)
    return frame[TABLE] if isinstance(frame, dict) else frame
