"""Which text columns are personal: names, e-mail addresses, phone numbers, free text.

Such a column is mostly unique (most of its values are one person's own), so
learning it would mean keeping those values. The schema marks it ``personal`` with
the kind of value it holds, and the column is regenerated, never learned
(:mod:`synthvae.transformers.personal`).
"""

from __future__ import annotations

import re

PERSONAL_KINDS = ("name", "email", "phone", "text")
# A text column is personal when at least this share of its values are distinct ...
MIN_UNIQUE_SHARE = 0.5
# ... it has at least this many values ...
MIN_VALUES = 20
# ... and this share of them read as one kind (free text: as two or more words).
MATCH_SHARE = 0.9
TEXT_SHARE = 0.5

_EMAIL = r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+"
_PHONE = r"\+?[\d\s().\-/]{7,24}(?:\s*(?:x|ext\.?)\s*\d+)?"
# One to four words, each starting with a capital letter: "Ann", "Mary-Jo O'Neil", "Dr. J. Smith".
_NAME_WORD = r"[^\W\d_a-z][^\W\d_]*(?:['.-][^\W\d_]*)*\.?"
_NAME = rf"{_NAME_WORD}(?: {_NAME_WORD}){{0,3}}|{_NAME_WORD}, {_NAME_WORD}(?: {_NAME_WORD})?"
_WORD = r"\b[^\W\d_]{2,}\b"
_DIGITS = re.compile(r"\d")


def personal_kind(text):
    """The kind of personal value (one of ``PERSONAL_KINDS``) that the text values
    ``text`` (a Series without gaps) hold, or None when the column is not personal."""
    if len(text) < MIN_VALUES or text.nunique() < MIN_UNIQUE_SHARE * len(text):
        return None
    stripped = text.str.strip()
    if stripped.str.fullmatch(_EMAIL).mean() >= MATCH_SHARE:
        return "email"
    phone = stripped.str.fullmatch(_PHONE) & (stripped.str.count(_DIGITS.pattern) >= 7)
    if phone.mean() >= MATCH_SHARE:
        return "phone"
    if stripped.str.fullmatch(_NAME).mean() >= MATCH_SHARE:
        return "name"
    if (stripped.str.count(_WORD) >= 2).mean() >= TEXT_SHARE:
        return "text"
    return None
