"""Encoded corpus lines (tokens and hot conditioning rows) kept on disk, so a training run on a corpus
encoded before skips the encoding.

The key is the lines themselves (their pickle), the vocabulary design, the conditioning layout and the
code that encodes (``improv/model/dataset.py``, ``conditioning.py`` and ``improv/theory``): any change to
one of them encodes anew. Entries live beside the corpus cache (``improv.corpus.loader.cache_dir``); an
unreadable or unwritable cache is never fatal. One thread.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from improv.corpus.loader import cache_dir
from improv.model.dataset import encode_lines, line_conds
from improv.theory.values import Line, Token

log = logging.getLogger(__name__)
FORMAT = 1


def encode_corpus(
    lines: Sequence[Line], design: str, version: int, use_cache: bool = True
) -> tuple[list[list[Token]], list[np.ndarray]]:
    """Every line's tokens (``design``) and hot conditioning rows (layout ``version``)."""
    key = _key(lines, design, version) if use_cache else None
    if key is not None:
        cached = _get(key)
        if cached is not None:
            log.info("encoded corpus from the cache (%s)", key)
            return cached
    tokens = encode_lines(lines, design)
    hot = [line_conds(line, toks, version) for line, toks in zip(lines, tokens, strict=True)]
    if key is not None:
        _put(key, (tokens, hot))
    return tokens, hot


def _code() -> bytes:
    """The source of the code that encodes."""
    root = Path(__file__).resolve().parents[1]
    files = [root / "model" / "dataset.py", root / "model" / "conditioning.py", Path(__file__)]
    files += sorted((root / "theory").glob("*.py"))
    return b"".join(f.read_bytes() for f in files if f.is_file())


def _key(lines: Sequence[Line], design: str, version: int) -> str | None:
    try:
        data = pickle.dumps(list(lines), protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError) as exc:
        log.info("lines not picklable, not cached: %s", exc)
        return None
    what = hashlib.sha1(f"{FORMAT}|{design}|{version}|{len(lines)}".encode()).hexdigest()[:12]
    return f"{what}-{hashlib.sha1(data + _code()).hexdigest()[:24]}"


def _get(key: str):
    file = cache_dir() / f"encoded-{key}.pickle"
    if not file.is_file():
        return None
    try:
        with file.open("rb") as fh:
            tokens, hot = pickle.load(fh)
        return tokens, hot
    except Exception as exc:  # a stale or damaged cache is never fatal
        log.warning("ignoring unreadable encoding cache %s: %s", file, exc)
        return None


def _put(key: str, entry) -> None:
    """Write the entry atomically, dropping older entries of the same design, layout and line count."""
    directory = cache_dir()
    tmp: str | None = None
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".encoded-", suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            pickle.dump(entry, fh, protocol=pickle.HIGHEST_PROTOCOL)
        target = directory / f"encoded-{key}.pickle"
        os.replace(tmp, target)
        tmp = None
        for old in directory.glob(f"encoded-{key.split('-')[0]}-*.pickle"):
            if old != target:
                old.unlink(missing_ok=True)
    except (OSError, pickle.PicklingError, TypeError, AttributeError) as exc:
        log.warning("could not write the encoding cache in %s: %s", directory, exc)
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
