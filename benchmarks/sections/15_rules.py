"""Rules of the real rows that the samples break: per table, the share of sampled rows
breaking any rule and each rule's own share, synthvae beside TVAE."""

from sections import LABELS, fmt, provenance, table


def render(results, targets):
    parts = [
        "## Rules",
        "Rules every training row obeys, found by `synthvae.rules.discover` (orders such as "
        "pickup ≤ dropoff, sums such as total ≥ fare + tip + tolls, dependencies such as "
        "zone → borough, value combinations the real rows leave out), and the % of sampled rows "
        "that break each (`synthvae evaluate`). synthvae keeps the rules it finds by construction.",
    ]
    for name, runs in results["runs"].items():
        methods = [m for m in ("synthvae", "tvae") if m in runs and "metrics" in runs[m]]
        methods += [m for m in runs if m not in methods and "metrics" in runs[m]]
        if not methods:
            continue
        counts = {m: runs[m]["metrics"].get("n_rules") for m in methods}
        if not any(counts.values()):
            parts.append(f"### {name}\n\nThe training rows obey no rule that chance would not explain.")
            continue
        rows = [["rows breaking any rule, %"] + [fmt(runs[m]["metrics"].get("rules_broken")) for m in methods]]
        listed = {}
        for m in methods:
            for rule in runs[m].get("rules") or ():
                listed.setdefault(rule["rule"], {})[m] = rule["broken_share"]
        for rule, shares in listed.items():
            shown = rule if len(rule) <= 80 else rule[:77] + "..."
            rows.append([f"`{shown}`"] + [fmt(shares.get(m)) for m in methods])
        if not listed:
            rows.append(["(each rule's share: not recorded in this run)"] + [""] * len(methods))
        n = next(v for v in counts.values() if v)
        parts.append(f"### {name}\n\n{n} rule{'s' if n != 1 else ''}; % of sampled rows breaking each.\n\n"
                     + table(["rule"] + [LABELS.get(m, m) for m in methods], rows)
                     + f"\n\n<sub>{provenance(results, name)}</sub>")
    return "\n\n".join(parts)
