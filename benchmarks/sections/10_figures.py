"""Today's figures: the targets on Adult, then synthvae beside TVAE on every table."""

from sections import LABELS, fmt, lookup, provenance, ratio, table

# (section, label, key in a run record or its metrics, whether TVAE ÷ synthvae is shown)
ROWS = (
    ("quality", "column-shape error, % (0 = identical)", "metrics.column_shape_error", False),
    ("quality", "pair-trend error, all pairs, %", "metrics.pair_trend_error", False),
    ("quality", "pair-trend error, strong pairs, %", "metrics.pair_trend_error_strong", False),
    ("quality", "ML efficacy, trained on synthetic (real: next row)", "metrics.ml_efficacy_synth", False),
    ("quality", "ML efficacy, trained on real", "metrics.ml_efficacy_real", False),
    ("privacy", "detection AUC (0.5 = indistinguishable)", "metrics.detection_auc", False),
    ("privacy", "DCR share, % nearer train than holdout (50 ideal)", "metrics.dcr_share", False),
    ("privacy", "exact copies of training rows, %", "metrics.exact_copy_rate", False),
    ("privacy", "holdout rows equal to a training row, % (baseline)", "metrics.holdout_copy_rate", False),
    ("speed", "fit, wall s (library imports included)", "fit_s", True),
    ("speed", "fit, CPU s (all threads of the process)", "fit_cpu_s", True),
    ("speed", "sample as many rows as trained on, s", "sample_s", True),
    ("memory", "peak RSS through fit and sample, MiB", "peak_rss_mib", True),
)


def bar(target, results):
    lo, hi = (lookup(results, target.get(k)) for k in ("min", "max"))
    unit, g = target.get("unit", ""), "{:,g}"
    if lo is not None and hi is not None:
        return f"{fmt((lo + hi) / 2, g)} ± {fmt((hi - lo) / 2, g)}{unit}"
    if isinstance(target.get("max"), str):
        return f"≤ {fmt(hi)}{unit} ({target.get('max_label', 'see value')})"
    return f"≤ {fmt(hi, g)}{unit}" if hi is not None else f"≥ {fmt(lo, g)}{unit}"


def met(value, target, results):
    """Whether the value, or every value of a list (one per seed), is within the bar."""
    if value is None:
        return "not measured"
    lo, hi = (lookup(results, target.get(k)) for k in ("min", "max"))
    ok = all((lo is None or v >= lo) and (hi is None or v <= hi) for v in (value if isinstance(value, list) else [value]))
    return "yes" if ok else "**no**"


def shown(value, target):
    if isinstance(value, list):
        return " / ".join(shown(v, target) for v in value)
    return f"{value:.1f}×" if target.get("unit") == "×" and value is not None else fmt(value)


def render_targets(results, targets):
    rows = []
    for t in targets:
        path = t["value"]
        if path.startswith("seeds.") and lookup(results, path) is None:  # a run without --seeds
            path = path.replace("seeds.", "runs.", 1).replace(".*.", ".")
        value = lookup(results, path)
        tvae = path.replace(".synthvae.", ".tvae.")
        anchor = lookup(results, tvae) if tvae != path and " / " not in tvae else None
        rows.append([t["what"], shown(value, t), shown(anchor, t), bar(t, results), met(value, t, results)])
    return table(["target", "synthvae", "TVAE", "bar", "met"], rows) + f"\n\n<sub>{provenance(results, 'adult')}</sub>"


def render_table(name, runs, results):
    methods = [m for m in ("synthvae", "tvae") if m in runs] + [m for m in runs if m not in ("synthvae", "tvae")]
    first = next((r for r in runs.values() if "train_rows" in r), {})
    target = first.get("metrics", {}).get("target", "")
    metric = first.get("metrics", {}).get("ml_efficacy_metric", "")
    head = (f"### {name}\n\n{fmt(first.get('train_rows'), '{:,}')} training rows, "
            f"{fmt(first.get('holdout_rows'), '{:,}')} holdout rows, {first.get('columns', '—')} columns; "
            f"ML efficacy: {metric} predicting `{target}` on the holdout.\n")
    two = methods[:2] == ["synthvae", "tvae"]
    rows = [["**no figures**"] + [runs[m]["error"] if m == f else "" for m in methods] + ([""] if two else [])
            for f in methods if "error" in runs[f]]
    for group, label, key, show_ratio in ROWS:
        values = [lookup(runs[m], key) for m in methods]
        if all(v is None for v in values):
            continue
        cells = [f"{group}: {label}"] + [fmt(v) for v in values]
        rows.append(cells + ([ratio(values[1], values[0]) if show_ratio else ""] if two else []))
    header = ["measure"] + [LABELS.get(m, m) for m in methods] + (["TVAE ÷ synthvae"] if two else [])
    return f"{head}\n{table(header, rows)}\n\n<sub>{provenance(results, name)}</sub>"


def render(results, targets):
    meta = results["meta"]
    parts = [
        "# Benchmarks",
        "synthvae beside SDV's TVAE on five real tables. Rendered by `python benchmarks/run.py` from "
        "the results in `benchmarks/results/latest.json` (`--render-only` renders them again); "
        "benchmarks/README.md says what is measured and how. Two shared CPU cores: times carry the "
        "load of other work (given below), so compare within a run.",
        "\n".join(filter(None, [
            f"- Run: `{meta['command']}`, {meta['date']}, {meta['minutes']:.0f} min; load average (1 min) "
            f"{meta['load_start']:.1f} at the start, {meta['load_end']:.1f} at the end"
            + (" — **quick mode: capped rows and epochs; the figures only check the harness**" if meta["quick"] else ""),
            "- **The cores were shared: load above 2 inflates every time (several-fold at 6 to 10); "
            "quality, privacy and memory are not affected.**" if max(meta["load_start"], meta["load_end"]) > 3 else "",
            f"- Machine: {meta['machine']}; checkout {meta['git']}",
        ] + [f"- {LABELS.get(m, m)}: " + ", ".join(f"{k} {v}" for k, v in e.items() if v)
             for m, e in results["env"].items()])),
        "## Targets",
        render_targets(results, targets),
        "## synthvae beside TVAE",
        "Ratio column: TVAE ÷ synthvae; above 1, synthvae is faster or smaller. Quality and privacy "
        "from `synthvae.evaluate(real=train, synth=sample, holdout=holdout, target=target)` on a "
        "sample as large as the training rows (definitions in `synthvae/metrics/`).",
    ]
    parts += [render_table(name, runs, results) for name, runs in results["runs"].items()]
    return "\n\n".join(parts)
