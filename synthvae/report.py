"""A page to look at: how synthetic rows compare with the real ones, in pictures.

:func:`write_report` writes one self-contained HTML file: the figures of
:func:`synthvae.metrics.evaluate` with a line on what each means, one
real-versus-synthetic overlay per column, the pair-trend matrices as heatmaps and,
given holdout rows, the distance-to-closest-record histograms. Every picture is
drawn from the values :func:`synthvae.metrics.evaluate_with_details` computed for
the figures, so the page and ``synthvae evaluate`` never disagree. Images are
embedded PNGs and the style sheet is inline: the file opens offline and can be
mailed as it is.

matplotlib is imported here only, when a report is drawn, and only through its
object-oriented API on the Agg canvas: no pyplot, so no global figure list to leak
into and no change to the backend of a user's own session.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import numpy as np

from synthvae.errors import UsageError

# Colours that stay apart for colour-blind readers (Okabe-Ito blue and orange).
REAL_COLOUR = "#0072B2"
SYNTH_COLOUR = "#E69F00"
HOLDOUT_COLOUR = "#009E73"
# A categorical column shows its most frequent real levels; the rest share one bar.
MAX_LEVELS = 12
# Whole-number columns spanning at most this many values get one bin per value.
MAX_UNIT_BINS = 60
HIST_BINS = 40
# Heatmap cells carry their value as text while they are big enough to read.
MAX_ANNOTATED_COLUMNS = 12
DPI = 100

# (key, name shown, what it measures, what is good), in the order of the table.
_FIGURES = (
    ("column_shape_error", "Column shapes",
     "Gap between each column's real and synthetic distribution (1 - Kolmogorov-Smirnov "
     "or total-variation complement), averaged over columns, in %.",
     "Lower; 0 = identical distributions."),
    ("pair_trend_error", "Pair trends",
     "Gap between real and synthetic trends of every column pair (correlation of two "
     "numbers, joint frequency table otherwise), averaged over {n_pairs} pairs, in %.",
     "Lower; 0 = identical trends."),
    ("pair_trend_error_strong", "Pair trends, strong pairs",
     "The same, over the {n_strong_pairs} pairs strongly related in the real data only.",
     "Lower; 0 = identical trends."),
    ("ml_efficacy_real", "Efficacy, trained on real",
     "{metric} on the holdout of a gradient-boosting model that predicts {target}, "
     "trained on real rows.",
     "The reference for the next line."),
    ("ml_efficacy_synth", "Efficacy, trained on synthetic",
     "The same model trained on synthetic rows instead.",
     "Close to the real-trained score."),
    ("detection_auc", "Detection",
     "ROC AUC of a classifier telling holdout rows from synthetic rows.",
     "0.5 = cannot tell them apart; 1 = trivially told apart."),
    ("dcr_share", "Distance to closest record",
     "% of synthetic rows whose nearest real row is a training row rather than a "
     "holdout row.",
     "50 = no closer to training rows than to unseen ones; a verbatim copy of the "
     "training rows scores {copy_ceiling:.0f}."),
    ("membership_auc", "Membership inference",
     "ROC AUC of an attack that calls a real row a training row the nearer it lies to a "
     "synthetic row, on training rows against as many holdout rows.",
     "0.5 = the synthetic rows give no signal of who was trained on; 1 = every training row is picked out."),
    ("singling_out_share", "Singling out",
     "% of synthetic rows whose nearest training row is closer than half the distance to "
     "the second nearest: rows that point at one real person.",
     "Lower; read it against the holdout's share on the next line."),
    ("holdout_singling_out_share", "Singling out, holdout (baseline)",
     "The same share for holdout rows, real rows the generator never saw.",
     "A baseline to read the line above against."),
    ("exact_copy_rate", "Exact copies",
     "% of synthetic rows identical to some training row.",
     "Near the holdout's rate on the next line (duplicates real data has by chance)."),
    ("holdout_copy_rate", "Holdout copies (baseline)",
     "% of holdout rows identical to some training row.",
     "A baseline to read the line above against."),
)

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif;
       color: #222; background: #fff; margin: 0 auto; padding: 24px 32px; max-width: 1240px;
       line-height: 1.45; }
h1 { font-size: 1.7em; margin-bottom: 0.2em; }
h2 { font-size: 1.3em; margin-top: 1.8em; border-bottom: 2px solid #ddd; padding-bottom: 0.2em; }
p.intro { color: #444; margin-top: 0; }
p.note { color: #555; font-size: 0.92em; }
table.figures { border-collapse: collapse; width: 100%; font-size: 0.95em; }
table.figures th, table.figures td { border-bottom: 1px solid #e3e3e3; padding: 6px 10px;
       text-align: left; vertical-align: top; }
table.figures th { background: #f4f4f4; }
table.figures td.value { text-align: right; font-variant-numeric: tabular-nums;
       font-weight: 600; white-space: nowrap; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(360px, 1fr)); gap: 18px; }
.grid.wide { grid-template-columns: repeat(auto-fill, minmax(540px, 1fr)); }
figure { margin: 0; border: 1px solid #e3e3e3; border-radius: 6px; padding: 8px; background: #fff; }
figure img { width: 100%; height: auto; display: block; }
figcaption { font-size: 0.86em; color: #444; margin-top: 4px; }
code { background: #f4f4f4; padding: 0 3px; border-radius: 3px; }
"""


def write_report(real, synth, path, holdout=None, target=None, schema=None, title=None):
    """Write an HTML page comparing synthetic rows with the real rows they imitate.

    Parameters
    ----------
    real : pandas.DataFrame
        The rows the generator was trained on.
    synth : pandas.DataFrame
        Synthetic rows with the same columns.
    path : str or pathlib.Path
        Where to write the HTML file (to a temporary name first, then renamed).
    holdout : pandas.DataFrame, optional
        Real rows the generator never saw: adds the detection, privacy and (with
        ``target``) efficacy figures and the distance-to-closest-record histograms.
    target : str, optional
        Column to predict for the efficacy figures; needs ``holdout``.
    schema : synthvae.schema.Schema, optional
        Column kinds; inferred from ``real`` when omitted.
    title : str, optional
        Heading of the page; "Synthetic data report" when omitted.

    Returns
    -------
    dict
        The figures, exactly as :func:`synthvae.evaluate` returns them.

    Raises
    ------
    InputTypeError, DataError
        As :func:`synthvae.evaluate` (different columns, unknown target, ...).
    UsageError
        The folder of ``path`` does not exist (checked before any work).
    """
    from synthvae.io import atomic_path
    from synthvae.metrics import evaluate_with_details

    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise UsageError(f"cannot write {path}: the folder {folder} does not exist")
    result, details = evaluate_with_details(real, synth, holdout=holdout, target=target, schema=schema)
    page = render_report(result, details, title=title)
    with atomic_path(path) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return result


def render_report(result, details, title=None):
    """The HTML page for what :func:`synthvae.metrics.evaluate_with_details` returned.

    Returns
    -------
    str
        A complete HTML document with every image embedded.
    """
    import matplotlib

    style = {"font.size": 9, "axes.titlesize": 10, "axes.labelsize": 9, "legend.fontsize": 8,
             "axes.spines.top": False, "axes.spines.right": False}
    with matplotlib.rc_context(style):
        columns = [_column_figure(name, info, result["columns"][name]) for name, info in details["columns"].items()]
        heatmaps = _heatmap_figures(details["pair_trends"])
        dcr = _dcr_figure(details["dcr"], result) if details["dcr"] is not None else None

    title = title or "Synthetic data report"
    n_synth, n_real = result["n_rows_synth"], result["n_rows_real"]
    intro = (f"How closely {n_synth:,} synthetic rows imitate {n_real:,} real rows"
             + (f", checked against {result['n_rows_holdout']:,} real rows the generator never saw"
                if result["n_rows_holdout"] is not None else "")
             + f". {len(details['columns'])} columns compared")
    if result["skipped_columns"]:
        intro += f"; left out as constant, identifier or personal: {', '.join(result['skipped_columns'])}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
        f'<p class="intro">{_e(intro)}.</p>',
        '<h2 id="figures">Figures</h2>',
        _figures_table(result),
        '<h2 id="columns">Columns: real against synthetic</h2>',
        '<p class="note">Share of rows per value range (numbers, dates) or per level '
        f"(categories; the {MAX_LEVELS} most frequent real levels, the rest pooled). "
        "The score under each plot is that column's part of <em>Column shapes</em>.</p>",
        '<div class="grid">', *columns, "</div>",
        '<h2 id="pairs">Pair trends</h2>',
        '<p class="note">Trend of each column pair: Pearson correlation for two numeric '
        "columns (-1 to 1), Cramer's V of the joint frequency table otherwise (0 to 1; numbers "
        "cut into 10 bins over the real range). The pair error is what <em>Pair trends</em> "
        "averages: 100 x (1 - similarity), the similarity being 1 - |correlation gap| / 2 or "
        "1 - total variation distance of the joint tables.</p>",
        '<div class="grid wide">', *heatmaps, "</div>",
        '<h2 id="privacy">Distance to closest record</h2>',
    ]
    if dcr is None:
        parts.append('<p class="note">Give holdout rows (<code>--holdout</code>) to compare '
                     "distances to training rows with distances to unseen rows.</p>")
    else:
        parts += [
            '<p class="note">Distance from each synthetic row to its nearest training row and '
            "to its nearest holdout row (numbers scaled to the real range, categories one-hot). "
            "If the generator copied or memorised training rows, the training curve would sit "
            "clearly left of the holdout curve.</p>",
            '<div class="grid wide">', dcr, "</div>",
        ]
    parts.append("</body></html>\n")
    return "\n".join(parts)


# ----------------------------------------------------------------------- the table


def _figures_table(result):
    context = {
        "n_pairs": result.get("n_pairs"),
        "n_strong_pairs": result.get("n_strong_pairs"),
        "metric": {"roc_auc": "ROC AUC", "r2": "R\u00b2"}.get(result.get("ml_efficacy_metric"), ""),
        "target": result.get("target"),
        "copy_ceiling": _copy_ceiling(result),
    }
    rows = []
    for key, name, meaning, good in _FIGURES:
        if key not in result:
            continue
        value = result[key]
        shown = "n/a" if value is None else f"{value:.3f}" if abs(value) < 10 else f"{value:.2f}"
        rows.append(
            f'<tr data-key="{key}"><td>{_e(name)}<br><code>{key}</code></td>'
            f'<td class="value" data-value="{"" if value is None else repr(float(value))}">{shown}</td>'
            f"<td>{_e(meaning.format(**context))}</td><td>{_e(good.format(**context))}</td></tr>"
        )
    return ('<table class="figures"><thead><tr><th>Figure</th><th>Value</th><th>What it measures</th>'
            "<th>Good when</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>")


def _copy_ceiling(result):
    """dcr_share of a verbatim copy of the training rows (see metrics.evaluate)."""
    from synthvae.metrics import DCR_REFERENCE_ROWS

    if result.get("n_rows_holdout") is None:
        return float("nan")
    n_ref = min(result["n_rows_real"], result["n_rows_holdout"], DCR_REFERENCE_ROWS)
    return 50.0 + 50.0 * n_ref / result["n_rows_real"]


# ---------------------------------------------------------------------- the plots


def _column_figure(name, info, shape):
    fig, ax = _figure(4.4, 2.9)
    values = info["values"]
    if info["numeric"]:
        _histograms(ax, values["real"], values["synth"], datetime=info["kind"] == "datetime")
        ax.set_xlabel(name)
        ax.set_ylabel("share of rows")
        missing = [100.0 * np.isnan(values[t]).mean() for t in ("real", "synth")]
    else:
        _level_bars(ax, values["real"], values["synth"], info["levels"])
        ax.set_xlabel("share of rows")
        na = info["levels"].index("<NA>") if "<NA>" in info["levels"] else -1
        missing = [100.0 * (values[t] == na).mean() for t in ("real", "synth")]
    ax.set_title(name, loc="left", fontweight="bold")
    _legend_beside_title(ax)
    score = shape["score"]
    caption = f"{info['kind']}; {shape['metric']} {'n/a' if score is None else f'{score:.3f}'}"
    if max(missing) > 0:
        caption += f"; missing: real {missing[0]:.1f}%, synthetic {missing[1]:.1f}%"
    return _embed(fig, f"{name}: real and synthetic distributions", caption, "column-plot")


def _histograms(ax, real, synth, datetime=False):
    real = real[~np.isnan(real)]
    synth = synth[~np.isnan(synth)]
    both = np.concatenate([real, synth])
    if len(both) == 0:
        ax.text(0.5, 0.5, "no values", transform=ax.transAxes, ha="center")
        return
    # The real range, widened only to where synthetic mass is: a few wild synthetic
    # values must not squash the real distribution into one bar.
    lo = min(real.min(), np.quantile(synth, 0.005)) if len(real) and len(synth) else both.min()
    hi = max(real.max(), np.quantile(synth, 0.995)) if len(real) and len(synth) else both.max()
    if np.all(both == np.round(both)):
        # Whole numbers get bins of whole widths centred on them: equal-width bins
        # that hold one value or two in turn would draw a comb, not the distribution.
        span = np.ceil(hi) - np.floor(lo) + 1
        width = 1.0 if span <= MAX_UNIT_BINS else np.ceil(span / HIST_BINS)
        edges = np.arange(np.floor(lo) - 0.5, np.ceil(hi) + width, width)
    else:
        edges = np.linspace(lo, hi if hi > lo else lo + 1.0, HIST_BINS + 1)
    shown = edges
    if datetime:
        from matplotlib import dates

        shown = dates.date2num(edges.astype("datetime64[s]"))
    for sample, label, colour, filled in ((real, "real", REAL_COLOUR, True), (synth, "synthetic", SYNTH_COLOUR, False)):
        if len(sample) == 0:
            continue
        counts, _ = np.histogram(np.clip(sample, edges[0], edges[-1]), bins=edges)
        share = counts / len(sample)
        if filled:
            ax.stairs(share, shown, fill=True, color=colour, alpha=0.35, label=label)
        else:
            ax.stairs(share, shown, color=colour, linewidth=1.8, label=label)
    if datetime:
        from matplotlib import dates

        locator = dates.AutoDateLocator()
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(dates.ConciseDateFormatter(locator))
    ax.set_ylim(bottom=0)


def _level_bars(ax, real, synth, levels):
    n = len(levels)
    share = {t: np.bincount(v, minlength=n) / max(len(v), 1) for t, v in (("real", real), ("synth", synth))}
    # levels are real's, most frequent first, then levels only the synthetic rows have.
    top = list(range(min(n, MAX_LEVELS)))
    labels = ["(missing)" if levels[i] == "<NA>" else _short(levels[i]) for i in top]
    bars = {t: list(s[top]) for t, s in share.items()}
    if n > MAX_LEVELS:
        labels.append(f"other ({n - MAX_LEVELS} levels)")
        for t, s in share.items():
            bars[t].append(float(s[MAX_LEVELS:].sum()))
    y = np.arange(len(labels))
    ax.barh(y - 0.2, bars["real"], height=0.4, color=REAL_COLOUR, alpha=0.75, label="real")
    ax.barh(y + 0.2, bars["synth"], height=0.4, color=SYNTH_COLOUR, alpha=0.9, label="synthetic")
    ax.set_yticks(y, labels)
    ax.invert_yaxis()  # most frequent level on top
    ax.tick_params(axis="y", labelsize=7 if len(labels) > 8 else 8)


def _heatmap_figures(trends):
    real, synth = trends["real"], trends["synth"]
    diff = synth - real
    limit = float(np.nanmax(np.abs(diff.to_numpy()))) if np.isfinite(diff.to_numpy()).any() else 0.0
    limit = max(0.1, np.ceil(limit * 10) / 10)
    error = trends["error"]
    error_top = float(np.nanmax(error.to_numpy())) if np.isfinite(error.to_numpy()).any() else 1.0
    panels = (
        (real, "Real: pair trends", "RdBu_r", -1.0, 1.0, "trend",
         "Correlation or Cramer's V of each pair in the real rows."),
        (synth, "Synthetic: pair trends", "RdBu_r", -1.0, 1.0, "trend",
         "The same in the synthetic rows: should look like the real matrix."),
        (diff, "Difference: synthetic - real", "PuOr_r", -limit, limit, "trend gap",
         f"Synthetic trend minus real trend (colour scale \u00b1{limit:.1f}); white is no gap."),
        (error, "Pair error (%)", "Reds", 0.0, max(error_top, 1.0), "error, %",
         "100 x (1 - pair similarity): the per-pair values that Pair trends averages."),
    )
    return [_heatmap(*panel) for panel in panels]


def _heatmap(matrix, title, cmap, vmin, vmax, unit, caption):
    n = len(matrix)
    # About the width the page gives two heatmaps side by side, so text shows at its
    # size; wider tables get bigger figures, which the browser scales down.
    side = max(5.0, 0.3 * n + 1.4)
    fig, ax = _figure(side + 0.9, side)
    values = np.ma.masked_invalid(matrix.to_numpy())
    import matplotlib

    colours = matplotlib.colormaps[cmap].with_extremes(bad="#eeeeee")  # a copy: the shared map stays
    image = ax.imshow(values, cmap=colours, vmin=vmin, vmax=vmax, aspect="equal", interpolation="nearest")
    labels = [_short(c, 18) for c in matrix.columns]
    ax.set_xticks(range(n), labels, rotation=90)
    ax.set_yticks(range(n), labels)
    ax.tick_params(length=0, labelsize=8)
    for spine in ax.spines.values():
        spine.set_visible(False)
    if n <= MAX_ANNOTATED_COLUMNS:
        hidden = np.ma.getmaskarray(values)
        for i in range(n):
            for j in range(n):
                if not hidden[i, j]:
                    v = float(values[i, j])
                    red, green, blue, _ = colours(image.norm(v))
                    dark = 0.299 * red + 0.587 * green + 0.114 * blue < 0.5
                    ax.text(j, i, f"{v:.2f}" if vmax <= 1.0 else f"{v:.0f}", ha="center", va="center",
                            fontsize=7, color="white" if dark else "#222")
    ax.set_title(title, loc="left", fontweight="bold")
    bar = fig.colorbar(image, ax=ax, fraction=0.046, pad=0.03)
    bar.set_label(unit)
    return _embed(fig, title, caption, "heatmap")


def _dcr_figure(dcr, result):
    d_train, d_hold = dcr["train"], dcr["holdout"]
    fig, ax = _figure(7.0, 3.4)
    both = np.concatenate([d_train, d_hold])
    hi = float(np.quantile(both, 0.995)) if len(both) else 1.0
    edges = np.linspace(0.0, hi if hi > 0 else 1.0, HIST_BINS + 1)
    for d, label, colour, filled in ((d_hold, "to nearest holdout row", HOLDOUT_COLOUR, True),
                                     (d_train, "to nearest training row", REAL_COLOUR, False)):
        counts, _ = np.histogram(np.clip(d, edges[0], edges[-1]), bins=edges)
        share = counts / max(len(d), 1)
        if filled:
            ax.stairs(share, edges, fill=True, color=colour, alpha=0.35, label=label)
        else:
            ax.stairs(share, edges, color=colour, linewidth=1.8, label=label)
    ax.set_xlabel("distance from a synthetic row to its nearest real row")
    ax.set_ylabel("share of synthetic rows")
    ax.set_title("Distance to closest record", loc="left", fontweight="bold")
    ax.set_ylim(bottom=0)
    _legend_beside_title(ax)
    caption = (f"{len(d_train):,} synthetic rows; {result['dcr_share']:.1f}% are nearer a training row "
               f"than a holdout row (ties count half; 50 is ideal). Exact copies of training rows: "
               f"{result['exact_copy_rate']:.2f}% (holdout's own rate: {result['holdout_copy_rate']:.2f}%).")
    return _embed(fig, "Distance to closest record", caption, "dcr-plot")


# --------------------------------------------------------------------- plumbing


def _figure(width, height):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def _legend_beside_title(ax):
    # Above the plot, right of the title: inside, it would cover bars or a tail.
    if not ax.get_legend_handles_labels()[0]:
        return  # nothing drawn (a column without values)
    ax.legend(frameon=False, loc="lower right", bbox_to_anchor=(1.0, 1.0), ncols=2,
              borderaxespad=0.1, handlelength=1.4, columnspacing=1.0)


def _embed(fig, alt, caption, css_class):
    """The figure as a <figure> with an embedded PNG; the figure is cleared after."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    fig.clear()
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return (f'<figure><img class="{css_class}" alt="{_e(alt)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{_e(caption)}</figcaption></figure>")


def _short(text, width=22):
    text = str(text)
    return text if len(text) <= width else text[: width - 1] + "\u2026"


def _e(text):
    return html.escape(str(text), quote=True)
