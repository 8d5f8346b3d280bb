#!/usr/bin/env python
"""Fit synthvae on Adult once per seed and score sampling-side variants of the latent prior.

    python benchmarks/levers.py PARAMS VARIANTS [SEEDS]
    python benchmarks/levers.py '{}' '[{}, {"k": 200, "cov": "diag"}, {"k": 600, "cov": "kmeans"}]' '[0, 1]'

PARAMS are SynthVAE constructor arguments. Each variant refits the prior on the same
fitted model's encoded training rows (and refits the calibration to it):

- ``k``: components; ``cov``: "kmeans" (the default prior: k-means clusters with
  their own variances), or "diag" / "full" (an EM-fitted sklearn GaussianMixture);
- ``sub``: rows the prior is fitted on (a seeded subsample; default all);
- ``iters``: iteration cap; ``on``: "samples" fits to mean + scale * σ * ε instead of
  the means, with ``scale`` (default 1).

An empty variant ``{}`` scores the prior the fit itself made. One line per variant:
shape / all-pairs trend / strong-pairs trend error %, ML efficacy AUC, detection AUC,
DCR share %, exact copies %, and the prior's fit time.
"""

import json
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.mixture import GaussianMixture

from synthvae import SynthVAE
from synthvae.io import read_table
from synthvae.metrics import evaluate
from synthvae.prior import GaussianMixturePrior

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"


class _FullCovariancePrior:
    def __init__(self, gmm):
        self.weights_ = gmm.weights_ / gmm.weights_.sum()
        self.means_ = gmm.means_
        self.chol_ = np.linalg.cholesky(gmm.covariances_)

    def sample(self, n, rng):
        components = rng.choice(len(self.weights_), size=n, p=self.weights_)
        eps = rng.standard_normal((n, self.means_.shape[1]))
        return (self.means_[components] + np.einsum("nij,nj->ni", self.chol_[components], eps)).astype(np.float32)


def fit_prior(latents, variant, seed):
    rng = np.random.default_rng(seed)
    sub = variant.get("sub", len(latents))
    if len(latents) > sub:
        latents = latents[rng.choice(len(latents), sub, replace=False)]
    k, cov = variant["k"], variant.get("cov", "kmeans")
    if cov == "kmeans":
        return GaussianMixturePrior(k, random_state=seed).fit(latents)
    k = int(max(1, min(k, len(latents) // 50)))
    gmm = GaussianMixture(n_components=k, covariance_type=cov, reg_covar=1e-3,
                          max_iter=variant.get("iters", 100), random_state=seed).fit(latents.astype(np.float64))
    if cov == "full":
        return _FullCovariancePrior(gmm)
    prior = GaussianMixturePrior(k)
    prior.weights_, prior.means_, prior.stds_ = gmm.weights_ / gmm.weights_.sum(), gmm.means_, np.sqrt(gmm.covariances_)
    return prior


def main():
    params = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    variants = json.loads(sys.argv[2]) if len(sys.argv) > 2 else [{}]
    seeds = json.loads(sys.argv[3]) if len(sys.argv) > 3 else [0]
    real, holdout = read_table(DATA / "adult.csv"), read_table(DATA / "adult-test.csv")
    for seed in seeds:
        start = time.perf_counter()
        model = SynthVAE(random_state=seed, verbose=False, **params).fit(real)
        print(f"{params} seed {seed}: fit {time.perf_counter() - start:.0f} s, {len(model.history_['loss'])} epochs", flush=True)
        matrix = model.transformer_.transform(real)
        mean, log_var = model._encode(matrix)
        fitted = (model.prior_, model.calibration_)
        for variant in variants:
            model.prior_, model.calibration_ = fitted
            took = 0.0
            if "k" in variant:
                latents = mean
                if variant.get("on") == "samples":
                    noise = np.random.default_rng(seed).standard_normal(mean.shape)
                    latents = mean + variant.get("scale", 1.0) * np.exp(0.5 * log_var) * noise
                start = time.perf_counter()
                model.prior_ = fit_prior(latents, variant, seed)
                took = time.perf_counter() - start
                if model.calibrate:
                    model._calibrate(matrix, seed)
            r = evaluate(real, model.sample(len(real), random_state=seed + 1), holdout=holdout, target="income")
            print(
                f"  {variant}: {r['column_shape_error']:.2f} / {r['pair_trend_error']:.2f} / {r['pair_trend_error_strong']:.2f}"
                f" / {r['ml_efficacy_synth']:.3f} / {r['detection_auc']:.3f} / {r['dcr_share']:.1f} / {r['exact_copy_rate']:.2f}"
                f"  (prior fit {took:.1f} s)",
                flush=True,
            )


if __name__ == "__main__":
    main()
