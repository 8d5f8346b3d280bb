"""Peak memory of `synthvae fit` on large tables, with no flag: diamonds.csv repeated
to 1, 8 and 20 million rows, one epoch each (memory does not grow with epochs; one
keeps the run short). Run alone with `python benchmarks/sections/40_fit_memory.py`."""

import os
import re
import sys
from pathlib import Path

if __name__ == "__main__":  # run alone: the harness's folder and this checkout first
    sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parents[2])]

from sections import fmt, table  # noqa: E402

SOURCE = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "diamonds.csv"
REPEATS = {False: (19, 150, 371), True: (2,)}  # × 53,940 rows: 1.0M, 8.1M, 20.0M; quick: 108k
LIMIT_MIB = 2.5 * 1000**3 / 2**20  # the bar for 8.1M rows: 2.5 GB


def table_file(folder, repeats):
    """diamonds.csv with its rows repeated ``repeats`` times (made once, then reused)."""
    path = folder / f"diamonds-x{repeats}.csv"
    if not path.exists():
        header, body = SOURCE.read_bytes().split(b"\n", 1)
        body = body if body.endswith(b"\n") else body + b"\n"
        partial = path.with_suffix(".partial")
        with open(partial, "wb") as out:
            out.write(header + b"\n")
            for _ in range(repeats):
                out.write(body)
        partial.rename(path)
    return path


def measure(results, ctx):
    from synthvae import stream

    if not getattr(ctx["args"], "fit_memory", True):
        return {"error": "Not measured in this run (`--fit-memory` measures it, about 8 minutes)"}
    folder = ctx["out"] / "fit-memory"
    folder.mkdir(parents=True, exist_ok=True)
    runs = []
    for repeats in REPEATS[ctx["args"].quick]:
        path = table_file(folder, repeats)
        reading = "whole" if stream.read_whole(path) else "chunks"
        log_path = folder / f"fit-x{repeats}.log"
        command = [sys.executable, "-m", "synthvae", "fit", path, "-o", folder / "model.synthvae",
                   "--epochs", "1", "--seed", "0"]
        load = os.getloadavg()[0]
        with open(log_path, "w") as log:
            r = ctx["timed"](command, stderr=log)
        text = log_path.read_text()
        if r["rc"]:
            return {"error": f"`synthvae fit` on {path.name} exited with {r['rc']}: {text.strip()[-300:]}"}
        rows = int(re.search(r"wrote .* \((\d+) rows", text).group(1))
        epoch = re.search(r"epoch 1/1 .*?([\d.]+)s\s", text)
        runs.append({"rows": rows, "file_mib": path.stat().st_size / 2**20, "reading": reading,
                     "wall_s": r["wall_s"], "epoch_s": float(epoch.group(1)) if epoch else None,
                     "peak_rss_mib": r["peak_rss_mib"], "available_mib": stream.available_memory() / 2**20,
                     "load_before": load, "load_after": os.getloadavg()[0]})
        ctx["log"](f"fit {rows:,} rows: peak {r['peak_rss_mib']:,.0f} MiB, {r['wall_s']:.0f} s")
    return {"runs": runs}


def render(results, targets):
    m = results.get("fit_memory") or {"error": "not measured"}
    head = "## Fit memory on large tables\n\n"
    if "error" in m:
        return head + m["error"] + "."
    rows = [[f"{r['rows']:,}", fmt(r["file_mib"]), r["reading"], fmt(r["peak_rss_mib"]),
             f"{r['peak_rss_mib'] * 2**20 / r['rows']:.0f}", fmt(r["epoch_s"]),
             f"{r['epoch_s'] / r['rows'] * 1e6:.1f}" if r["epoch_s"] else "—", fmt(r["wall_s"])]
            for r in m["runs"]]
    return (
        head + "`synthvae fit diamonds-xK.csv -o model.synthvae --epochs 1 --seed 0`, no other flag, "
        "where `diamonds-xK.csv` is `../shared/data/diamonds.csv` (10 columns) with its rows repeated K "
        "times. One epoch: the peak does not grow with epochs. *reading*: what the command chose from the "
        "memory its first rows take and the memory available (`whole`: one DataFrame; `chunks`: "
        "transformers fitted on a 200,000-row sample, the float32 matrix held in memory when it fits, "
        f"else streamed each epoch). Peak RSS is the child's `ru_maxrss`; the bar at 8.1M rows is "
        f"{LIMIT_MIB:,.0f} MiB (2.5 GB).\n\n"
        + table(["rows", "CSV MiB", "reading", "peak RSS MiB", "bytes/row", "epoch s", "µs/row (epoch)",
                 "wall s"], rows)
        + (f"\n\n<sub>{m['command']}, {m['date']}"
           + ("; load (1-minute average) " + ", ".join(f"{r['load_before']:.1f}→{r['load_after']:.1f}" for r in m["runs"])
              if all("load_before" in r for r in m["runs"]) else "")
           + f"; memory available at the end {m['runs'][-1]['available_mib']:,.0f} MiB.</sub>" if "date" in m else "")
    )


if __name__ == "__main__":
    import argparse
    import json
    import time

    from run import OUT, log, timed  # noqa: E402

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    measured = measure({}, {"args": args, "log": log, "timed": timed, "out": OUT})
    measured["date"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    measured["command"] = "`python benchmarks/sections/40_fit_memory.py" + (" --quick`" if args.quick else "`")
    print(json.dumps(measured, indent=1))
    print(render({"fit_memory": measured}, {}), file=sys.stderr)
