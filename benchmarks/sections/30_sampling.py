"""Sampling speed and start-up from the command line, with the Adult and taxis models of
this run, and the limit: how fast the same rows, already made, can be written."""

import json
import os
import pstats
import statistics
import sys
from pathlib import Path

from sections import fmt, lookup, provenance, ratio, table

SIZES = {False: (100_000, 1_000_000), True: (10_000, 50_000)}  # (N1, N2); quick: the second
SMALL = 1_000
# Rows made in memory and then written, for the write limit.
LIMIT_ROWS = {False: 500_000, True: 50_000}


def _model(results, name):
    run = results["runs"].get(name, {}).get("synthvae", {})
    return run.get("folder"), run.get("model")


def _steady(cli, model, sizes, out, timed, log, name):
    """Two sample sizes of one model: their runs and the steady rows/s between them."""
    runs = []
    for n in sizes:
        target = out / f"{name}-{n}.csv"
        r = timed(cli + ["sample", str(n), "-m", model, "--seed", "1"], stdout=target)
        if r["rc"]:
            return {"error": f"`synthvae sample {n}` of {name} exited with {r['rc']}"}
        runs.append({"rows": n, "wall_s": r["wall_s"], "cpu_s": r["cpu_s"], "peak_rss_mib": r["peak_rss_mib"],
                     "bytes": target.stat().st_size})
        target.unlink()
        log(f"{name}: sample {n:,}: {r['wall_s']:.2f} s")
    a, b = runs
    return {"runs": runs, "steady_rows_per_s": (b["rows"] - a["rows"]) / (b["wall_s"] - a["wall_s"])}


def measure(results, ctx):
    folder, name = _model(results, "adult")
    if name is None:
        return {"error": "no synthvae model of Adult in this run"}
    model, out, timed, log = ctx["repo"] / folder / name, ctx["out"] / "sampling", ctx["timed"], ctx["log"]
    out.mkdir(exist_ok=True)
    cli = [sys.executable, "-m", "synthvae"]
    script = Path(sys.executable).parent / "synthvae"
    help_cmd = [script, "--help"] if script.exists() else cli + ["--help"]
    timed(help_cmd)  # warm the page cache
    m = {"help_command": " ".join(["synthvae" if script.exists() else "python -m synthvae", "--help"]),
         "help_s": statistics.median(timed(help_cmd)["wall_s"] for _ in range(5)),
         "cores": len(os.sched_getaffinity(0))}
    zero = [timed(cli + ["sample", "0", "-m", model, "--seed", "1"]) for _ in range(3)]
    m["fixed_s"] = statistics.median(z["wall_s"] for z in zero)
    small = [timed(cli + ["sample", str(SMALL), "-m", model, "--seed", "1"], stdout=out / "small.csv") for _ in range(3)]
    m["small_rows"], m["small_s"] = SMALL, statistics.median(s["wall_s"] for s in small)
    adult = _steady(cli, model, SIZES[ctx["args"].quick], out, timed, log, "adult")
    if "error" in adult:
        return adult
    m["runs"], m["steady_rows_per_s"] = adult["runs"], adult["steady_rows_per_s"]
    b = m["runs"][-1]
    m["big_rows"], m["big_wall_s"], m["big_write_s"] = b["rows"], b["wall_s"], b["wall_s"] - m["fixed_s"]
    taxis_folder, taxis_name = _model(results, "taxis")
    if taxis_name is not None:
        taxis = _steady(cli, ctx["repo"] / taxis_folder / taxis_name, SIZES[ctx["args"].quick], out, timed, log,
                        "taxis")
        m["taxis"] = taxis
    limit = out / "write-limit.json"
    r = timed([sys.executable, ctx["repo"] / "benchmarks" / "write_limit.py", model,
               str(LIMIT_ROWS[ctx["args"].quick]), str(m["cores"])], stdout=limit)
    m["write_limit"] = json.loads(limit.read_text()) if not r["rc"] else {"error": f"exit {r['rc']}"}
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
    rows = [[f"`{m['help_command']}`, median of 5", fmt(m["help_s"]), "—", "—", "—"],
            ["`synthvae sample 0 -m adult.synthvae --seed 1 > /dev/null` (fixed cost: start-up, "
             "model load), median of 3", fmt(m["fixed_s"]), "—", "—", "—"]]
    if "small_s" in m:
        rows.append([f"`synthvae sample {m['small_rows']:,} -m adult.synthvae --seed 1 > file`, median of 3",
                     fmt(m["small_s"]), "—", "—", "—"])
    runs = [("adult", m["runs"])] + ([("taxis", m["taxis"]["runs"])] if "runs" in m.get("taxis", {}) else [])
    rows += [[f"`synthvae sample {r['rows']} -m {name}.synthvae --seed 1 > file`", fmt(r["wall_s"]),
              fmt(r.get("cpu_s")), fmt(r["peak_rss_mib"]), f"{r['bytes'] / r['rows']:.1f}"]
             for name, table_runs in runs for r in table_runs]
    derived = [
        ["steady rows/s to CSV, Adult = (N₂ − N₁) / (t₂ − t₁)", fmt(m["steady_rows_per_s"]), "—", "—"],
    ]
    if "steady_rows_per_s" in m.get("taxis", {}):
        derived.append(["steady rows/s to CSV, taxis", fmt(m["taxis"]["steady_rows_per_s"]), "—", "—"])
    if "big_wall_s" in m:
        derived.append([f"{m['big_rows']:,} rows to CSV, s: synthvae's whole command (start-up included); "
                        "TVAE in-process", fmt(m["big_wall_s"]), fmt(tvae_s), ratio(tvae_s, m["big_wall_s"])])
    derived += [
        [f"{m['big_rows']:,} rows to CSV, s: synthvae's command minus its fixed cost; TVAE in-process",
         fmt(m["big_write_s"]), fmt(tvae_s), ratio(tvae_s, m["big_write_s"])],
        [f"{m['big_rows']:,} rows in-process, both: `sample(n)` then `DataFrame.to_csv`, s", fmt(own_s),
         fmt(tvae_s), ratio(tvae_s, own_s)],
    ]
    text = (
        "## Sampling and start-up\n\n"
        "Command-line runs with the Adult and taxis models fitted above, each a child process timed from fork "
        "to exit; CPU s is its user + system time, peak RSS its `ru_maxrss`.\n\n"
        f"{table(['command', 'wall s', 'CPU s', 'peak RSS MiB', 'CSV bytes/row'], rows)}\n\n"
        "In-process figures come from each method's Adult fit of this run, after one 1,000-row warm-up "
        "draw. Ratio: TVAE ÷ synthvae.\n\n"
        f"{table(['figure', 'synthvae', 'TVAE', 'TVAE ÷ synthvae'], derived)}"
    )
    limit = m.get("write_limit") or {}
    if "arrow_write_csv" in limit:
        steady = m["steady_rows_per_s"]
        lines = [
            ["pandas `to_csv`, one thread", fmt(limit["pandas_to_csv"]), f"{steady / limit['pandas_to_csv']:.2f}"],
            ["Arrow's `write_csv` from Arrow tables, one thread", fmt(limit["arrow_write_csv"]),
             f"{steady / limit['arrow_write_csv']:.2f}"],
            [f"Arrow's `write_csv` from Arrow tables, {limit['threads']} threads", fmt(limit["arrow_write_csv_threads"]),
             f"{steady / limit['arrow_write_csv_threads']:.2f}"],
            ["synthvae's renderer (frame → CSV text as `sample` writes it), one thread", fmt(limit["renderer"]),
             f"{steady / limit['renderer']:.2f}"],
            [f"synthvae's renderer, {limit['threads']} threads", fmt(limit["renderer_threads"]),
             f"{steady / limit['renderer_threads']:.2f}"],
        ]
        text += (
            f"\n\nThe limit: {limit['rows']:,} Adult rows made in memory first, then only written (to /dev/null, "
            "in chunks of the sampler's size), by `benchmarks/write_limit.py`. Share: the steady sampling rate "
            "above ÷ this writing rate.\n\n"
            f"{table(['writing the same frame', 'rows/s', 'steady sampling ÷ this'], lines)}"
        )
    return text + f"\n\n<sub>{provenance(results, 'adult')}</sub>"
