"""Differential privacy on Adult: synthvae's private fits beside MST (smartnoise-synth)
at ε = 1, 3 and 10, scored on the real test split; and what DP-SGD costs in fit time.

Measured with ``python benchmarks/run.py --dp`` (with the main tables) or ``--dp-only``
(this section alone). Both
methods read only the columns' kinds from ``benchmarks/adult-kinds-schema.json``.
synthvae: ``SynthVAE(random_state=0, epsilon=ε)`` (δ its default 1 / (10 n)), with
levels, ranges, quantiles and missing rates released with noise for a tenth of ε. MST:
its defaults (δ = 1e-9), a tenth of ε for the bounds of the numeric columns. The time
ratio sets the ε = 3 fit against a fit without DP at the same epochs (no early
stopping). MST is cached like TVAE; synthvae's fits are redone each run.
"""

from sections import fmt, table

EPSILONS = (1.0, 3.0, 10.0)
SCHEMA = "benchmarks/adult-kinds-schema.json"
METHODS = {"synthvae": "synthvae", "mst": "MST"}
KEPT = ("metrics", "fit_s", "fit_cpu_s", "stages", "info", "started", "load_before", "load_after_fit", "cached",
        "settings", "version", "folder", "train_rows", "holdout_rows", "error")
# Goal at ε = 3: ML efficacy at least this, and at least the baseline's on efficacy and trend.
GOAL_EFFICACY = 0.85


def fits(quick, changes):
    """(key, method, fit settings) of each run of the section."""
    epochs = {"epochs": 10} if quick else {}
    for epsilon in EPSILONS:
        yield (f"synthvae@{epsilon:g}", "synthvae",
               {"random_state": 0, "epsilon": epsilon, "schema": SCHEMA, **epochs, **changes})
        yield f"mst@{epsilon:g}", "mst", {"epsilon": epsilon, "preprocessor_share": 0.1}
    # The same network and epochs without DP (no early stopping), for the time ratio.
    yield ("synthvae-no-dp", "synthvae",
           {"random_state": 0, "epochs": epochs.get("epochs", 100), "patience": epochs.get("epochs", 100),
            **{k: v for k, v in changes.items() if k in ("epochs", "batch_size", "hidden", "latent_dim")}})


def measure(results, ctx):
    args = ctx["args"]
    if not getattr(args, "dp", False):
        return {"error": "Not measured in this run (`--dp` measures it)"}
    data = ctx["load_split"]("adult", ctx["quick_rows"] if args.quick else None)
    runs = {}
    # --set synthvae-dp='{...}' changes the private fits (a lever to try).
    for key, method, fit in fits(args.quick, args.changes.get("synthvae-dp", {})):
        ctx["log"](f"privacy: {key}")
        record = ctx["run_method"]("adult", method, fit)
        if "error" not in record:
            ctx["evaluate"]("adult", record, data)
        runs[key] = {k: record[k] for k in KEPT if k in record}
    return {"runs": runs}


def _cell(run, path, spec=None):
    value = run
    for key in path.split("."):
        value = value.get(key) if isinstance(value, dict) else None
    return fmt(value, spec)


def render(results, targets):
    section = results.get("privacy") or {"error": "Not measured in this run (`--dp` measures it)"}
    head = "## Differential privacy (Adult)"
    if "error" in section:
        return f"{head}\n\n{section['error']}."
    runs = section["runs"]
    # A section carried over from another run (see benchmarks/README.md) keeps that run's meta.
    meta = section.get("meta") or results["meta"]
    rows = []
    for epsilon in EPSILONS:
        for method, label in METHODS.items():
            run = runs.get(f"{method}@{epsilon:g}", {})
            if "error" in run or not run:
                rows.append([f"{epsilon:g}", label, run.get("error", "not run")] + [""] * 6)
                continue
            delta = run.get("info", {}).get("delta")
            rows.append([f"{epsilon:g}", label, fmt(delta, "{:.2g}"),
                         _cell(run, "metrics.column_shape_error", "{:.1f}"),
                         _cell(run, "metrics.pair_trend_error", "{:.1f}"),
                         _cell(run, "metrics.ml_efficacy_synth", "{:.3f}"),
                         _cell(run, "metrics.detection_auc", "{:.3f}"),
                         _cell(run, "fit_s", "{:.0f}"), _cell(run, "fit_cpu_s", "{:.0f}")])
    plain = runs.get("synthvae-no-dp", {})
    real = next((r["metrics"].get("ml_efficacy_real") for r in runs.values() if r.get("metrics")), None)
    rows.append(["∞ (no DP)", "synthvae, same epochs", "—", _cell(plain, "metrics.column_shape_error", "{:.1f}"),
                 _cell(plain, "metrics.pair_trend_error", "{:.1f}"), _cell(plain, "metrics.ml_efficacy_synth", "{:.3f}"),
                 _cell(plain, "metrics.detection_auc", "{:.3f}"), _cell(plain, "fit_s", "{:.0f}"),
                 _cell(plain, "fit_cpu_s", "{:.0f}")])
    header = ["ε", "method", "δ", "shape error %", "pair trend error, all pairs %", "ML efficacy AUC",
              "detection AUC", "fit wall s", "fit CPU s"]
    ours, theirs = runs.get("synthvae@3", {}), runs.get("mst@3", {})

    def value(run, key):
        return (run.get("metrics") or {}).get(key)

    lines = []
    efficacy = value(ours, "ml_efficacy_synth")
    if efficacy is not None:
        lines.append(f"- Goal at ε = 3, ML efficacy ≥ {GOAL_EFFICACY}: {efficacy:.3f}, "
                     + ("met." if efficacy >= GOAL_EFFICACY else f"**not met** (gap {GOAL_EFFICACY - efficacy:.3f})."))
    for key, what, better in (("ml_efficacy_synth", "ML efficacy", max), ("pair_trend_error", "pair trend error", min)):
        a, b = value(ours, key), value(theirs, key)
        if a is not None and b is not None:
            lines.append(f"- At ε = 3, {what}: synthvae {a:.3g}, MST {b:.3g}: "
                         + ("synthvae at least as good." if better(a, b) == a else "**MST better**."))
    dp_cpu, plain_cpu = ours.get("fit_cpu_s"), plain.get("fit_cpu_s")
    dp_train, plain_train = ((r.get("stages") or {}).get("training") for r in (ours, plain))
    if dp_cpu and plain_cpu:
        lines.append(f"- DP fit ÷ fit without DP at the same epochs ({_cell(plain, 'info.epochs', '{}')}): "
                     f"{dp_cpu / plain_cpu:.2f}× in CPU s, {ours['fit_s'] / plain['fit_s']:.2f}× in wall s"
                     + (f", training stage {dp_train / plain_train:.2f}× in wall s" if dp_train and plain_train else "")
                     + " (bar: within 5×). The fit without DP also fits the latent prior and the calibration, "
                       "which a private fit skips.")
    if real is not None:
        lines.append(f"- ML efficacy of a model trained on the real rows: {real:.3f}.")
    loads = ", ".join(f"{k} {r.get('load_before', 0):.1f}→{r.get('load_after_fit', 0):.1f}"
                      + (" (cached)" if r.get("cached") else "") for k, r in runs.items() if "started" in r)
    return "\n\n".join([
        head,
        "synthvae's private fits (DP-SGD, RDP accountant) and MST, both from the columns' kinds alone "
        f"(`{SCHEMA}`): synthvae releases level lists, ranges, quantiles and missing rates with noise for "
        "a tenth of ε; MST spends a tenth of ε on numeric bounds but, as smartnoise-synth does by default, "
        "reads category lists from the rows without noise. Scored by `synthvae.evaluate` against the real "
        "test split on a sample as large as the training rows; one fit per cell (seed 0; DP noise from "
        "fresh entropy), so differences of a point or two are within the noise.",
        table(header, rows),
        "\n".join(lines),
        f"<sub>`{meta['command']}`, {meta['date']}, checkout {meta.get('git', '?')}; {meta['machine']}; "
        f"load (1 min) before→after each fit: {loads}.</sub>",
    ])
