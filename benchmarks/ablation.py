#!/usr/bin/env python
"""Measure what one setting of synthvae moves, on Adult with its real test split.

    python benchmarks/ablation.py '{"beta": 0.1}' '[{}, {"prior": 0}, {"calibrate": false}]'

The first argument holds SynthVAE constructor arguments (fitted once, seed 0); the
second a list of sampling-side variants scored on that same fitted model:

- ``prior``: refit the latent mixture with this many components (0: N(0, I));
- ``calibrate``: false drops the post-training calibration;
- ``noise``: scale of the Gaussian noise added to continuous outputs (1 = learned);
- ``argmax``: take each categorical's most likely level.

One line per variant: column-shape error %, all-pairs and strong-pairs trend error %,
ML efficacy (ROC AUC, trained on synthetic, scored on adult-test), detection AUC,
DCR share % and exact-copy rate %; with ``"detail": true`` also the worst columns and pairs.
"""

import json
import sys
import time
from pathlib import Path

import numpy as np

from synthvae import SynthVAE
from synthvae.io import read_table
from synthvae.metrics import evaluate
from synthvae.prior import GaussianMixturePrior
from synthvae.sampler import Calibration

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"


def score_variant(model, variant, real, holdout, fitted_parts):
    prior, calibration, sigma = fitted_parts
    model.prior_, model.calibration_, model.sigma_ = prior, calibration, sigma * variant.get("noise", 1.0)
    if "prior" in variant:
        if variant["prior"] == 0:
            model.prior_ = GaussianMixturePrior.standard_normal(model.latent_dim)
        else:
            mean, _ = model._encode(model.transformer_.transform(real))
            model.prior_ = GaussianMixturePrior(variant["prior"], random_state=0).fit(mean)
    if not variant.get("calibrate", True):
        model.calibration_ = Calibration.identity(model.transformer_)
    synth = model.sample(len(real), random_state=1, argmax=variant.get("argmax", False))
    return evaluate(real, synth, holdout=holdout, target="income")


def main():
    params = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    variants = json.loads(sys.argv[2]) if len(sys.argv) > 2 else [{}]
    real, holdout = read_table(DATA / "adult.csv"), read_table(DATA / "adult-test.csv")
    start = time.perf_counter()
    model = SynthVAE(random_state=0, verbose=False, **params).fit(real)
    print(f"{params}: fit {time.perf_counter() - start:.0f} s, {len(model.history_['loss'])} epochs", flush=True)
    fitted_parts = (model.prior_, model.calibration_, model.sigma_.copy())
    for variant in variants:
        r = score_variant(model, variant, real, holdout, fitted_parts)
        print(
            f"  {variant}: shape {r['column_shape_error']:.2f}  trend {r['pair_trend_error']:.2f}"
            f"  strong {r['pair_trend_error_strong']:.2f}  auc {r['ml_efficacy_synth']:.3f}"
            f"  detection {r['detection_auc']:.3f}  dcr {r['dcr_share']:.1f}  copies {r['exact_copy_rate']:.2f}",
            flush=True,
        )
        if variant.get("detail"):
            columns = sorted(r["columns"].items(), key=lambda kv: kv[1]["score"])[:5]
            pairs = sorted(r["pairs"], key=lambda p: p["score"])[:4]
            print("    worst columns", [(k, round(1 - v["score"], 3)) for k, v in columns])
            print("    worst pairs", [(p["columns"], round(1 - p["score"], 3)) for p in pairs])


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
