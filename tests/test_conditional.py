"""Conditional sampling: every row meets every condition, rows follow the
model's distribution given the conditions, impossible conditions fail before any work."""

import io

import numpy as np
import pandas as pd
import pytest

from synthvae.conditions import parse_where
from synthvae.errors import DataError, UsageError
from synthvae.metrics import ks_statistic

from conftest import cli


def _seconds(series):
    return pd.to_datetime(series, format="%Y-%m-%d").astype("datetime64[s]").astype("int64").to_numpy()


def test_every_row_meets_every_condition(fitted, mixed_frame):
    median = float(mixed_frame["income"].median())
    rows = fitted.sample(
        700, random_state=1,
        conditions={"color": "blue"},  # the level is " blue": found with spaces ignored
        where=[("income", ">=", median), "visits<=28", "signup>=2021-01-01", "member=true", ("age", ">", 50)],
    )
    assert len(rows) == 700
    assert list(rows.columns) == list(mixed_frame.columns)
    assert (rows["color"] == " blue").all()
    assert (rows["income"] >= median).all()
    assert (rows["visits"] <= 28).all()
    assert (_seconds(rows["signup"]) >= _seconds(pd.Series(["2021-01-01"]))[0]).all()
    assert rows["member"].astype(bool).all()
    assert rows["age"].notna().all() and (rows["age"] > 50).all()
    # identifiers keep running numbers, as in unconditional samples
    assert rows["id"].is_unique


def test_not_equal_and_any_of(fitted):
    rows = fitted.sample(300, random_state=2, conditions={"color": [" blue", "green "]}, where=["color != green"])
    assert (rows["color"] == " blue").all()


def test_same_seed_same_rows_and_slices_agree(fitted):
    where = ["income>=30000", "color=red"]
    whole = fitted.sample(17_000, random_state=5, where=where)
    again = fitted.sample(17_000, random_state=5, where=where)
    pd.testing.assert_frame_equal(whole, again)
    other = fitted.sample(1000, random_state=6, where=where)
    assert not other["income"].equals(whole["income"].iloc[:1000])
    part = pd.concat(fitted.iter_sample(17_000, random_state=5, start=16_000, stop=16_500, where=where))
    pd.testing.assert_frame_equal(part.reset_index(drop=True), whole.iloc[16_000:16_500].reset_index(drop=True))


def test_rows_follow_the_model_given_the_condition(fitted):
    """Conditional rows look like the model's own unconditional rows that happen to meet
    the condition: same marginals of the other columns, up to sampling noise."""
    plain = fitted.sample(60_000, random_state=7)
    threshold = float(plain["income"].quantile(0.7))
    for conditions, where, keep in (
        ({"color": " blue"}, None, plain["color"] == " blue"),
        (None, [("income", ">", threshold)], plain["income"] > threshold),
    ):
        reference = plain[keep]
        rows = fitted.sample(len(reference), random_state=8, conditions=conditions, where=where)
        for column in ("visits", "income"):
            a, b = reference[column].to_numpy(float), rows[column].to_numpy(float)
            assert ks_statistic(a, b) < 0.04, (conditions, where, column)
        assert abs(reference["member"].mean() - rows["member"].mean()) < 0.03
        assert abs(reference["age"].isna().mean() - rows["age"].isna().mean()) < 0.03


def test_rare_condition_needs_few_draws(fitted, mixed_frame, monkeypatch):
    """A condition met by ~2% of the model's rows is not met by drawing 50 times as many."""
    from synthvae.decoder import Decoder

    plain = fitted.sample(30_000, random_state=9)
    threshold = float(plain["income"].quantile(0.98))
    decoded = []
    real_call = Decoder.__call__

    def counting_call(self, z):
        decoded.append(len(z))
        return real_call(self, z)

    monkeypatch.setattr(Decoder, "__call__", counting_call)
    rows = fitted.sample(16_384, random_state=10, where=[("income", ">", threshold)])
    assert (rows["income"] > threshold).all() and len(rows) == 16_384
    # plain rejection would decode about 50 x 16,384 rows
    assert sum(decoded) < 10 * 16_384, sum(decoded)


def test_a_condition_the_model_never_meets_gives_up_early_in_one_line(fitted, mixed_frame, monkeypatch):
    """Conditions the checks allow but no drawn row meets end in a DataError after about
    a hundred thousand candidates, not after the whole budget of 2,000 a row."""
    from synthvae.conditional_draw import ConditionalSampler

    drawn = []

    def nothing_kept(self, rng, size):
        drawn.append(size)
        return mixed_frame.iloc[:0]

    monkeypatch.setattr(ConditionalSampler, "_candidates", nothing_kept)
    with pytest.raises(DataError, match="almost never makes rows with .*loosen the conditions"):
        fitted.sample(5_000, random_state=3, where=["visits<=28"])
    assert 100_000 <= sum(drawn) < 200_000, sum(drawn)


@pytest.mark.parametrize(
    "conditions, where, words",
    [
        (None, ["colour=red"], ["no column named 'colour'", "income"]),
        ({"color": "purple"}, None, ["'color' has no value 'purple'", "' blue'"]),
        (None, ["income>1e12"], ["no value of 'income'", "run from"]),
        (None, ["visits>50", "visits<40"], ["contradict"]),
        (None, ["color>=red"], ["categorical", "not '>='"]),
        (None, ["income!=3"], ["income", "not '!='"]),
        (None, ["id=user-000001"], ["identifier"]),
        (None, ["country=DE"], ["'country' always holds 'NL'"]),
        (None, ["signup<1999-01-01"], ["no value of 'signup'", "its values run from 2020-01-"]),
        (None, ["visits>=many"], ["not a number"]),
        ({"color": "red"}, ["color=green"], ["no value of 'color' satisfies"]),
    ],
)
def test_impossible_conditions_fail_before_any_work(fitted, conditions, where, words, monkeypatch):
    from synthvae.decoder import Decoder

    def failing_call(self, z):
        pytest.fail("decoded before checking the conditions")

    monkeypatch.setattr(Decoder, "__call__", failing_call)
    with pytest.raises(DataError) as info:
        fitted.iter_sample(10, conditions=conditions, where=where)
    for word in words:
        assert word in str(info.value), str(info.value)


@pytest.mark.parametrize(
    "text, parsed",
    [
        ("sex= Female", ("sex", "==", " Female")),
        ("age>=40", ("age", ">=", "40")),
        (" age < 40 ", ("age", "<", " 40 ")),
        ("race!=White", ("race", "!=", "White")),
        ("x==a=b", ("x", "==", "a=b")),
    ],
)
def test_parse_where_splits_at_the_first_operator(text, parsed):
    assert parse_where(text) == parsed


@pytest.mark.parametrize("text", ["sex", "=Female", "age>=", "age>=  ", "a!b"])
def test_malformed_where_is_a_usage_error(text):
    with pytest.raises(UsageError):
        parse_where(text)


def test_argmax_with_conditions_is_a_usage_error(fitted):
    with pytest.raises(UsageError):
        fitted.sample(10, argmax=True, where=["color=red"])




def test_cli_where(fitted, tmp_path):
    model = tmp_path / "m.synthvae"
    fitted.save(model)
    status, out, err = cli("sample", 200, "-m", model, "--seed", 1, "--where", "color=blue", "--where", "visits>=30")
    assert status == 0, err
    rows = pd.read_csv(io.StringIO(out))
    assert len(rows) == 200 and (rows["color"] == " blue").all() and (rows["visits"] >= 30).all()
    status, out, err = cli("sample", 5, "-m", model, "--where", "color")
    assert status == 2 and out == "" and err.startswith("error: ") and err.count("\n") == 1
    status, out, err = cli("sample", 5, "-m", model, "--where", "visits>1000")
    assert status == 1 and out == ""
    assert err.startswith("error: no value of 'visits'") and err.count("\n") == 1


def test_pooled_rare_levels_keep_their_own_share():
    """Levels beyond the 500 kept ones share one pooled slot: a condition naming a few
    of them must give them their own small mass, not the whole pool's."""
    from synthvae import SynthVAE

    from conftest import TINY

    rng = np.random.default_rng(0)
    names = [f"n{i:03d}" for i in range(700)]
    share = np.r_[np.full(100, 0.006), np.full(600, 0.4 / 600)]
    frame = pd.DataFrame({"name": rng.choice(names, 3000, p=share), "x": rng.normal(size=3000)})
    # Barely trained and uncalibrated is enough: the pooled slot's mass is split by the
    # pooled levels' training shares whatever the decoder says. Most pooled levels are
    # seen in 2 rows, which value protection would withhold.
    with pytest.warns(UserWarning, match="value protection is off"):
        model = SynthVAE(random_state=0, value_protection=False,
                         **{**TINY, "epochs": 1, "calibrate": False}).fit(frame)
    t = model.transformer_.transformers_[0]
    assert len(t.pooled_) > 10
    common, rare = t.levels_[0], t.pooled_[:2]
    rows = model.sample(600, random_state=1, conditions={"name": [common, *rare]})
    assert set(rows["name"]) <= {common, *rare}
    # In the data the two pooled levels together hold about 1/15 of what the common one does.
    assert rows["name"].isin(rare).mean() < 0.25
    assert rows["name"].isin(rare).any()
