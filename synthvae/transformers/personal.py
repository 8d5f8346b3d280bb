"""Personal columns: names, e-mail addresses, phone numbers and free text, regenerated
as plausible values of their kind, never learned or copied.

Only the look of the column is learned (:func:`synthvae.transformers.learned.text_shapes`:
character patterns, word counts, e-mail domains that enough rows share); the values
are drawn from Faker's word lists, or character by character in a learned pattern.
Faker is imported only when such a column is written.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from synthvae.transformers import learned
from synthvae.transformers.base import ColumnTransformer, EmptyBlock

# Used where the column shows no pattern that enough rows share.
FALLBACK_PHONE = "999-999-9999"
FALLBACK_WORDS = {"name": 2, "text": 8}
_LETTERS = {"A": "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "a": "abcdefghijklmnopqrstuvwxyz", "9": "0123456789"}


class PersonalTransformer(EmptyBlock, ColumnTransformer):
    """A personal column, written anew for every row from its kind and learned look.

    Parameters
    ----------
    personal : {"name", "email", "phone", "text"}
    """

    condition_refusal = "it is a personal column, regenerated as new values and never learned"

    def __init__(self, personal="text"):
        self.personal = personal

    def fit(self, series):
        self.shapes_ = learned.text_shapes(series)
        return self

    def inverse_transform(self, block, rng=None, row_offset=0, decoded=None, codes=None):
        rng = np.random.default_rng(0) if rng is None else rng
        n = len(block)
        write = {"name": self._names, "email": self._emails, "phone": self._phones, "text": self._texts}
        values = np.asarray(write[self.personal](n, rng), dtype=object)
        missing = rng.random(n) < self.shapes_["missing_share"]
        values[missing] = None
        return pd.Series(values, dtype=object)

    def _draw(self, name, n, rng, fallback):
        kept, weights = self.shapes_[name + "s"], self.shapes_[name + "_weights"]
        if not kept:
            return np.full(n, fallback, dtype=object)
        return np.asarray(kept, dtype=object)[rng.choice(len(kept), n, p=weights)]

    def _names(self, n, rng):
        first, last = _person_names(n, rng), _person_names(n, rng, last=True)
        words = self._draw("word", n, rng, FALLBACK_WORDS["name"]).astype(np.int64)
        middle = _person_names(n, rng)
        out = np.where(words <= 1, first, first + " " + last)
        return np.where(words >= 3, first + " " + middle + " " + last, out)

    def _emails(self, n, rng):
        from faker.providers.internet.en_US import Provider as Internet

        first = np.char.lower(_person_names(n, rng).astype(str))
        last = np.char.lower(_person_names(n, rng, last=True).astype(str))
        initial = np.char.add(np.asarray([name[:1] for name in first]), last)
        numbered = np.char.add(np.char.add(first, last), rng.integers(1, 100, n).astype(str))
        style = rng.integers(0, 3, n)
        local = np.where(style == 0, np.char.add(np.char.add(first, "."), last), np.where(style == 1, initial, numbered))
        if self.shapes_["domains"]:
            domains = self._draw("domain", n, rng, None)
        else:
            defaults = np.asarray(Internet.free_email_domains, dtype=object)
            domains = defaults[rng.integers(0, len(defaults), n)]
        return (local.astype(object) + "@" + domains).tolist()

    def _phones(self, n, rng):
        return _from_patterns(self._draw("pattern", n, rng, FALLBACK_PHONE), rng)

    def _texts(self, n, rng):
        if self.shapes_["patterns"]:
            return _from_patterns(self._draw("pattern", n, rng, ""), rng)
        from faker.providers.lorem.en_US import Provider as Lorem

        words = np.asarray(Lorem.word_list, dtype=object)
        counts = np.maximum(self._draw("word", n, rng, FALLBACK_WORDS["text"]).astype(np.int64), 1)
        picks = words[rng.integers(0, len(words), int(counts.sum()))]
        out, start = [], 0
        for count in counts:
            out.append(" ".join(picks[start : start + count]).capitalize())
            start += count
        return out

    def get_state(self):
        return {"personal": self.personal, "shapes": self.shapes_}

    @classmethod
    def from_state(cls, state):
        self = cls(state["personal"])
        self.shapes_ = dict(state["shapes"])
        return self


def _person_names(n, rng, last=False):
    """``n`` first (or last) names from Faker's lists, by their frequencies."""
    from faker.providers.person.en_US import Provider as Person

    table = Person.last_names if last else Person.first_names
    names = np.asarray(list(table), dtype=object)
    weights = np.fromiter(table.values(), dtype=np.float64, count=len(table))
    return names[rng.choice(len(names), n, p=weights / weights.sum())]


def _from_patterns(patterns, rng):
    """A value in each pattern: ``A``, ``a`` and ``9`` drawn, every other character kept."""
    out = np.empty(len(patterns), dtype=object)
    patterns = pd.Series(patterns, dtype=object)
    for pattern, rows in patterns.groupby(patterns).groups.items():
        rows = np.asarray(rows)
        columns = []
        for char in pattern:
            alphabet = _LETTERS.get(char)
            if alphabet is None:
                columns.append(np.full(len(rows), char, dtype=object))
            else:
                columns.append(np.asarray(list(alphabet), dtype=object)[rng.integers(0, len(alphabet), len(rows))])
        out[rows] = ["".join(chars) for chars in zip(*columns)] if columns else [""] * len(rows)
    return out
