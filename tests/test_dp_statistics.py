"""What a private fit releases with noise before training (level lists, ranges,
quantiles, missing rates) and how the accountant composes it with the training."""

import numpy as np
import pandas as pd
import pytest

from synthvae import SynthVAE
from synthvae.accounting import histograms_event, plan_privacy, spent_epsilon
from synthvae.dp_statistics import (
    level_threshold,
    noisy_levels,
    noisy_quantiles,
    noisy_range,
    planned_queries,
    release,
)
from synthvae.schema import Schema

from conftest import TINY


def test_a_value_one_row_holds_passes_the_threshold_with_probability_delta():
    rng = np.random.default_rng(0)
    sigma, delta = 2.0, 0.01
    passed = np.mean(1.0 + rng.normal(0.0, sigma, 200_000) >= level_threshold(sigma, delta))
    # 200,000 draws: the share's standard error is 0.00022, the tolerance nine of them.
    assert abs(passed - delta) < 0.002


def test_noisy_levels_keep_frequent_values_and_drop_a_rare_one():
    rng = np.random.default_rng(1)
    series = pd.Series(["a"] * 600 + ["b"] * 300 + ["rare"] + [None] * 99, dtype=object)
    levels, counts, missing = noisy_levels(series, 2.0, level_threshold(2.0, 1e-9), rng)
    assert levels == ["a", "b"]  # most frequent first; "rare" (one row) is under the threshold
    assert abs(counts[0] - 600) < 20 and abs(missing - 99) < 20


def test_noisy_range_covers_the_values_in_powers_of_two():
    rng = np.random.default_rng(2)
    ages = rng.integers(17, 91, 5_000).astype(float)
    assert noisy_range(ages, 5.0, rng) == (16.0, 128.0)
    signed = np.concatenate([rng.uniform(-3, -1, 2_000), np.zeros(2_000), rng.uniform(100, 200, 2_000), [np.nan]])
    assert noisy_range(signed, 5.0, rng) == (-4.0, 256.0)


def test_noisy_quantiles_lie_within_the_bounds_and_follow_the_data():
    rng = np.random.default_rng(3)
    values = np.concatenate([np.zeros(6_000), rng.lognormal(8, 1, 4_000), [np.nan] * 500, [1e9]])
    table, missing = noisy_quantiles(values, 0.0, 1e5, 10.0, rng)
    assert len(table) == 101 and np.all(np.diff(table) >= 0)
    assert table[0] >= 0.0 and table[-1] <= 1e5
    # More than half the rows are 0: the median is in the first bin, under 0.2 wide
    # (bins equal in asinh are fine near zero; equal in value they would be 1,560 wide).
    assert table[50] < 0.2
    true = np.quantile(values[~np.isnan(values)], 0.8)
    assert 0.5 * true < table[80] < 2.0 * true
    assert abs(missing - 500) < 60


def test_the_ledger_composes_preprocessing_with_training():
    ledger = plan_privacy(3.0, 1e-6, n_rows=2_000, batch_size=100, epochs=2, preprocessing_queries=12,
                          thresholds=True, preprocessing_share=0.1, threshold_delta_share=0.1)
    split = ledger.split
    assert ledger.epsilon_spent <= 3.0
    assert split["preprocessing"] == pytest.approx(0.3, rel=0.02)
    # Composed, the parts spend less than their sum and more than either alone.
    assert max(split.values()) < ledger.epsilon_spent <= sum(split.values())
    assert ledger.threshold_delta == pytest.approx(1e-7) and ledger.preprocessing_queries == 12
    # The histograms' noise is what spends the preprocessing's share alone.
    assert spent_epsilon(1e-6 - 1e-7, histograms_event(ledger.preprocessing_noise_multiplier, 12)) == pytest.approx(0.3, rel=0.02)


def kinds_only_frame(n=2_000, seed=0):
    rng = np.random.default_rng(seed)
    hours = rng.normal(40, 8, n).round()
    hours[rng.random(n) < 0.2] = np.nan
    return pd.DataFrame({
        "job": np.where(rng.random(n) < 0.6, "clerk", "nurse").astype(object),
        "age": rng.integers(20, 60, n),
        "hours": hours,
    })


KINDS = Schema.from_dict({"version": 1, "columns": [
    {"name": "job", "kind": "categorical", "dtype": "object"},
    {"name": "age", "kind": "integer", "dtype": "int64"},
    {"name": "hours", "kind": "continuous", "nullable": True, "dtype": "float64"},
]})


def test_release_fills_in_what_the_schema_leaves_open():
    frame = kinds_only_frame()
    frame.loc[0, "job"] = "astronaut"  # one row: never released
    assert [(q.column, q.what) for q in planned_queries(KINDS)] == [
        ("job", "levels"), ("age", "range"), ("age", "quantiles"), ("hours", "range"), ("hours", "quantiles")]
    released = release(KINDS, frame, 5.0, 1e-7, np.random.default_rng(4))
    assert released.schema["job"].levels == ["clerk", "nurse"]
    # Ages 20..59: the edges of the first and last bins kept, within the data's.
    assert 16 <= released.schema["age"].min <= 20 and 59 <= released.schema["age"].max <= 64
    assert 0.15 < released.missing_rates["hours"] < 0.25
    conformed = released.conform(frame)
    assert conformed.loc[0, "job"] == "clerk"  # the most frequent level released
    assert conformed["hours"].max() <= released.schema["hours"].max
    released.schema.check_data(conformed)


def test_a_private_fit_from_kinds_alone(tmp_path):
    frame = kinds_only_frame()
    model = SynthVAE(**{**TINY, "epochs": 1, "epsilon": 8.0}).fit(frame, schema=KINDS)
    privacy = model.privacy_
    assert privacy["released"] == {"job": ["levels"], "age": ["range", "quantiles"], "hours": ["range", "quantiles"]}
    assert privacy["epsilon_spent"] <= 8.0 and privacy["threshold_delta"] > 0
    assert model.schema_["job"].levels == ["clerk", "nurse"] and model.schema_["age"].min is not None
    rows = model.sample(500, random_state=0)
    assert set(rows["job"]) <= {"clerk", "nurse"}
    assert rows["age"].between(model.schema_["age"].min, model.schema_["age"].max).all()
    assert 0 < rows["hours"].isna().mean() < 1  # the column kept its missing state
    model.save(tmp_path / "m.synthvae")
    assert SynthVAE.load(tmp_path / "m.synthvae").privacy_ == privacy


def test_the_command_line_says_rules_are_not_discovered_and_refuses_personal_columns(tmp_path):
    from click.testing import CliRunner

    from synthvae.cli import main

    data, schema_file = tmp_path / "data.csv", tmp_path / "kinds.json"
    frame = kinds_only_frame(300)
    frame["name"] = [f"person {i}" for i in range(300)]
    frame.to_csv(data, index=False)
    personal = Schema.from_dict({**KINDS.to_dict(), "columns": KINDS.to_dict()["columns"] + [
        {"name": "name", "kind": "personal", "personal": "text", "dtype": "object"}]})
    schema_file.write_text(personal.to_json())
    result = CliRunner().invoke(main, ["fit", str(data), "--schema", str(schema_file), "--epsilon", "1",
                                       "-o", str(tmp_path / "m.synthvae")])
    assert result.exit_code == 2 and result.stdout == ""
    assert "no rules are discovered" in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        "error: with epsilon these columns need more from the schema: 'name' (personal) cannot be learned "
        "privately: drop it, or declare it categorical")
    assert not (tmp_path / "m.synthvae").exists()
