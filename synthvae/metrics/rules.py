"""Rules of the real rows that synthetic rows break.

The rules are found on the real rows by :func:`synthvae.rules.discover` (orders,
sums, dependencies, excluded combinations; only rules no chance would explain), and
every synthetic row is checked against each of them.
"""

from __future__ import annotations

import numpy as np

from synthvae.rules import discover
from synthvae.schema import Schema


def rule_violations(real, synth, kinds):
    """How many synthetic rows break each rule of the real rows.

    Parameters
    ----------
    real, synth : pandas.DataFrame
        The tables, with the same columns.
    kinds : dict
        ``{label: ColumnSpec}`` for every column of ``real``.

    Returns
    -------
    broken : float or None
        % of synthetic rows that break at least one rule; ``None`` when the real rows
        obey no rule.
    rules : list of dict
        Per rule: ``rule`` (its one-line description), ``definition`` (its JSON
        form), ``broken`` (synthetic rows breaking it), ``broken_share`` (the same in
        % of the synthetic rows) and ``real_broken`` (real rows breaking it: 0 but for
        the few exceptions of a near-rule, held by fewer than 5 rows).
    """
    schema = Schema([kinds[c] for c in real.columns])
    rules = discover(real, schema)
    if not rules:
        return None, []
    any_broken = np.zeros(len(synth), dtype=bool)
    out = []
    for rule in rules:
        broken = rule.violations(synth, schema)
        any_broken |= broken
        real_broken = rule.violations(real, schema)
        out.append({
            "rule": rule.describe(),
            "definition": rule.to_dict(),
            "broken": int(broken.sum()),
            "broken_share": 100.0 * float(broken.mean()),
            "real_broken": int(real_broken.sum()),
        })
    return 100.0 * float(any_broken.mean()), out
