"""From corpus lines to training arrays: value indices, conditioning, windows. No TensorFlow here."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from improv.model.conditioning import (
    COND_SIZE,
    COND_SIZE_V2,
    COND_SIZE_V3,
    Context,
    Phrase,
    condition_indices,
    height_in,
    indices,
    next_change,
)
from improv.theory import degrees
from improv.theory.timing import TICKS_PER_BEAT
from improv.theory.values import Line, Token, Value, Vocabulary, encode, events

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


def encode_lines(lines: Sequence[Line], design: str = "kind") -> list[list[Token]]:
    """Every line as tokens of a vocabulary design: ``kind`` (kind/leap, v1) or ``degree`` (v2)."""
    encoder = degrees.encode if design == "degree" else encode
    return [encoder(line) for line in lines]


def cond_size(version: int) -> int:
    """The conditioning vector's size for a layout version (0 = none)."""
    return {0: 0, 1: COND_SIZE, 2: COND_SIZE_V2, 3: COND_SIZE_V3}[version]


def to_sequences(
    lines: Sequence[Line],
    tokens: Sequence[list[Token]],
    vocab: Vocabulary,
    version: int = 1,
    hot: Sequence[np.ndarray] | None = None,
) -> Sequences:
    """Index the tokens against a vocabulary (rare values map to their nearest) with conditioning
    (``hot``: every line's ``line_conds``, if computed before)."""
    names, values, conds = [], [], []
    for n, (line, toks) in enumerate(zip(lines, tokens, strict=True)):
        if not toks:
            continue
        names.append(line.name)
        values.append(np.array([vocab.index(t.value) for t in toks], dtype=np.int32))
        conds.append(hot[n] if hot is not None else line_conds(line, toks, version))
    return Sequences(names, values, conds)


def line_conds(line: Line, toks: Sequence[Token], version: int) -> np.ndarray:
    """The hot conditioning positions (n, k) of a line's tokens in a layout version (1, 2 or 3)."""
    if version >= 2:
        return np.array(line_contexts(line, toks, version), dtype=np.int16)
    bar = line.beats_per_bar * TICKS_PER_BEAT
    return np.array([condition_indices(t.chord, t.onset % bar, line.beats_per_bar) for t in toks], np.int16)


def change_points(line: Line, end: int) -> tuple[list[int], list]:
    """The ticks where a line's chord changes, and the chords (read from the step function or per beat)."""
    ticks = getattr(line.chord_at, "ticks", None)
    if ticks is not None:
        return list(ticks), list(line.chord_at.chords)
    out_ticks, out_chords = [], []
    for tick in range(0, end + TICKS_PER_BEAT, TICKS_PER_BEAT):
        chord = line.chord_at(tick)
        if not out_chords or chord != out_chords[-1]:
            out_ticks.append(tick)
            out_chords.append(chord)
    return out_ticks, out_chords


def line_contexts(line: Line, toks: Sequence[Token], version: int = 2) -> list[tuple[int, ...]]:
    """Version-2 (or 3) hot positions for every token of a line (what the improviser computes live).

    Height is the previous pitch within the solo's own range; tempo and choruses come from the line's
    meta (``tempo``, ``chorus_ticks``) when the corpus gives them (else 120 BPM, one chorus).
    """
    bar = line.beats_per_bar * TICKS_PER_BEAT
    ticks, chords = change_points(line, toks[-1].onset)
    pitches = [n.pitch for n in line.notes]
    low, high = (min(pitches), max(pitches)) if pitches else (0, 127)
    tempo = float(line.meta.get("tempo") or 120.0)
    choruses = list(line.meta.get("chorus_ticks") or [])
    phrase, prev, out = Phrase(), None, []
    pitches_by_token = [ev.pitch for ev in events(line)]
    for tok, pitch in zip(toks, pitches_by_token, strict=True):
        nxt, soon = next_change(ticks, chords, tok.onset)
        k = bisect_right(choruses, tok.onset)
        start = choruses[k - 1] if k else 0
        ctx = Context(
            tok.chord, tok.onset % bar, line.beats_per_bar, nxt, soon, height_in(prev, low, high),
            tempo, phrase.notes, max(k, 1), (tok.onset - start) // bar, prev,
        )
        out.append(indices(ctx, version))
        phrase.advance(pitch is not None, tok.value.duration)
        if pitch is not None:
            prev = pitch
    return out


def window_spans(
    seqs: Sequences, length: int, stride: int | None = None, min_length: int = 8
) -> list[tuple[int, int, int]]:
    """(sequence, start, stop) of every training window, in order: ``stride`` apart (``length`` if not
    given), the last one of a line shorter when the line ends, none shorter than ``min_length``."""
    stride = stride or length
    spans = []
    for n, vals in enumerate(seqs.values):
        for start in range(0, max(len(vals) - min_length, 0) + 1, stride):
            stop = min(start + length, len(vals))
            if stop - start >= min_length:
                spans.append((n, start, stop))
    return spans


def windows(
    seqs: Sequences, length: int, stride: int | None = None, min_length: int = 8, size: int = COND_SIZE
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Fixed-length training windows: (prev, cond one-hot, target, weight), one per ``window_spans``.

    ``prev[t]`` is the value before ``target[t]`` (START at the beginning of a line), ``cond[t]`` the
    conditioning of ``target[t]``; short tails are padded with weight 0.
    """
    spans = window_spans(seqs, length, stride, min_length)
    prev = np.full((len(spans), length), START, dtype=np.int32)
    target = np.zeros((len(spans), length), dtype=np.int32)
    weight = np.zeros((len(spans), length), dtype=np.float32)
    cond = np.zeros((len(spans), length, size), dtype=np.float32)
    previous = [np.concatenate([[START], vals[:-1]]).astype(np.int32) for vals in seqs.values]
    for row, (n, start, stop) in enumerate(spans):
        k = stop - start
        prev[row, :k], target[row, :k] = previous[n][start:stop], seqs.values[n][start:stop]
        weight[row, :k] = 1.0
        cond[row, np.arange(k)[:, None], seqs.conds[n][start:stop]] = 1.0
    return prev, cond, target, weight


def split_by_piece(n: int, val_fraction: float, rng: np.random.Generator) -> tuple[list[int], list[int]]:
    """Train and validation indices of whole pieces (never windows of one piece on both sides)."""
    order = rng.permutation(n)
    n_val = max(1, int(round(n * val_fraction))) if n > 1 and val_fraction > 0 else 0
    return sorted(order[n_val:].tolist()), sorted(order[:n_val].tolist())


def share_of(indices: Sequence[int], share: float, rng: np.random.Generator) -> list[int]:
    """A random ``share`` of ``indices`` (at least one), sorted: fewer training pieces, same validation."""
    keep = max(1, int(round(len(indices) * share)))
    return sorted(rng.permutation(np.asarray(indices))[:keep].tolist())


def subset(seqs: Sequences, indices: Sequence[int]) -> Sequences:
    """The sequences at ``indices``."""
    return Sequences(
        [seqs.names[i] for i in indices], [seqs.values[i] for i in indices], [seqs.conds[i] for i in indices]
    )


def all_values(tokens: Sequence[list[Token]]) -> list[Value]:
    """Every value of every line, in order."""
    return [t.value for toks in tokens for t in toks]
