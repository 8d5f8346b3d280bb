#!/usr/bin/env python
"""Benchmark synthvae against SDV's TVAE on real tables, side by side.

For each dataset and method the script fits the synthesizer on the training rows,
samples as many rows as it was trained on, times both (and sample + CSV write
again), records peak memory, saves the sample to ``bench-out/<dataset>-<method>.csv``
and then scores it with ``synthvae.evaluate`` against the training rows and a real
holdout. It prints one markdown section (a table per dataset) ready to paste into
BENCHMARKS.md.

Each (dataset, method) is fitted in a child process of its own, so that the memory
it reports belongs to that method alone: the child's VmHWM and, sampled, its resident
set plus the private memory of the worker processes it starts (SDV fits its data
transformer in joblib workers). The child also lets TVAE run in another interpreter:
SDV pins ``pandas<3`` and pulls in PyTorch, so it lives in a separate virtual
environment (``bench-out/venv`` by default; see benchmarks/README.md). Evaluation runs
in this process, on the CSVs read back with ``synthvae.io.read_table`` (the reader
that loaded the real rows), so both methods are scored by the same code alike.

    python benchmarks/run.py                                # all datasets, both methods
    python benchmarks/run.py --only tvae --datasets adult titanic
    python benchmarks/run.py --quick --out BENCHMARKS-run.md   # smoke test of the harness
    python benchmarks/run.py --evaluate-only                # re-score saved samples
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import json
import os
import platform
import resource
import shlex
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import types
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DATA_DIR = REPO.parent / "shared" / "data"
OUT_DIR = REPO / "bench-out"
DEFAULT_VENV_PYTHON = OUT_DIR / "venv" / "bin" / "python"

# name -> (training file, holdout file or None for a seeded 80/20 split, target)
DATASETS = {
    "adult": ("adult.csv", "adult-test.csv", "income"),
    "diamonds": ("diamonds.csv", None, "price"),
    "taxis": ("taxis.csv", None, "payment"),
    "titanic": ("titanic.csv", None, "survived"),
}
METHODS = ("synthvae", "tvae")
METHOD_LABELS = {"synthvae": "synthvae", "tvae": "TVAE"}
SPLIT_SEED = 0
HOLDOUT_SHARE = 0.2
QUICK_ROWS = 5_000
QUICK_EPOCHS = 10
TVAE_TABLE = "table"  # SDV's metadata and SDV 2's fit/sample name the single table

# Figures of synthvae.evaluate shown in the tables, in this order, with a short gloss
# (see synthvae/metrics.py for the definitions). Other scalar keys follow them.
METRIC_ROWS = (
    ("column_shape_error", "column-shape error, % (0 = identical)"),
    ("pair_trend_error", "pair-trend error, all pairs, %"),
    ("pair_trend_error_strong", "pair-trend error, strong pairs, %"),
    ("ml_efficacy_metric", "ML efficacy metric"),
    ("ml_efficacy_real", "ML efficacy, trained on real"),
    ("ml_efficacy_synth", "ML efficacy, trained on synthetic"),
    ("detection_auc", "detection AUC (0.5 = indistinguishable)"),
    ("dcr_share", "DCR share, % nearer train than holdout (50 = ideal)"),
    ("exact_copy_rate", "exact copies of training rows, %"),
    ("holdout_copy_rate", "holdout rows equal to a training row, % (baseline)"),
)
# Scalars of synthvae.evaluate that the table header already gives.
METRICS_NOT_SHOWN = ("n_rows_real", "n_rows_synth", "n_rows_holdout", "target")
# (key, label, unit format, whether TVAE / synthvae is shown)
COST_ROWS = (
    ("fit_s", "fit, wall s", "{:.1f}", True),
    ("fit_cpu_s", "fit, CPU s (user + system, all threads and worker processes)", "{:.1f}", True),
    ("sample_s", "sample len(train) rows to a DataFrame, s", "{:.2f}", True),
    ("sample_write_s", "sample + write CSV, s", "{:.2f}", True),
    ("sample_rows_per_s", "sampling speed, rows/s", "{:,.0f}", False),
    ("peak_rss_mib", "peak RSS of the fitting process (VmHWM), MiB", "{:,.0f}", True),
    ("peak_tree_mib", "peak RSS + worker processes' private memory, MiB", "{:,.0f}", True),
    ("load_avg_after_fit", "load average (1 min) as the fit ended", "{:.1f}", False),
    ("evaluate_s", "synthvae.evaluate, s", "{:.1f}", False),
)


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def log(message):
    """Progress goes to stderr, so stdout carries only the markdown."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- arguments


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python benchmarks/run.py",
        description=(
            "Fit synthvae and SDV's TVAE on real tables, time them, score their samples "
            "with synthvae.evaluate and print a markdown table per dataset."
        ),
    )
    parser.add_argument(
        "--datasets",
        nargs="+",
        choices=sorted(DATASETS),
        default=list(DATASETS),
        metavar="NAME",
        help=f"datasets to run, from {', '.join(DATASETS)} (default: all)",
    )
    parser.add_argument(
        "--only",
        choices=METHODS,
        help="run one method only (default: both)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=(
            f"smoke-test the harness: at most {QUICK_ROWS:,} training and holdout rows and "
            f"{QUICK_EPOCHS} epochs for both methods; samples go to "
            "bench-out/<dataset>-<method>-quick.csv"
        ),
    )
    parser.add_argument(
        "--out",
        type=Path,
        help="write the markdown section to this file, replacing it (default: print to stdout)",
    )
    parser.add_argument(
        "--tvae-python",
        type=Path,
        default=DEFAULT_VENV_PYTHON if DEFAULT_VENV_PYTHON.exists() else Path(sys.executable),
        help=(
            "interpreter that has sdv and torch installed "
            "(default: bench-out/venv/bin/python if it exists, else this interpreter)"
        ),
    )
    parser.add_argument(
        "--evaluate-only",
        action="store_true",
        help="fit nothing: re-score the samples and timings an earlier run saved in bench-out/",
    )
    parser.add_argument(
        "--skip-evaluate",
        action="store_true",
        help="fit, time and save samples, but do not run synthvae.evaluate",
    )
    # Internal: one (dataset, method) fit in a child process, result as JSON.
    parser.add_argument("--child", nargs=2, metavar=("DATASET", "METHOD"), help=argparse.SUPPRESS)
    parser.add_argument("--child-result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.evaluate_only and args.skip_evaluate:
        parser.error("--evaluate-only and --skip-evaluate exclude each other")
    return args


# ------------------------------------------------------------------- synthvae imports


def import_synthvae_module(name):
    """Import ``synthvae.<name>``, even while ``synthvae/__init__.py`` cannot be imported.

    The package's ``__init__`` imports the model, which may not exist yet (the package
    is under construction) or may need packages that the TVAE interpreter lacks;
    ``synthvae.io`` and ``synthvae.metrics`` need only numpy, pandas and scikit-learn.
    On an ImportError the package is replaced by a bare one rooted at the same folder,
    so its submodules import without running ``__init__``.
    """
    full_name = f"synthvae.{name}"
    try:
        return importlib.import_module(full_name)
    except ImportError:
        if not (REPO / "synthvae" / f"{name}.py").exists():
            raise
    for key in [k for k in sys.modules if k == "synthvae" or k.startswith("synthvae.")]:
        del sys.modules[key]
    package = types.ModuleType("synthvae")
    package.__path__ = [str(REPO / "synthvae")]
    sys.modules["synthvae"] = package
    return importlib.import_module(full_name)


# ------------------------------------------------------------------------------ data


def load_split(dataset, quick):
    """Read a dataset and return (train, holdout, description) as DataFrames.

    Adult comes with its real test split; the others are split 80/20 with
    ``train_test_split(random_state=0)``. ``quick`` caps both parts at QUICK_ROWS rows.
    """
    from sklearn.model_selection import train_test_split

    read_table = import_synthvae_module("io").read_table
    train_file, test_file, target = DATASETS[dataset]
    frame = read_table(DATA_DIR / train_file)
    if test_file is None:
        train, test = train_test_split(frame, test_size=HOLDOUT_SHARE, random_state=SPLIT_SEED)
        source = f"{train_file}, seeded {1 - HOLDOUT_SHARE:.0%}/{HOLDOUT_SHARE:.0%} split"
    else:
        train, test = frame, read_table(DATA_DIR / test_file)
        source = f"{train_file}; holdout {test_file}"
    if quick:
        train = cap_rows(train, QUICK_ROWS)
        test = cap_rows(test, QUICK_ROWS)
    return train.reset_index(drop=True), test.reset_index(drop=True), source


def cap_rows(frame, n_rows):
    if len(frame) <= n_rows:
        return frame
    return frame.sample(n=n_rows, random_state=SPLIT_SEED)


def sample_path(dataset, method, quick):
    suffix = "-quick" if quick else ""
    return OUT_DIR / f"{dataset}-{method}{suffix}.csv"


# ------------------------------------------------------------------------- fitting


def fit_synthvae(train, epochs):
    """synthvae with its defaults: SynthVAE(random_state=0).fit(train)."""
    from synthvae import SynthVAE  # fails loudly until the model lands

    kwargs = {"random_state": 0}
    if epochs is not None:
        kwargs["epochs"] = epochs
    return SynthVAE(**kwargs).fit(train), []


def fit_tvae(train, epochs):
    """SDV's TVAESynthesizer with its defaults, on metadata detected from ``train``.

    SDV 2 removed SingleTableMetadata; ``Metadata.detect_from_dataframes`` with one
    table is its replacement, and SDV 2's single-table ``fit`` takes ``{name: frame}``
    (SDV 1 took the frame itself). Metadata detection counts as part of the fit time.
    Global RNGs are seeded so reruns give the same model (TVAE takes no seed).
    """
    from importlib.metadata import version

    import numpy as np
    import torch
    from sdv.metadata import Metadata
    from sdv.single_table import TVAESynthesizer

    np.random.seed(0)
    torch.manual_seed(0)
    metadata = Metadata.detect_from_dataframes({TVAE_TABLE: train})
    table = metadata.tables[TVAE_TABLE]
    detected = ", ".join(f"{c}={m['sdtype']}" for c, m in table.columns.items())
    notes = [f"SDV metadata detected: {detected}; primary key: {table.primary_key}"]
    kwargs = {} if epochs is None else {"epochs": epochs}
    synthesizer = TVAESynthesizer(metadata, **kwargs)
    sdv_major = int(version("sdv").split(".")[0])
    synthesizer.fit({TVAE_TABLE: train} if sdv_major >= 2 else train)
    return synthesizer, notes


def draw_sample(model, method, n_rows):
    """``n_rows`` synthetic rows as a DataFrame (SDV 2 returns ``{name: frame}``)."""
    if method == "tvae":
        sample = model.sample(num_rows=n_rows)
        return sample[TVAE_TABLE] if isinstance(sample, dict) else sample
    return model.sample(n_rows)


def process_tree():
    """This process's id and those of all its live descendants (from /proc)."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = read_proc_stat(int(entry))
            if stat:
                children.setdefault(int(stat[1]), []).append(int(entry))
    tree, todo = [], [os.getpid()]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def read_proc_stat(pid):
    """Fields of /proc/<pid>/stat after the command name (state, ppid, ...), or None."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            return stat.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def private_mib(pid):
    """Memory that only this process maps (its private pages), MiB."""
    total = 0.0
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as rollup:
            for line in rollup:
                if line.startswith(("Private_Clean:", "Private_Dirty:")):
                    total += int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return total


def tree_usage():
    """(memory MiB, CPU seconds) of this process and its live descendants.

    Memory is this process's resident set plus the private pages of its descendants:
    what worker processes add (SDV's data transformer fits columns in joblib workers),
    without counting again the libraries they share. CPU seconds also count
    descendants that have exited and been waited for.
    """
    ticks = os.sysconf("SC_CLK_TCK")
    memory, cpu = memory_mib("VmRSS") or 0.0, 0.0
    for pid in process_tree():
        stat = read_proc_stat(pid)
        if stat:  # fields 14 and 15 (utime, stime) of proc(5), counted from field 3
            cpu += (int(stat[11]) + int(stat[12])) / ticks
            if pid != os.getpid():
                memory += private_mib(pid)
    reaped = resource.getrusage(resource.RUSAGE_CHILDREN)
    return memory, cpu + reaped.ru_utime + reaped.ru_stime


class PeakTreeMemory:
    """Samples the memory of this process tree (see tree_usage) in a thread; keeps the peak.

    VmHWM covers one process only; this also covers worker processes, at the cost of
    missing spikes shorter than the sampling interval.
    """

    def __init__(self, interval_s=0.5):
        self.interval_s = interval_s
        self.peak_mib = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.peak_mib = max(self.peak_mib, tree_usage()[0])
            self._stop.wait(self.interval_s)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self._stop.set()
        self._thread.join()
        self.peak_mib = max(self.peak_mib, tree_usage()[0])


def memory_mib(field):
    """A VmRSS / VmHWM line of /proc/self/status, in MiB."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return None


def write_csv_atomically(frame, path):
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    os.close(fd)
    try:
        frame.to_csv(tmp, index=False)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def run_child(dataset, method, quick):
    """Fit, time and sample one (dataset, method); runs in its own process."""
    result = {"dataset": dataset, "method": method, "quick": quick, "error": None}
    result["fitted_at"] = utc_now()
    caught = []
    monitor = PeakTreeMemory()
    try:
        with warnings.catch_warnings(record=True) as caught, monitor:
            warnings.simplefilter("always")
            train, test, _ = load_split(dataset, quick)
            result.update(train_rows=len(train), test_rows=len(test), columns=train.shape[1])
            result["rss_before_fit_mib"] = memory_mib("VmRSS")
            epochs = QUICK_EPOCHS if quick else None
            fit = fit_tvae if method == "tvae" else fit_synthvae

            started, cpu_started = time.perf_counter(), tree_usage()[1]
            model, notes = fit(train, epochs)
            result["fit_s"] = time.perf_counter() - started
            result["fit_cpu_s"] = tree_usage()[1] - cpu_started
            result["load_avg_after_fit"] = os.getloadavg()[0]
            result["notes"] = notes

            started = time.perf_counter()
            synth = draw_sample(model, method, len(train))
            result["sample_s"] = time.perf_counter() - started
            result["sample_rows_per_s"] = len(synth) / result["sample_s"]

            started = time.perf_counter()
            again = draw_sample(model, method, len(train))
            again.to_csv(os.devnull, index=False)
            result["sample_write_s"] = time.perf_counter() - started

            path = sample_path(dataset, method, quick)
            write_csv_atomically(synth, path)
            result["sample_path"] = str(path.relative_to(REPO))
            result["sample_rows"] = len(synth)
    except Exception as exc:  # reported in the table; the other runs go on
        result["error"] = f"{type(exc).__name__}: {exc}"
        traceback.print_exc()
    result["peak_rss_mib"] = memory_mib("VmHWM")
    result["peak_tree_mib"] = monitor.peak_mib
    result["warnings"] = sorted({f"{w.category.__name__}: {w.message}" for w in caught})
    return result


def launch_child(dataset, method, quick, python):
    """Run one fit in a child interpreter; its output goes to bench-out/<run>.log."""
    stem = sample_path(dataset, method, quick).with_suffix("")
    result_file, log_file = stem.with_suffix(".json"), stem.with_suffix(".log")
    result_file.unlink(missing_ok=True)
    command = [str(python), str(Path(__file__).resolve()), "--child", dataset, method]
    command += ["--child-result", str(result_file)] + (["--quick"] if quick else [])
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL=os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"))
    log(f"{dataset}/{method}: fitting in {python} (log: {log_file.relative_to(REPO)})")
    started = time.perf_counter()
    with open(log_file, "w", encoding="utf-8") as out:
        try:
            returncode = subprocess.call(
                command, stdout=out, stderr=subprocess.STDOUT, cwd=REPO, env=env
            )
        except OSError as exc:  # the interpreter is missing or not executable
            returncode = exc
    if result_file.exists():
        result = json.loads(result_file.read_text(encoding="utf-8"))
    else:
        result = {
            "dataset": dataset,
            "method": method,
            "quick": quick,
            "error": (
                f"could not start {python}: {returncode}"
                if isinstance(returncode, OSError)
                else f"child exited with status {returncode} and no result"
            ),
        }
    result["python"] = str(python)
    if result.get("error"):
        tail = log_file.read_text(encoding="utf-8", errors="replace").splitlines()[-15:]
        log(f"{dataset}/{method}: FAILED: {result['error']}\n    " + "\n    ".join(tail))
    else:
        log(
            f"{dataset}/{method}: fit {result['fit_s']:.1f} s, sample {result['sample_s']:.2f} s, "
            f"peak memory {result['peak_rss_mib']:,.0f} MiB (VmHWM), "
            f"{result['peak_tree_mib']:,.0f} MiB (with workers), "
            f"total {time.perf_counter() - started:.0f} s"
        )
    save_result(result)
    return result


def result_path(dataset, method, quick):
    return sample_path(dataset, method, quick).with_suffix(".json")


def save_result(result):
    path = result_path(result["dataset"], result["method"], result["quick"])
    path.write_text(json.dumps(result, indent=2, default=str) + "\n", encoding="utf-8")


def load_saved_result(dataset, method, quick):
    path = result_path(dataset, method, quick)
    if not path.exists():
        return {
            "dataset": dataset,
            "method": method,
            "quick": quick,
            "error": f"no saved run ({path.relative_to(REPO)} is missing)",
        }
    return json.loads(path.read_text(encoding="utf-8"))


# ---------------------------------------------------------------------- evaluation


def load_evaluate():
    """Return (synthvae.evaluate or None, why not)."""
    try:
        return import_synthvae_module("metrics").evaluate, None
    except Exception as exc:
        return None, f"synthvae.metrics is not importable yet ({type(exc).__name__}: {exc})"


def evaluate_sample(result, evaluate, data):
    """Score a saved sample with synthvae.evaluate; adds 'metrics' to the result."""
    result.pop("metrics", None)  # an --evaluate-only run replaces earlier figures
    result.pop("evaluate_error", None)
    if result.get("error") or not result.get("sample_path"):
        return result
    train, test, _ = data
    target = DATASETS[result["dataset"]][2]
    synth = import_synthvae_module("io").read_table(REPO / result["sample_path"])
    log(f"{result['dataset']}/{result['method']}: evaluating {len(synth):,} rows")
    started = time.perf_counter()
    try:
        metrics = evaluate(real=train, synth=synth, holdout=test, target=target)
    except Exception as exc:
        result["evaluate_error"] = f"{type(exc).__name__}: {exc}"
        log(f"{result['dataset']}/{result['method']}: evaluate FAILED: {result['evaluate_error']}")
        return result
    result["evaluate_s"] = time.perf_counter() - started
    result["metrics"] = metrics
    save_result(result)
    return result


# ------------------------------------------------------------------- environment


VERSION_PACKAGES = ("numpy", "pandas", "scikit-learn", "tensorflow", "keras", "torch", "sdv")


def interpreter_versions(python, packages=VERSION_PACKAGES):
    """Versions of ``packages`` as seen by an interpreter (no heavy imports)."""
    code = (
        "import json, platform, importlib.metadata as m\n"
        "def v(p):\n"
        "    try: return m.version(p)\n"
        "    except m.PackageNotFoundError: return None\n"
        "print(json.dumps({'python': platform.python_version(), **{p: v(p) for p in "
        + repr(list(packages))
        + "}}))"
    )
    try:
        out = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True)
        return json.loads(out.stdout)
    except (OSError, subprocess.CalledProcessError, json.JSONDecodeError) as exc:
        return {"error": str(exc)}


def machine_description():
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    memory = ""
    try:
        pages, page_size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
        memory = f", {pages * page_size / 2**30:.0f} GiB RAM"
    except (ValueError, OSError):
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{model}, {cores} cores{memory}, {platform.system()} {platform.machine()}"


# ---------------------------------------------------------------------- markdown


def format_value(value, fmt="{:.3f}"):
    if value is None:
        return "—"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, int) and fmt == "{:.3f}":
        return f"{value:,}"
    return fmt.format(value)


def ratio(tvae_value, synthvae_value):
    if not isinstance(tvae_value, (int, float)) or not isinstance(synthvae_value, (int, float)):
        return "—"
    if synthvae_value == 0:
        return "—"
    return f"{tvae_value / synthvae_value:.2f}×"


def render_dataset(dataset, results, methods, source):
    """One markdown table: rows = measurements and metrics, columns = methods."""
    first = next((r for r in results.values() if r.get("train_rows")), {})
    target = DATASETS[dataset][2]
    lines = [
        f"### {dataset}",
        "",
        f"Target `{target}`; {format_value(first.get('train_rows'), '{:,}')} training rows, "
        f"{format_value(first.get('test_rows'), '{:,}')} holdout rows, "
        f"{format_value(first.get('columns'), '{}')} columns ({source}).",
        "",
    ]
    both = len(methods) == 2
    header = ["measure"] + [METHOD_LABELS[m] for m in methods]
    header += ["TVAE ÷ synthvae"] if both else []
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]

    def row(label, values, ratio_cell=None):
        cells = [label] + values + ([ratio_cell or "—"] if both else [])
        lines.append("| " + " | ".join(cells) + " |")

    for method in methods:
        if results[method].get("error"):
            row("**failed**", [results[m].get("error", "") if m == method else "" for m in methods])
    for key, label, fmt, show_ratio in COST_ROWS:
        values = [results[m].get(key) for m in methods]
        if all(v is None for v in values):
            continue
        ratio_cell = ratio(values[1], values[0]) if both and show_ratio else None
        row(label, [format_value(v, fmt) for v in values], ratio_cell)

    metric_sets = [results[m].get("metrics") or {} for m in methods]
    keys = [key for key, _ in METRIC_ROWS]
    extra = sorted(
        {
            k
            for ms in metric_sets
            for k, v in ms.items()
            if k not in keys
            and k not in METRICS_NOT_SHOWN
            and isinstance(v, (int, float, str, type(None)))
        }
    )
    labels = dict(METRIC_ROWS)
    for key in keys + extra:
        if not any(key in ms for ms in metric_sets):
            continue
        row(f"{labels.get(key, key)} `{key}`", [format_value(ms.get(key)) for ms in metric_sets])

    notes = []
    for method in methods:
        result = results[method]
        for note in result.get("notes") or []:
            notes.append(f"{METHOD_LABELS[method]}: {note}")
        for warning in result.get("warnings") or []:
            notes.append(f"{METHOD_LABELS[method]} warned: {warning.splitlines()[0][:300]}")
        if result.get("evaluate_error"):
            notes.append(f"{METHOD_LABELS[method]}: evaluate failed: {result['evaluate_error']}")
    if notes:
        lines += [""] + [f"- {note}" for note in notes]
    return "\n".join(lines)


def render_report(args, argv, results, sources, versions, evaluation_note, load_before):
    methods = [args.only] if args.only else list(METHODS)
    now = utc_now()
    command = shlex.join(["python", "benchmarks/run.py", *argv])
    mode = (
        f"quick (≤ {QUICK_ROWS:,} training and holdout rows, {QUICK_EPOCHS} epochs for both)"
        if args.quick
        else "full (each method's default settings)"
    )
    lines = [
        f"## Benchmark run, {now}",
        "",
        f"- Command: `{command}`",
        f"- Machine: {machine_description()}",
        f"- Mode: {mode}",
        f"- Load average (1 min) at start / end: {load_before:.2f} / {os.getloadavg()[0]:.2f}. "
        "A fit adds about 1 to 2 itself; more than that means other work shared the cores "
        "and inflated the times.",
    ]
    if args.evaluate_only:
        fitted = sorted(
            {r["fitted_at"] for rs in results.values() for r in rs.values() if r.get("fitted_at")}
        )
        span = f"{fitted[0]} to {fitted[-1]}" if fitted else "unknown dates"
        lines.append(
            f"- Fits, times and memory: saved by earlier runs ({span}); "
            "this run only re-evaluated their samples"
        )
    for label, info in versions.items():
        parts = [f"{name} {version}" for name, version in info.items() if version]
        lines.append(f"- {label}: " + ", ".join(parts))
    lines += [
        f"- Evaluation: {evaluation_note}",
        "- Times are wall seconds. Each fit runs in a fresh child process; memory is its "
        "peak resident set (VmHWM) and, sampled every 0.5 s, the peak of its resident set "
        "plus the private memory of the worker processes it starts; interpreter start-up "
        "and imports included. "
        "Ratio column: TVAE ÷ synthvae (above 1: synthvae is faster or smaller).",
        "",
    ]
    for dataset in args.datasets:
        lines.append(render_dataset(dataset, results[dataset], methods, sources[dataset]))
        lines.append("")
    return "\n".join(lines)


# ---------------------------------------------------------------------------- main


def collect_versions(args):
    methods = [args.only] if args.only else list(METHODS)
    pythons = {"synthvae": Path(sys.executable), "tvae": args.tvae_python}
    versions = {}
    for method in methods:
        info = interpreter_versions(pythons[method])
        keep = ["python", "pandas", "numpy", "scikit-learn"]
        keep += ["tensorflow", "keras"] if method == "synthvae" else ["torch", "sdv"]
        label = f"{METHOD_LABELS[method]} fitted with `{pythons[method]}`"
        versions[label] = {k: info.get(k) for k in keep} if "error" not in info else info
    return versions


def run_benchmark(args, argv):
    methods = [args.only] if args.only else list(METHODS)
    pythons = {"synthvae": Path(sys.executable), "tvae": args.tvae_python}
    load_before = os.getloadavg()[0]
    if args.skip_evaluate:
        evaluate, why_not = None, "skipped (--skip-evaluate)"
    else:
        evaluate, why_not = load_evaluate()
    evaluation_note = (
        f"`synthvae.evaluate(real=train, synth=sample, holdout=holdout, target=target)` "
        f"in `{sys.executable}`, on each sample read back from bench-out/ with "
        "`synthvae.io.read_table`"
        if evaluate
        else f"not run: {why_not}"
    )
    if not evaluate:
        log(f"evaluation {evaluation_note}")
    results, sources = {}, {}
    for dataset in args.datasets:
        data = load_split(dataset, args.quick)
        sources[dataset] = data[2]
        results[dataset] = {}
        for method in methods:
            if args.evaluate_only:
                result = load_saved_result(dataset, method, args.quick)
            else:
                result = launch_child(dataset, method, args.quick, pythons[method])
            if evaluate:
                result = evaluate_sample(result, evaluate, data)
            results[dataset][method] = result
    report = render_report(
        args, argv, results, sources, collect_versions(args), evaluation_note, load_before
    )
    failed = any(
        r.get("error") or r.get("evaluate_error")
        for per_dataset in results.values()
        for r in per_dataset.values()
    )
    return report, failed


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    if args.child:
        dataset, method = args.child
        result = run_child(dataset, method, args.quick)
        args.child_result.write_text(json.dumps(result, indent=2, default=str), encoding="utf-8")
        return 1 if result["error"] else 0
    OUT_DIR.mkdir(exist_ok=True)
    report, failed = run_benchmark(args, argv)
    if args.out:
        args.out.write_text(report + "\n", encoding="utf-8")
        log(f"wrote {args.out}")
    else:
        print(report)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
