"""One (table, method) run in a process of its own: read, fit, save, sample; JSON out.

    python benchmarks/child.py JOB    # JOB: {"table", "method", "settings", "out"} as JSON

run.py starts it (with the method's interpreter) and reads ``OUT/result.json``; the
sample goes to ``OUT/sample.csv``, a saved model (if the method saves) to ``OUT/model``.
"""

import importlib
import json
import os
import resource
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DATA = REPO.parent / "shared" / "data"
# name: (file, holdout file or None for a seeded 80/20 split of the file, target)
TABLES = {
    "adult": ("adult.csv", "adult-test.csv", "income"),
    "diamonds": ("diamonds.csv", None, "price"),
    "taxis": ("taxis.csv", None, "payment"),
    "titanic": ("titanic.csv", None, "survived"),
    "penguins": ("penguins.csv", None, "species"),
    # Small tables: seeded subsamples of Adult's training rows, scored on its real test split.
    "adult-200": ("adult.csv", "adult-test.csv", "income"),
    "adult-500": ("adult.csv", "adult-test.csv", "income"),
    "adult-1000": ("adult.csv", "adult-test.csv", "income"),
    "adult-2500": ("adult.csv", "adult-test.csv", "income"),
}
# Training rows kept of a table that is a subsample (random_state=0; the holdout is whole).
SUBSAMPLE_ROWS = {"adult-200": 200, "adult-500": 500, "adult-1000": 1_000, "adult-2500": 2_500}
SAMPLE_SEED = 1


def load_split(table, max_rows=None):
    """(train, holdout): Adult's real test split, else train_test_split(0.2, random_state=0);
    a subsample table keeps a seeded subsample of the training rows."""
    from synthvae.io import read_table

    file, holdout_file, _ = TABLES[table]
    frame = read_table(DATA / file)
    if holdout_file:
        train, holdout = frame, read_table(DATA / holdout_file)
    else:
        from sklearn.model_selection import train_test_split

        train, holdout = train_test_split(frame, test_size=0.2, random_state=0)
    if table in SUBSAMPLE_ROWS:
        train = train.sample(n=SUBSAMPLE_ROWS[table], random_state=0)
    if max_rows:  # quick mode: a seeded subset of each part
        train, holdout = (p.sample(n=max_rows, random_state=0) if len(p) > max_rows else p for p in (train, holdout))
    return train.reset_index(drop=True), holdout.reset_index(drop=True)


def peak_rss_mib():
    """Peak resident set of this process (or of a waited-for child, if larger), MiB."""
    return max(resource.getrusage(w).ru_maxrss for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)) / 1024


def cpu_s():
    """CPU seconds of this process (all threads) and of its waited-for children."""
    return sum(u.ru_utime + u.ru_stime for u in map(resource.getrusage, (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)))


def main(job):
    out, settings = Path(job["out"]), job["settings"]
    method = importlib.import_module(f"methods.{job['method']}")
    result = {"started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "load_before": os.getloadavg()[0]}
    clock = time.perf_counter()
    train, holdout = load_split(job["table"], settings.get("max_rows"))
    result.update(read_s=time.perf_counter() - clock, train_rows=len(train), holdout_rows=len(holdout),
                  columns=train.shape[1])

    clock, cpu = time.perf_counter(), cpu_s()
    model = method.fit(train, settings["fit"])
    result.update(fit_s=time.perf_counter() - clock, fit_cpu_s=cpu_s() - cpu, load_after_fit=os.getloadavg()[0])
    if hasattr(method, "stages"):
        result["stages"] = method.stages(model)
        result["info"] = method.info(model)
    if hasattr(method, "save"):
        clock = time.perf_counter()
        method.save(model, out / "model")
        result.update(save_s=time.perf_counter() - clock, model="model")

    clock = time.perf_counter()
    frame = method.sample(model, len(train), SAMPLE_SEED)
    result["sample_s"] = time.perf_counter() - clock
    clock = time.perf_counter()
    frame.to_csv(out / "sample.csv", index=False)
    result.update(write_s=time.perf_counter() - clock, peak_rss_mib=peak_rss_mib())

    n = settings.get("big_sample")
    if n:  # sample + to_csv of many rows, after a warm-up draw (not counted)
        method.sample(model, 1_000, SAMPLE_SEED)
        clock = time.perf_counter()
        method.sample(model, n, SAMPLE_SEED).to_csv(out / "big.csv", index=False)
        result.update(big_rows=n, big_sample_write_s=time.perf_counter() - clock,
                      big_bytes=(out / "big.csv").stat().st_size)
        (out / "big.csv").unlink()
    (out / "result.json").write_text(json.dumps(result, indent=1), encoding="utf-8")


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.path.insert(0, str(REPO))
    main(json.loads(sys.argv[1]))
