"""Rules in generated rows: declared in the schema file or found in the training rows,
they hold in every generated row, by construction (also under conditions, shards and
the copy guard); data that breaks a declared rule, and conditions that the rules make
impossible, are refused in one line."""

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from synthvae import SynthVAE
from synthvae.errors import DataError
from synthvae.io import read_table
from synthvae.rules import Depends, Order, Range, Sum, discover, rules_to_dicts
from synthvae.sampling import Sampler
from synthvae.schema import Schema, infer_schema
from synthvae.transformers import TableTransformer
from synthvae.transformers.ruled import GapTransformer

from conftest import EXAMPLE, TINY, run_in_process, sample_table

ENV = {**os.environ, "PYTHONWARNINGS": "ignore"}
TAXIS_RULES = [
    Order(("pickup", "dropoff")),
    Sum("fare", ("tip", "tolls"), "nonnegative"),
    Sum("total", ("fare", "tip", "tolls"), "nonnegative"),
    Depends("pickup_borough", "pickup_zone"),
    Range("distance", min=0),
]


def synthvae(*args):
    return subprocess.run([sys.executable, "-m", "synthvae", *map(str, args)], capture_output=True, text=True, env=ENV)


def broken(rules, rows, schema):
    """Rows breaking each rule, by its description (only the ones that some row breaks)."""
    counts = {rule.describe(): int(rule.violations(rows, schema).sum()) for rule in rules}
    return {rule: count for rule, count in counts.items() if count}


@pytest.fixture(scope="module")
def taxis():
    return read_table(sample_table("taxis"))


@pytest.fixture(scope="module")
def taxis_model(taxis, tmp_path_factory):
    """A tiny model of taxis with declared rules, and its model file."""
    schema = infer_schema(taxis)
    schema.rules = list(TAXIS_RULES)
    model = SynthVAE(random_state=0, **TINY).fit(taxis, schema=schema)
    path = tmp_path_factory.mktemp("taxis") / "taxis.synthvae"
    model.save(path)
    return model, path


@pytest.fixture(scope="module")
def adult_model():
    real = read_table(EXAMPLE)
    return real, SynthVAE(random_state=0, **TINY).fit(real)


# ---------------------------------------------------------------- the schema file


def test_schema_lists_found_rules_that_fit_takes_back(taxis, tmp_path):
    result = synthvae("schema", sample_table("taxis"))
    assert result.returncode == 0, result.stderr
    obj = json.loads(result.stdout)
    assert {"rule": "order", "columns": ["pickup", "dropoff"]} in obj["rules"]
    assert {"rule": "sum", "total": "total", "parts": ["fare", "tip", "tolls"], "remainder": "nonnegative"} in obj["rules"]
    schema = Schema.from_dict(obj)
    assert rules_to_dicts(schema.rules) == obj["rules"]
    assert Schema.from_dict(schema.to_dict()).rules == schema.rules


def test_data_breaking_a_declared_rule_is_one_line(taxis, tmp_path):
    schema = infer_schema(taxis)
    schema.rules = list(TAXIS_RULES)
    (tmp_path / "schema.json").write_text(schema.to_json())
    bad = taxis.copy()
    bad.loc[41, "dropoff"] = "2019-03-01 00:00:00"
    bad.to_csv(tmp_path / "bad.csv", index=False)
    result = run_in_process("fit", tmp_path / "bad.csv", "-o", tmp_path / "m.synthvae", "--schema", tmp_path / "schema.json")
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("error: the data breaks the rule 'pickup <= dropoff' in row 42: ")
    assert "dropoff='2019-03-01 00:00:00'" in result.stderr
    assert not (tmp_path / "m.synthvae").exists()


def test_schema_file_rule_naming_an_unknown_column_is_refused(taxis):
    obj = infer_schema(taxis).to_dict()
    obj["rules"] = [{"rule": "order", "columns": ["pickup", "arrival"]}]
    with pytest.raises(DataError, match="names 'arrival', which is not a column"):
        Schema.from_dict(obj)


def test_declared_rule_that_cannot_be_built_is_refused(taxis):
    schema = infer_schema(taxis)
    schema.rules = [Order(("fare", "color"))]
    with pytest.raises(DataError, match="cannot be kept in generated rows"):
        TableTransformer(schema).fit(taxis.assign(color=1e6))


# ---------------------------------------------------------------- construction


def test_a_column_on_a_coarser_grid_keeps_it_above_a_bound_in_cents():
    # Fares in half dollars above tips in cents: the bound plus a gap would put fares
    # on every cent; rebuilt, they keep the half-dollar grid as often as the training
    # rows do, and never fall below the tip.
    rng = np.random.default_rng(1)
    n = 4000
    fare = pd.Series(rng.integers(5, 60, n) / 2)
    fare[:40] += 0.01  # 1 % off the grid
    tip = pd.Series(np.round(fare * rng.uniform(0, 0.3, n), 2))
    gap = GapTransformer([{"parts": ["tip"], "strict": False, "exact": False}]).fit(fare, tip)
    assert gap.grid_ == 0.5 and gap.grid_share_ == pytest.approx(0.99)
    rebuilt = gap.inverse_transform(rng.normal(0, 1.5, (n, 1)).astype(np.float32), rng=np.random.default_rng(2),
                                    decoded={"tip": tip})
    assert (rebuilt >= tip - 1e-9).all()
    on_grid = np.isclose(rebuilt * 2, np.round(rebuilt * 2)).mean()
    assert 0.97 < on_grid < 1.0
    # The model file holds the grid, and a loaded transformer rebuilds the same values.
    again = GapTransformer.from_state(json.loads(json.dumps(gap.get_state())))
    same = again.inverse_transform(rng.normal(0, 1.5, (n, 1)).astype(np.float32), rng=np.random.default_rng(3),
                                   decoded={"tip": tip})
    assert (same >= tip - 1e-9).all() and np.isclose(same * 2, np.round(same * 2)).mean() > 0.97



def test_gap_rebuilds_above_every_bound():
    rng = np.random.default_rng(0)
    n = 2000
    start = pd.Series(pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 400, n), unit="D"))
    end = start + pd.to_timedelta(rng.integers(1, 30, n), unit="D")
    a, b = rng.integers(0, 500, n) / 100, rng.integers(0, 500, n) / 100
    total = pd.Series(a + b).round(2)
    a = pd.Series(a)
    a[rng.random(n) < 0.1] = np.nan  # no bound where a part is missing
    text = {"start": start.dt.strftime("%Y-%m-%d"), "end": end.dt.strftime("%Y-%m-%d")}
    dates = GapTransformer([{"parts": ["start"], "strict": True, "exact": False}], datetime=True,
                           format="%Y-%m-%d", input_formats={"start": "%Y-%m-%d"}).fit(text["end"], text["start"])
    sums = GapTransformer([{"parts": ["a", "b"], "strict": False, "exact": True}]).fit(total, a, pd.Series(b))
    assert dates.spans == (("continuous", 1),) and sums.spans  # the rows without a bound are learned
    # Any decoder output, however wrong, is rebuilt into a row that keeps the rule.
    noise = rng.normal(0, 3, (n, 1)).astype(np.float32)
    late = dates.inverse_transform(noise, decoded=text)
    assert (pd.to_datetime(late) > pd.to_datetime(text["start"])).all()
    assert late.str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()
    summed = sums.inverse_transform(rng.normal(0, 3, (n, 1)).astype(np.float32), decoded={"a": a, "b": b})
    both = a.notna()
    assert np.allclose(summed[both], (a + b)[both]) and summed[~both].notna().all()
    assert np.allclose(summed, summed.round(2))


def test_a_rebuilt_column_is_calibrated_before_its_bound_applies():
    rng = np.random.default_rng(0)
    n = 3000
    part = pd.Series(rng.integers(100, 5000, n) / 100)
    total = (part + rng.gamma(2.0, 1.5, n)).round(2)
    gap = GapTransformer([{"parts": ["part"], "strict": True, "exact": False}]).fit(total, part)
    assert gap.calibrated and gap.value_map_ is None
    block = gap.transform(total, part)
    plain = gap.inverse_transform(block, decoded={"part": part})
    levels = np.linspace(0, 1, 33)
    source = np.quantile(gap.drawn_values(block, decoded={"part": part})[0], levels)
    # A map that lowers every value by 2: rows whose gap was smaller end on the bound,
    # one cent above it (strict), never below; the others move down by the 2.
    gap.calibrate(source, source - 2.0)
    lowered = gap.inverse_transform(block, decoded={"part": part})
    assert (lowered > part + 0.005).all() and np.allclose(lowered, lowered.round(2))
    assert np.isclose(lowered, np.maximum(plain - 2.0, part + 0.01)).mean() > 0.99
    assert (lowered < plain - 1.99).mean() > 0.5
    # The map is part of the model file's state.
    again = GapTransformer.from_state(json.loads(json.dumps(gap.get_state())))
    assert again.inverse_transform(block, decoded={"part": part}).equals(lowered)
    assert gap.calibrate(None, None).inverse_transform(block, decoded={"part": part}).equals(plain)


def test_a_column_whose_gap_is_mostly_a_few_values_is_not_calibrated():
    rng = np.random.default_rng(1)
    n = 2000
    fare = pd.Series(rng.integers(10, 80, n) / 2)
    surcharge = rng.choice([0.8, 3.3, 3.8], n, p=[0.2, 0.5, 0.3])
    spread = rng.random(n) < 0.1
    surcharge[spread] = rng.integers(0, 500, spread.sum()) / 100
    gap = GapTransformer([{"parts": ["fare"], "strict": False, "exact": False}]).fit((fare + surcharge).round(2), fare)
    assert not gap.calibrated and 0.85 < gap.spiked_share_ < 0.95


def test_declared_rules_hold_in_generated_rows(taxis_model):
    model, _ = taxis_model
    assert model.transformer_.rules_ == TAXIS_RULES
    # The calibration stage fitted the map of a rebuilt column whose gap spreads out.
    assert "fare" in model.transformer_.rebuilt_columns_
    assert model.transformer_.column_transformer("fare").value_map_ is not None
    rows = model.sample(5000, random_state=3)
    assert broken(TAXIS_RULES, rows, model.schema_) == {}
    assert rows["dropoff"].str.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}").all()
    assert (rows["dropoff"] > rows["pickup"]).mean() > 0.9  # trips take time


def test_rules_hold_after_loading_under_conditions_shards_and_copy_guard(taxis_model, taxis):
    model, path = taxis_model
    sampler = Sampler.load(path)
    assert sampler.transformer.rules_ == TAXIS_RULES
    assert sampler.sample(3000, random_state=4).equals(model.sample(3000, random_state=4))
    for where in (["dropoff <= 2019-03-10"], ["pickup_borough == Queens"], ["fare <= 8", "tip >= 2"]):
        rows = sampler.sample(500, random_state=5, where=where)
        assert len(rows) == 500 and broken(TAXIS_RULES, rows, model.schema_) == {}
    early = sampler.sample(500, random_state=5, where=["dropoff <= 2019-03-10"])
    assert (pd.to_datetime(early["dropoff"]) <= pd.Timestamp("2019-03-10")).all()
    tipped = sampler.sample(500, random_state=5, where=["fare <= 8", "tip >= 2"])
    assert (tipped["fare"] <= 8).all() and (tipped["tip"] >= 2).all()
    whole = sampler.sample(4000, random_state=6)
    shards = pd.concat([sampler.sample(4000, random_state=6, shard=(i, 3)) for i in (1, 2, 3)], ignore_index=True)
    assert shards.equals(whole) and broken(TAXIS_RULES, shards, model.schema_) == {}
    guarded = sampler.sample(2000, random_state=7, reject_copies=taxis)
    assert broken(TAXIS_RULES, guarded, model.schema_) == {}


def test_conditions_the_rules_forbid_are_refused(taxis_model, adult_model):
    model, _ = taxis_model
    with pytest.raises(DataError, match="obeys the rule 'pickup <= dropoff'"):
        model.sample(10, where=["pickup >= 2019-03-20", "dropoff < 2019-03-10"])
    with pytest.raises(DataError, match="'pickup_zone' and 'pickup_borough' contradict each other"):
        model.sample(10, where=["pickup_zone == Astoria", "pickup_borough == Manhattan"])
    with pytest.raises(DataError, match="obeys the rule 'total >= fare \\+ tip \\+ tolls'"):
        model.sample(10, where=["total < 9.5", "fare >= 10"])
    assert (model.sample(20, random_state=1, where=["total <= 16", "fare >= 10"])["total"] <= 16).all()
    _, adult = adult_model
    with pytest.raises(DataError, match="obeys the rule .relationship x sex: never"):
        adult.sample(10, where=["relationship=Husband", "sex=Female"])


def test_command_refuses_conditions_a_rule_forbids_in_one_line(adult_model, tmp_path, monkeypatch):
    _, adult = adult_model
    path = tmp_path / "adult.synthvae"
    adult.save(path)
    # Refused before any row is made: the decoder is never run.
    monkeypatch.setattr("synthvae.generation.Generator.matrix", lambda *a, **k: pytest.fail("rows were made"))
    result = run_in_process("sample", 100, "-m", path, "--seed", 1, "--where", "relationship=Husband", "--where", "sex=Female")
    assert result.exit_code == 1 and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "relationship x sex: never" in lines[0]


def test_found_rules_hold_in_generated_rows(adult_model):
    real, model = adult_model
    rules = discover(real, model.schema_)
    kinds = {type(r).__name__ for r in rules}
    assert {"Depends", "Combinations"} <= kinds and model.transformer_.rules_ == rules
    rows = model.sample(5000, random_state=8)
    assert broken(rules, rows, model.schema_) == {}
    wives = model.sample(500, random_state=8, where=["sex=Female"])
    assert (wives["relationship"] != " Husband").all() and broken(rules, wives, model.schema_) == {}


def test_streamed_fit_drops_a_rule_that_rows_outside_the_sample_break(tmp_path):
    from synthvae.stream import reservoir_sample

    rng = np.random.default_rng(0)
    n = 2400
    start = rng.integers(0, 1000, n)
    frame = pd.DataFrame({"start": start, "end": start + rng.integers(0, 50, n), "low": rng.integers(0, 500, n)})
    frame["high"] = frame["low"] + rng.integers(1, 40, n)
    path = tmp_path / "planted.csv"
    frame.to_csv(path, index=False)
    sample, _ = reservoir_sample(path, 800, seed=0, chunk_rows=700)
    found = discover(sample, infer_schema(sample))
    assert {Order(("start", "end")), Order(("low", "high"), strict=True)} <= set(found)
    outside = frame.index.difference(sample.index)[-1]  # in the last chunk
    frame.loc[outside, "end"] = frame.loc[outside, "start"] - 1
    frame.to_csv(path, index=False)

    model = SynthVAE(random_state=0, **TINY).fit_stream(path, sample_rows=800, chunk_rows=700)
    assert Order(("start", "end")) not in model.transformer_.rules_
    assert Order(("low", "high"), strict=True) in model.transformer_.rules_
    assert "rules" in model.fit_seconds_
    rows = model.sample(2000, random_state=0)
    assert (rows["high"] > rows["low"]).all() and (rows["end"] < rows["start"]).any()
