"""Tests of synthvae.metrics on constructed tables whose answers are known."""

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from synthvae.errors import DataError, InputTypeError
from synthvae.io import read_table
from synthvae.metrics import cramers_v, evaluate, evaluate_with_details, format_report, ks_statistic, tv_distance
from synthvae.schema import ColumnSpec, Schema, infer_schema

ADULT = Path(__file__).resolve().parent.parent / "examples" / "adult-sample.csv.gz"


def correlated_frame(n, seed):
    """Numeric and categorical columns that are all strongly related to ``x``."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    return pd.DataFrame(
        {
            "x": x,
            "y": 2.0 * x + rng.normal(scale=0.3, size=n),
            "z": -x + rng.normal(scale=0.3, size=n),
            "band": np.where(x > 0.5, "high", np.where(x < -0.5, "low", "mid")),
            "flag": np.where(x + rng.normal(scale=0.2, size=n) > 0, "yes", "no"),
        }
    )


def shuffle_columns(frame, seed):
    """Permute every column on its own: same marginals, no relations left."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({c: frame[c].to_numpy()[rng.permutation(len(frame))] for c in frame})


def classification_frame(n, seed, n_classes=2):
    rng = np.random.default_rng(seed)
    signal = rng.uniform(size=n)
    label = np.minimum((signal * n_classes).astype(int), n_classes - 1)
    return pd.DataFrame(
        {
            "signal": signal,
            "noise": rng.normal(size=n),
            "colour": rng.choice(["red", "green", "blue"], size=n),
            "label": np.array([f"class{k}" for k in range(n_classes)])[label],
        }
    )


# ---------------------------------------------------------------- known answers


def test_ks_statistic_hand_computed():
    # ECDF gaps at 1..6: .25 .5 .5 .5 .25 0 -> D = 0.5; NaN is ignored.
    assert ks_statistic([1, 2, 3, 4, np.nan], [3, 4, 5, 6]) == pytest.approx(0.5)
    assert ks_statistic([1, 2, 3], [1, 2, 3]) == 0.0
    assert ks_statistic([0, 0], [1, 1]) == 1.0


def test_ks_statistic_matches_scipy():
    from scipy.stats import ks_2samp

    rng = np.random.default_rng(0)
    a = rng.normal(size=500).round(1)  # rounding makes ties, the tricky case
    b = rng.normal(0.2, 1.1, size=300).round(1)
    assert ks_statistic(a, b) == pytest.approx(ks_2samp(a, b).statistic, abs=1e-12)


def test_tv_distance_and_cramers_v_hand_computed():
    assert tv_distance([2, 1, 1], [1, 3, 0]) == pytest.approx(0.5)
    assert cramers_v([[10, 0], [0, 10]]) == pytest.approx(1.0)
    assert cramers_v([[5, 5], [5, 5]]) == pytest.approx(0.0)
    assert cramers_v([[5, 5], [0, 0]]) is None  # one non-empty row: undefined


def test_cramers_v_matches_scipy():
    from scipy.stats.contingency import association

    table = np.array([[20, 5, 3], [4, 18, 9], [1, 2, 30]])
    assert cramers_v(table) == pytest.approx(association(table, method="cramer"))


def test_small_case_by_hand():
    schema = Schema(
        [
            ColumnSpec("x", "continuous", dtype="float64"),
            ColumnSpec("c", "categorical"),
            ColumnSpec("u", "continuous", dtype="float64"),
        ]
    )
    real = pd.DataFrame({"x": [1.0, 2, 3, 4], "c": ["a", "a", "b", "c"], "u": [1.0, 2, 3, 4]})
    synth = pd.DataFrame({"x": [3.0, 4, 5, 6], "c": ["a", "b", "b", "b"], "u": [4.0, 3, 2, 1]})
    res = evaluate(real, synth, schema=schema)
    assert res["columns"]["x"] == {"metric": "KSComplement", "score": pytest.approx(0.5)}
    assert res["columns"]["c"] == {"metric": "TVComplement", "score": pytest.approx(0.5)}
    assert res["columns"]["u"]["score"] == pytest.approx(1.0)
    assert res["column_shape_error"] == pytest.approx(100 * (1 - 2 / 3))
    xu = next(p for p in res["pairs"] if p["columns"] == ["x", "u"])
    # rho_real = 1, rho_synth = -1: the pair is as wrong as it can be.
    assert xu["metric"] == "CorrelationSimilarity"
    assert xu["score"] == pytest.approx(0.0)
    assert xu["real_correlation"] == pytest.approx(1.0)
    assert xu["synthetic_correlation"] == pytest.approx(-1.0)
    assert res["n_pairs"] == 3


def test_missing_values_are_their_own_level_and_dropped_for_ks():
    schema = Schema([ColumnSpec("n", "continuous"), ColumnSpec("c", "categorical")])
    real = pd.DataFrame({"n": [1.0, 2.0, np.nan, np.nan], "c": ["a", None, "a", None]})
    synth = pd.DataFrame({"n": [1.0, 2.0, 1.0, 2.0], "c": ["a", "a", "a", "a"]})
    res = evaluate(real, synth, schema=schema)
    assert res["columns"]["n"]["score"] == pytest.approx(1.0)
    assert res["columns"]["c"]["score"] == pytest.approx(0.5)


def test_whole_floats_match_integer_categories():
    schema = Schema([ColumnSpec("k", "categorical"), ColumnSpec("v", "continuous")])
    real = pd.DataFrame({"k": [1, 2, 3, 1], "v": [0.1, 0.2, 0.3, 0.4]})
    synth = pd.DataFrame({"k": [1.0, 2.0, 3.0, 1.0], "v": [0.1, 0.2, 0.3, 0.4]})
    assert evaluate(real, synth, schema=schema)["column_shape_error"] == pytest.approx(0.0)


def test_datetime_columns_compare_as_times():
    days = pd.date_range("2020-01-01", periods=400, freq="D")
    real = pd.DataFrame({"when": days.strftime("%Y-%m-%d"), "n": np.arange(400.0)})
    assert infer_schema(real)["when"].kind == "datetime"
    same = evaluate(real, real.copy())
    assert same["columns"]["when"] == {"metric": "KSComplement", "score": pytest.approx(1.0)}
    later = real.assign(when=(days + pd.Timedelta(days=200)).strftime("%Y-%m-%d"))
    assert evaluate(real, later)["columns"]["when"]["score"] == pytest.approx(0.5)
    as_dtype = pd.DataFrame({"when": days, "n": np.arange(400.0)})
    assert evaluate(as_dtype, as_dtype.copy())["column_shape_error"] == pytest.approx(0.0)


def test_identifier_and_constant_columns_are_skipped():
    real = correlated_frame(300, 0).assign(row_id=np.arange(300), const="k")
    synth = real.assign(row_id=np.arange(1000, 1300))
    res = evaluate(real, synth)
    assert sorted(res["skipped_columns"]) == ["const", "row_id"]
    assert set(res["columns"]) == {"x", "y", "z", "band", "flag"}
    assert res["exact_copy_rate"] == pytest.approx(100.0)


# ------------------------------------------------------------------ fidelity


def test_identical_tables_score_zero_error():
    real = correlated_frame(2000, 0)
    res = evaluate(real, real.copy())
    assert res["column_shape_error"] == pytest.approx(0.0, abs=1e-9)
    assert res["pair_trend_error"] == pytest.approx(0.0, abs=1e-9)
    assert res["pair_trend_error_strong"] == pytest.approx(0.0, abs=1e-9)
    assert res["n_pairs"] == 10
    assert res["n_strong_pairs"] >= 6


def test_shuffled_columns_keep_shapes_but_lose_trends():
    real = correlated_frame(3000, 0)
    res = evaluate(real, shuffle_columns(real, 1))
    assert res["column_shape_error"] == pytest.approx(0.0, abs=1e-9)
    assert res["pair_trend_error_strong"] > 25
    assert res["pair_trend_error"] > 20
    strong = [p for p in res["pairs"] if p["strong"]]
    assert {tuple(p["columns"]) for p in strong} >= {("x", "y"), ("x", "z"), ("y", "z")}


def test_matches_sdmetrics_quality_report():
    from sdmetrics.reports import QualityReport

    real = read_table(ADULT).iloc[:2000].reset_index(drop=True)
    schema = infer_schema(real)
    synth = _perturb(real, schema, seed=0)
    sdtype = {"continuous": "numerical", "integer": "numerical", "datetime": "datetime",
              "categorical": "categorical", "boolean": "boolean"}
    used = [s for s in schema.columns if s.kind in sdtype]
    metadata = {"tables": {"adult": {"columns": {s.name: {"sdtype": sdtype[s.kind]} for s in used}}}}
    names = [s.name for s in used]

    report = QualityReport()
    report.real_correlation_threshold = 0  # score every pair, as pair_trend_error does
    report.real_association_threshold = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report.generate({"adult": real[names]}, {"adult": synth[names]}, metadata, verbose=False)
    theirs = report.get_properties().set_index("Property")["Score"]

    res = evaluate(real, synth, schema=schema)
    assert res["column_shape_error"] == pytest.approx(100 * (1 - theirs["Column Shapes"]), abs=0.5)
    assert res["pair_trend_error"] == pytest.approx(100 * (1 - theirs["Column Pair Trends"]), abs=0.5)
    assert res["pair_trend_error"] > 1  # the comparison is not between two zeros

    # With its default thresholds (|rho| > 0.5, Cramer's V > 0.3) the report scores
    # only the strongly related pairs: the same ones pair_trend_error_strong keeps.
    report = QualityReport()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report.generate({"adult": real[names]}, {"adult": synth[names]}, metadata, verbose=False)
    strong = report.get_details("Column Pair Trends")
    strong = strong[strong["Meets Threshold?"].astype(bool)]
    assert {(a, b) for a, b in zip(strong["Column 1"], strong["Column 2"])} == {
        tuple(p["columns"]) for p in res["pairs"] if p["strong"]
    }
    theirs = report.get_properties().set_index("Property")["Score"]
    assert res["pair_trend_error_strong"] == pytest.approx(
        100 * (1 - theirs["Column Pair Trends"]), abs=0.5
    )


def _perturb(real, schema, seed):
    """Real rows with 30% of cells changed: numbers jittered, categories redrawn.

    The rows holding each numeric column's minimum and maximum are left alone.
    SDMetrics' report bins each table over its own range where we bin both over the
    real range; with equal ranges the two agree, so the test checks the rest.
    """
    rng = np.random.default_rng(seed)
    synth = real.copy()
    for spec in schema.columns:
        values = real[spec.name]
        change = rng.random(len(real)) < 0.3
        if spec.kind in ("integer", "continuous"):
            change[[values.idxmin(), values.idxmax()]] = False
            jitter = values + rng.normal(0, 0.3 * values.std(), len(values))
            new = jitter.clip(values.min(), values.max()).round()
        else:
            new = values.to_numpy()[rng.integers(0, len(values), len(values))]
        synth[spec.name] = np.where(change, new, values.to_numpy())
    return synth


# ----------------------------------------------------------------- usefulness


def test_ml_efficacy_separable_binary():
    real = classification_frame(3000, 0)
    holdout = classification_frame(1500, 1)
    synth = real.assign(label=np.random.default_rng(2).permutation(real["label"].to_numpy()))
    res = evaluate(real, synth, holdout=holdout, target="label")
    assert res["ml_efficacy_metric"] == "roc_auc"
    assert res["ml_efficacy_real"] > 0.97
    assert abs(res["ml_efficacy_synth"] - 0.5) < 0.1


def test_ml_efficacy_multiclass_and_regression():
    real = classification_frame(3000, 0, n_classes=3)
    holdout = classification_frame(1500, 1, n_classes=3)
    res = evaluate(real, real.copy(), holdout=holdout, target="label")
    assert res["ml_efficacy_real"] > 0.97
    assert res["ml_efficacy_synth"] == pytest.approx(res["ml_efficacy_real"])

    rng = np.random.default_rng(3)
    real = real.assign(amount=3 * real["signal"] + rng.normal(scale=0.1, size=len(real)))
    holdout = holdout.assign(amount=3 * holdout["signal"] + rng.normal(scale=0.1, size=len(holdout)))
    res = evaluate(real, real.copy(), holdout=holdout, target="amount")
    assert res["ml_efficacy_metric"] == "r2"
    assert res["ml_efficacy_real"] > 0.9


def test_detection_auc_same_and_different_distributions():
    real = correlated_frame(2000, 0)
    holdout = correlated_frame(2000, 1)
    same = evaluate(real, correlated_frame(2000, 2), holdout=holdout)
    assert abs(same["detection_auc"] - 0.5) < 0.06
    different = evaluate(real, shuffle_columns(correlated_frame(2000, 2), 3), holdout=holdout)
    assert different["detection_auc"] > 0.9


# -------------------------------------------------------------------- privacy


def test_copied_training_rows_are_flagged():
    real = correlated_frame(2000, 0)
    holdout = correlated_frame(2000, 1)
    res = evaluate(real, real.copy(), holdout=holdout)
    assert res["exact_copy_rate"] == pytest.approx(100.0)
    assert res["dcr_share"] > 95
    assert res["holdout_copy_rate"] == pytest.approx(0.0)


def test_fresh_rows_sit_as_close_to_holdout_as_to_train():
    real = correlated_frame(2000, 0)
    holdout = correlated_frame(2000, 1)
    res = evaluate(real, correlated_frame(2000, 2), holdout=holdout)
    assert res["exact_copy_rate"] == pytest.approx(0.0)
    assert 40 < res["dcr_share"] < 60


def test_copy_rates_treat_missing_as_equal():
    real = pd.DataFrame({"n": [1.0, np.nan, 3.0, 4.0] * 25, "c": ["a", None, "b", "c"] * 25})
    holdout = real.iloc[:4].assign(n=[9.0, np.nan, 3.0, 7.0])
    res = evaluate(real, real.copy(), holdout=holdout)
    assert res["exact_copy_rate"] == pytest.approx(100.0)
    assert res["holdout_copy_rate"] == pytest.approx(50.0)


# ----------------------------------------------------------------- the report


def test_result_is_json_and_report_is_aligned():
    real = classification_frame(1500, 0)
    holdout = classification_frame(800, 1)
    res = evaluate(real, shuffle_columns(real, 1), holdout=holdout, target="label")
    json.dumps(res, allow_nan=False)
    text = format_report(res)
    lines = text.splitlines()
    assert lines[0].startswith("metric")
    keys = ["column_shape_error", "pair_trend_error", "pair_trend_error_strong", "ml_efficacy_real",
            "ml_efficacy_synth", "detection_auc", "dcr_share", "membership_auc", "singling_out_share",
            "holdout_singling_out_share", "rules_broken", "exact_copy_rate", "holdout_copy_rate"]
    assert [line.split()[0] for line in lines[1:]] == keys
    # Values are right-aligned in one column.
    ends = {line.index(line.split()[1]) + len(line.split()[1]) for line in lines[1:]}
    assert len(ends) == 1
    for key in keys:
        value = res[key]
        shown = next(line for line in lines if line.startswith(key + " ")).split()[1]
        assert shown == "n/a" if value is None else math.isclose(float(shown), value, abs_tol=0.01)


def test_report_without_holdout_lists_only_fidelity():
    real = correlated_frame(500, 0)
    text = format_report(evaluate(real, real.copy()))
    assert "detection_auc" not in text and "dcr_share" not in text
    assert "exact_copy_rate" in text


def rules_frame(n, seed):
    """Rows obeying start <= end, total >= a + b and zone -> borough."""
    rng = np.random.default_rng(seed)
    start = rng.uniform(0, 100, n).round(2)
    a = rng.uniform(0, 50, n).round(2)
    b = rng.uniform(0, 20, n).round(2)
    zone = rng.choice([f"z{i}" for i in range(40)], n)
    return pd.DataFrame({
        "start": start,
        "end": start + rng.integers(0, 30, n),  # ties: start <= end, not <
        "a": a,
        "b": b,
        "total": (a + b + rng.uniform(0, 5, n)).round(2),
        "zone": zone,
        "borough": [f"b{int(z[1:]) % 4}" for z in zone],
    })


def test_rules_of_the_real_rows_broken_by_synthetic_rows():
    real = rules_frame(2000, 0)
    synth = rules_frame(1000, 1)
    res, details = evaluate_with_details(real, synth)
    assert res["rules_broken"] == 0.0 and res["n_rules"] == len(details["rules"]) == 3
    synth.loc[:99, "end"] = synth.loc[:99, "start"] - 1  # 100 rows end before they start
    synth.loc[50:249, "total"] = 0.0  # 200 rows fall short of a + b, 50 of them above too
    synth.loc[900:, "borough"] = "b9"  # 100 rows in a borough no zone gives
    res, details = evaluate_with_details(real, synth)
    by_rule = {r["rule"]: r for r in details["rules"]}
    assert by_rule["start <= end"]["broken"] == 100 and by_rule["start <= end"]["broken_share"] == pytest.approx(10.0)
    assert by_rule["total >= a + b"]["broken"] == 200
    assert by_rule["zone determines borough"]["broken"] == 100
    assert all(r["real_broken"] == 0 for r in details["rules"])
    assert by_rule["total >= a + b"]["definition"] == {
        "rule": "sum", "total": "total", "parts": ["a", "b"], "remainder": "nonnegative"}
    assert res["rules_broken"] == pytest.approx(35.0)  # rows 0-249 and 900-999
    json.dumps(res, allow_nan=False)
    assert "rules_broken" in format_report(res) and "(3 rules)" in format_report(res)


def test_no_rule_in_the_real_rows():
    real = shuffle_columns(correlated_frame(500, 0), 0)
    res, details = evaluate_with_details(real, real.copy())
    assert res["rules_broken"] is None and res["n_rules"] == 0 and details["rules"] == []


# --------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(synth=pd.DataFrame({"a": [1.0, 2.0], "c": ["x", "y"]})), "different columns"),
        (dict(holdout=pd.DataFrame({"a": [1.0]})), "different columns"),
        (dict(target="income"), "not a column"),
        (dict(target="b", holdout=None), "needs holdout"),
        (dict(synth=pd.DataFrame({"a": [], "b": []})), "no rows"),
    ],
)
def test_bad_arguments_raise_data_error(kwargs, message):
    real = pd.DataFrame({"a": np.arange(50.0), "b": ["x", "y"] * 25})
    args = dict(real=real, synth=real.copy(), holdout=real.copy(), target=None)
    args.update(kwargs)
    with pytest.raises(DataError, match=message):
        evaluate(**args)


def test_non_frame_and_bad_target_kind():
    real = pd.DataFrame({"a": np.arange(50.0), "k": "same", "b": ["x", "y"] * 25})
    with pytest.raises(InputTypeError):
        evaluate(real, real.to_dict("list"))
    with pytest.raises(DataError, match="constant"):
        evaluate(real, real.copy(), holdout=real.copy(), target="k")
    with pytest.raises(DataError, match="nothing to compare"):
        evaluate(real[["k"]], real[["k"]].copy())
    with pytest.raises(DataError):
        evaluate(real, real.copy(), schema=Schema([ColumnSpec("a", "continuous")]))


def test_collapsed_synthetic_column_counts_as_uncorrelated():
    real = correlated_frame(1000, 0)
    res = evaluate(real, real.assign(y=1.0))
    xy = next(p for p in res["pairs"] if p["columns"] == ["x", "y"])
    assert xy["synthetic_correlation"] is None
    assert xy["score"] == pytest.approx(1 - abs(xy["real_correlation"]) / 2)


def test_integer_column_labels():
    real = pd.DataFrame({0: np.arange(100.0), 1: ["a", "b"] * 50})
    assert evaluate(real, real.copy())["column_shape_error"] == pytest.approx(0.0)
