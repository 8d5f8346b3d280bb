"""Tests of synthvae.rules: the rule types, declared rules, and discovery on tables
with planted rules, on independent columns, and on shipped samples of real tables."""

import json

import numpy as np
import pandas as pd
import pytest

from synthvae.errors import DataError
from synthvae.io import read_table
from synthvae.rules import (
    Combinations,
    Depends,
    Order,
    Range,
    Sum,
    check_declared,
    construction_order,
    discover,
    rule_from_dict,
    rules_from_dicts,
    rules_to_dicts,
)
from synthvae.schema import infer_schema

from conftest import sample_table


def described(rules):
    return {r.describe() for r in rules}


# ------------------------------------------------------------------ JSON form


@pytest.mark.parametrize("obj", [
    {"rule": "order", "columns": ["pickup", "dropoff"]},
    {"rule": "order", "columns": ["a", "b", "c"], "strict": True},
    {"rule": "sum", "total": "total", "parts": ["fare", "tip", "tolls"], "remainder": "nonnegative"},
    {"rule": "sum", "total": "c", "parts": ["a", "b"], "remainder": "zero"},
    {"rule": "combinations", "columns": ["relationship", "sex"]},
    {"rule": "combinations", "columns": ["r", "s"], "excluded": [["Husband", "Female"], [None, "Male"]]},
    {"rule": "combinations", "columns": ["r", "s"], "allowed": [["x", 1]], "min_rows": 3},
    {"rule": "depends", "column": "pickup_borough", "on": "pickup_zone"},
    {"rule": "depends", "column": "b", "on": "a", "mapping": [["x", 1], [None, 2]]},
    {"rule": "range", "column": "age", "min": 0, "max": 120},
    {"rule": "range", "column": "pickup", "min": "2019-01-01"},
])
def test_json_round_trip(obj):
    rule = rule_from_dict(obj)
    assert rule.to_dict() == obj
    assert json.loads(json.dumps(rules_to_dicts([rule]))) == [obj]
    assert rules_from_dicts([obj]) == [rule]
    assert isinstance(rule.describe(), str) and "\n" not in rule.describe()


@pytest.mark.parametrize("obj, words", [
    ({"rule": "between"}, "unknown rule"),
    ("order", "unknown rule"),
    ({"rule": "order", "columns": ["a"]}, "at least 2"),
    ({"rule": "order", "columns": ["a", "a"]}, "twice"),
    ({"rule": "sum", "total": "c", "parts": ["a"], "remainder": "positive"}, "remainder"),
    ({"rule": "sum", "total": "c", "parts": ["c", "a"]}, "other than its total"),
    ({"rule": "depends", "column": "a"}, "'on'"),
    ({"rule": "combinations", "columns": ["a", "b"], "excluded": [["x"]]}, "one value per column"),
    ({"rule": "range", "column": "a"}, "min, max"),
])
def test_bad_rule_objects_are_data_errors(obj, words):
    with pytest.raises(DataError, match=words):
        rule_from_dict(obj)


# ------------------------------------------------------------------ violations


def test_order_violations_skip_missing_and_read_dates():
    frame = pd.DataFrame({
        "start": ["2020-01-01 10:00:00", "2020-01-02 10:00:00", None, "2020-01-04 10:00:00"],
        "end": ["2020-01-01 11:00:00", "2020-01-01 10:00:00", "2020-01-01 10:00:00", "2020-01-04 10:00:00"],
    })
    assert Order(("start", "end")).violations(frame).tolist() == [False, True, False, False]
    assert Order(("start", "end"), strict=True).violations(frame).tolist() == [False, True, False, True]


def test_sum_is_exact_in_cents():
    frame = pd.DataFrame({"a": [0.1, 0.7, 1.0, np.nan], "b": [0.2, 0.1, 1.0, 5.0], "c": [0.3, 0.8, 2.01, 1.0]})
    assert Sum("c", ("a", "b")).violations(frame).tolist() == [False, False, True, False]
    assert Sum("c", ("a", "b"), "nonnegative").violations(frame).tolist() == [False, False, False, False]
    frame.loc[0, "c"] = 0.29
    assert Sum("c", ("a", "b"), "nonnegative").violations(frame).tolist() == [True, False, False, False]


def test_depends_checks_the_mapping_or_the_frame_itself():
    frame = pd.DataFrame({"zone": ["A", "A", "A", "B", "C", None], "borough": ["x", "x", "y", "y", "z", "w"]})
    assert Depends("borough", "zone").violations(frame).tolist() == [False, False, True, False, False, False]
    learned = Depends("borough", "zone", mapping=(("A", "y"), ("B", "y"), (None, "v")))
    assert learned.violations(frame).tolist() == [True, True, False, False, False, True]


def test_combinations_excluded_and_allowed():
    frame = pd.DataFrame({"rel": ["Husband", "Husband", "Wife", None], "sex": ["Male", "Female", "Female", "Male"]})
    excluded = Combinations(("rel", "sex"), excluded=(("Husband", "Female"), (None, "Male")))
    assert excluded.violations(frame).tolist() == [False, True, False, True]
    allowed = Combinations(("rel", "sex"), allowed=(("Husband", "Male"), ("Wife", "Female")))
    assert allowed.violations(frame).tolist() == [False, True, False, True]
    assert not Combinations(("rel", "sex")).violations(frame).any()
    assert not excluded.violations(frame, rare_ok=True).any()
    assert excluded.violations(pd.concat([frame] * 5), rare_ok=True).sum() == 10


def test_range_violations():
    frame = pd.DataFrame({"age": [-1, 30, 130, np.nan]})
    assert Range("age", 0, 120).violations(frame).tolist() == [True, False, True, False]


def test_check_declared_names_rule_row_and_values():
    frame = pd.DataFrame({"fare": [5.0, 7.0, 9.0], "tip": [1.0, 1.0, 2.0], "total": [6.0, 9.0, 12.0]})
    check_declared(frame, [Sum("total", ("fare", "tip"), "nonnegative")])
    with pytest.raises(DataError) as info:
        check_declared(frame, [Order(("fare", "total")), Sum("total", ("fare", "tip"))])
    message = str(info.value)
    assert "total = fare + tip" in message and "row 2" in message
    assert "fare=7.0" in message and "tip=1.0" in message and "total=9.0" in message
    assert "2 rows" in message
    with pytest.raises(DataError, match="'distance', which the data lacks"):
        check_declared(frame, [Order(("fare", "distance"))])


def test_construction_order_puts_inputs_first():
    rules = [Sum("total", ("fare", "tip")), Order(("pickup", "dropoff")), Depends("borough", "zone")]
    order = construction_order(rules, ["total", "dropoff", "borough", "fare", "tip", "pickup", "zone"])
    for before, later in [("fare", "total"), ("tip", "total"), ("pickup", "dropoff"), ("zone", "borough")]:
        assert order.index(before) < order.index(later)
    with pytest.raises(DataError, match="circle"):
        construction_order([Order(("a", "b")), Order(("b", "a"))], ["a", "b"])


# ------------------------------------------------------------------ discovery


def test_independent_columns_yield_no_rule():
    rng = np.random.default_rng(1)
    n = 10_000
    start = pd.Timestamp("2020-01-01")
    frame = pd.DataFrame({
        "u": rng.uniform(0, 10, n).round(2),
        "v": rng.uniform(0, 10, n).round(2),
        "w": rng.lognormal(1, 1, n).round(2),
        "k": rng.integers(0, 1000, n),
        "d1": (start + pd.to_timedelta(rng.integers(0, 10**7, n), unit="s")).strftime("%Y-%m-%d %H:%M:%S"),
        "d2": (start + pd.to_timedelta(rng.integers(0, 10**7, n), unit="s")).strftime("%Y-%m-%d %H:%M:%S"),
        "colour": rng.choice(["red", "green", "blue"], n, p=[0.6, 0.3, 0.1]),
        "grade": rng.integers(1, 6, n),
        "zone": rng.choice([f"z{i}" for i in range(3000)], n),
        "flag": rng.random(n) < 0.2,
    })
    assert discover(frame) == []


def planted_frame(n=4000, seed=2):
    rng = np.random.default_rng(seed)
    fare = rng.uniform(3, 60, n).round(2)
    tip = (fare * rng.uniform(0, 0.3, n)).round(2)
    extra = rng.choice([0.5, 1.0, 3.3], n)
    zone = rng.choice([f"zone{i}" for i in range(250)], n, p=np.r_[np.full(50, 0.016), np.full(200, 0.001)])
    borough = np.array([f"borough{int(z[4:]) % 5}" for z in zone])
    region = np.where(np.isin(borough, ["borough0", "borough1"]), "north", "south")
    sex = rng.choice(["Male", "Female"], n)
    rel = np.where(sex == "Male", rng.choice(["Husband", "Child", "Other"], n), rng.choice(["Wife", "Child", "Other"], n))
    rel[:3] = ["Husband", "Husband", "Wife"]  # three exceptions, as in Adult
    sex[:3] = ["Female", "Female", "Male"]
    start = pd.Timestamp("2021-01-01") + pd.to_timedelta(rng.integers(0, 10**7, n), unit="s")
    frame = pd.DataFrame({
        "pickup": start.strftime("%Y-%m-%d %H:%M:%S"),
        "dropoff": (start + pd.to_timedelta(rng.integers(60, 4000, n), unit="s")).strftime("%Y-%m-%d %H:%M:%S"),
        "fare": fare,
        "tip": tip,
        "subtotal": (fare + tip).round(2),
        "total": (fare + tip + extra).round(2),
        "low": rng.normal(0, 1, n).round(3),
        "zone": zone,
        "borough": borough,
        "region": region,
        "code": [f"B{int(z[4:]) % 5}" for z in zone],
        "sex": sex,
        "rel": rel,
    })
    frame["mid"] = (frame["low"] + rng.uniform(0, 2, n)).round(3)
    frame["high"] = (frame["mid"] + rng.uniform(0, 2, n)).round(3)
    frame.loc[rng.random(n) < 0.05, "tip"] = np.nan  # a missing part breaks nothing
    return frame


def test_planted_rules_are_found_and_reduced():
    frame = planted_frame()
    rules = discover(frame)
    found = described(rules)
    assert "pickup < dropoff" in found
    assert "subtotal = fare + tip" in found
    # total >= subtotal = fare + tip: "total >= fare + tip" follows.
    assert "subtotal < total" in found and "total >= fare + tip" not in found
    # The chain low <= mid <= high keeps two links, not low <= high.
    assert found & {"low < mid", "low <= mid"} and found & {"mid < high", "mid <= high"}
    assert not found & {"low < high", "low <= high"}
    # tip is missing in some rows, where subtotal = fare + tip says nothing of fare.
    assert "fare <= subtotal" in found
    # 250 zones, 200 of them with a handful of rows: the dependency is still found.
    assert "zone determines borough" in found
    # borough and code determine each other: one class, led by borough.
    assert "borough determines code" in found and "code determines borough" not in found
    # region follows from borough, so zone -> region is redundant.
    assert "borough determines region" in found and "zone determines region" not in found
    # The near-rule: three exceptions in 4,000 rows.
    near = [r for r in rules if isinstance(r, Combinations) and set(r.columns) == {"sex", "rel"}]
    assert len(near) == 1
    cells = {dict(zip(near[0].columns, c))["rel"] + "/" + dict(zip(near[0].columns, c))["sex"] for c in near[0].excluded}
    assert cells == {"Husband/Female", "Wife/Male"}
    # Every rule found holds in every training row (but for the few exceptions of a
    # near-rule), and the set can be built in one pass.
    check_declared(frame, rules)
    assert near[0].violations(frame).sum() == 3
    construction_order(rules, list(frame.columns))
    dependency = next(r for r in rules if r.describe() == "zone determines borough")
    assert len(dependency.mapping) == frame["zone"].nunique()


def test_sum_with_a_small_part_that_fits_anywhere_is_not_kept():
    rng = np.random.default_rng(3)
    n = 5000
    a = rng.lognormal(5, 1, n).round(2)
    b = rng.lognormal(4, 1, n).round(2)
    frame = pd.DataFrame({"a": a, "b": b, "small": rng.integers(0, 10, n), "total": (a + b + 20).round(2)})
    assert described(discover(frame)) == {"total >= a + b"}


def test_exact_sum_and_equal_columns():
    rng = np.random.default_rng(4)
    n = 3000
    frame = pd.DataFrame({"a": rng.integers(0, 500, n), "b": rng.integers(0, 500, n), "c": rng.integers(0, 500, n)})
    frame["total"] = frame.a + frame.b + frame.c
    frame["copy"] = frame["total"]
    found = described(discover(frame))
    assert "total = a + b + c" in found and "copy = total" in found
    assert not any(d.startswith("total >=") or " <" in d for d in found)


def test_a_rule_over_a_few_rows_is_chance():
    rng = np.random.default_rng(5)
    frame = pd.DataFrame({"a": rng.uniform(0, 1, 12), "b": rng.uniform(0, 1, 12)})
    frame["b"] = np.maximum(frame["a"], frame["b"])
    assert discover(frame) == []


@pytest.mark.parametrize("name, expected", [
    ("taxis", {"pickup <= dropoff", "total >= fare + tip + tolls", "pickup_zone determines pickup_borough",
               "dropoff_zone determines dropoff_borough"}),
    ("titanic", {"pclass determines class", "who determines adult_male", "survived determines alive",
                 "embarked determines embark_town"}),
    ("adult", {"education determines education-num"}),
])
def test_real_samples(name, expected):
    frame = read_table(sample_table(name))
    rules = discover(frame, infer_schema(frame))
    assert expected <= described(rules)
    check_declared(frame, rules)
    construction_order(rules, list(frame.columns))
    if name == "adult":
        sex = [r for r in rules if isinstance(r, Combinations) and set(r.columns) == {"relationship", "sex"}]
        assert sex and {tuple(sorted(c)) for c in sex[0].excluded} == {(" Female", " Husband"), (" Male", " Wife")}


def test_rules_found_in_a_sample_are_kept_where_the_whole_table_obeys_them():
    from synthvae.rules import rules_that_hold

    parts = [pd.DataFrame({"a": [1, 2, 3], "b": [2, 3, 4], "s": ["x", "x", "y"], "t": ["m", "n", "n"]}),
             pd.DataFrame({"a": [5, 6, 9], "b": [6, 7, 8], "s": ["y", "y", "y"], "t": ["m", "m", "n"]})]
    pairs = Combinations(("s", "t"), excluded=(("x", "n"), ("y", "m")), min_rows=2)
    kept = rules_that_hold([Order(("a", "b")), pairs, Order(("a", "b"), strict=True)], parts[:1])
    assert kept == [Order(("a", "b")), pairs, Order(("a", "b"), strict=True)]
    # a > b in the second part; ("x", "n") once in all, ("y", "m") twice: no longer rare
    kept = rules_that_hold([Order(("a", "b")), pairs], iter(parts))
    assert kept == [Combinations(("s", "t"), excluded=(("x", "n"),), min_rows=2)]
