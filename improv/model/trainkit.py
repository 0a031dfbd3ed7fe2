"""Training helpers that need no TensorFlow: the n-gram baseline's conditions and honest NLL figures.

The baseline must see what the LSTM sees (the chord, the next chord, the beat), so its condition symbols are
built from the same hot conditioning positions the LSTM is fed (``improv.model.conditioning``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from improv.model.conditioning import GROUPS_V2

_GROUP = {name: i for i, (name, _) in enumerate(GROUPS_V2)}
# condition sets tried for the n-gram (version-2 groups); version 1 has quality, beat, sub-beat only
NGRAM_CONDITIONS = {
    "chord+beat": ("quality", "beat", "sub_beat"),
    "chord+next+beat": ("quality", "next_root", "next_quality", "beat"),
    "chord+next+soon+beat": ("quality", "next_root", "next_quality", "next_in", "beat", "sub_beat"),
}


def ngram_conditions(
    train: Sequence[np.ndarray], val: Sequence[np.ndarray], version: int
) -> dict[str, tuple[list[list[int]], list[list[int]]]]:
    """Per condition set: integer condition symbols for every position of the train and val sequences.

    ``train``/``val`` are the per-line hot positions (n, k) of the sequences; symbols are numbered in order
    of first appearance (unseen combinations in validation get fresh numbers: the n-gram backs off).
    """
    sets = NGRAM_CONDITIONS if version == 2 else {"chord+beat": None}
    out = {}
    for name, groups in sets.items():
        cols = list(range(3)) if groups is None else [_GROUP[g] for g in groups]
        ids: dict[tuple[int, ...], int] = {}

        def symbols(lines: Sequence[np.ndarray], cols=cols, ids=ids) -> list[list[int]]:
            return [[ids.setdefault(tuple(row), len(ids)) for row in hot[:, cols].tolist()] for hot in lines]

        out[name] = (symbols(train), symbols(val))
    return out


def per_note(nll_per_token: float, tokens: int, notes: int) -> float:
    """Total NLL spread over the notes (rest tokens' NLL counts too): comparable across vocabularies."""
    return nll_per_token * tokens / max(notes, 1)


def sequence_nll(log_probs: Sequence[np.ndarray], targets: Sequence[np.ndarray]) -> tuple[float, int]:
    """Sum of -log p(target) over sequences, and how many targets (log_probs: (n, values) per sequence)."""
    total, count = 0.0, 0
    for lp, y in zip(log_probs, targets, strict=True):
        total -= float(lp[np.arange(len(y)), y].sum())
        count += len(y)
    return total, count
