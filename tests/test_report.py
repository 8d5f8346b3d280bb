"""``synthvae report`` writes one self-contained HTML page.

The page is checked as text (every image embedded, nothing fetched, the figures
equal to what evaluate() returns, one plot per column plus the heatmaps), through
the command line and the Python API, and as a picture: headless Chromium renders it
and the screenshot must show the plots, not a blank or text-only page.
"""

import base64
import io
import re
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest

import synthvae
from synthvae.errors import DataError, UsageError
from synthvae.metrics import evaluate, evaluate_with_details

from conftest import cli

# Scalar figures the table must show whenever evaluate() returns them.
FIGURES = ("column_shape_error", "pair_trend_error", "pair_trend_error_strong", "ml_efficacy_real",
           "ml_efficacy_synth", "detection_auc", "dcr_share", "exact_copy_rate", "holdout_copy_rate")
HEATMAPS = 4  # real trends, synthetic trends, their difference, per-pair error
SYNTH_ORANGE = np.array([0xE6, 0x9F, 0x00]) / 255.0  # the synthetic line colour in every overlay


def table(n, seed, shift=0.0):
    """Every kind of column the report draws differently, with gaps and an identifier."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n) + shift
    city = rng.choice([f"city-{k:02d}" for k in range(20)], size=n).astype(object)  # > MAX_LEVELS levels
    city[rng.random(n) < 0.05] = None
    income = np.exp(10 + 0.5 * x).round(2)
    income[rng.random(n) < 0.05] = np.nan
    return pd.DataFrame({
        "id": [f"row-{seed}-{i:05d}" for i in range(n)],
        "income": income,
        "age": np.clip(40 + 12 * x, 18, 90).round().astype(int),
        "city": city,
        "member": x + rng.normal(scale=0.5, size=n) > 0,
        "joined": (pd.Timestamp("2019-01-01") + pd.to_timedelta(rng.integers(0, 1500, n), unit="D")).strftime("%Y-%m-%d"),
        "label": np.where(x + rng.normal(scale=0.7, size=n) > 0.3, "yes", "no"),
    })


@pytest.fixture(scope="module")
def frames():
    return {"real": table(600, 0), "synth": table(600, 1, shift=0.3), "holdout": table(400, 2)}


@pytest.fixture(scope="module")
def written(frames, tmp_path_factory):
    """The page for the fixture tables with holdout and target, written once."""
    path = tmp_path_factory.mktemp("report") / "report.html"
    result = synthvae.write_report(frames["real"], frames["synth"], path, holdout=frames["holdout"], target="label")
    return path, result


def images(page, css_class=None):
    tags = re.findall(r"<img\b[^>]*>", page)
    if css_class is not None:
        tags = [t for t in tags if f'class="{css_class}"' in t]
    return tags


def assert_self_contained(page):
    assert page.lstrip().startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert "http://" not in page and "https://" not in page
    assert not re.search(r"<script\b", page, re.I) and not re.search(r"<link\b", page, re.I)
    assert not re.search(r"""\burl\(""", page)  # no style sheet fetches either
    sources = re.findall(r"""\b(?:src|href)\s*=\s*["']([^"']*)""", page)
    assert sources and all(s.startswith("data:image/png;base64,") for s in sources), sources[:3]
    import matplotlib.image

    for source in sources:
        png = base64.b64decode(source.split(",", 1)[1], validate=True)
        pixels = matplotlib.image.imread(io.BytesIO(png), format="png")
        assert pixels.shape[0] > 100 and pixels.shape[1] > 100


# ------------------------------------------------------------------- the page


def test_python_api_writes_a_self_contained_page(frames, written):
    path, result = written
    page = path.read_text(encoding="utf-8")
    assert_self_contained(page)
    # The figures are evaluate()'s, not a recomputation that could drift from them.
    assert result == evaluate(frames["real"], frames["synth"], holdout=frames["holdout"], target="label")
    compared = [c for c in frames["real"].columns if c != "id"]
    assert sorted(result["columns"]) == sorted(compared) and result["skipped_columns"] == ["id"]
    assert len(images(page, "column-plot")) == len(compared)
    assert len(images(page, "heatmap")) == HEATMAPS
    assert len(images(page, "dcr-plot")) == 1
    assert len(images(page)) == len(compared) + HEATMAPS + 1
    for name in compared:
        assert f'alt="{name}: real and synthetic distributions"' in page


def test_table_shows_every_figure_that_evaluate_returns(written):
    path, result = written
    page = path.read_text(encoding="utf-8")
    present = [k for k in FIGURES if k in result]
    assert len(present) == len(FIGURES)  # holdout and target: every figure
    for key in present:
        row = re.search(rf'<tr data-key="{key}">(.*?)</tr>', page)
        assert row, key
        value = re.search(r'data-value="([^"]*)">([^<]*)<', row.group(1))
        assert float(value.group(1)) == result[key], key
        shown = value.group(2)
        assert float(shown) == pytest.approx(result[key], abs=0.006), (key, shown)
    order = [page.index(f'data-key="{k}"') for k in present]
    assert order == sorted(order)


def test_without_holdout_no_distance_plot(frames, tmp_path):
    path = tmp_path / "plain.html"
    result = synthvae.write_report(frames["real"], frames["synth"], str(path))
    page = path.read_text(encoding="utf-8")
    assert_self_contained(page)
    assert "dcr_share" not in result and 'data-key="dcr_share"' not in page
    assert len(images(page, "dcr-plot")) == 0
    assert len(images(page)) == len(result["columns"]) + HEATMAPS
    assert "--holdout" in page  # says how to get the missing section


def test_captions_give_missing_shares(written):
    page = written[0].read_text(encoding="utf-8")
    # city has 20 levels plus missing: the plot shows the top ones and one pooled bar.
    city = re.search(r'alt="city: real and synthetic distributions".*?<figcaption>(.*?)</figcaption>', page)
    assert "missing: real" in city.group(1)


# ------------------------------------------------------ the values behind it


def test_details_are_the_values_behind_the_figures(frames):
    result, details = evaluate_with_details(frames["real"], frames["synth"], holdout=frames["holdout"])
    assert result == evaluate(frames["real"], frames["synth"], holdout=frames["holdout"])
    trends = details["pair_trends"]
    names = list(trends["real"].columns)
    assert names == [c for c in frames["real"].columns if c != "id"]
    for key in ("real", "synth", "error"):
        m = trends[key].to_numpy()
        assert np.all(np.isnan(np.diag(m))) and np.allclose(m, m.T, equal_nan=True)
    for pair in result["pairs"]:
        a, b = pair["columns"]
        real_trend = pair["real_correlation"] if pair["real_correlation"] is not None else pair["real_association"]
        assert trends["real"].loc[a, b] == pytest.approx(real_trend)
        assert trends["error"].loc[a, b] == pytest.approx(100 * (1 - pair["score"]))
        if pair["synthetic_correlation"] is not None:
            assert trends["synth"].loc[a, b] == pytest.approx(pair["synthetic_correlation"])
    # The synthetic rows were drawn with a shift: some pair trend must differ.
    assert np.nanmax(np.abs(trends["synth"].to_numpy() - trends["real"].to_numpy())) > 0.01
    # The mean pair error is the headline figure.
    upper = trends["error"].to_numpy()[np.triu_indices(len(names), 1)]
    assert np.nanmean(upper) == pytest.approx(result["pair_trend_error"])

    d_train, d_hold = details["dcr"]["train"], details["dcr"]["holdout"]
    assert len(d_train) == len(d_hold) == len(frames["synth"])
    assert np.all(d_train >= 0) and np.all(d_hold >= 0)
    tie = np.isclose(d_train, d_hold, rtol=0, atol=1e-6)
    share = 100 * np.mean(np.where(tie, 0.5, d_train < d_hold))
    assert share == pytest.approx(result["dcr_share"], abs=0.5)

    kinds = {name: info["kind"] for name, info in details["columns"].items()}
    assert {"continuous", "integer", "categorical", "boolean", "datetime"} <= set(kinds.values())


def test_shifted_synthetic_rows_show_in_the_overlays(frames):
    _, details = evaluate_with_details(frames["real"], frames["synth"])
    age = details["columns"]["age"]["values"]
    assert np.mean(age["synth"]) > np.mean(age["real"])  # the plotted values carry the shift


# ---------------------------------------------------------- the command line




@pytest.fixture(scope="module")
def csvs(frames, tmp_path_factory):
    folder = tmp_path_factory.mktemp("csv")
    paths = {}
    for name, frame in frames.items():
        paths[name] = folder / f"{name}.csv"
        frame.to_csv(paths[name], index=False)
    return paths


def test_cli_writes_the_same_figures(csvs, tmp_path):
    out = tmp_path / "r.html"
    status, stdout, stderr = cli("report", csvs["real"], csvs["synth"], "--holdout", csvs["holdout"],
                                 "--target", "label", "-o", out)
    assert status == 0, stderr
    assert stdout == "" and stderr == f"wrote {out}\n"
    page = out.read_text(encoding="utf-8")
    assert_self_contained(page)
    assert "synth.csv against real.csv" in page
    status, stdout, _ = cli("evaluate", csvs["real"], csvs["synth"], "--holdout", csvs["holdout"],
                            "--target", "label", "--json")
    import json

    figures = json.loads(stdout)
    for key in FIGURES:
        assert f'data-value="{float(figures[key])!r}"' in page, key
    assert len(images(page)) == len(figures["columns"]) + HEATMAPS + 1
    assert list(tmp_path.iterdir()) == [out]  # no temporary file left beside it


@pytest.mark.parametrize(
    "args, code, words",
    [
        (["/no/such.csv", "{synth}"], 1, ["no such file", "/no/such.csv"]),
        (["{real}", "{synth}", "--holdout", "/no/holdout.csv"], 1, ["no such file", "/no/holdout.csv"]),
        (["{real}", "{narrow}"], 1, ["different columns", "synth lacks city"]),
        (["{real}", "{synth}", "--holdout", "{holdout}", "--target", "nope"], 1, ["target 'nope' is not a column"]),
        (["{real}", "{synth}", "--target", "label"], 1, ["target needs holdout"]),
        (["{real}", "{synth}", "-o", "/no/such/folder/r.html"], 2, ["cannot write", "does not exist"]),
    ],
)
def test_cli_bad_input_is_one_line(csvs, frames, tmp_path, args, code, words):
    narrow = tmp_path / "narrow.csv"
    frames["synth"].drop(columns=["city"]).to_csv(narrow, index=False)
    paths = {**{k: str(v) for k, v in csvs.items()}, "narrow": str(narrow)}
    args = [a.format(**paths) for a in args]
    if "-o" not in args:
        args += ["-o", str(tmp_path / "r.html")]
    status, out, err = cli("report", *args)
    assert status == code, err
    assert out == "" and err.startswith("error: ") and err.count("\n") == 1, err
    for word in words:
        assert word in err, err
    assert not list(tmp_path.glob("*.html")) and not list(tmp_path.glob(".*.tmp"))


def test_python_bad_input_raises_before_writing(frames, tmp_path):
    path = tmp_path / "r.html"
    with pytest.raises(DataError, match="synth lacks city"):
        synthvae.write_report(frames["real"], frames["synth"].drop(columns=["city"]), path)
    with pytest.raises(DataError, match="target 'nope' is not a column"):
        synthvae.write_report(frames["real"], frames["synth"], path, holdout=frames["holdout"], target="nope")
    with pytest.raises(UsageError, match="does not exist"):
        synthvae.write_report(frames["real"], frames["synth"], tmp_path / "missing" / "r.html")
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------ the screenshot


def chromium():
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("chromium not installed: apt-get install chromium")


def screenshot(browser, html_path, png_path, profile):
    subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={profile}", f"--screenshot={png_path}", "--window-size=1280,4000",
         html_path.resolve().as_uri()],
        check=True, capture_output=True, timeout=120,
    )
    import matplotlib.image

    pixels = matplotlib.image.imread(png_path)[..., :3]
    assert pixels.shape[:2] == (4000, 1280)
    return pixels


def picture_stats(pixels):
    non_white = np.mean(np.any(pixels < 0.95, axis=-1))
    quantized = np.round(pixels.reshape(-1, 3) * 31).astype(np.int64)
    colours = len(np.unique(quantized[:, 0] * 1024 + quantized[:, 1] * 32 + quantized[:, 2]))
    orange = int(np.sum(np.all(np.abs(pixels - SYNTH_ORANGE) < 0.06, axis=-1)))
    return non_white, colours, orange


def test_screenshot_shows_the_plots(written, tmp_path):
    browser = chromium()
    path = written[0]
    shown = picture_stats(screenshot(browser, path, tmp_path / "page.png", tmp_path / "profile"))
    # The same page with every image taken out: what a page whose images failed looks like.
    bare = tmp_path / "bare.html"
    bare.write_text(re.sub(r"<img\b[^>]*>", "", path.read_text(encoding="utf-8")), encoding="utf-8")
    empty = picture_stats(screenshot(browser, bare, tmp_path / "bare.png", tmp_path / "profile"))
    non_white, colours, orange = shown
    assert non_white > 0.10 and non_white > empty[0] + 0.05, (shown, empty)
    assert colours > 200 and colours > 3 * empty[1], (shown, empty)
    assert orange > 500 and empty[2] == 0, (shown, empty)  # the synthetic lines and bars are drawn


def test_rules_section_counts_the_broken_rows(tmp_path):
    rng = np.random.default_rng(0)
    n = 1500
    start = rng.normal(100, 20, n).round(1)
    real = pd.DataFrame({"start": start, "end": start + rng.exponential(5, n).round(1)})
    synth = real.sample(frac=1, random_state=1).reset_index(drop=True)
    synth.loc[:149, "end"] = synth.loc[:149, "start"] - 1  # 150 rows end before they start
    path = tmp_path / "rules.html"
    result = synthvae.write_report(real, synth, path)
    page = path.read_text(encoding="utf-8")
    assert '<h2 id="rules">Rules</h2>' in page
    row = re.search(r'<tr data-rule="start &lt;= end">(.*?)</tr>', page) or re.search(
        r'<tr data-rule="start &lt; end">(.*?)</tr>', page)
    assert row and re.search(r'data-broken="150">150<', row.group(1))
    assert [r["broken"] for r in result["rules"]] == [150]
