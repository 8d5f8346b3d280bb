"""The fit-time ledger: where synthvae's fit spends its time, stage by stage."""

from sections import fmt, provenance, table

GLOSS = {
    "read": "reading the CSV (`synthvae.io.read_table`) and the split",
    "imports": "importing synthvae and TensorFlow/Keras",
    "schema": "schema inference and checks",
    "rules": "finding the rules every row obeys (`synthvae.rules.discover`)",
    "transformers": "column transformers fitted, table encoded",
    "training": "training the VAE",
    "prior": "latent prior (k-means mixture)",
    "calibration": "calibration of the sampler",
    "other": "rest of `fit` (argument checks, seeding)",
    "save": "saving the model (`model.save`)",
}


def stages(run):
    """Ordered (stage, s): read, the estimator's stages as it reports them, the rest of fit, save."""
    reported = dict(run.get("stages") or {})
    items = [("read", run.get("read_s"))] + list(reported.items())
    items.append(("other", run["fit_s"] - sum(reported.values())))
    return items + [("save", run.get("save_s"))]


def render(results, targets):
    runs = {t: r["synthvae"] for t, r in results["runs"].items() if "fit_s" in r.get("synthvae", {})}
    if not runs:
        return "## Fit-time ledger\n\nNo synthvae fit in this run."
    names = list(runs)
    ledgers = {t: dict(stages(r)) for t, r in runs.items()}
    order = list(dict.fromkeys(k for t in names for k, _ in stages(runs[t])))
    first = names[0]
    total = {t: sum(v for v in ledgers[t].values() if v) for t in names}
    rows = [[f"{k}: {GLOSS.get(k, k)}", fmt(ledgers[first].get(k), "{:.2f}"),
             f"{100 * (ledgers[first].get(k) or 0) / total[first]:.0f} %"]
            + [fmt(ledgers[t].get(k), "{:.2f}") for t in names[1:]] for k in order]
    rows.append(["**total** (read + fit + save)", f"**{total[first]:.1f}**", "100 %"]
                + [f"{total[t]:.1f}" for t in names[1:]])
    def info(t):
        return "{epochs} / {batch_size}".format(**{"epochs": "—", "batch_size": "—", **runs[t].get("info", {})})

    rows.append(["epochs trained (early stopping) / rows per step", info(first), ""] + [info(t) for t in names[1:]])
    header = ["stage", f"{first}, s", "share"] + [f"{t}, s" for t in names[1:]]
    return (
        "## Fit-time ledger\n\n"
        "Wall seconds of each stage of `SynthVAE(random_state=0).fit(train)` (the estimator's "
        "`fit_seconds_`, which names its stages) plus what the harness times around it: reading and "
        "saving. A capability that adds a stage to `fit_seconds_` gets a row here. The fit row of the "
        "tables above is everything but reading and saving.\n\n"
        f"{table(header, rows)}\n\n<sub>{provenance(results, first)}</sub>"
    )
