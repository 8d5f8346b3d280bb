#!/usr/bin/env python
"""Benchmark synthvae beside SDV's TVAE and render BENCHMARKS.md from the results.

    python benchmarks/run.py                  # every table and method, then BENCHMARKS.md
    python benchmarks/run.py --quick          # capped rows and epochs: checks the harness
    python benchmarks/run.py --render-only    # BENCHMARKS.md again from benchmarks/results/latest.json

Each (table, method) runs benchmarks/child.py in a process of its own, with the
method's interpreter; its sample is scored here with synthvae.evaluate. A method is a
module in benchmarks/methods/, a part of the report a module (or .md file) in
benchmarks/sections/; the bars are in benchmarks/targets.toml. Progress goes to stderr.
"""

import argparse
import datetime
import hashlib
import importlib
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
OUT = REPO / "bench-out"
LATEST = HERE / "results" / "latest.json"
PROTOCOL = 1  # bump when child.py measures differently: cached runs are then redone
QUICK_ROWS = 5_000
BIG_SAMPLE = {"full": 1_000_000, "quick": 50_000}
sys.path.insert(0, str(HERE))
from child import TABLES, load_split  # noqa: E402


def log(message):
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def discover(folder, suffixes=(".py",)):
    return sorted(p for p in (HERE / folder).iterdir() if p.suffix in suffixes and not p.name.startswith("_"))


def parse_args(argv):
    methods = [p.stem for p in discover("methods")]
    # Methods fitted only by a section of their own (MST, by the privacy section).
    main_methods = [m for m in methods if getattr(importlib.import_module(f"methods.{m}"), "IN_MAIN_TABLES", True)]
    p = argparse.ArgumentParser(prog="python benchmarks/run.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--tables", nargs="+", choices=list(TABLES), default=list(TABLES))
    p.add_argument("--methods", nargs="+", choices=methods, default=main_methods)
    p.add_argument("--quick", action="store_true", help=f"≤ {QUICK_ROWS:,} rows per part, 10 epochs, small samples")
    p.add_argument("--rerun", nargs="+", default=[], metavar="METHOD", help="ignore the cache of these methods")
    p.add_argument("--no-fit", nargs="+", default=[], metavar="METHOD", help="take these from the cache or leave out")
    p.add_argument("--reuse", action="store_true", help="also reuse cached runs of uncached methods (synthvae)")
    p.add_argument("--python", action="append", default=[], metavar="METHOD=PATH", help="a method's interpreter")
    p.add_argument("--tvae-python", help="same as --python tvae=PATH (default: bench-out/venv/bin/python)")
    p.add_argument("--set", action="append", default=[], metavar="METHOD=JSON",
                   help='change a method\'s settings, e.g. synthvae=\'{"beta": 1.0}\' (a lever to try)')
    p.add_argument("--seeds", nargs="+", type=int, metavar="SEED",
                   help="fit methods that take a seed once per seed (the first seed's run feeds every section; "
                        "the seeds section shows mean and range)")
    p.add_argument("--profile", action="store_true", help="also cProfile a sample run to bench-out/profile/")
    p.add_argument("--fit-memory", action="store_true",
                   help="also measure fit memory on 1M to 20M rows (about 8 minutes; without it the section says so)")
    p.add_argument("--dp", action="store_true",
                   help="also measure differentially private fits on Adult at epsilon 1, 3 and 10 beside MST "
                        "(about 40 min with MST cached; see benchmarks/README.md)")
    p.add_argument("--dp-only", action="store_true", help="only the privacy section: no main tables")
    p.add_argument("--render-only", action="store_true", help="run nothing: render the results file again")
    p.add_argument("--results", type=Path, help="results JSON (default: latest.json, or bench-out/ for --quick)")
    p.add_argument("--out", type=Path, help="markdown (default: BENCHMARKS.md, or bench-out/ for --quick)")
    args = p.parse_args(argv)
    args.results = args.results or (OUT / "results-quick.json" if args.quick else LATEST)
    args.out = args.out or (OUT / "BENCHMARKS-quick.md" if args.quick else REPO / "BENCHMARKS.md")
    if args.dp_only:
        args.dp, args.tables = True, []
    args.changes = {m: json.loads(v) for m, v in (x.split("=", 1) for x in args.set)}
    args.pythons = dict(x.split("=", 1) for x in args.python + ([f"tvae={args.tvae_python}"] if args.tvae_python else []))
    return args


def versions(python, packages):
    code = ("import json, platform, importlib.metadata as m\ndef v(p):\n try: return m.version(p)\n"
            " except m.PackageNotFoundError: return None\n"
            f"print(json.dumps({{'python': platform.python_version(), **{{p: v(p) for p in {list(packages)!r}}}}}))")
    try:
        done = subprocess.run([python, "-c", code], capture_output=True, text=True, env=child_env())
    except OSError as exc:
        return {"error": str(exc)}
    return json.loads(done.stdout) if done.returncode == 0 else {"error": done.stderr.strip()[-300:]}


def child_env():
    return dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
                TF_CPP_MIN_LOG_LEVEL="2")


def timed(command, stdout=os.devnull, stderr=subprocess.DEVNULL):
    """Run a command; wall s from fork to exit, and its ru_maxrss / CPU s from os.wait4."""
    with open(stdout, "wb") as out:
        clock = time.perf_counter()
        proc = subprocess.Popen([str(c) for c in command], stdout=out, stderr=stderr, cwd=REPO, env=child_env())
        _, status, usage = os.wait4(proc.pid, 0)
    return {"wall_s": time.perf_counter() - clock, "rc": os.waitstatus_to_exitcode(status),
            "peak_rss_mib": usage.ru_maxrss / 1024, "cpu_s": usage.ru_utime + usage.ru_stime}


def seeds_of(name, args):
    """The seeds to fit a method with: --seeds for a method that takes one (its SEED setting), else [None]."""
    return args.seeds if args.seeds and getattr(importlib.import_module(f"methods.{name}"), "SEED", None) else [None]


WARMED = set()


def warm_up(method, python):
    """Import the method's libraries once in its interpreter before its first fit of the run.

    After a quiet spell the library files are no longer in the disk cache, and the first
    fit's imports took 22 s where a second run takes 4: each fit is timed as a run that
    follows another (what a user fitting twice sees)."""
    statement = getattr(method, "WARM_UP", None)
    if statement and python not in WARMED:
        subprocess.run([python, "-c", statement], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        WARMED.add(python)


def run_method(table, name, args, env_info, fit=None, seed=None):
    """Fit one method on one table in a child (or take its cached run); returns its record.

    ``fit``: these fit settings instead of the method's (a section's own runs, which
    sample no million rows)."""
    method = importlib.import_module(f"methods.{name}")
    python = args.pythons.get(name, str(REPO / method.PYTHON) if hasattr(method, "PYTHON") else sys.executable)
    mode = "quick" if args.quick else "full"
    seeded = {method.SEED: seed} if seed is not None else {}
    settings = {"fit": fit if fit is not None else {**method.settings(args.quick), **args.changes.get(name, {}), **seeded},
                "max_rows": QUICK_ROWS if args.quick else None}
    if table == "adult" and fit is None:
        settings["big_sample"] = BIG_SAMPLE[mode]
    if name not in env_info:
        env_info[name] = versions(python, method.PACKAGES)
    version = {**env_info[name], "code": getattr(method, "code_version", lambda: None)()}
    key = json.dumps([PROTOCOL, table, name, version, settings], sort_keys=True)
    folder = OUT / "cache" / f"{table}-{name}-{mode}-{hashlib.sha256(key.encode()).hexdigest()[:10]}"
    cached = (method.CACHED or args.reuse) and name not in args.rerun and (folder / "result.json").exists()
    if not cached and name in args.no_fit:
        return {"error": "no cached run with these settings and versions", "settings": settings}
    if not cached:
        warm_up(method, python)
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        job = json.dumps({"table": table, "method": name, "settings": settings, "out": str(folder)})
        log(f"{table}/{name}: fitting with {python} (log {folder.relative_to(REPO)}/log.txt)")
        try:
            proc = timed([python, HERE / "child.py", job], stdout=folder / "log.txt", stderr=subprocess.STDOUT)
        except OSError as exc:  # no such interpreter: see benchmarks/README.md for TVAE's
            return {"error": f"cannot run {python}: {exc}", "settings": settings}
        if proc["rc"] or not (folder / "result.json").exists():
            tail = (folder / "log.txt").read_text(errors="replace").strip().splitlines()[-5:]
            log(f"{table}/{name}: FAILED (exit {proc['rc']}):\n    " + "\n    ".join(tail))
            return {"error": f"exit {proc['rc']}: {tail[-1] if tail else ''}"[:300], "settings": settings}
        result = json.loads((folder / "result.json").read_text())
        result.update(child_wall_s=proc["wall_s"], child_cpu_s=proc["cpu_s"], child_peak_rss_mib=proc["peak_rss_mib"])
        (folder / "result.json").write_text(json.dumps(result, indent=1))
    else:
        result = json.loads((folder / "result.json").read_text())
        log(f"{table}/{name}: cached run of {result['started']} ({folder.relative_to(REPO)})")
    result.update(cached=cached, settings=settings, version=version, folder=str(folder.relative_to(REPO)))
    if not cached:
        log(f"{table}/{name}: fit {result['fit_s']:.1f} s, peak {result['peak_rss_mib']:,.0f} MiB")
    return result


def evaluate(table, record, data):
    """synthvae.evaluate on the sample read back as the real rows were read; scalars only.

    Kept beside the sample, and reused while synthvae's code is the same."""
    from synthvae import evaluate
    from synthvae.io import read_table

    saved, code = REPO / record["folder"] / "metrics.json", importlib.import_module("methods.synthvae").code_version()
    if saved.exists() and json.loads(saved.read_text())["code"] == code:
        record.update(json.loads(saved.read_text())["record"])
        return
    log(f"{table}: evaluating {record['folder']}")
    synth = read_table(REPO / record["folder"] / "sample.csv")
    clock = time.perf_counter()
    figures = evaluate(real=data[0], synth=synth, holdout=data[1], target=TABLES[table][2])
    record["evaluate_s"] = time.perf_counter() - clock
    record["metrics"] = {k: v for k, v in figures.items() if isinstance(v, (int, float, str)) or v is None}
    # Each rule of the real rows and the sample's rows that break it.
    record["rules"] = [{k: r[k] for k in ("rule", "broken", "broken_share")} for r in figures.get("rules", [])]
    saved.write_text(json.dumps({"code": code, "record": {k: record[k] for k in ("evaluate_s", "metrics", "rules")}}))


def machine():
    model = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
                 platform.processor() or "unknown CPU")
    memory = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**30
    return f"{model}, {len(os.sched_getaffinity(0))} cores, {memory:.0f} GiB RAM, {platform.system()} {platform.machine()}"


def sections():
    """The report's parts in file-name order: modules with render() (and maybe measure()), or .md text."""
    for path in discover("sections", (".py", ".md")):
        yield path, (importlib.import_module(f"sections.{path.stem}") if path.suffix == ".py" else None)


def run(args, argv):
    started, load = time.time(), os.getloadavg()[0]
    results = {"meta": {}, "runs": {}, "env": {}}
    if args.seeds:
        results["seeds"] = {}
    for table in args.tables:
        data = load_split(table, QUICK_ROWS if args.quick else None)
        runs = results["runs"][table] = {}
        for name in args.methods:
            records = []
            for seed in seeds_of(name, args):
                record = run_method(table, name, args, results["env"], seed=seed)
                if "error" not in record:
                    evaluate(table, record, data)
                records.append(dict(record, seed=seed) if seed is not None else record)
            runs[name] = records[0]
            if args.seeds:  # every method's runs, one per seed (one, unseeded, for a method without seeds)
                results["seeds"].setdefault(table, {})[name] = records
    results["runs"] = {t: results["runs"][t] for t in TABLES if t in results["runs"]}
    ctx = {"args": args, "log": log, "timed": timed, "repo": REPO, "out": OUT, "load_split": load_split,
           "quick_rows": QUICK_ROWS, "evaluate": evaluate,
           "run_method": lambda table, name, fit: run_method(table, name, args, results["env"], fit)}
    for path, module in sections():
        if module and hasattr(module, "measure"):
            log(f"section {path.stem}: measuring")
            results[path.stem.split("_", 1)[-1]] = module.measure(results, ctx)
    results["meta"] = {
        "command": shlex.join(["python", "benchmarks/run.py", *argv]),
        "date": datetime.datetime.fromtimestamp(started, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "minutes": (time.time() - started) / 60, "load_start": load, "load_end": os.getloadavg()[0],
        "machine": machine(), "quick": args.quick, "seeds": args.seeds, "git": subprocess.run(
            ["git", "describe", "--always", "--dirty"], cwd=REPO, capture_output=True, text=True).stdout.strip(),
    }
    return results


def render(results, targets):
    parts = []
    for path, module in sections():
        parts.append(module.render(results, targets) if module else path.read_text(encoding="utf-8"))
    return "\n\n".join(p.strip() for p in parts if p and p.strip()) + "\n"


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if args.render_only:
        results = json.loads(args.results.read_text(encoding="utf-8"))
    else:
        OUT.mkdir(exist_ok=True)
        results = run(args, argv)
        args.results.parent.mkdir(parents=True, exist_ok=True)
        args.results.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
        log(f"wrote {args.results}")
    targets = tomllib.loads((HERE / "targets.toml").read_text(encoding="utf-8"))["target"]
    args.out.write_text(render(results, targets), encoding="utf-8")
    log(f"wrote {args.out}")


if __name__ == "__main__":
    main()
