"""Several seeds (``--seeds``): each table's figures as mean and range over the seeds,
TVAE (one fit, no seed) beside them, then every seed's own figures."""

import statistics

from sections import LABELS, fmt, provenance, table

# (label, metric)
FIGURES = (
    ("ML efficacy", "ml_efficacy_synth"),
    ("detection AUC", "detection_auc"),
    ("shape error, %", "column_shape_error"),
    ("pair-trend error, %", "pair_trend_error"),
)


def values(records, metric):
    return [r["metrics"][metric] for r in records if isinstance(r.get("metrics", {}).get(metric), (int, float))]


def spread(records, metric):
    """"mean (min–max)" over the seeds' runs, or the one value."""
    found = values(records, metric)
    if not found:
        return "—"
    if len(found) == 1:
        return fmt(found[0])
    return f"{fmt(statistics.fmean(found))} ({fmt(min(found))}–{fmt(max(found))})"


def chosen(record):
    """What the estimator chose for this table (the ``info`` the harness recorded)."""
    info = record.get("info") or {}
    trained = f"{info.get('epochs', '—')} epochs trained, {info.get('batch_size', '—')} rows per step"
    chosen = info.get("chosen") or {}
    return trained + ("; chosen: " + ", ".join(f"{k} {tuple(v) if isinstance(v, list) else v}"
                                               for k, v in chosen.items()) if chosen else "")


def render(results, targets):
    by_table = results.get("seeds")
    if not by_table:
        return ""
    seeds = results["meta"].get("seeds") or []
    methods = list(dict.fromkeys(m for runs in by_table.values() for m in runs))
    header = ["table", "training rows", "ML efficacy, real rows"]
    for label, _ in FIGURES:
        header += [f"{LABELS.get(m, m)}: {label}" for m in methods]
    header.append("synthvae efficacy ≥ TVAE")
    rows = []
    for name, runs in by_table.items():
        first = next((r for records in runs.values() for r in records if "metrics" in r), {})
        row = [name, fmt(first.get("train_rows"), "{:,}"), fmt(first.get("metrics", {}).get("ml_efficacy_real"))]
        for _, metric in FIGURES:
            row += [spread(runs.get(m, []), metric) for m in methods]
        ours, theirs = (values(runs.get(m, []), "ml_efficacy_synth") for m in ("synthvae", "tvae"))
        row.append(("yes" if statistics.fmean(ours) >= statistics.fmean(theirs) else "**no**")
                   if ours and theirs else "—")
        rows.append(row)
    by_seed = []
    for name, runs in by_table.items():
        for m, records in runs.items():
            for r in records:
                metrics = r.get("metrics") or {}
                by_seed.append([name, LABELS.get(m, m), "—" if r.get("seed") is None else r["seed"]]
                               + [fmt(metrics.get(metric)) if "metrics" in r else r.get("error", "—")
                                  for _, metric in FIGURES]
                               + [fmt(r.get("fit_s")), chosen(r) if m == "synthvae" else ""])
    return (
        "## Over several seeds\n\n"
        f"synthvae fitted with each of the seeds {', '.join(map(str, seeds))} (its `random_state`); "
        "figures as mean (lowest–highest) over the seeds. TVAE takes no seed: one fit. The small "
        "tables (titanic, penguins, and the 200-, 500-, 1,000- and 2,500-row subsamples of Adult's training "
        "rows, scored on Adult's real test split) swing from seed to seed, so they are judged on "
        "the mean.\n\n"
        f"{table(header, rows)}\n\n"
        "Seed by seed (the last column: how synthvae trained, and the parameters it chose for the "
        "table's size when left at None):\n\n"
        + table(["table", "method", "seed"] + [label for label, _ in FIGURES] + ["fit, wall s", "training"], by_seed)
        + f"\n\n<sub>{provenance(results)}</sub>"
    )
