"""What a model file holds, for a person to review before the file is shared
(``synthvae inspect MODEL``): the columns with their kinds and formats, every value kept
of the data (category levels, ranges, table sizes), the rules between columns, the
training setup, the parameters and versions.

It reads the file as :func:`synthvae.modelfile.read_model_file` checks it, and loads
nothing else: no network is built.
"""

from __future__ import annotations

import datetime as _dt

from synthvae.transformers.learned import RARE_ROWS

# Levels listed per column in the text form (the JSON form lists them all).
TEXT_LEVELS = 12


def describe_model(path):
    """A JSON-ready summary of the model file at ``path``."""
    from synthvae.modelfile import read_model_file

    parts, weights = read_model_file(path)
    meta, schema, state, prior = (parts[m] for m in ("meta.json", "schema.json", "transformer.json", "prior.json"))
    columns, rules = [], []
    for spec, entry in zip(schema["columns"], state["transformers"]):
        column = {k: spec[k] for k in ("name", "kind", "nullable", "dtype", "format") if k in spec}
        column.update(_stored(entry["type"], entry["state"], meta["n_rows"]))
        if entry["type"] == "DerivedTransformer":
            rules.append({"column": spec["name"], "looked_up_from": entry["state"]["source"],
                          "pairs": len(entry["state"]["mapping"])})
        columns.append(column)
    for rule in state.get("rules", []):
        if rule["rule"] != "depends":  # listed above, by the column looked up
            from synthvae.rules import rule_from_dict

            rules.append({"rule": rule_from_dict(rule).describe(), "definition": rule})
    history = meta["history"]
    sizes = {name: list(array.shape) for name, array in weights.items()}
    return {
        "file": str(path),
        "format_version": meta["format_version"],
        "written_by": f"synthvae {meta['synthvae_version']}",
        "training": {
            "rows": meta["n_rows"],
            # A private fit runs every planned epoch and keeps no losses.
            "epochs_run": len(history.get("loss", [])) or (meta["params"]["epochs"] if meta.get("privacy") else 0),
            "final_loss": history["loss"][-1] if history.get("loss") else None,
            "final_held_out_loss": history["val_loss"][-1] if history.get("val_loss") else None,
            **meta["training"],
        },
        "parameters": meta["params"],
        # Parameters left at None that the fit chose from the table's size.
        "chosen_for_size": meta.get("chosen", []),
        "encoding": state["encoding"],
        "columns": columns,
        "rules": rules,
        "network": {
            "layout_width": meta["network"]["input_dim"],
            "encoder": [meta["network"]["input_dim"], *meta["params"].get("encoder_hidden", meta["params"]["hidden"]),
                        meta["params"]["latent_dim"]],
            "decoder": [meta["params"]["latent_dim"], *reversed(meta["params"]["hidden"]), meta["network"]["input_dim"]],
            "arrays": len(weights),
            "numbers": int(sum(array.size for array in weights.values())),
            "shapes": sizes,
        },
        "prior": {"components": len(prior["weights"]), "latent_dim": meta["params"]["latent_dim"]},
        "calibration": {
            "level_biases": len(meta["calibration"]["logit_bias"]),
            "quantile_maps": len(meta["calibration"]["source_quantiles"]),
            "points_per_map": len(meta["calibration"]["source_quantiles"][0]) if meta["calibration"]["source_quantiles"] else 0,
        },
        "protection": _protection(columns, meta),
        "privacy": meta.get("privacy"),
    }


def _stored(kind, state, n_rows):
    """What the file keeps of one column's values."""
    if kind == "MissingIndicator":
        return {**_stored(state["inner_type"], state["inner"], n_rows), "missing_share_learned": True}
    if kind == "NumericTransformer":
        out = {"range": [state["min"], state["max"]], "decimals": state["decimals"]}
        encoder = state["encoder"]
        if "quantiles" in encoder:
            out["quantile_table"] = len(encoder["quantiles"])
        else:
            out["mixture_modes"] = len(encoder["means"])
        return out
    if kind == "DatetimeTransformer":
        inner = _stored("NumericTransformer", state["numeric"], n_rows)
        inner["range"] = [_iso(v) for v in inner["range"]]
        return {**inner, "time_unit_seconds": state["unit"]}
    if kind == "CategoricalTransformer":
        return {"levels": state["levels"], "pooled_levels": state["pooled"]}
    if kind == "ConstantTransformer":
        return {"value": state["value"]}
    if kind == "IdentifierTransformer":
        pattern = f"{state['prefix']}{{{'0' * state['width'] or 'n'}}}{state['suffix']}" if not state["numeric"] else "n"
        return {"regenerated": True, "pattern": pattern, "first_new_number": state["start"]}
    if kind == "PersonalTransformer":
        shapes = state["shapes"]
        return {"personal": state["personal"], "patterns": len(shapes["patterns"]),
                "email_domains": shapes["domains"]}
    if kind == "DerivedTransformer":
        return {"looked_up_from": state["source"], "pairs": len(state["mapping"]),
                "levels": list(dict.fromkeys(b for _, b in state["mapping"]))}
    if kind == "GapTransformer":
        low, high = state["min"], state["max"]
        out = {"range": [_iso(low), _iso(high)] if state["datetime"] else [low, high], "decimals": state["decimals"],
               "built_above": [" + ".join(b["parts"]) for b in state["bounds"]]}
        if state["inner"] is not None:
            gap = _stored(state["inner"]["type"], state["inner"]["state"], n_rows)
            out.update({k: gap[k] for k in ("quantile_table", "mixture_modes") if k in gap})
        return out
    if kind == "ExclusionTransformer":
        return {"levels": state["levels"], "pooled_levels": state["pooled"],
                "excluded_pairs": sum(len(e["pairs"]) for e in state["exclusions"])}
    return {}


def _iso(seconds):
    try:
        return _dt.datetime.fromtimestamp(seconds, _dt.timezone.utc).isoformat().replace("+00:00", "Z")
    except (OverflowError, OSError, ValueError):
        return seconds


def _protection(columns, meta):
    """Facts that bound what the file reveals of the training rows."""
    notes = ["no training row is stored: only what each column lists, never linked across columns"]
    identifiers = [c["name"] for c in columns if c.get("regenerated")]
    if identifiers:
        notes.append(f"identifiers regenerated, not stored: {', '.join(identifiers)} (only their text pattern and the next free number)")
    personal = [c["name"] for c in columns if c.get("personal")]
    if personal:
        notes.append(f"personal columns regenerated as fakes, never learned: {', '.join(personal)}")
    if meta.get("privacy"):
        notes.append("differentially private fit (see privacy): the column facts above come from the declared "
                     "schema or were released with noise, so value protection does not apply")
        return notes
    if meta["params"].get("value_protection", False):
        k = RARE_ROWS
        notes.append(f"value protection on (k = {k}): categories seen in fewer than {k} rows withheld (never "
                     f"stored or generated), stored counts rounded to multiples of {k}, ranges, clipping bounds "
                     f"and quantile tables within the {_ordinal(k)} smallest and {_ordinal(k)} largest training value")
        pooled = [c["name"] for c in columns if c.get("pooled_levels")]
        if pooled:
            notes.append(f"levels beyond the softmax pooled, each seen in at least {k} rows: {', '.join(pooled)}")
    else:
        notes.append("value protection off: rare levels, exact extremes and counts are kept as the data shows them")
        pooled = [c["name"] for c in columns if c.get("pooled_levels")]
        if pooled:
            notes.append(f"rare levels pooled (their values are listed with weights): {', '.join(pooled)}")
        whole = [c["name"] for c in columns if "quantile_table" in c and c["quantile_table"] >= meta["n_rows"]]
        if whole:
            notes.append(f"quantile tables as large as the table, so they hold every value of: {', '.join(whole)}")
    notes.append("no differential privacy is applied")
    return notes


def _ordinal(n):
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def format_description(info):
    """The text ``synthvae inspect`` prints."""
    t = info["training"]
    lines = [
        f"{info['file']}: synthvae model file, format {info['format_version']}, written by {info['written_by']}",
        f"trained on {t['rows']} rows for {t['epochs_run']} epochs"
        + (f" (final loss {t['final_loss']:.4g}" + (f", held-out {t['final_held_out_loss']:.4g}" if t["final_held_out_loss"] is not None else "") + ")"
           if t["final_loss"] is not None else "")
        + f" on {t['device'] or '?'}, batch {t['batch_size']}, learning rate {t['learning_rate']}"
        + f", with Keras {t['keras_version'] or '?'} on {t['backend'] or '?'}",
        "parameters: " + ", ".join(f"{k}={v}" for k, v in info["parameters"].items()),
        *([f"chosen for {t['rows']} rows (left at None): " + ", ".join(info["chosen_for_size"])]
          if info.get("chosen_for_size") else []),
        "",
        f"columns ({len(info['columns'])}; encoding of numbers: {info['encoding']}):",
    ]
    width = max(len(str(c["name"])) for c in info["columns"])
    for c in info["columns"]:
        kind = c["kind"] + (" (nullable)" if c.get("nullable") else "")
        lines.append(f"  {str(c['name']):<{width}}  {kind:<22} {c.get('dtype', ''):<8} {_column_text(c)}")
    lines.append("")
    lines.append("rules:" if info["rules"] else "rules: none")
    for r in info["rules"]:
        if "rule" in r:
            lines.append(f"  {r['rule']}")
        else:
            lines.append(f"  {r['column']} is looked up from {r['looked_up_from']} ({r['pairs']} pairs)")
    n = info["network"]
    lines += [
        "",
        f"network: decoder {' -> '.join(map(str, n['decoder']))}; {n['arrays']} float32 arrays, {n['numbers']} numbers",
        f"prior: Gaussian mixture of {info['prior']['components']} components in {info['prior']['latent_dim']} dimensions",
        f"calibration: {info['calibration']['level_biases']} level biases, {info['calibration']['quantile_maps']} quantile maps "
        f"of {info['calibration']['points_per_map']} points",
        "",
        "protection:",
        *(f"  - {note}" for note in info["protection"]),
        *_privacy_lines(info.get("privacy")),
    ]
    return "\n".join(lines)


def _privacy_lines(ledger):
    if not ledger:
        return ["", "privacy: no differential privacy"]
    split = ", ".join(f"{name} {share:.3g}" for name, share in ledger["split"].items())
    return [
        "",
        f"privacy: differentially private for {ledger['neighbouring']}: epsilon {ledger['epsilon_spent']:.4g} spent "
        f"of {ledger['epsilon']:g}, delta {ledger['delta']:.3g} ({ledger['accountant']} accountant)",
        f"  split of epsilon (each part alone, composed above): {split}",
        *_release_lines(ledger),
        f"  DP-SGD: {ledger['steps']} steps, {ledger['sampling']} sampling rate {ledger['sampling_rate']:.4g} "
        f"(about {ledger['expected_batch_size']:.0f} rows a step), noise multiplier {ledger['noise_multiplier']:.4g}, "
        f"clip norm {ledger['clip_norm']:g}",
    ]


def _release_lines(ledger):
    released = ledger.get("released") or {}
    if not ledger.get("preprocessing_queries"):
        return ["  preprocessing: nothing released, every column fact declared"]
    what = "; ".join(f"{name}: {', '.join(parts)}" for name, parts in released.items())
    threshold = (f", level thresholds spend delta {ledger['threshold_delta']:.3g}"
                 if ledger.get("threshold_delta") else "")
    return [f"  preprocessing: {ledger['preprocessing_queries']} noisy histograms, noise multiplier "
            f"{ledger['preprocessing_noise_multiplier']:.4g}{threshold}",
            f"  released with noise: {what}"]


def _column_text(c):
    parts = []
    if "format" in c and c["format"]:
        parts.append(f"format {c['format']}")
    if "range" in c:
        parts.append(f"range {c['range'][0]} .. {c['range'][1]}")
    if "quantile_table" in c:
        parts.append(f"quantile table of {c['quantile_table']} values")
    if "mixture_modes" in c:
        parts.append(f"{c['mixture_modes']} mixture modes")
    if "built_above" in c:
        parts.append("built above " + " and ".join(c["built_above"]))
    if c.get("excluded_pairs"):
        parts.append(f"{c['excluded_pairs']} excluded pairs")
    if "looked_up_from" in c:
        parts.append(f"looked up from {c['looked_up_from']} ({c['pairs']} pairs)")
    elif "levels" in c:
        levels = c["levels"]
        shown = ", ".join(repr(v) for v in levels[:TEXT_LEVELS])
        more = f", ... ({len(levels) - TEXT_LEVELS} more; --json lists all)" if len(levels) > TEXT_LEVELS else ""
        parts.append(f"{len(levels)} levels: {shown}{more}")
    if c.get("pooled_levels"):
        parts.append(f"{len(c['pooled_levels'])} rare levels pooled")
    if "value" in c:
        parts.append(f"always {c['value']!r}")
    if c.get("personal"):
        domains = f", domains {', '.join(c['email_domains'])}" if c.get("email_domains") else ""
        parts.append(f"regenerated as fake {c['personal']} values ({c['patterns']} patterns kept{domains})")
    if c.get("regenerated"):
        parts.append(f"regenerated as {c['pattern']} from {c['first_new_number']}")
    return "; ".join(parts)
