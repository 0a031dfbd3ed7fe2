"""From corpus lines to training arrays: value indices, conditioning, windows. No TensorFlow here."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from improv.model.conditioning import COND_SIZE, condition_indices
from improv.theory.timing import TICKS_PER_BEAT
from improv.theory.values import Line, Token, Value, Vocabulary, encode

START = -1  # the "previous value" before the first one: an all-zero one-hot


@dataclass
class Sequences:
    """Encoded lines: per line, value indices and the hot conditioning positions of each step."""

    names: list[str]
    values: list[np.ndarray]  # int32 (n,)
    conds: list[np.ndarray]  # int16 (n, 3)

    @property
    def tokens(self) -> int:
        """Total number of values."""
        return int(sum(len(v) for v in self.values))


def encode_lines(lines: Sequence[Line]) -> list[list[Token]]:
    """Every line as tokens."""
    return [encode(line) for line in lines]


def to_sequences(lines: Sequence[Line], tokens: Sequence[list[Token]], vocab: Vocabulary) -> Sequences:
    """Index the tokens against a vocabulary (rare values map to their nearest) with conditioning."""
    names, values, conds = [], [], []
    for line, toks in zip(lines, tokens, strict=True):
        if not toks:
            continue
        names.append(line.name)
        values.append(np.array([vocab.index(t.value) for t in toks], dtype=np.int32))
        bar = line.beats_per_bar * TICKS_PER_BEAT
        conds.append(
            np.array(
                [condition_indices(t.chord, t.onset % bar, line.beats_per_bar) for t in toks],
                dtype=np.int16,
            )
        )
    return Sequences(names, values, conds)


def windows(
    seqs: Sequences, length: int, stride: int | None = None, min_length: int = 8
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Fixed-length training windows: (prev, cond one-hot, target, weight).

    ``prev[t]`` is the value before ``target[t]`` (START at the beginning of a line), ``cond[t]`` the
    conditioning of ``target[t]``; short tails are padded with weight 0.
    """
    stride = stride or length
    prevs, conds, targets, weights = [], [], [], []
    for vals, hot in zip(seqs.values, seqs.conds, strict=True):
        previous = np.concatenate([[START], vals[:-1]]).astype(np.int32)
        for start in range(0, max(len(vals) - min_length, 0) + 1, stride):
            stop = min(start + length, len(vals))
            if stop - start < min_length:
                continue
            n = stop - start
            p = np.full(length, START, dtype=np.int32)
            y = np.zeros(length, dtype=np.int32)
            w = np.zeros(length, dtype=np.float32)
            c = np.zeros((length, COND_SIZE), dtype=np.float32)
            p[:n], y[:n], w[:n] = previous[start:stop], vals[start:stop], 1.0
            c[np.arange(n)[:, None], hot[start:stop]] = 1.0
            prevs.append(p), targets.append(y), weights.append(w), conds.append(c)
    if not prevs:
        empty = np.zeros((0, length), dtype=np.int32)
        return empty, np.zeros((0, length, COND_SIZE), np.float32), empty, empty.astype(np.float32)
    return np.stack(prevs), np.stack(conds), np.stack(targets), np.stack(weights)


def split_by_piece(n: int, val_fraction: float, rng: np.random.Generator) -> tuple[list[int], list[int]]:
    """Train and validation indices of whole pieces (never windows of one piece on both sides)."""
    order = rng.permutation(n)
    n_val = max(1, int(round(n * val_fraction))) if n > 1 and val_fraction > 0 else 0
    return sorted(order[n_val:].tolist()), sorted(order[:n_val].tolist())


def subset(seqs: Sequences, indices: Sequence[int]) -> Sequences:
    """The sequences at ``indices``."""
    return Sequences(
        [seqs.names[i] for i in indices], [seqs.values[i] for i in indices], [seqs.conds[i] for i in indices]
    )


def all_values(tokens: Sequence[list[Token]]) -> list[Value]:
    """Every value of every line, in order."""
    return [t.value for toks in tokens for t in toks]
