"""Remembering which model files passed validation, so that loading one again is cheap.

Checking a model file's JSON against its JSON Schema is most of the time a short
``synthvae sample`` takes beyond the imports. A file that passed is remembered by a
SHA-256 digest of everything the verdict depends on: the JSON members' bytes, the
schemas they are checked against and the version of synthvae that checked them. A
file whose JSON differs in one byte has another digest and is checked in full again;
the network's arrays and the consistency of the parts are checked on every load.

The digests are empty files named by the digest in a folder of the user's cache:
``$SYNTHVAE_CACHE_DIR``, else ``$XDG_CACHE_HOME/synthvae``, else ``~/.cache/synthvae``.
Where that folder cannot be written, nothing is remembered and every load checks in
full. A digest says only that a file with exactly that content was valid; the cache
holds no content and nothing in it is ever run.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

_DIGEST = re.compile(r"^[0-9a-f]{64}$")


def folder():
    """Where the digests of validated files are kept."""
    explicit = os.environ.get("SYNTHVAE_CACHE_DIR")
    if explicit:
        return Path(explicit) / "validated-models"
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "synthvae" / "validated-models"


def seen(digest):
    """Whether content with this digest (64 hex digits) passed validation before."""
    return bool(_DIGEST.match(digest)) and (folder() / digest).is_file()


def remember(digest):
    """Note that content with this digest passed validation (quietly nothing where the
    cache cannot be written)."""
    if not _DIGEST.match(digest):
        return
    try:
        where = folder()
        where.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".", suffix=".tmp", dir=where)
        os.close(fd)
        os.replace(tmp, where / digest)
    except OSError:
        pass
