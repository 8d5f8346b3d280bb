"""How good are synthetic rows? Fidelity, usefulness and privacy in one call.

:func:`evaluate` compares a synthetic table with the real table it was learned from
(and, optionally, with real rows the model never saw) and returns a flat dict of
figures; :func:`format_report` prints that dict as a short aligned table, and
:func:`evaluate_with_details` also returns the per-column, per-pair and per-row
values behind the figures (what ``synthvae report`` draws).

The figures come from :mod:`~synthvae.metrics.fidelity` (column shapes and pair
trends), :mod:`~synthvae.metrics.privacy` (copies and distances to the closest
record), :mod:`~synthvae.metrics.utility` (models trained on the rows), all on
the tables as :mod:`synthvae.rowspace` encodes them, and
:mod:`~synthvae.metrics.rules` (rules of the real rows that synthetic rows break). Everything here is plain numpy,
pandas and scikit-learn, and every random choice is seeded, so the same inputs
always give the same figures.
"""

from __future__ import annotations

import math

import numpy as np

from synthvae.metrics.fidelity import (
    column_shapes,
    cramers_v,
    discretize,
    error_percent,
    ks_statistic,
    pair_matrices,
    pair_trends,
    tv_distance,
)
from synthvae.metrics.inputs import check_inputs
from synthvae.metrics.privacy import (
    DCR_REFERENCE_ROWS,
    copy_rate,
    dcr_share,
    dcr_sq_distances,
    membership_auc,
    singling_out_share,
)
from synthvae.metrics.rules import rule_violations
from synthvae.metrics.utility import detection_auc, ml_efficacy
from synthvae.rowspace import NA_LEVEL, SKIPPED_KINDS, encode_tables

__all__ = [
    "evaluate",
    "evaluate_with_details",
    "format_report",
    "ks_statistic",
    "tv_distance",
    "cramers_v",
    "DCR_REFERENCE_ROWS",
    "NA_LEVEL",
    "SKIPPED_KINDS",
]

# (key, meaning) in the order format_report prints them.
_REPORT_LINES = (
    ("column_shape_error", "per-column distribution gap, % (0 = identical)"),
    ("pair_trend_error", "gap in pairwise trends, all pairs, % (0 = identical)"),
    ("pair_trend_error_strong", "same, pairs strongly related in real data only"),
    ("ml_efficacy_real", "model trained on real rows, scored on holdout"),
    ("ml_efficacy_synth", "model trained on synthetic rows, scored on holdout"),
    ("detection_auc", "classifier telling holdout from synthetic (0.5 = can't)"),
    ("dcr_share", "% of synth rows nearer train than holdout (50 = ideal)"),
    ("membership_auc", "distance attack telling train from holdout rows (0.5 = no signal)"),
    ("singling_out_share", "% of synth rows whose nearest real row is < 1/2 as far as the 2nd"),
    ("holdout_singling_out_share", "same for holdout rows (baseline)"),
    ("rules_broken", "% of synth rows breaking a rule of the real rows"),
    ("exact_copy_rate", "% of synthetic rows that copy a training row"),
    ("holdout_copy_rate", "% of holdout rows equal to a training row (baseline)"),
)


def evaluate(real, synth, holdout=None, target=None, schema=None):
    """Score synthetic rows against the real rows they imitate.

    Parameters
    ----------
    real : pandas.DataFrame
        The rows the generator was trained on.
    synth : pandas.DataFrame
        Synthetic rows, with the same columns as ``real`` (in any order).
    holdout : pandas.DataFrame, optional
        Real rows the generator never saw, with the same columns. Needed for the
        detection, privacy-distance and machine-learning figures.
    target : str, optional
        A column to predict from the others for the machine-learning efficacy
        figures; needs ``holdout``.
    schema : synthvae.schema.Schema, optional
        Column kinds; inferred from ``real`` when omitted. Constant and identifier
        columns are left out of every figure.

    Returns
    -------
    dict
        JSON-serialisable. Always present:

        ``column_shape_error``
            100 x (1 - mean column similarity); similarity is 1 - KS statistic for
            numeric and datetime columns, 1 - total variation distance for
            categorical ones (missing counts as a level of its own).
        ``pair_trend_error``, ``pair_trend_error_strong``
            100 x (1 - mean pair similarity) over all pairs, and over the pairs
            strongly related in the real data (|Pearson| > 0.5 for two numeric
            columns, Cramer's V > 0.3 otherwise); ``None`` when no pair qualifies.
            Similarity is 1 - |rho_real - rho_synth| / 2 for two numeric columns and
            1 - total variation distance of the joint frequency table otherwise, a
            numeric column being cut into 10 equal-width bins over the real range.
        ``n_pairs``, ``n_strong_pairs``
            How many pairs each pair figure averages.
        ``exact_copy_rate``
            % of synthetic rows identical to some training row in every compared
            column (missing equal to missing).
        ``singling_out_share``
            % of synthetic rows that single out a real row: their nearest training
            row is closer than half the distance to the second nearest (up to
            10,000 synthetic rows against up to 20,000 training rows); ``None``
            with fewer than two training rows.
        ``rules_broken``, ``n_rules``
            % of synthetic rows that break at least one of the ``n_rules`` rules
            :func:`synthvae.rules.discover` finds on the real rows (orders such as
            pickup <= dropoff, sums such as total >= fare + tip + tolls,
            dependencies such as zone -> borough, combinations the real rows
            exclude); ``None`` when the real rows obey no rule. Each rule and its
            count are in :func:`evaluate_with_details`' details.
        ``n_rows_real``, ``n_rows_synth``, ``n_rows_holdout``, ``skipped_columns``
            What was compared.
        ``columns``
            ``{name: {"metric": "KSComplement" | "TVComplement", "score": float}}``.
        ``pairs``
            A list of ``{"columns": [a, b], "metric", "score", "real_correlation",
            "synthetic_correlation", "real_association", "strong"}``.

        With ``holdout``:

        ``detection_auc``
            Out-of-fold ROC AUC of a classifier separating holdout rows from as
            many synthetic rows (0.5: indistinguishable, 1: trivially told apart).
        ``dcr_share``
            % of synthetic rows whose nearest real row is in a training sample
            rather than in an equally large holdout sample (ties count half);
            50 means the generator is as close to unseen rows as to seen ones.
            Up to 10,000 synthetic rows are matched against samples of
            min(len(real), len(holdout), 20,000) rows; since the training sample
            may hold only part of ``real``, even a verbatim copy of ``real``
            scores 50 + 50 x (sample size / len(real)), e.g. 75 on Adult.
        ``membership_auc``
            ROC AUC of a membership-inference attack: each of up to 5,000 training
            and as many holdout rows is scored by its distance to the nearest
            synthetic row (nearer: more likely trained on). 0.5 means the synthetic
            rows give no signal of who was in the training data.
        ``holdout_singling_out_share``
            ``singling_out_share`` of holdout rows: how often real rows the generator
            never saw single out a training row, the baseline to read it against.
        ``holdout_copy_rate``
            % of holdout rows identical to some training row: the baseline of
            duplicates that real data has by chance, to read ``exact_copy_rate``
            against.

        With ``holdout`` and ``target``:

        ``ml_efficacy_metric``
            ``"roc_auc"`` (categorical target; one-vs-rest macro average when it
            has more than two levels) or ``"r2"``.
        ``ml_efficacy_real``, ``ml_efficacy_synth``
            That score on the holdout for a gradient-boosting model trained on the
            real rows and on the synthetic rows.
        ``target``
            The target column.

    Raises
    ------
    InputTypeError
        A table is not a DataFrame.
    DataError
        The tables' columns differ, a table is empty, the schema does not fit,
        ``target`` is not a usable column, or ``target`` is given without
        ``holdout``.
    """
    return evaluate_with_details(real, synth, holdout, target, schema)[0]


def evaluate_with_details(real, synth, holdout=None, target=None, schema=None):
    """:func:`evaluate`, plus the per-column, per-pair and per-row values behind it.

    One pass computes both, so a report that shows the figures and the pictures
    behind them never computes a figure twice.

    Parameters
    ----------
    real, synth, holdout, target, schema
        As for :func:`evaluate`.

    Returns
    -------
    result : dict
        Exactly what :func:`evaluate` returns for the same arguments.
    details : dict
        ``columns``
            ``{name: {"kind", "numeric", "values", "levels"}}`` for every compared
            column: ``values`` maps "real", "synth" (and "holdout") to the values
            the figures compared: floats with NaN for numbers and datetimes
            (seconds since 1970), integer codes into ``levels`` (real's levels
            first, most frequent first; missing is the level ``"<NA>"``) for
            categorical and boolean columns, whose ``levels`` is a list.
        ``pair_trends``
            ``{"real", "synth", "error"}``: square DataFrames over the compared
            columns (NaN on the diagonal and where undefined). ``real`` and
            ``synth`` hold each pair's trend: Pearson correlation for two numeric
            columns, Cramer's V of the joint table otherwise (numbers binned as
            for ``pair_trend_error``); ``error`` holds 100 x (1 - the pair's
            score), the per-pair values ``pair_trend_error`` averages.
        ``dcr``
            With ``holdout``: ``{"train", "holdout"}``, the Euclidean distance from
            each synthetic row in the ``dcr_share`` sample to its nearest row of
            the training and of the holdout sample; ``None`` without ``holdout``.
        ``rules``
            The rules of the real rows, each a dict: ``rule`` (one line),
            ``definition`` (its JSON form in a schema file), ``broken`` and
            ``broken_share`` (synthetic rows that break it: a count and a % of the
            synthetic rows) and ``real_broken`` (real rows that break it: 0 but for
            the few exceptions of a near-rule).

    Raises
    ------
    InputTypeError, DataError
        As :func:`evaluate`.
    """
    columns, kinds, skipped = check_inputs(real, synth, holdout, target, schema)
    frames = {"real": real, "synth": synth}
    if holdout is not None:
        frames["holdout"] = holdout
    encoded = encode_tables(frames, columns, kinds)

    result = {
        "n_rows_real": len(real),
        "n_rows_synth": len(synth),
        "n_rows_holdout": None if holdout is None else len(holdout),
        "skipped_columns": skipped,
    }
    shapes = column_shapes(encoded, columns)
    result["column_shape_error"] = error_percent(s["score"] for s in shapes.values())
    discrete = discretize(encoded, columns)
    pairs = pair_trends(encoded, columns, discrete)
    result["pair_trend_error"] = error_percent(p["score"] for p in pairs)
    result["pair_trend_error_strong"] = error_percent(p["score"] for p in pairs if p["strong"])
    result["n_pairs"] = sum(p["score"] is not None for p in pairs)
    result["n_strong_pairs"] = sum(p["score"] is not None and p["strong"] for p in pairs)
    result["exact_copy_rate"] = copy_rate(encoded, columns, "synth")
    result["singling_out_share"] = singling_out_share(encoded, columns)
    result["rules_broken"], rules = rule_violations(real, synth, kinds)
    result["n_rules"] = len(rules)

    dcr = None
    if holdout is not None:
        result["holdout_copy_rate"] = copy_rate(encoded, columns, "holdout")
        result["detection_auc"] = detection_auc(encoded, columns)
        d_train, d_hold = dcr_sq_distances(encoded, columns)
        result["dcr_share"] = dcr_share(d_train, d_hold)
        result["membership_auc"] = membership_auc(encoded, columns)
        result["holdout_singling_out_share"] = singling_out_share(encoded, columns, "holdout")
        dcr = {"train": np.sqrt(d_train), "holdout": np.sqrt(d_hold)}
    if target is not None:
        result.update(ml_efficacy(encoded, columns, target))
    result["columns"] = shapes
    result["pairs"] = pairs

    details = {
        "columns": {
            str(c): {
                "kind": kinds[c].kind,
                "numeric": encoded[c].numeric,
                "values": encoded[c].values,
                "levels": None if encoded[c].numeric else list(encoded[c].levels),
            }
            for c in columns
        },
        "pair_trends": pair_matrices(columns, pairs, discrete),
        "dcr": dcr,
        "rules": rules,
    }
    return result, details


def format_report(result):
    """Render the figures of :func:`evaluate` as an aligned text table.

    Parameters
    ----------
    result : dict
        What :func:`evaluate` returned.

    Returns
    -------
    str
        One line per figure present in ``result`` (figure, value, meaning), under a
        header line, without a trailing newline.
    """
    rows = []
    for key, meaning in _REPORT_LINES:
        if key not in result:
            continue
        if key.startswith("ml_efficacy_"):
            meaning = f"{result.get('ml_efficacy_metric', '')} of {meaning}".lstrip()
        if key == "pair_trend_error_strong" and result.get("n_strong_pairs") is not None:
            meaning = f"{meaning} ({result['n_strong_pairs']} of {result.get('n_pairs')})"
        if key == "rules_broken" and result.get("n_rules") is not None:
            meaning = f"{meaning} ({result['n_rules']} rules)"
        rows.append((key, _format_value(result[key]), meaning))
    name_width = max([len("metric")] + [len(r[0]) for r in rows])
    value_width = max([len("value")] + [len(r[1]) for r in rows])
    lines = [f"{'metric':<{name_width}}  {'value':>{value_width}}  meaning"]
    lines += [f"{k:<{name_width}}  {v:>{value_width}}  {m}" for k, v, m in rows]
    return "\n".join(lines)


def _format_value(value):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.3f}" if abs(value) < 10 else f"{value:.2f}"
