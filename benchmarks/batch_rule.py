#!/usr/bin/env python
"""Does the batch rule hold quality on a large table? Adult resampled to FACTOR times its
rows, fitted with default settings, scored against real Adult and its test split.

    python benchmarks/batch_rule.py [FACTOR] [PARAMS]
    python benchmarks/batch_rule.py 4 '{}'                                    # the rule on this CPU
    python benchmarks/batch_rule.py 4 '{"batch_size": 500}'                   # the old fixed batch
    SYNTHVAE_AS_GPU=1 python benchmarks/batch_rule.py 4 '{}'                  # the rule as on a GPU

PARAMS are SynthVAE constructor arguments (JSON). SYNTHVAE_AS_GPU=1 makes synthvae's GPU
check answer yes, so the GPU's batch cap applies while the arithmetic runs on the CPU.
One line: the batch and rate used, epochs, fit seconds, then shape / all-pairs trend /
strong-pairs trend error %, ML efficacy AUC and detection AUC.
"""

import json
import os
import sys
import time
from pathlib import Path

from synthvae import SynthVAE, distribute
from synthvae.io import read_table
from synthvae.metrics import evaluate

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
FIGURES = ("column_shape_error", "pair_trend_error", "pair_trend_error_strong", "ml_efficacy_synth", "detection_auc")


def main(argv):
    factor = int(argv[0]) if argv else 4
    params = json.loads(argv[1]) if len(argv) > 1 else {}
    if os.environ.get("SYNTHVAE_AS_GPU"):
        distribute.gpu_count = lambda: 1
    adult, test = read_table(DATA / "adult.csv"), read_table(DATA / "adult-test.csv")
    big = adult.sample(n=factor * len(adult), replace=True, random_state=0).reset_index(drop=True)
    started = time.perf_counter()
    model = SynthVAE(**{"random_state": 0, "verbose": False, **params}).fit(big)
    fit_s = time.perf_counter() - started
    result = evaluate(real=adult, synth=model.sample(len(adult), random_state=1), holdout=test, target="income")
    print(f"{len(big):,} rows, {params}: {model.device_} batch {model.batch_size_}, rate {model.learning_rate_:.2e}, "
          f"{len(model.history_['loss'])} epochs, fit {fit_s:.0f} s: "
          + " / ".join(f"{result[key]:.3f}" for key in FIGURES), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
