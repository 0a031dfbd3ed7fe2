"""The seed's spelled-name grammar (seed spec §3-§6.1): a compatibility mode, not the live path.

Melody notes become tokens ``TYPE,DURATION[,<U,L>]`` against the piano voicing of their bar:
TYPE C/S/A/X is decided on *spelled names* (music21), S uses a Dorian or major scale chosen by
music21 ``derive``, and ``<U,L>`` is the spelled leap from the previous note of the bar widened by
a minor third each way. ``improv.corpus.seed.seed_corpus`` applies it to a MIDI file and, with
its defaults, reproduces the seed's 193-token corpus.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from fractions import Fraction
from functools import cache
from typing import Protocol

import numpy as np
from music21 import chord as m21chord
from music21 import interval, pitch, scale

from improv.errors import InputError


class SpelledNote(Protocol):
    """A melody note as the seed's importer made it: offset and duration in quarters, MIDI pitch."""

    offset: Fraction
    duration: Fraction
    pitch: int


class Voicing(Protocol):
    """A chord of the accompaniment: offset in quarters, MIDI pitches in note-on order."""

    offset: Fraction
    pitches: tuple[int, ...]

log = logging.getLogger(__name__)

# --- spelled theory, cached (music21 calls cost milliseconds) -------------------------------


@cache
def _name(midi: int) -> str:
    return pitch.Pitch(midi=midi).name


@cache
def chord_quality(pitches: tuple[int, ...]) -> str:
    """music21 ``Chord.quality`` of the voicing (MIDI numbers, default spelling)."""
    return m21chord.Chord([pitch.Pitch(midi=p) for p in pitches]).quality


@cache
def scale_names(pitch_classes: frozenset[int], major: bool) -> frozenset[str]:
    """Pitch names of the major or Dorian scale music21 ``derive``s from these pitch classes."""
    kind = scale.MajorScale() if major else scale.DorianScale()
    derived = kind.derive(m21chord.Chord([pitch.Pitch(midi=60 + pc) for pc in sorted(pitch_classes)]))
    return frozenset(p.name for p in derived.getPitches())


@cache
def approach_names(pitch_classes: frozenset[int]) -> frozenset[str]:
    """Names a semitone above/below each chord pitch, default spelling and enharmonic."""
    names: set[str] = set()
    for pc in pitch_classes:
        p = pitch.Pitch(midi=60 + pc)
        for step in (1, -1):
            moved = p.transpose(step)
            names.add(moved.name)
            names.add(moved.getEnharmonic().name)
    return frozenset(names)


@cache
def interval_pair(prev: int, cur: int) -> str:
    """``<U,L>`` for the spelled leap prev -> cur: U = leap + m3, L = leap - m3 (directed names)."""
    leap = interval.Interval(noteStart=pitch.Pitch(midi=prev), noteEnd=pitch.Pitch(midi=cur))
    upper = interval.add([leap, "m3"])
    lower = interval.subtract([leap, "m3"])
    return f"<{upper.directedName},{lower.directedName}>"


def clear_caches() -> None:
    """Forget cached music21 results (for cold-start measurements)."""
    for cached in (_name, chord_quality, scale_names, approach_names, interval_pair):
        cached.cache_clear()


def classify(midi: int, voicing: tuple[int, ...]) -> str:
    """C / S / A / X of a note against a voicing, comparing spelled names (seed spec §4.2)."""
    name = _name(midi)
    if name in {_name(p) for p in voicing}:
        return "C"
    pcs = frozenset(p % 12 for p in voicing)
    if name in scale_names(pcs, chord_quality(voicing) == "major"):
        return "S"
    if name in approach_names(pcs):
        return "A"
    return "X"


# --- bars and tokens -------------------------------------------------------------------------


def parse_bar(notes: Sequence[SpelledNote], chords: Sequence[Voicing]) -> list[str]:
    """Tokens of one bar: notes against the last chord at or before them (else the bar's first)."""
    if not chords:
        raise ValueError("parse_bar needs at least one chord")
    ordered_chords = sorted(chords, key=lambda c: c.offset)
    tokens: list[str] = []
    prev: int | None = None
    for n in sorted(notes, key=lambda e: e.offset):
        current = ordered_chords[0]
        for c in ordered_chords:
            if c.offset <= n.offset:
                current = c
        token = f"{classify(n.pitch, current.pitches)},{float(n.duration):.3f}"
        if prev is not None:
            token += "," + interval_pair(prev, n.pitch)
        tokens.append(token)
        prev = n.pitch
    return tokens


# --- the seed's training examples (variant K, seed spec §6.1) ---------------------------------


def seed_window_starts(n_tokens: int, m: int = 60, tx: int = 30, seed: int = 0) -> list[int]:
    """The seed's window starts: numpy's legacy generator seeded with ``seed``, m draws.

    Compatibility exception to the project's ``Generator`` rule: the seed used the legacy global
    ``np.random.seed`` + ``np.random.choice``; a private ``RandomState`` gives the same numbers
    without touching global state.
    """
    if n_tokens <= tx:
        raise InputError(f"corpus of {n_tokens} tokens is too short for windows of {tx}")
    legacy = np.random.RandomState(seed)
    return [int(legacy.choice(n_tokens - tx)) for _ in range(m)]


def seed_training_arrays(
    tokens: Sequence[str], values: Sequence[str], m: int = 60, tx: int = 30, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """X (m, tx, n) and Y (tx, m, n) one-hot (bool) exactly as the seed built them.

    Step 0 of X is all zeros (the window's first token is dropped), X[:, t] = window[t] for t >= 1,
    Y[:, t] = window[t + 1] and the last target Y[tx - 1] is all zeros.
    """
    index = {v: i for i, v in enumerate(values)}
    missing = sorted(set(tokens) - index.keys())
    if missing:
        raise InputError(f"{len(missing)} corpus tokens are not in the vocabulary, e.g. {missing[0]}")
    ids = np.array([index[t] for t in tokens])
    x = np.zeros((m, tx, len(values)), dtype=bool)
    y = np.zeros((m, tx, len(values)), dtype=bool)
    for i, s in enumerate(seed_window_starts(len(tokens), m, tx, seed)):
        window = ids[s : s + tx]
        x[i, np.arange(1, tx), window[1:]] = True
        y[i, np.arange(tx - 1), window[1:]] = True
    return x, np.swapaxes(y, 0, 1).copy()
