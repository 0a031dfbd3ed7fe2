"""Encoded corpus lines (tokens and hot conditioning rows) kept on disk, so a training run on a corpus
encoded before skips the encoding.

The key is the lines themselves (their pickle), the vocabulary design, the conditioning layout and the
code that encodes (``improv/model/dataset.py``, ``conditioning.py`` and ``improv/theory``): any change to
one of them encodes anew. Entries live beside the corpus cache (``improv.corpus.loader.cached``); an
unreadable or unwritable cache is never fatal. One thread.
"""

from __future__ import annotations

import hashlib
import logging
import pickle
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from improv.corpus.loader import cached
from improv.model.dataset import encode_lines, line_conds
from improv.theory.values import Line, Token

log = logging.getLogger(__name__)
FORMAT = 1


def encode_corpus(
    lines: Sequence[Line], design: str, version: int, use_cache: bool = True
) -> tuple[list[list[Token]], list[np.ndarray]]:
    """Every line's tokens (``design``) and hot conditioning rows (layout ``version``)."""
    def encode() -> tuple[list[list[Token]], list[np.ndarray]]:
        tokens = encode_lines(lines, design)
        return tokens, [line_conds(line, toks, version) for line, toks in zip(lines, tokens, strict=True)]

    def valid(entry) -> bool:
        return isinstance(entry, tuple) and len(entry) == 2 and all(isinstance(x, list) for x in entry)

    return cached("encoded", _key(lines, design, version) if use_cache else None, encode, valid)


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
