"""Sampling speed and start-up from the command line, with the Adult model of this run."""

import pstats
import statistics
import sys
from pathlib import Path

from sections import fmt, lookup, provenance, ratio, table

SIZES = {False: (100_000, 1_000_000), True: (10_000, 50_000)}  # (N1, N2); quick: the second


def measure(results, ctx):
    run = results["runs"].get("adult", {}).get("synthvae", {})
    if "model" not in run:
        return {"error": "no synthvae model of Adult in this run"}
    model, out, timed, log = ctx["repo"] / run["folder"] / run["model"], ctx["out"] / "sampling", ctx["timed"], ctx["log"]
    out.mkdir(exist_ok=True)
    cli = [sys.executable, "-m", "synthvae"]
    script = Path(sys.executable).parent / "synthvae"
    help_cmd = [script, "--help"] if script.exists() else cli + ["--help"]
    timed(help_cmd)  # warm the page cache
    m = {"help_command": " ".join(["synthvae" if script.exists() else "python -m synthvae", "--help"]),
         "help_s": statistics.median(timed(help_cmd)["wall_s"] for _ in range(5))}
    zero = [timed(cli + ["sample", "0", "-m", model, "--seed", "1"]) for _ in range(3)]
    m["fixed_s"] = statistics.median(z["wall_s"] for z in zero)
    m["runs"] = []
    for n in SIZES[ctx["args"].quick]:
        r = timed(cli + ["sample", str(n), "-m", model, "--seed", "1"], stdout=out / f"adult-{n}.csv")
        if r["rc"]:
            return {"error": f"`synthvae sample {n}` exited with {r['rc']}"}
        m["runs"].append({"rows": n, "wall_s": r["wall_s"], "peak_rss_mib": r["peak_rss_mib"],
                          "bytes": (out / f"adult-{n}.csv").stat().st_size})
        (out / f"adult-{n}.csv").unlink()
        log(f"sample {n:,}: {r['wall_s']:.2f} s")
    (a, b) = m["runs"]
    m["steady_rows_per_s"] = (b["rows"] - a["rows"]) / (b["wall_s"] - a["wall_s"])
    m["big_rows"], m["big_write_s"] = b["rows"], b["wall_s"] - m["fixed_s"]
    if ctx["args"].profile:
        prof = ctx["out"] / "profile"
        prof.mkdir(exist_ok=True)
        timed([sys.executable, "-m", "cProfile", "-o", prof / "sample.prof", "-m", "synthvae", "sample",
               str(b["rows"]), "-m", model, "--seed", "1"])
        with open(prof / "sample.txt", "w") as text:
            pstats.Stats(str(prof / "sample.prof"), stream=text).sort_stats("cumulative").print_stats(40)
        log(f"profile: {prof}/sample.prof and sample.txt")
    return m


def render(results, targets):
    m = results.get("sampling") or {"error": "not measured"}
    if "error" in m:
        return f"## Sampling and start-up\n\n{m['error']}."
    tvae_s, own_s = (r.get("big_sample_write_s") if r and r.get("big_rows") == m["big_rows"] else None
                     for r in (lookup(results, "runs.adult.tvae"), lookup(results, "runs.adult.synthvae")))
    rows = [[f"`{m['help_command']}`, median of 5", fmt(m["help_s"]), "—", "—"],
            ["`synthvae sample 0 -m adult.synthvae --seed 1 > /dev/null` (fixed cost: start-up, "
             "TensorFlow, model load), median of 3", fmt(m["fixed_s"]), "—", "—"]]
    rows += [[f"`synthvae sample {r['rows']} -m adult.synthvae --seed 1 > file`", fmt(r["wall_s"]),
              fmt(r["peak_rss_mib"]), f"{r['bytes'] / r['rows']:.1f}"] for r in m["runs"]]
    derived = [
        ["steady rows/s = (N₂ − N₁) / (t₂ − t₁)", fmt(m["steady_rows_per_s"]), "—", "—"],
        [f"{m['big_rows']:,} rows to CSV, s: synthvae's command minus its fixed cost; TVAE in-process",
         fmt(m["big_write_s"]), fmt(tvae_s), ratio(tvae_s, m["big_write_s"])],
        [f"{m['big_rows']:,} rows in-process, both: `sample(n)` then `DataFrame.to_csv`, s", fmt(own_s),
         fmt(tvae_s), ratio(tvae_s, own_s)],
    ]
    return (
        "## Sampling and start-up\n\n"
        "Command-line runs with the Adult model fitted above, each a child process timed from fork to "
        "exit; peak RSS is its `ru_maxrss`.\n\n"
        f"{table(['command', 'wall s', 'peak RSS MiB', 'CSV bytes/row'], rows)}\n\n"
        "In-process figures come from each method's Adult fit of this run, after one 1,000-row warm-up "
        "draw. Ratio: TVAE ÷ synthvae.\n\n"
        f"{table(['figure', 'synthvae', 'TVAE', 'TVAE ÷ synthvae'], derived)}\n\n"
        f"<sub>{provenance(results, 'adult')}</sub>"
    )
