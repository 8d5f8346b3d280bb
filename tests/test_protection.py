"""Value protection: nothing that fewer than k training rows share leaves in a model
file or in sampled rows; personal columns come back as fakes; identifiers are new."""

import json
import re
import zipfile

import numpy as np
import pandas as pd
import pytest

from conftest import TINY, cli
from synthvae import SynthVAE
from synthvae.metrics import evaluate
from synthvae.personal_kinds import personal_kind
from synthvae.schema import infer_schema
from synthvae.transformers import TableTransformer, learned

K = learned.RARE_ROWS
EXTREME_SALARIES = [2_500_003.0, 3_100_007.0, 4_200_011.0, 9_900_013.0]
RARE_CITIES = ["Tinytown", "Lonelyville", "Smallburg"]
RARE_DATES = ["1990-01-01", "1991-06-15", "2030-12-31"]
SYLLABLES = ["zor", "bax", "qui", "tel", "mun", "dra", "vek", "lis", "pom", "rha", "sut", "gwe"]


def _invented_names(rng, count):
    """Names that are no one's and in no word list: two words of three syllables."""
    names = set()
    while len(names) < count:
        first, last = ("".join(rng.choice(SYLLABLES, 3)).capitalize() for _ in range(2))
        names.add(f"{first} {last}")
    return sorted(names)


def _people(n=2000, seed=0):
    rng = np.random.default_rng(seed)
    invented = _invented_names(rng, 1720)
    once, common = invented[:1700], invented[1700:]
    names = np.array(once + [name for name in common for _ in range(15)], dtype=object)
    rng.shuffle(names)
    emails = [f"{name.lower().replace(' ', '.')}@mailhost{i % 4}.org" for i, name in enumerate(names)]
    salary = np.round(rng.lognormal(10.5, 0.4, n))
    salary[:4] = EXTREME_SALARIES
    city = rng.choice(["Springfield", "Shelbyville", "Ogdenville"], n).astype(object)
    city[4:7] = RARE_CITIES
    joined = (pd.Timestamp("2015-01-01") + pd.to_timedelta(rng.integers(0, 3000, n), unit="D")).strftime("%Y-%m-%d")
    joined = np.asarray(joined, dtype=object)
    joined[7:10] = RARE_DATES
    return pd.DataFrame({"person_id": 1000.0 + np.arange(n), "name": names, "email": emails, "city": city,
                         "age": rng.integers(18, 90, n), "salary": salary, "joined": joined}), once


@pytest.fixture(scope="module")
def people():
    return _people()


@pytest.fixture(scope="module")
def protected(people, tmp_path_factory):
    frame, _ = people
    path = tmp_path_factory.mktemp("protected") / "people.synthvae"
    model = SynthVAE(random_state=0, **TINY).fit(frame)
    model.save(path)
    return model, path


@pytest.fixture(scope="module")
def sampled(protected):
    return protected[0].sample(100_000, random_state=1)


def _kth(values, k=K):
    values = np.sort(np.asarray(values, dtype=np.float64))
    return values[k - 1], values[-k]


def test_people_table_is_read_with_personal_columns(people):
    schema = infer_schema(people[0])
    assert {c.name: (c.kind, c.personal) for c in schema.columns if c.kind in ("personal", "identifier")} == {
        "person_id": ("identifier", None), "name": ("personal", "name"), "email": ("personal", "email")}


def test_model_file_holds_no_rare_value(protected, people):
    frame, once = people
    _, path = protected
    with zipfile.ZipFile(path) as zf:
        stored = b"".join(zf.read(member) for member in zf.namelist())
    text = stored.decode("utf-8", errors="replace")
    for value in once + RARE_CITIES + RARE_DATES:
        assert value not in text
    seconds = pd.to_datetime(pd.Series(RARE_DATES)).astype("int64") // 10**9
    for number in EXTREME_SALARIES + seconds.tolist():
        assert not re.search(rf"(?<![\d.]){int(number)}(\.0)?(?![\d])", text)


def test_stored_ranges_and_quantile_tables_stay_inside_the_kth_values(protected, people):
    frame, _ = people
    _, path = protected
    with zipfile.ZipFile(path) as zf:
        schema = json.loads(zf.read("schema.json"))
        state = json.loads(zf.read("transformer.json"))
    by_name = {c["name"]: t["state"] for c, t in zip(schema["columns"], state["transformers"])}
    for name in ("salary", "age"):
        low, high = _kth(frame[name])
        stored = by_name[name]
        quantiles = np.asarray(stored["encoder"]["quantiles"])
        assert low <= stored["min"] <= stored["max"] <= high
        assert quantiles.min() >= low and quantiles.max() <= high
        assert len(quantiles) <= len(frame) // K  # coarser than the data: never every value
    seconds = pd.to_datetime(frame["joined"]).astype("int64") // 10**9
    low, high = _kth(seconds)
    joined = by_name["joined"]["numeric"]
    assert low <= joined["min"] <= joined["max"] <= high


def test_sampled_rows_hold_no_rare_value_or_extreme(sampled, people):
    frame, once = people
    assert not set(sampled["name"]) & set(once)
    assert not set(sampled["email"]) & set(frame["email"])
    assert not set(sampled["city"]) & set(RARE_CITIES)
    assert set(sampled["city"]) <= {"Springfield", "Shelbyville", "Ogdenville"}
    for name in ("salary", "age"):
        low, high = _kth(frame[name])
        assert sampled[name].between(low, high).all()
    low, high = _kth(pd.to_datetime(frame["joined"]).astype("int64"))
    assert pd.to_datetime(sampled["joined"]).astype("int64").between(low, high).all()


def test_float_identifiers_are_counted_on_past_the_largest_key(sampled, people):
    frame, _ = people
    assert sampled["person_id"].dtype == frame["person_id"].dtype
    assert sampled["person_id"].min() > frame["person_id"].max()
    assert sampled["person_id"].is_unique


def test_names_and_emails_come_back_as_plausible_fakes(sampled):
    head = sampled.head(2000)
    assert personal_kind(head["name"]) == "name"
    assert personal_kind(head["email"]) == "email"
    assert head["name"].str.fullmatch(r"[A-Z][a-z'-]+( [A-Z][a-z'-]+){1,2}").mean() > 0.95
    # The domains the people table shares (each by hundreds of rows) are kept.
    assert set(head["email"].str.split("@").str[1]) <= {f"mailhost{i}.org" for i in range(4)}
    assert head["name"].nunique() > 1500


def test_same_seed_same_fakes(protected):
    model, _ = protected
    pd.testing.assert_frame_equal(model.sample(300, random_state=5), model.sample(300, random_state=5))


def test_inspect_reports_the_protection(protected):
    from synthvae.inspection import describe_model, format_description

    info = describe_model(protected[1])
    text = format_description(info)
    assert f"value protection on (k = {K})" in text
    assert "personal columns regenerated as fakes, never learned: name, email" in text
    assert info["parameters"]["value_protection"] is True


def test_opting_out_warns_and_keeps_rare_levels():
    frame = pd.DataFrame({"city": ["Big"] * 40 + ["Rare"] * 2, "n": np.arange(42.0) * 1.5})
    with pytest.warns(UserWarning, match="value protection is off"):
        model = SynthVAE(random_state=0, value_protection=False, **{**TINY, "epochs": 1}).fit(frame)
    assert "Rare" in model.transformer_.column_transformer("city").known_values()
    assert model.transformer_.column_transformer("n").value_range() == (0.0, 61.5)


def test_policy_withholds_rare_levels_and_rounds_counts():
    series = pd.Series(["a"] * 12 + ["b"] * 7 + ["c"] * 4 + [None] * 2, dtype=object)
    with learned.applied(learned.Policy(learned.PROTECTED)):
        levels, pooled, weights, withheld = learned.levels(series, max_levels=1)
        assert learned.counts([3, 7, 12]).tolist() == [5.0, 5.0, 10.0]
        assert learned.bounds(np.arange(100.0)) == (4.0, 95.0)
    assert (levels, pooled, withheld) == (["a"], ["b", None], True)
    assert weights == [0.5, 0.5]  # 7 and 2 rows, kept as 5 and 5
    assert learned.levels(series, max_levels=1)[3] is False  # exact outside the policy
    assert learned.bounds(np.arange(100.0)) == (0.0, 99.0)


def test_withheld_levels_are_learned_as_common_levels_of_the_same_parent():
    # Each borough has two common zones and rare ones; Bronx rows are mostly in rare zones.
    zones = {"Manhattan": [("Midtown", 300), ("SoHo", 200), ("Inwood", 2)],
             "Bronx": [("Fordham", 10), ("Mott Haven", 6), ("Riverdale", 3), ("Wakefield", 2), ("City Island", 1)],
             "Queens": [("Astoria", 60), ("Corona", 8), ("Jamaica", 4)]}
    rows = [(zone, borough) for borough, entries in zones.items() for zone, n in entries for _ in range(n)]
    frame = pd.DataFrame(rows, columns=["zone", "borough"])
    frame["siblings"] = np.resize([0, 0, 0, 1, 1, 2], len(frame))
    frame.loc[[5, 50, 500], "siblings"] = 8  # rare: written as the nearest kept number, 2
    frame["fare"] = np.linspace(5.0, 50.0, len(frame))
    schema = infer_schema(frame)
    with learned.applied(learned.Policy(learned.PROTECTED)):
        table = TableTransformer(schema, random_state=0).fit(frame)
        back = table.inverse_transform(table.transform(frame))
    assert table.column_transformer("borough").inputs == ("zone",)  # looked up from the zone
    rare = {zone for entries in zones.values() for zone, n in entries if n < K}
    assert not rare & set(back["zone"])
    assert not rare & set(table.column_transformer("zone").known_values())
    # Every borough keeps its rows: the rare zones' rows became common zones of their own borough.
    assert back["borough"].value_counts().to_dict() == frame["borough"].value_counts().to_dict()
    assert (back.groupby("zone")["borough"].nunique() == 1).all()
    assert sorted(set(back["siblings"])) == [0, 1, 2]
    assert (back["siblings"][frame["siblings"] == 8] == 2).all()


@pytest.mark.parametrize("values, kind", [
    ([f"+1 ({100 + i}) 555-{1000 + i:04d}" for i in range(40)], "phone"),
    ([f"Called about order {i}, wants a refund by friday" for i in range(40)], "text"),
    ([f"user-{i:05d}" for i in range(40)], None),
    (["red", "green", "blue", "yellow"] * 10, None),
])
def test_personal_kinds_are_recognised(values, kind):
    assert personal_kind(pd.Series(values)) == kind


def test_membership_and_singling_out_figures():
    rng = np.random.default_rng(0)
    real = pd.DataFrame({"x": rng.normal(size=400), "y": rng.normal(size=400), "g": rng.choice(["a", "b"], 400)})
    holdout = pd.DataFrame({"x": rng.normal(size=400), "y": rng.normal(size=400), "g": rng.choice(["a", "b"], 400)})
    fresh = pd.DataFrame({"x": rng.normal(size=400), "y": rng.normal(size=400), "g": rng.choice(["a", "b"], 400)})
    copied = evaluate(real, real.copy(), holdout)
    new = evaluate(real, fresh, holdout)
    assert copied["membership_auc"] > 0.95 and copied["singling_out_share"] == 100.0
    assert copied["holdout_singling_out_share"] < 60.0
    assert abs(new["membership_auc"] - 0.5) < 0.08
    assert new["singling_out_share"] < 60.0
    assert "membership_auc" not in evaluate(real, fresh) and "singling_out_share" in evaluate(real, fresh)




def test_cli_names_personal_columns_and_warns_when_protection_is_off(people, tmp_path):
    data = tmp_path / "people.csv"
    people[0].head(200).to_csv(data, index=False)
    status, out, err = cli("schema", data)
    assert status == 0 and json.loads(out)["columns"][1]["personal"] == "name"
    assert err == "personal columns, regenerated and never learned: name (name), email (email) " \
                  "(set their kind to categorical to learn them)\n"
    status, out, err = cli("fit", data, "-o", tmp_path / "m.synthvae", "--epochs", 1, "--seed", 0, "-q",
                            "--no-value-protection")
    assert status == 0 and out == ""
    assert err.startswith("warning: value protection is off") and err.count("\n") == 1
