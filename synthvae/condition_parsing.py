"""Conditions as a user writes them -> (column, operator, value) triples.

``conditions={"sex": "Female"}`` and ``where=["age>=40", ("hours", "<", 20)]`` both
become ``(column, op, value)``; :mod:`synthvae.conditions` checks them against a
model and compiles them.
"""

from __future__ import annotations

from synthvae.errors import InputTypeError, UsageError

OPERATORS = ("==", "!=", ">=", "<=", ">", "<")


def parse_where(text):
    """Split ``"COLUMN OP VALUE"`` at its first operator.

    The column name is stripped of surrounding spaces; the value is kept as written
    (category matching strips it later only if the exact text is not a level).
    ``=`` means ``==``.

    Raises
    ------
    UsageError
        No operator, no column name or no value.
    """
    if not isinstance(text, str):
        raise InputTypeError(f"a where condition must be a string or a (column, operator, value) tuple, not {type(text).__name__}")
    at = next((i for i, ch in enumerate(text) if ch in "<>=!"), None)
    example = 'write COLUMN OP VALUE with OP one of ==, =, !=, >=, <=, >, < (e.g. "age>=40")'
    if at is None:
        raise UsageError(f"condition {text!r} has no operator; {example}")
    op = text[at : at + 2] if text[at : at + 2] in (">=", "<=", "!=", "==") else text[at]
    if op == "!":
        raise UsageError(f"condition {text!r} has no valid operator; {example}")
    name, value = text[:at].strip(), text[at + len(op) :]
    if not name:
        raise UsageError(f"condition {text!r} names no column; {example}")
    if not value.strip():
        raise UsageError(f"condition {text!r} has no value; {example}")
    return name, "==" if op == "=" else op, value


def normalize(conditions=None, where=None):
    """``conditions`` ({column: value or list of values}) and ``where`` (strings or
    (column, op, value) tuples) as one list of (column, op, value); a list value
    means "any of"."""
    out = []
    if conditions is not None:
        if not isinstance(conditions, dict):
            raise InputTypeError(f"conditions must be a dict of column -> value, not {type(conditions).__name__}")
        for name, value in conditions.items():
            out.append((name, "in" if isinstance(value, (list, tuple, set)) else "==", value))
    if where is not None:
        if isinstance(where, str) or (isinstance(where, tuple) and len(where) == 3 and where[1] in OPERATORS + ("=",)):
            where = [where]
        for item in where:
            if isinstance(item, str):
                out.append(parse_where(item))
            elif isinstance(item, (tuple, list)) and len(item) == 3:
                name, op, value = item
                op = "==" if op == "=" else op
                if op not in OPERATORS:
                    raise UsageError(f"unknown operator {op!r} in {tuple(item)!r}; use one of {', '.join(OPERATORS)}")
                out.append((name, op, value))
            else:
                raise InputTypeError(f"each where condition must be a string or a (column, operator, value) tuple, got {item!r}")
    return out
