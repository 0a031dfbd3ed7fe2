"""The conditioning vector the cell sees beside the previous value: chord quality and metrical position.

It describes the position of the value about to be predicted (its onset is known before it is sampled,
since onsets are the running sum of durations), so the model hears the chord it will play over.
"""

from __future__ import annotations

import numpy as np

from improv.theory.harmony import QUALITIES, Chord
from improv.theory.timing import TICKS_PER_BEAT

BEATS = 4  # beat-in-bar one-hot (beats past the fourth share the last slot)
COND_SIZE = len(QUALITIES) + BEATS + TICKS_PER_BEAT
_QUALITY_INDEX = {q: i for i, q in enumerate(QUALITIES)}


def condition(chord: Chord, tick_in_bar: int, beats_per_bar: int = 4) -> np.ndarray:
    """The conditioning vector (float32, ``COND_SIZE``) for a value starting at ``tick_in_bar``."""
    vec = np.zeros(COND_SIZE, dtype=np.float32)
    vec[condition_indices(chord, tick_in_bar, beats_per_bar)] = 1.0
    return vec


def condition_indices(chord: Chord, tick_in_bar: int, beats_per_bar: int = 4) -> tuple[int, int, int]:
    """The three hot positions of the conditioning vector (quality, beat, sub-beat)."""
    tick_in_bar %= beats_per_bar * TICKS_PER_BEAT
    beat, sub = divmod(tick_in_bar, TICKS_PER_BEAT)
    return (
        _QUALITY_INDEX[chord.quality],
        len(QUALITIES) + min(beat, BEATS - 1),
        len(QUALITIES) + BEATS + sub,
    )


def describe() -> dict:
    """The layout saved in vocab.json, so a model directory says what conditioning it expects."""
    return {"size": COND_SIZE, "qualities": list(QUALITIES), "beats": BEATS, "sub_beats": TICKS_PER_BEAT}
