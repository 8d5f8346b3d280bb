#!/usr/bin/env python
"""Speed and memory of synthvae at scale (issue 4), with SDV's TVAE beside it.

Prints one markdown section for BENCHMARKS.md:

0. every target of issue 4 in one table, with TVAE beside synthvae where it applies
   (fit time and quality need ``--with-fit``);
1. start-up of ``synthvae --help`` and ``synthvae sample --help``;
2. sampling Adult to CSV from the command line: wall time, peak memory, steady-state
   rows/s, and the peak memory of ``sample 10000000 > /dev/null`` against
   ``sample 100000 > /dev/null``;
3. sample-and-write of the same rows, synthvae against TVAE (TVAE in its own venv);
4. the limit: decoder FLOPs per row against the machine's float32 matmul rate, CSV
   bytes per row against the CSV writer's rate on its own, and where the time of one
   in-process sample goes, step by step;
5. growth: fit time against rows (diamonds resampled to 10k, 100k, 1M rows, a fixed
   number of epochs) and sample time against n;
6. peak memory of an Adult fit with default settings;
7. with ``--with-fit``: the report of ``benchmarks/run.py --datasets adult``, which this
   script runs first (synthvae and TVAE fitted with default settings, timed, scored).

Every measurement runs in a child process of its own: command-line runs are timed
from outside (wall clock) and their peak resident set is the child's ``ru_maxrss``
from ``os.wait4``; in-process measurements run in ``--child`` processes of this
script (TVAE's in the interpreter named by ``--tvae-python``) and report as JSON.
Files go to ``bench-out/scale/`` (git-ignored). Progress goes to stderr.

    python benchmarks/scale.py --with-fit --out scale.md     # every target of issue 4, ~25 minutes
    python benchmarks/scale.py --out BENCHMARKS-scale.md     # no fit of TVAE and synthvae on Adult
    python benchmarks/scale.py --quick                        # smoke test, small sizes
    python benchmarks/scale.py --no-10m --skip-tvae           # the quicker parts only
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# run.py's helpers (paths, logging, machine description, versions, TVAE fitting).
sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as bench  # noqa: E402

REPO, DATA_DIR, OUT_DIR = bench.REPO, bench.DATA_DIR, bench.OUT_DIR
SCALE_DIR = OUT_DIR / "scale"
ADULT = DATA_DIR / "adult.csv"
DIAMONDS = DATA_DIR / "diamonds.csv"

STARTUP_REPEATS = 5
SAMPLE_SEED = 1
RESAMPLE_SEED = 0
FIT_EPOCHS = 3  # sampling cost does not depend on training; growth needs a fixed count
TVAE_EPOCHS = 1
MATMUL_SHAPE = (16_384, 256, 256)  # (rows, inner, out): one decoder chunk through a 256-wide layer
MiB = 2**20

# Sizes of a full run and of --quick.
FULL = {
    "sample_rows": (100_000, 1_000_000),
    "memory_rows": (100_000, 10_000_000),
    "profile_rows": 300_000,
    "writer_rows": 100_000,
    "growth_rows": (10_000, 100_000, 1_000_000),
}
QUICK = {
    "sample_rows": (10_000, 50_000),
    "memory_rows": (10_000, 50_000),
    "profile_rows": 50_000,
    "writer_rows": 10_000,
    "growth_rows": (2_000, 5_000, 10_000),
}

# Targets of issue 4.
TARGET_STARTUP_S = 0.5
TARGET_ROWS_PER_S = 200_000
TARGET_1M_S = 5.0
TARGET_MEMORY_RATIO = 1.2
TARGET_TVAE_RATIO = 2.0
TARGET_FIT_MIB = 1.5e9 / MiB  # 1.5 GB

log = bench.log


# --------------------------------------------------------------------------- arguments


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python benchmarks/scale.py",
        description=(
            "Time synthvae's start-up, sampling throughput, memory and growth with rows, "
            "against TVAE and the machine's limits; print a markdown section."
        ),
    )
    parser.add_argument(
        "--out", type=Path,
        help="also write the markdown section to this file, replacing it",
    )
    parser.add_argument(
        "--quick", action="store_true",
        help=(
            "smoke test: sample 10k/50k rows, growth on 2k/5k/10k rows, "
            "no 10M-row run, no TVAE; the figures say only that the harness works"
        ),
    )
    parser.add_argument("--skip-tvae", action="store_true", help="leave TVAE out (table 3 shows synthvae only)")
    parser.add_argument(
        "--no-10m", action="store_true",
        help="skip 'sample 10000000 > /dev/null' (1-2 minutes); the memory ratio then is not measured",
    )
    parser.add_argument(
        "--fit-default", action="store_true",
        help=(
            "fit Adult with default settings and record its peak memory (about a minute); "
            "otherwise table 6 quotes benchmarks/run.py's saved result"
        ),
    )
    parser.add_argument(
        "--with-fit", action="store_true",
        help=(
            "first run `benchmarks/run.py --datasets adult`: synthvae and TVAE fitted on Adult with "
            "default settings, timed and scored (about 10 minutes, most of it TVAE); the report then "
            "opens with every target of issue 4 from this one run"
        ),
    )
    parser.add_argument(
        "--tvae-python", type=Path,
        default=bench.DEFAULT_VENV_PYTHON if bench.DEFAULT_VENV_PYTHON.exists() else Path(sys.executable),
        help=(
            "interpreter that has sdv and torch installed "
            "(default: bench-out/venv/bin/python if it exists, else this interpreter)"
        ),
    )
    # Internal: one in-process measurement in a child process, result as JSON.
    parser.add_argument("--child", choices=("synthvae", "tvae"), help=argparse.SUPPRESS)
    parser.add_argument("--child-params", type=json.loads, default={}, help=argparse.SUPPRESS)
    parser.add_argument("--child-result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.sizes = dict(QUICK if args.quick else FULL)
    if args.no_10m:
        args.sizes["memory_rows"] = args.sizes["memory_rows"][:1]
    if args.quick:
        args.skip_tvae = True
    return args


# ------------------------------------------------------------------ timed child runs


def child_env():
    """This checkout's synthvae first on the path, for every child."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    return env


def timed_run(command, stdout=os.devnull, log_path=None):
    """Run ``command`` with stdout to the file ``stdout``; time it and read its peak memory.

    Returns a dict: wall_s (from just before the fork to the child's exit), peak_rss_mib
    (the child's ``ru_maxrss`` from ``os.wait4``), load_1min (before the run), and
    ``error`` when it failed. stderr goes to ``log_path`` if given (else it is kept only
    for the error message).
    """
    result = {"command": [str(c) for c in command], "load_1min": os.getloadavg()[0]}
    err = open(log_path, "wb") if log_path else tempfile.TemporaryFile()
    with err, open(stdout, "wb") as out:
        started = time.perf_counter()
        try:
            proc = subprocess.Popen(result["command"], stdout=out, stderr=err, cwd=REPO, env=child_env())
        except OSError as exc:
            result["error"] = f"could not start: {exc}"
            return result
        _, status, usage = os.wait4(proc.pid, 0)
        result["wall_s"] = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        result["peak_rss_mib"] = usage.ru_maxrss / 1024  # KiB on Linux
        if proc.returncode != 0:
            err.seek(0)
            tail = err.read().decode("utf-8", "replace").strip().splitlines()[-1:] or ["(no output)"]
            result["error"] = f"exit {proc.returncode}: {tail[0][:300]}"
            log(f"FAILED: {shlex.join(result['command'])}: {result['error']}")
    return result


def cli(*args):
    """``python -m synthvae ARGS`` with this interpreter."""
    return [sys.executable, "-m", "synthvae", *map(str, args)]


def sample_cli(model, n, out=os.devnull):
    run = timed_run(cli("sample", n, "-m", model, "--seed", SAMPLE_SEED), stdout=out)
    run["rows"] = n
    if out != os.devnull and not run.get("error"):
        run["bytes"] = Path(out).stat().st_size
    log(f"sample {n:,} > {out}: {fmt(run.get('wall_s'), '{:.2f}')} s, {fmt(run.get('peak_rss_mib'), '{:,.0f}')} MiB")
    return run


def fixed_cost(model, repeats=3):
    """Median of ``sample 0 > /dev/null``: start-up, imports and model load, no rows."""
    runs = [sample_cli(model, 0) for _ in range(repeats)]
    ok = [r for r in runs if not r.get("error")]
    if not ok:
        return runs[0]
    return {**ok[0], "wall_s": statistics.median(r["wall_s"] for r in ok),
            "peak_rss_mib": max(r["peak_rss_mib"] for r in ok), "repeats": len(ok)}


def launch_child(task, python, params):
    """Run ``scale.py --child TASK`` in ``python``; return its JSON result (plus wall, memory)."""
    result_file, log_file = SCALE_DIR / f"child-{task}.json", SCALE_DIR / f"child-{task}.log"
    result_file.unlink(missing_ok=True)
    command = [python, Path(__file__).resolve(), "--child", task,
               "--child-params", json.dumps(params), "--child-result", result_file]
    log(f"{task}: in-process measurements in {python} (log: {log_file.relative_to(REPO)})")
    run = timed_run(command, stdout=log_file, log_path=None)
    result = json.loads(result_file.read_text(encoding="utf-8")) if result_file.exists() else {}
    result.update(process_wall_s=run.get("wall_s"), process_peak_rss_mib=run.get("peak_rss_mib"),
                  load_1min=run["load_1min"], python=str(python))
    if run.get("error") or not result_file.exists():
        result["error"] = result.get("error") or run.get("error") or "no result written"
        log(f"{task}: FAILED: {result['error']} (see {log_file})")
    return result


# ------------------------------------------------------------------ the measurements


def measure_startup():
    commands = [
        ("`python -c pass` (the interpreter alone, for scale)", [sys.executable, "-c", "pass"]),
        ("`python -m synthvae --help`", cli("--help")),
        ("`python -m synthvae sample --help`", cli("sample", "--help")),
    ]
    script = Path(sys.executable).parent / "synthvae"
    if script.exists():
        commands += [(f"`synthvae --help` (console script {script})", [script, "--help"]),
                     ("`synthvae sample --help` (same)", [script, "sample", "--help"])]
    on_path = shutil.which("synthvae")
    if on_path and Path(on_path) != script:
        commands += [(f"`synthvae --help` as found on PATH ({on_path})", [on_path, "--help"])]
    rows = []
    for label, command in commands:
        timed_run(command)  # warm the page cache; not counted
        runs = [timed_run(command) for _ in range(STARTUP_REPEATS)]
        walls = [r["wall_s"] for r in runs if not r.get("error")]
        row = {"label": label, "load_1min": runs[0]["load_1min"],
               "error": next((r["error"] for r in runs if r.get("error")), None)}
        if walls:
            row.update(median_s=statistics.median(walls), min_s=min(walls), max_s=max(walls))
        log(f"start-up {label}: median {fmt(row.get('median_s'), '{:.3f}')} s")
        rows.append(row)
    return rows


def measure_sampling(args):
    SCALE_DIR.mkdir(parents=True, exist_ok=True)
    model = SCALE_DIR / "adult.synthvae"
    fit = timed_run(cli("fit", ADULT, "--epochs", FIT_EPOCHS, "--seed", 0, "--quiet", "-o", model))
    log(f"fit adult, {FIT_EPOCHS} epochs: {fmt(fit.get('wall_s'), '{:.1f}')} s")
    out = {"model": model, "fit": fit, "runs": [], "memory": []}
    if fit.get("error"):
        return out
    out["zero"] = fixed_cost(model)
    for n in args.sizes["sample_rows"]:
        out["runs"].append(sample_cli(model, n, SCALE_DIR / f"adult-{n}.csv"))
    for n in args.sizes["memory_rows"]:
        out["memory"].append(sample_cli(model, n))
    return out


def measure_inprocess(args, sampling):
    params = {
        "model": str(sampling["model"]),
        "rows": args.sizes["sample_rows"][-1],
        "path": str(SCALE_DIR / f"adult-inprocess-{args.sizes['sample_rows'][-1]}.csv"),
        "profile_rows": args.sizes["profile_rows"],
        "writer_rows": args.sizes["writer_rows"],
    }
    return launch_child("synthvae", Path(sys.executable), params)


def measure_tvae(args):
    n = args.sizes["sample_rows"][-1]
    params = {"rows": n, "path": str(SCALE_DIR / f"adult-tvae-{n}.csv"), "epochs": TVAE_EPOCHS}
    return launch_child("tvae", args.tvae_python, params)


def measure_growth(args):
    """Fit diamonds resampled to each size with a fixed epoch count; sample n rows from one model."""
    read_table = bench.import_synthvae_module("io").read_table
    diamonds = read_table(DIAMONDS)
    fits, samples = [], []
    model = None
    for n in args.sizes["growth_rows"]:
        data = SCALE_DIR / f"diamonds-{n}.csv"
        bench.write_csv_atomically(diamonds.sample(n=n, replace=True, random_state=RESAMPLE_SEED), data)
        model = SCALE_DIR / f"diamonds-{n}.synthvae"
        run = timed_run(cli("fit", data, "--epochs", FIT_EPOCHS, "--seed", 0, "--quiet", "-o", model))
        run["rows"] = n
        log(f"fit diamonds {n:,} rows: {fmt(run.get('wall_s'), '{:.1f}')} s, {fmt(run.get('peak_rss_mib'), '{:,.0f}')} MiB")
        fits.append(run)
    if model is None or fits[-1].get("error"):
        return {"fits": fits, "samples": [], "zero": None, "model": model}
    zero = fixed_cost(model)
    for n in args.sizes["growth_rows"]:
        samples.append(sample_cli(model, n, SCALE_DIR / f"diamonds-sample-{n}.csv"))
    return {"fits": fits, "samples": samples, "zero": zero, "model": model, "source_rows": len(diamonds)}


def measure_fit_and_quality(args):
    """Run benchmarks/run.py on Adult (both methods, default settings) and read its results."""
    if not args.with_fit:
        return None
    markdown = SCALE_DIR / "run-adult.md"
    command = [sys.executable, str(REPO / "benchmarks" / "run.py"), "--datasets", "adult",
               "--tvae-python", str(args.tvae_python), "--out", str(markdown)] + (["--quick"] if args.quick else [])
    log("benchmarks/run.py --datasets adult (fits synthvae and TVAE with default settings) ...")
    code = subprocess.call(command, cwd=REPO)
    out = {"command": "python benchmarks/run.py --datasets adult" + (" --quick" if args.quick else ""), "returncode": code}
    if markdown.exists():
        out["markdown"] = markdown.read_text(encoding="utf-8")
    for method in ("synthvae", "tvae"):
        path = bench.result_path("adult", method, args.quick)
        out[method] = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {"error": "no result"}
    if code:
        out["error"] = f"benchmarks/run.py exited with {code}"
    return out


def measure_fit_memory(args):
    if args.fit_default:
        model = SCALE_DIR / "adult-default.synthvae"
        run = timed_run(cli("fit", ADULT, "--seed", 0, "--quiet", "-o", model))
        log(f"fit adult, defaults: {fmt(run.get('wall_s'), '{:.1f}')} s, {fmt(run.get('peak_rss_mib'), '{:,.0f}')} MiB")
        return {"source": "this run: `synthvae fit adult.csv --seed 0` (default settings)", **run}
    saved = bench.result_path("adult", "synthvae", False)
    if saved.exists():
        result = json.loads(saved.read_text(encoding="utf-8"))
        if result.get("peak_rss_mib"):
            return {
                "source": (
                    f"benchmarks/run.py's saved result ({saved.relative_to(REPO)}, fitted "
                    f"{result.get('fitted_at', '?')}): `SynthVAE(random_state=0).fit(adult)` in-process, "
                    "VmHWM of that child (sampling and writing included)"
                ),
                "wall_s": result.get("fit_s"),
                "peak_rss_mib": result["peak_rss_mib"],
                "load_1min": result.get("load_avg_after_fit"),
            }
    return {"source": "not measured: pass --fit-default, or run benchmarks/run.py first", "error": None}


# --------------------------------------------------------------- in-process children


class _Counter:
    """A text sink that only counts the UTF-8 bytes written to it."""

    def __init__(self):
        self.bytes = 0

    def write(self, text):
        self.bytes += len(text.encode("utf-8"))

    def flush(self):
        pass


class _TimedFile:
    """A text file whose write() calls are timed into ``spent[key]``."""

    def __init__(self, fh, spent, key):
        self.fh, self.spent, self.key = fh, spent, key

    def write(self, text):
        started = time.perf_counter()
        try:
            return self.fh.write(text)
        finally:
            self.spent[self.key] += time.perf_counter() - started

    def flush(self):
        started = time.perf_counter()
        self.fh.flush()
        self.spent[self.key] += time.perf_counter() - started


def _timed(func, spent, key):
    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        try:
            return func(*args, **kwargs)
        finally:
            spent[key] += time.perf_counter() - started

    return wrapper


# (key, label) of the steps of one in-process sample, in the order they run.
PROFILE_STEPS = (
    ("prior", "latent draws, `prior_.sample`"),
    ("decoder", "decoder call (Keras, `decoder(z)` → numpy)"),
    ("decode_to_matrix", "`sampler.decode_to_matrix` (noise, calibration, categorical draws)"),
    ("inverse_transform", "`transformer_.inverse_transform` (matrix → DataFrame)"),
    ("integer_columns", "`io.integer_columns_for_output` (whole-number columns to Int64)"),
    ("csv_text", "`io._csv_body` (Arrow CSV text)"),
    ("file_write", "writing the text to the file"),
)


# The steps that run on sampler.generate's decoding thread.
DECODE_THREAD_STEPS = ("prior", "decoder", "decode_to_matrix")


def profile_sample(model, n, path, integer_columns):
    """One in-process ``write_chunks(iter_sample(n))`` with each step's time accumulated.

    The steps are wrapped in place (instance attributes and module globals that
    ``sampler.generate`` and ``io.write_chunks`` look up at call time) and restored after.
    """
    import synthvae.io as sio
    from synthvae import sampler

    spent = dict.fromkeys([key for key, _ in PROFILE_STEPS], 0.0)
    decoder_fn = model._decoder_fn
    module_patches = [(sampler, "decode_to_matrix", "decode_to_matrix"),
                      (sio, "integer_columns_for_output", "integer_columns"),
                      (sio, "_csv_body", "csv_text")]
    saved = [(module, name, getattr(module, name)) for module, name, _ in module_patches]
    for module, name, key in module_patches:
        setattr(module, name, _timed(getattr(module, name), spent, key))
    model._decoder_fn = lambda: _timed(decoder_fn(), spent, "decoder")
    model.prior_.sample = _timed(model.prior_.sample, spent, "prior")
    model.transformer_.inverse_transform = _timed(model.transformer_.inverse_transform, spent, "inverse_transform")
    try:
        with open(path, "w", encoding="utf-8", newline="") as fh:
            started = time.perf_counter()
            sio.write_chunks(model.iter_sample(n, random_state=SAMPLE_SEED), _TimedFile(fh, spent, "file_write"),
                             "csv", integer_columns=integer_columns)
            total = time.perf_counter() - started
    finally:
        for module, name, func in saved:
            setattr(module, name, func)
        for obj, name in ((model, "_decoder_fn"), (model.prior_, "sample"), (model.transformer_, "inverse_transform")):
            del obj.__dict__[name]
    return {"rows": n, "total_s": total, "steps": spent}


def matmul_rates(keras, seconds=1.0):
    """float32 GFLOP/s of a (16384×256)@(256×256) product in Keras (TensorFlow) and numpy."""
    import numpy as np

    rows, inner, cols = MATMUL_SHAPE
    flops = 2 * rows * inner * cols

    def rate(product, a, b, finish):
        for _ in range(3):
            product(a, b)
        count, started = 0, time.perf_counter()
        while count < 10 or time.perf_counter() - started < seconds:
            c = product(a, b)
            count += 1
        finish(c)
        return flops * count / (time.perf_counter() - started) / 1e9

    ops = keras.ops
    a = keras.random.normal((rows, inner), seed=0, dtype="float32")
    b = keras.random.normal((inner, cols), seed=1, dtype="float32")
    keras_rate = rate(ops.matmul, a, b, ops.convert_to_numpy)
    rng = np.random.default_rng(0)
    na = rng.standard_normal((rows, inner), dtype=np.float32)
    nb = rng.standard_normal((inner, cols), dtype=np.float32)
    numpy_rate = rate(np.matmul, na, nb, lambda c: None)
    return {"keras_gflops": keras_rate, "numpy_gflops": numpy_rate, "backend": keras.backend.backend()}


def child_synthvae(params):
    """Load the Adult model; time sample-and-write, the decoder's size, the matmul rate,
    the CSV writer alone and a per-step profile."""
    from synthvae.cli import _integer_columns  # the columns the CLI writes as whole numbers
    from synthvae.estimator import SynthVAE, _import_keras
    from synthvae.io import write_chunks

    result = {"rows": params["rows"]}
    started = time.perf_counter()
    model = SynthVAE.load(params["model"])  # imports TensorFlow
    result["load_s"] = time.perf_counter() - started
    keras = _import_keras()
    integer_columns = _integer_columns(model)
    n, path = params["rows"], Path(params["path"])

    decoder = model.vae_.get_layer("decoder")
    shapes = [tuple(int(d) for d in layer.kernel.shape) for layer in decoder.layers
              if isinstance(layer, keras.layers.Dense)]
    result["decoder_shapes"] = shapes
    result["decoder_flops_per_row"] = 2 * sum(i * o for i, o in shapes)
    result["matmul"] = matmul_rates(keras)
    log(f"matmul: {result['matmul']['keras_gflops']:.1f} GFLOP/s (Keras), {result['matmul']['numpy_gflops']:.1f} (numpy)")

    # Warm-up, not counted: the first decoder call builds its graph and the first CSV
    # chunk imports pyarrow (TVAE gets the same warm-up draw; pandas is imported already).
    with open(os.devnull, "w", encoding="utf-8") as sink:
        write_chunks(model.iter_sample(1_000, random_state=SAMPLE_SEED), sink, "csv", integer_columns=integer_columns)
    started = time.perf_counter()
    write_chunks(model.iter_sample(n, random_state=SAMPLE_SEED), str(path), "csv", integer_columns=integer_columns)
    result["sample_write_s"] = time.perf_counter() - started
    result["bytes"] = path.stat().st_size
    log(f"in-process iter_sample + write_chunks, {n:,} rows: {result['sample_write_s']:.2f} s")

    started = time.perf_counter()
    frame = model.sample(n, random_state=SAMPLE_SEED)
    result["sample_frame_s"] = time.perf_counter() - started
    del frame

    chunks = list(model.iter_sample(params["writer_rows"], random_state=SAMPLE_SEED))
    counter = _Counter()
    write_chunks(chunks, counter, "csv", integer_columns=integer_columns)
    times = []
    for _ in range(3):
        with open(os.devnull, "w", encoding="utf-8") as sink:
            started = time.perf_counter()
            write_chunks(chunks, sink, "csv", integer_columns=integer_columns)
            times.append(time.perf_counter() - started)
    result["writer"] = {"rows": params["writer_rows"], "chunks": len(chunks), "bytes": counter.bytes,
                        "best_s": min(times), "times_s": times}
    del chunks

    result["profile"] = profile_sample(model, params["profile_rows"], SCALE_DIR / "adult-profile.csv",
                                       integer_columns)
    result["peak_rss_mib"] = bench.memory_mib("VmHWM")
    return result


def child_tvae(params):
    """Fit TVAE on Adult for a token number of epochs, then time sample + to_csv."""
    train = bench.load_split("adult", False)[0]
    result = {"rows": params["rows"]}
    started = time.perf_counter()
    model, _ = bench.fit_tvae(train, params["epochs"])
    result["fit_s"] = time.perf_counter() - started
    n, path = params["rows"], Path(params["path"])
    bench.draw_sample(model, "tvae", 1_000)  # warm-up, as for synthvae
    started = time.perf_counter()
    frame = bench.draw_sample(model, "tvae", n)
    result["sample_frame_s"] = time.perf_counter() - started
    started = time.perf_counter()
    bench.write_csv_atomically(frame, path)  # frame.to_csv(tmp, index=False), then rename
    result["write_s"] = time.perf_counter() - started
    result["sample_write_s"] = result["sample_frame_s"] + result["write_s"]
    result["bytes"] = path.stat().st_size
    result["peak_rss_mib"] = bench.memory_mib("VmHWM")
    log(f"TVAE: sample {n:,} rows {result['sample_frame_s']:.2f} s, to_csv {result['write_s']:.2f} s")
    return result


def run_child(args):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        result = (child_synthvae if args.child == "synthvae" else child_tvae)(args.child_params)
    except Exception as exc:
        import traceback

        traceback.print_exc()
        result = {"error": f"{type(exc).__name__}: {exc}"}
    args.child_result.write_text(json.dumps(result, indent=2, default=str), encoding="utf-8")
    return 1 if result.get("error") else 0


# ---------------------------------------------------------------------- markdown


def fmt(value, spec="{:.2f}"):
    return "—" if value is None else spec.format(value)


def met(value, target, at_most):
    if value is None:
        return "—"
    return "yes" if (value <= target if at_most else value >= target) else "**no**"


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines


def rows_per_s(run, fixed=None):
    wall = run.get("wall_s")
    if wall is None or not run.get("rows"):
        return None
    wall -= fixed or 0.0
    return run["rows"] / wall if wall > 0 else None


def shell_line(run, out):
    """The command a reader would type for a timed run."""
    args = run["command"][3:] if run["command"][1:3] == ["-m", "synthvae"] else run["command"][1:]
    args = [Path(a).name if "/" in a else a for a in args]
    return f"`synthvae {' '.join(args)} > {out}`"


def render_startup(rows):
    lines = ["### 1. Start-up", "",
             f"Wall time from fork to exit, median of {STARTUP_REPEATS} runs after one uncounted "
             f"warm-up run, output to /dev/null. Target ≤ {TARGET_STARTUP_S} s.", ""]
    body = []
    for row in rows:
        target = "—" if "-c pass" in row["label"] else met(row.get("median_s"), TARGET_STARTUP_S, True)
        body.append([row["label"], fmt(row.get("median_s"), "{:.3f}"), fmt(row.get("min_s"), "{:.3f}"),
                     fmt(row.get("max_s"), "{:.3f}"), target, fmt(row["load_1min"])
                     + (f" — failed: {row['error']}" if row.get("error") else "")])
    return lines + table(["command", "median s", "min s", "max s", "≤ 0.5 s?", "load (1 min)"], body)


def render_sampling(sampling):
    fit, lines = sampling["fit"], ["### 2. Sampling Adult to CSV (command line)", ""]
    lines.append(
        f"Model: `synthvae fit adult.csv --epochs {FIT_EPOCHS} --seed 0 --quiet` "
        f"({fmt(fit.get('wall_s'), '{:.1f}')} s, peak RSS {fmt(fit.get('peak_rss_mib'), '{:,.0f}')} MiB); "
        "sampling cost does not depend on how long the model trained. Each command runs "
        f"`python -m synthvae` with `--seed {SAMPLE_SEED}`; peak RSS is the child's `ru_maxrss`."
    )
    if fit.get("error"):
        return lines + ["", f"**Fit failed**: {fit['error']}"]
    zero, runs = sampling["zero"], sampling["runs"]
    body = [[shell_line(zero, "/dev/null") + f" (fixed cost: start-up, TensorFlow, model load; median of {zero.get('repeats', 1)})",
             "0", fmt(zero.get("wall_s")), "—", "—", fmt(zero.get("peak_rss_mib"), "{:,.0f}"), "—", fmt(zero["load_1min"])]]
    for run in runs + sampling["memory"]:
        out = "file" if run.get("bytes") else "/dev/null"
        body.append([shell_line(run, out), f"{run['rows']:,}", fmt(run.get("wall_s")),
                     fmt(rows_per_s(run), "{:,.0f}"), fmt(rows_per_s(run, zero.get("wall_s")), "{:,.0f}"),
                     fmt(run.get("peak_rss_mib"), "{:,.0f}"),
                     fmt(run["bytes"] / 1e6, "{:,.1f}") if run.get("bytes") else "—", fmt(run["load_1min"])])
    lines += [""] + table(["command", "rows", "wall s", "rows/s", "rows/s after fixed cost",
                           "peak RSS MiB", "CSV MB", "load (1 min)"], body)

    summary = []
    if len(runs) == 2 and all(r.get("wall_s") for r in runs):
        (a, b) = runs
        steady = (b["rows"] - a["rows"]) / (b["wall_s"] - a["wall_s"]) if b["wall_s"] > a["wall_s"] else None
        summary.append([f"steady-state rows/s to CSV = ({b['rows']:,} − {a['rows']:,}) / (t₂ − t₁)",
                        fmt(steady, "{:,.0f}") if steady else "— (t₂ ≤ t₁: the machine was too busy)", f"≥ {TARGET_ROWS_PER_S:,}", met(steady, TARGET_ROWS_PER_S, False)])
        net = b["wall_s"] - zero["wall_s"] if zero.get("wall_s") else None
        summary.append([f"{b['rows']:,} rows to CSV, wall s minus the fixed cost", fmt(net),
                        f"≤ {TARGET_1M_S:.0f} s for 1,000,000" if b["rows"] == 1_000_000 else "—",
                        met(net, TARGET_1M_S, True) if b["rows"] == 1_000_000 else "—"])
    memory = [r for r in sampling["memory"] if r.get("peak_rss_mib")]
    if len(memory) == 2:
        small, big = memory
        memory_ratio = big["peak_rss_mib"] / small["peak_rss_mib"]
        summary.append([f"peak RSS, `sample {big['rows']:,} > /dev/null` ÷ `sample {small['rows']:,} > /dev/null`",
                        f"{memory_ratio:.2f}", f"≤ {TARGET_MEMORY_RATIO}",
                        met(memory_ratio, TARGET_MEMORY_RATIO, True) if big["rows"] >= 10_000_000 else "— (not 10M)"])
    else:
        summary.append(["peak RSS ratio 10M ÷ 100k rows to /dev/null", "not measured (--no-10m)",
                        f"≤ {TARGET_MEMORY_RATIO}", "—"])
        if len(runs) == 2 and all(r.get("peak_rss_mib") for r in runs):
            summary.append([f"for scale: peak RSS, {runs[1]['rows']:,} ÷ {runs[0]['rows']:,} rows to a file",
                            f"{runs[1]['peak_rss_mib'] / runs[0]['peak_rss_mib']:.2f}", "—", "—"])
    return lines + [""] + table(["figure", "value", "target", "met?"], summary)


def render_versus(inprocess, tvae, sampling, skip_why):
    runs = sampling.get("runs") or []
    n = runs[-1]["rows"] if runs else inprocess.get("rows")
    lines = [f"### 3. Sample and write {fmt(n, '{:,}')} Adult rows: synthvae and TVAE", ""]
    lines.append(
        "In-process times, each after one small warm-up draw, so interpreter start-up and imports are "
        f"left out for both. synthvae: `SynthVAE.load`, then `io.write_chunks(model.iter_sample(n, "
        f"random_state={SAMPLE_SEED}), path, \"csv\", integer_columns=...)` as `synthvae sample` calls it; "
        f"TVAE: `TVAESynthesizer` fitted with epochs={TVAE_EPOCHS} (sampling cost does not depend on "
        "training), then `sample(num_rows=n)` and `DataFrame.to_csv(path, index=False)`. "
        "Ratio: TVAE ÷ synthvae (above 1: synthvae is faster)."
    )
    if inprocess.get("error"):
        lines += ["", f"**synthvae in-process run failed**: {inprocess['error']}"]
    if tvae is None:
        lines += ["", f"TVAE not run ({skip_why})."]
    elif tvae.get("error"):
        lines += ["", f"**TVAE run failed** (`{tvae.get('python')}`): {tvae['error']}"]
    tv = tvae or {}
    zero = (sampling.get("zero") or {}).get("wall_s")
    cli_net = runs[-1]["wall_s"] - zero if runs and runs[-1].get("wall_s") and zero else None

    def ratio(a, b):
        return f"{a / b:.2f}×" if a and b else "—"

    body = [
        ["sample to a DataFrame, s", fmt(inprocess.get("sample_frame_s")), fmt(tv.get("sample_frame_s")),
         ratio(tv.get("sample_frame_s"), inprocess.get("sample_frame_s")), "—"],
        ["write that CSV (TVAE: `to_csv`), s", "—", fmt(tv.get("write_s")), "—", "—"],
        ["**sample + write CSV, in-process, s**", fmt(inprocess.get("sample_write_s")), fmt(tv.get("sample_write_s")),
         ratio(tv.get("sample_write_s"), inprocess.get("sample_write_s")),
         met(tv.get("sample_write_s") and inprocess.get("sample_write_s")
             and tv["sample_write_s"] / inprocess["sample_write_s"], TARGET_TVAE_RATIO, False)],
        [f"synthvae: `sample {fmt(n, '{}')} > file` (table 2) minus its fixed cost, s", fmt(cli_net),
         fmt(tv.get("sample_write_s")), ratio(tv.get("sample_write_s"), cli_net),
         met(tv.get("sample_write_s") and cli_net and tv["sample_write_s"] / cli_net, TARGET_TVAE_RATIO, False)],
        ["CSV bytes per row", fmt(inprocess.get("bytes") and inprocess["bytes"] / inprocess["rows"], "{:.1f}"),
         fmt(tv.get("bytes") and tv["bytes"] / tv["rows"], "{:.1f}"), "—", "—"],
        ["peak RSS of the measuring process (VmHWM), MiB", fmt(inprocess.get("peak_rss_mib"), "{:,.0f}"),
         fmt(tv.get("peak_rss_mib"), "{:,.0f}"), "—", "—"],
        ["load (1 min) as the process started", fmt(inprocess.get("load_1min")), fmt(tv.get("load_1min")), "—", "—"],
    ]
    if tv.get("fit_s"):
        body.append([f"(TVAE fit, epochs={TVAE_EPOCHS}, not part of the comparison), s", "—", fmt(tv["fit_s"], "{:.1f}"), "—", "—"])
    return lines + [""] + table(["measure", "synthvae", "TVAE", "TVAE ÷ synthvae", f"≥ {TARGET_TVAE_RATIO:.0f}×?"], body)


def render_limit(inprocess, sampling):
    lines = ["### 4. The limit", ""]
    if inprocess.get("error"):
        return lines + [f"Not measured: the in-process run failed ({inprocess['error']})."]
    shapes, flops = inprocess["decoder_shapes"], inprocess["decoder_flops_per_row"]
    mm, writer, profile = inprocess["matmul"], inprocess["writer"], inprocess["profile"]
    rate = mm["keras_gflops"] * 1e9
    decoder_bound = rate / flops
    layout = " → ".join([str(shapes[0][0])] + [str(o) for _, o in shapes])
    runs = sampling.get("runs") or []
    big = runs[-1] if runs and runs[-1].get("bytes") else None
    bytes_per_row = big["bytes"] / big["rows"] if big else inprocess["bytes"] / inprocess["rows"]
    writer_rows_s = writer["rows"] / writer["best_s"]
    writer_mb_s = writer["bytes"] / writer["best_s"] / 1e6
    steps = profile["steps"]
    decoder_rows_s = profile["rows"] / steps["decoder"] if steps["decoder"] else None
    serial_bound = 1 / (1 / decoder_bound + 1 / writer_rows_s)
    steady = None
    if len(runs) == 2 and all(r.get("wall_s") for r in runs) and runs[1]["wall_s"] > runs[0]["wall_s"]:
        steady = (runs[1]["rows"] - runs[0]["rows"]) / (runs[1]["wall_s"] - runs[0]["wall_s"])
    body = [
        ["decoder Dense layers (in → … → out)", layout, "`model.vae_.get_layer(\"decoder\")` of the table-2 model"],
        ["decoder FLOPs per row", f"{flops:,}", "2 · Σ in·out over the Dense layers (biases and ReLU left out)"],
        ["float32 matmul rate, Keras", f"{mm['keras_gflops']:.1f} GFLOP/s",
         f"`keras.ops.matmul` ({mm['backend']}) of ({MATMUL_SHAPE[0]}×{MATMUL_SHAPE[1]})@({MATMUL_SHAPE[1]}×{MATMUL_SHAPE[2]}) in a loop for ≥ 1 s"],
        ["float32 matmul rate, numpy (for comparison)", f"{mm['numpy_gflops']:.1f} GFLOP/s", "same product with `np.matmul`"],
        ["**decoder-bound rows/s**", f"{decoder_bound:,.0f}", "matmul rate ÷ FLOPs per row"],
        ["decoder rows/s achieved", fmt(decoder_rows_s, "{:,.0f}"),
         f"rows ÷ time in the decoder call during the profile below ({fmt(decoder_rows_s and decoder_rows_s / decoder_bound * 100, '{:.0f}')}% of the bound)"],
        ["CSV bytes per row", f"{bytes_per_row:.1f}",
         f"file size ÷ rows of `sample {big['rows']:,} > file`" if big else "in-process file size ÷ rows"],
        ["CSV writer alone, MB/s", f"{writer_mb_s:,.1f}",
         f"`io.write_chunks` of {writer['rows']:,} pre-made rows ({writer['chunks']} chunk"
         f"{'s' if writer['chunks'] != 1 else ''} as the sampler yields them) "
         "to /dev/null, best of 3"],
        ["**CSV writer alone, rows/s**", f"{writer_rows_s:,.0f}", "same run"],
        ["serial bound: decoder + writer, rows/s", f"{serial_bound:,.0f}", "1 / (1/decoder-bound + 1/writer), one core doing both"],
        ["two-core bound: decoder and writer side by side, rows/s", f"{min(decoder_bound, writer_rows_s):,.0f}",
         "the slower of the two, each on its own core (how `sampler.generate` runs them)"],
        ["measured steady-state rows/s (table 2)", fmt(steady, "{:,.0f}"),
         f"{fmt(steady and steady / serial_bound * 100, '{:.0f}')}% of the serial bound, "
         f"{fmt(steady and steady / min(decoder_bound, writer_rows_s) * 100, '{:.0f}')}% of the two-core bound"],
    ]
    lines += table(["quantity", "value", "how"], body)
    total = profile["total_s"]
    lines += ["", f"Where the time of one in-process sample of {profile['rows']:,} rows to a CSV file goes "
              f"({total:.2f} s, {profile['rows'] / total:,.0f} rows/s; each step wrapped with a "
              "`time.perf_counter` accumulator):", ""]
    body = []
    for key, label in PROFILE_STEPS:
        body.append([label, f"{steps[key]:.3f}", f"{steps[key] / total * 100:.0f}%",
                     fmt(profile["rows"] / steps[key] if steps[key] else None, "{:,.0f}")])
    decode_side = sum(steps[k] for k in DECODE_THREAD_STEPS)
    write_side = sum(v for k, v in steps.items() if k not in DECODE_THREAD_STEPS)
    body.append(["decoding thread busy (the first three steps)", f"{decode_side:.3f}",
                 f"{decode_side / total * 100:.0f}%", fmt(profile["rows"] / decode_side if decode_side else None, "{:,.0f}")])
    body.append(["writing thread busy (the other steps)", f"{write_side:.3f}",
                 f"{write_side / total * 100:.0f}%", fmt(profile["rows"] / write_side if write_side else None, "{:,.0f}")])
    lines += table(["step", "s", "share of the wall time", "rows/s of this step alone"], body)
    return lines + ["", "`sampler.generate` decodes the next chunk on a second thread while the current one "
                    "is turned into a frame and written, so the two threads' shares add up to more than 100 % "
                    "where they overlapped; the wall time is bounded below by the busier thread."]


def render_growth(growth):
    lines = ["### 5. Growth with rows", ""]
    fits, samples, zero = growth["fits"], growth["samples"], growth.get("zero")
    lines.append(
        f"diamonds.csv ({fmt(growth.get('source_rows'), '{:,}')} rows) resampled with replacement "
        f"(`DataFrame.sample(n, replace=True, random_state={RESAMPLE_SEED})`). Every size is fitted with the "
        f"same FIXED number of epochs, `synthvae fit FILE --epochs {FIT_EPOCHS} --seed 0 --quiet`, so the "
        "curve shows the cost per row, not a model trained to convergence. Wall time includes "
        "start-up, reading the CSV, preprocessing, the prior, calibration and saving. Linear growth "
        "means the marginal s per 1,000 rows stays roughly constant."
    )

    def growth_rows(runs, fixed=None):
        body, previous = [], None
        for run in runs:
            wall = run.get("wall_s")
            marginal = None
            if previous is not None and wall is not None and previous.get("wall_s") is not None:
                marginal = (wall - previous["wall_s"]) / (run["rows"] - previous["rows"]) * 1000
            net = wall - fixed if wall is not None and fixed is not None else None
            body.append([f"{run['rows']:,}", fmt(wall), fmt(wall and wall / run["rows"] * 1000, "{:.4f}")]
                        + ([fmt(net and net / run["rows"] * 1000, "{:.4f}")] if fixed is not None else [])
                        + [fmt(marginal, "{:.4f}"), fmt(run.get("peak_rss_mib"), "{:,.0f}"), fmt(run["load_1min"])
                           + (f" — failed: {run['error']}" if run.get("error") else "")])
            previous = run
        return body

    lines += [""] + table(["rows", "fit wall s", "s per 1,000 rows", "marginal s per 1,000 rows (from the size above)",
                           "peak RSS MiB", "load (1 min)"], growth_rows(fits))
    if samples:
        model = Path(growth["model"]).name
        lines += ["", f"Sampling from one model (`{model}`): `synthvae sample n -m {model} --seed {SAMPLE_SEED} > file`; "
                  f"fixed cost (`sample 0`, median of 3): {fmt(zero.get('wall_s'))} s.", ""]
        lines += table(["n", "sample wall s", "s per 1,000 rows", "after fixed cost, s per 1,000 rows",
                        "marginal s per 1,000 rows", "peak RSS MiB", "load (1 min)"],
                       growth_rows(samples, zero.get("wall_s")))
    return lines


def render_fit_memory(fit):
    lines = ["### 6. Fit memory", "", f"Source: {fit['source']}.", ""]
    mib = fit.get("peak_rss_mib")
    body = [["Adult (32,561 rows), default settings", fmt(fit.get("wall_s"), "{:.1f}"), fmt(mib, "{:,.0f}"),
             fmt(mib and mib * MiB / 1e9, "{:.2f}"), met(mib, TARGET_FIT_MIB, True), fmt(fit.get("load_1min"))]]
    if fit.get("error"):
        body[0][-1] += f" — failed: {fit['error']}"
    return lines + table(["fit", "wall s", "peak RSS MiB", "GB", "≤ 1.5 GB?", "load (1 min)"], body)


# Issue 3's quality targets for Adult: (metric key, label, target, at_most).
QUALITY_TARGETS = (
    ("column_shape_error", "column-shape error", 1.0, True),
    ("pair_trend_error", "pair-trend error, all pairs", 2.0, True),
    ("pair_trend_error_strong", "pair-trend error, strong pairs", 3.0, True),
    ("ml_efficacy_synth", "ML efficacy AUC (train on synthetic, test on the real holdout)", 0.910, False),
    ("detection_auc", "detection AUC", 0.70, True),
)


def steady_rows_per_s(runs):
    if len(runs) == 2 and all(r.get("wall_s") for r in runs) and runs[1]["wall_s"] > runs[0]["wall_s"]:
        return (runs[1]["rows"] - runs[0]["rows"]) / (runs[1]["wall_s"] - runs[0]["wall_s"])
    return None


def render_targets(parts):
    """Every target of issue 4 in one table, each from a section below of this same run."""
    fq = parts["fit_quality"]
    lines = ["### 0. The targets of issue 4, from this run", ""]
    if fq is None:
        return lines + ["Fit time and quality not measured (run with `--with-fit`); see the sections below."]
    sv, tv = fq.get("synthvae") or {}, fq.get("tvae") or {}
    sm, tm = sv.get("metrics") or {}, tv.get("metrics") or {}

    def ratio(a, b):
        return f"{a / b:.1f}×" if a and b else "—"

    body = []
    fit_s, tvae_fit_s = sv.get("fit_s"), tv.get("fit_s")
    fit_ok = fit_s is not None and tvae_fit_s is not None and fit_s <= 40 and tvae_fit_s / fit_s >= 4
    body.append(["Adult fit, default settings, wall s (in-process, TensorFlow import included; table 7)",
                 fmt(fit_s, "{:.1f}"), fmt(tvae_fit_s, "{:.1f}"), ratio(tvae_fit_s, fit_s),
                 "≤ 40 s and ≥ 4×", "yes" if fit_ok else "**no**"])
    for key, label, target, at_most in QUALITY_TARGETS:
        body.append([f"… that fit's {label} (table 7)", fmt(sm.get(key), "{:.3f}"), fmt(tm.get(key), "{:.3f}"), "—",
                     f"{'≤' if at_most else '≥'} {target}", met(sm.get(key), target, at_most)])
    dcr = sm.get("dcr_share")
    body.append(["… DCR share, % (table 7)", fmt(dcr, "{:.1f}"), fmt(tm.get("dcr_share"), "{:.1f}"), "—", "50 ± 3",
                 "—" if dcr is None else ("yes" if abs(dcr - 50) <= 3 else "**no**")])
    copies, holdout = sm.get("exact_copy_rate"), sm.get("holdout_copy_rate")
    body.append(["… exact copies of training rows, % (table 7)", fmt(copies, "{:.3f}"), fmt(tm.get("exact_copy_rate"), "{:.3f}"),
                 "—", f"≤ the holdout's {fmt(holdout, '{:.3f}')}", met(copies, holdout, True) if holdout is not None else "—"])
    fit_mib = sv.get("peak_rss_mib")
    body.append(["Adult fit peak RSS, GB (table 6)", fmt(fit_mib and fit_mib * MiB / 1e9), fmt(tv.get("peak_rss_mib") and tv["peak_rss_mib"] * MiB / 1e9),
                 "—", "≤ 1.5", met(fit_mib, TARGET_FIT_MIB, True)])
    sampling = parts["sampling"]
    runs = sampling.get("runs") or []
    steady = steady_rows_per_s(runs)
    body.append(["steady sampling to CSV, rows/s (table 2)", fmt(steady, "{:,.0f}"), "—", "—",
                 f"≥ {TARGET_ROWS_PER_S:,}", met(steady, TARGET_ROWS_PER_S, False)])
    zero = (sampling.get("zero") or {}).get("wall_s")
    if runs and runs[-1].get("wall_s") and zero and runs[-1]["rows"] == 1_000_000:
        net = runs[-1]["wall_s"] - zero
        body.append(["`sample 1000000 > file`, s after start-up (table 2)", fmt(net), "—", "—",
                     f"≤ {TARGET_1M_S:.0f}", met(net, TARGET_1M_S, True)])
    ip, tvs = parts["inprocess"], parts["tvae"] or {}
    a, b = ip.get("sample_write_s"), tvs.get("sample_write_s")
    body.append([f"sample and write {fmt(ip.get('rows'), '{:,}')} rows, in-process, s (table 3)", fmt(a), fmt(b), ratio(b, a),
                 f"≥ {TARGET_TVAE_RATIO:.0f}×", met(a and b and b / a, TARGET_TVAE_RATIO, False)])
    memory = [r for r in sampling.get("memory", []) if r.get("peak_rss_mib")]
    if len(memory) == 2 and memory[1]["rows"] >= 10_000_000:
        mem = memory[1]["peak_rss_mib"] / memory[0]["peak_rss_mib"]
        body.append(["peak RSS, `sample 10000000` ÷ `sample 100000` (table 2)", f"{mem:.2f}", "—", "—",
                     f"≤ {TARGET_MEMORY_RATIO}", met(mem, TARGET_MEMORY_RATIO, True)])
    for row in parts["startup"]:
        if "-c pass" not in row["label"]:
            body.append([f"{row['label']}, median s (table 1)", fmt(row.get("median_s"), "{:.3f}"), "—", "—",
                         f"≤ {TARGET_STARTUP_S}", met(row.get("median_s"), TARGET_STARTUP_S, True)])
    fits = [f for f in parts["growth"]["fits"] if f.get("wall_s")]
    if len(fits) == 3:
        first = (fits[1]["wall_s"] - fits[0]["wall_s"]) / (fits[1]["rows"] - fits[0]["rows"]) * 1000
        last = (fits[2]["wall_s"] - fits[1]["wall_s"]) / (fits[2]["rows"] - fits[1]["rows"]) * 1000
        body.append([f"fit growth: marginal s per 1,000 rows, {fits[1]['rows']:,}→{fits[2]['rows']:,} ÷ "
                     f"{fits[0]['rows']:,}→{fits[1]['rows']:,} (table 5)", f"{last / first:.2f}", "—", "—",
                     "≤ 1 (linear or better)", met(last / first, 1.0, True)])
    body.append(["GPU epoch time", "not measured: no device machine was lent to this task", "—", "—", "—", "—"])
    return lines + table(["target", "synthvae", "TVAE", "TVAE ÷ synthvae", "bar", "met?"], body)


def render_fit_quality(fq):
    if fq is None:
        return []
    lines = ["### 7. Adult fit and quality, synthvae and TVAE with default settings", "",
             f"`{fq['command']}`, run by this script before the sections above; its report follows "
             "(headings demoted one level)." + (f" **It failed**: {fq['error']}" if fq.get("error") else ""), ""]
    text = fq.get("markdown") or "(no report written)"
    return lines + [("#" + line) if line.startswith("#") else line for line in text.splitlines()]


def render_report(args, argv, parts, load_before, started):
    packages = ("numpy", "pandas", "pyarrow", "tensorflow", "keras", "torch", "sdv")
    versions = {f"synthvae (`{sys.executable}`)": bench.interpreter_versions(sys.executable, packages)}
    if parts["tvae"] is not None:
        versions[f"TVAE (`{args.tvae_python}`)"] = bench.interpreter_versions(args.tvae_python, packages)
    mode = "quick (smoke test of the harness; small sizes, no TVAE)" if args.quick else "full"
    skipped = [flag for flag, on in (("--skip-tvae", args.skip_tvae and not args.quick),
                                      ("--no-10m", args.no_10m)) if on]
    lines = [
        f"## Scale benchmark run, {bench.utc_now()}",
        "",
        f"- Command: `{shlex.join(['python', 'benchmarks/scale.py', *argv])}`",
        f"- Machine: {bench.machine_description()}",
        f"- Mode: {mode}" + (f"; skipped: {', '.join(skipped)}" if skipped else ""),
        f"- Load average (1 min) at start / end: {load_before:.2f} / {os.getloadavg()[0]:.2f} "
        f"(run took {(time.perf_counter() - started) / 60:.1f} min). Sampling uses one to two cores; "
        "more load than that means other work shared the cores and inflated the times.",
    ]
    for label, info in versions.items():
        lines.append(f"- {label}: " + ", ".join(f"{k} {v}" for k, v in info.items() if v)
                     if "error" not in info else f"- {label}: {info['error']}")
    lines += ["- Times are wall seconds; peak RSS is per process (`ru_maxrss` of the child, or VmHWM).", ""]
    sections = [render_targets(parts), render_startup(parts["startup"]), render_sampling(parts["sampling"]),
                render_versus(parts["inprocess"], parts["tvae"], parts["sampling"], parts["tvae_skip"]),
                render_limit(parts["inprocess"], parts["sampling"]), render_growth(parts["growth"]),
                render_fit_memory(parts["fit_memory"]), render_fit_quality(parts["fit_quality"])]
    for section in sections:
        lines += section + [""]
    return "\n".join(lines)


# ---------------------------------------------------------------------------- main


def failures(parts):
    found = [r.get("error") for r in parts["startup"]]
    sampling = parts["sampling"]
    found += [sampling["fit"].get("error")] + [r.get("error") for r in sampling["runs"] + sampling["memory"]]
    found += [parts["inprocess"].get("error"), (parts["tvae"] or {}).get("error")]
    found += [r.get("error") for r in parts["growth"]["fits"] + parts["growth"]["samples"]]
    found.append(parts["fit_memory"].get("error"))
    found.append((parts["fit_quality"] or {}).get("error"))
    return [f for f in found if f]


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    if args.child:
        return run_child(args)
    SCALE_DIR.mkdir(parents=True, exist_ok=True)
    started, load_before = time.perf_counter(), os.getloadavg()[0]
    parts = {"fit_quality": measure_fit_and_quality(args), "startup": measure_startup()}
    parts["sampling"] = measure_sampling(args)
    parts["inprocess"] = (measure_inprocess(args, parts["sampling"]) if not parts["sampling"]["fit"].get("error")
                          else {"error": "the Adult fit failed"})
    parts["tvae_skip"] = "--quick" if args.quick else "--skip-tvae"
    parts["tvae"] = None if args.skip_tvae else measure_tvae(args)
    parts["growth"] = measure_growth(args)
    parts["fit_memory"] = measure_fit_memory(args)
    report = render_report(args, argv, parts, load_before, started)
    print(report)
    if args.out:
        args.out.write_text(report + "\n", encoding="utf-8")
        log(f"wrote {args.out}")
    problems = failures(parts)
    for problem in problems:
        log(f"failed: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
