"""Rules every row of a table obeys: found in the training rows, declared in the
schema file, checked on any rows.

* Rule types (:mod:`synthvae.rules.types`): :class:`Order`, :class:`Sum`,
  :class:`Depends`, :class:`Combinations`, :class:`Range`; each has ``to_dict()`` /
  ``from_dict()`` (its JSON form in the schema file), ``violations(frame)`` (a mask
  of the rows that break it) and ``describe()``.
* :func:`discover` (:mod:`synthvae.rules.discovery`) finds the rules of a table,
  not by chance and without redundancy.
* :func:`check_declared` raises a DataError naming a declared rule that the data
  breaks, the first breaking row and its values.
* :func:`rules_that_hold` keeps, of the rules found in a sample of a table, those
  that the whole table obeys, read in parts.
* :func:`construction_order` orders the columns so that each rule can be made true
  when its last column is built.
"""

from synthvae.rules.checks import (
    check_declared,
    construction_order,
    rules_from_dicts,
    rules_that_hold,
    rules_to_dicts,
)
from synthvae.rules.discovery import CHANCE_BREAKS, MAX_PARTS, discover
from synthvae.rules.types import RARE_ROWS, Combinations, Depends, Order, Range, Sum, rule_from_dict

__all__ = [
    "Order",
    "Sum",
    "Depends",
    "Combinations",
    "Range",
    "rule_from_dict",
    "rules_from_dicts",
    "rules_to_dicts",
    "discover",
    "check_declared",
    "rules_that_hold",
    "construction_order",
    "CHANCE_BREAKS",
    "RARE_ROWS",
    "MAX_PARTS",
]
