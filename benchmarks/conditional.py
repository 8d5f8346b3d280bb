#!/usr/bin/env python
"""Conditional sampling speed and fidelity on Adult (issue 6).

    python benchmarks/conditional.py MODEL REAL.csv [N]

For each condition (none, then the ones below) it samples N rows (default 100,000)
in-process, written as CSV to an in-memory buffer by the writer ``synthvae sample``
uses, and prints rows/s and the ratio to the unconditional rate; the model load is
timed once, apart. It then scores a sample of as many rows as the real rows meeting the
condition against those real rows with ``synthvae.evaluate`` (column shapes and pair
trends), and the unconditional sample against all real rows; as a baseline, the
model's unconditional rows that meet the condition (plain rejection) are scored the
same way. Prints markdown tables.
"""

import io
import sys
import time

from synthvae import SynthVAE, evaluate
from synthvae.io import read_table, write_chunks

CONDITIONS = [
    ("none", None, lambda d: d.index == d.index),
    ("sex = Female", ["sex= Female"], lambda d: d["sex"] == " Female"),
    ("education = Doctorate", ["education= Doctorate"], lambda d: d["education"] == " Doctorate"),
    ("age >= 75", ["age>=75"], lambda d: d["age"] >= 75),
    ("race = Amer-Indian-Eskimo and age >= 40",
     ["race= Amer-Indian-Eskimo", "age>=40"], lambda d: (d["race"] == " Amer-Indian-Eskimo") & (d["age"] >= 40)),
]


def main(model_path, real_path, n=100_000):
    t = time.perf_counter()
    model = SynthVAE.load(model_path)
    print(f"model load: {time.perf_counter() - t:.2f} s", file=sys.stderr)
    real = read_table(real_path)
    print("| condition | real share | rows/s | time for N, s | ratio to unconditional |")
    print("| --- | --- | --- | --- | --- |")
    base = None
    for label, where, mask in CONDITIONS:
        t = time.perf_counter()
        integers = [c.name for c in model.schema_.columns if c.kind == "integer"]
        write_chunks(model.iter_sample(n, random_state=1, where=where), io.StringIO(), "csv", integers)
        seconds = time.perf_counter() - t
        base = base or seconds
        print(f"| {label} | {mask(real).mean():.2%} | {n / seconds:,.0f} | {seconds:.2f} | {seconds / base:.2f} |")
    print()
    # Baseline: the model's own unconditional rows that meet the condition (plain
    # rejection), scored the same way. Equal figures mean conditioning adds no error.
    plain = model.sample(400_000, random_state=3)
    print("| condition | real rows | conditional: shape / pair error % | rejection baseline: shape / pair error % |")
    print("| --- | --- | --- | --- |")
    for label, where, mask in CONDITIONS:
        subset = real[mask(real)].reset_index(drop=True)
        synth = model.sample(len(subset), random_state=2, where=where)
        got = evaluate(subset, synth)
        kept = plain[mask(plain)].iloc[: len(subset)].reset_index(drop=True)
        base = evaluate(subset, kept)
        print(f"| {label} | {len(subset)} | {got['column_shape_error']:.2f} / {got['pair_trend_error']:.2f} "
              f"| {base['column_shape_error']:.2f} / {base['pair_trend_error']:.2f} ({len(kept)} rows) |")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], *(int(a) for a in sys.argv[3:]))
