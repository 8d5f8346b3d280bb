"""The parts of BENCHMARKS.md, in file-name order: a module with render(results,
targets) -> markdown (and, if it measures something itself, measure(results, ctx) ->
dict, stored under its name without the number), or a .md file copied as it is."""

LABELS = {"synthvae": "synthvae", "tvae": "TVAE"}


def fmt(value, spec=None):
    if value is None or isinstance(value, str):
        return "—" if value is None else value
    if spec is None:
        spec = "{:,.0f}" if abs(value) >= 1000 else "{:.1f}" if abs(value) >= 10 else "{:.3f}"
    return spec.format(value)


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(str(c) for c in row) + " |" for row in rows])


def lookup(results, path):
    """A value by dotted path ("runs.adult.synthvae.fit_s"), "A / B" for a ratio; None if absent.
    A "*" step goes through every item of a list ("seeds.adult.synthvae.*.fit_s"): the values
    found, a list (None if there is none)."""
    if isinstance(path, (int, float)) or path is None:
        return path
    if " / " in path:
        a, b = (lookup(results, p) for p in path.split(" / "))
        return a / b if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b else None
    keys = path.split(".")
    for i, key in enumerate(keys):
        if key == "*":
            found = [lookup(item, ".".join(keys[i + 1:])) for item in results] if isinstance(results, list) else []
            found = [v for v in found if v is not None]
            return found or None
        results = results.get(key) if isinstance(results, dict) else None
    return results


def ratio(a, b):
    return f"{a / b:.1f}×" if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b else "—"


SHORT = ("synthvae", "code", "tensorflow", "keras", "sdv", "torch", "pandas")


def provenance(results, table_name=None):
    """One line: the command, date, machine and versions a table comes from."""
    meta, runs = results["meta"], results["runs"].get(table_name, {}) if table_name else {}
    env = {m: {**e, "code": (runs.get(m) or {}).get("version", {}).get("code")} for m, e in results["env"].items()}
    if table_name:
        env = {m: {k: e.get(k) for k in SHORT if k in e} for m, e in env.items()}
    fitted = "; ".join(
        f"{LABELS.get(m, m)} fitted {r['started']}{' (cached run)' if r.get('cached') else ''}, "
        f"load {r.get('load_before', 0):.1f}→{r.get('load_after_fit', 0):.1f}"
        for m, r in runs.items() if "started" in r)
    versions = "; ".join(f"{LABELS.get(m, m)}: " + ", ".join(f"{k} {v}" for k, v in e.items() if v)
                         for m, e in env.items())
    return (f"`{meta['command']}`, {meta['date']}" + (f" ({fitted})" if fitted else "")
            + f"; {meta['machine']}; {versions}.")
