"""The conditioning vector the cell sees beside the previous value: where the next value falls.

It describes the value about to be predicted (its onset is known before it is sampled, since onsets are the
running sum of durations). Three layouts, recorded in a model's ``vocab.json``:

- version 1 (24 inputs): chord quality, beat in the bar, tick in the beat.
- version 2 (``COND_SIZE_V2`` inputs), which also looks ahead and knows where it is: the next chord (its
  root relative to this chord's root, and its quality) and how soon it arrives, the height of the previous
  pitch in the register, the tempo, the position in the phrase (notes since it began), the chorus and the
  bar in a four-bar group.
- version 3 (``COND_SIZE_V3``): version 2 and the previous sounding pitch's degree above *this* chord's root
  (12, or "none"). A degree value names its degree above the chord at its own onset, so across a change
  the model could not tell which new degree is a step away from the note it just played (the 7th of the
  ii is the 4th of the V, a half step above its 3rd); with this group it can, and "=" (the same pitch)
  names exactly one degree.

Every group is one-hot, so a step is described by its hot positions (a tuple of ints) and the cell adds a
few kernel rows instead of multiplying a vector. Pure functions; no state, no threads.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from improv.theory.harmony import QUALITIES, Chord
from improv.theory.timing import TICKS_PER_BEAT

BEATS = 4  # beat-in-bar one-hot (beats past the fourth share the last slot)
COND_SIZE = len(QUALITIES) + BEATS + TICKS_PER_BEAT
_QUALITY_INDEX = {q: i for i, q in enumerate(QUALITIES)}

# version 2 groups: name -> size, in vector order
SOON = (TICKS_PER_BEAT, 2 * TICKS_PER_BEAT, 4 * TICKS_PER_BEAT)  # next chord within 1, 2, 4 beats, later
HEIGHTS = 5  # previous pitch in fifths of the register, plus "no pitch yet"
TEMPI = (120.0, 160.0, 200.0, 260.0)  # BPM bin edges: <120, 120-160, 160-200, 200-260, >=260
PHRASE = (1, 4, 8, 16)  # notes since the phrase began: 0, 1-3, 4-7, 8-15, 16+
CHORUSES = 4  # chorus 1, 2, 3, 4 and later
GROUPS_V2 = (
    ("quality", len(QUALITIES)),
    ("beat", BEATS),
    ("sub_beat", TICKS_PER_BEAT),
    ("next_root", 13),  # semitones from this root to the next chord's root; 12 = no next chord / N.C.
    ("next_quality", len(QUALITIES)),
    ("next_in", len(SOON) + 1),
    ("height", HEIGHTS + 1),
    ("tempo", len(TEMPI) + 1),
    ("phrase", len(PHRASE) + 1),
    ("chorus", CHORUSES),
    ("bar_in_four", 4),
)
COND_SIZE_V2 = sum(size for _, size in GROUPS_V2)
GROUPS_V3 = GROUPS_V2 + (("prev_degree", 13),)  # the previous pitch above this chord's root; 12 = none
COND_SIZE_V3 = sum(size for _, size in GROUPS_V3)
GROUPS = {2: GROUPS_V2, 3: GROUPS_V3}  # layout version -> its groups, in vector order
_OFFSETS = np.cumsum([0] + [size for _, size in GROUPS_V3])[:-1].tolist()


def condition(chord: Chord, tick_in_bar: int, beats_per_bar: int = 4) -> np.ndarray:
    """The version-1 conditioning vector (float32, ``COND_SIZE``) for a value starting at ``tick_in_bar``."""
    vec = np.zeros(COND_SIZE, dtype=np.float32)
    vec[condition_indices(chord, tick_in_bar, beats_per_bar)] = 1.0
    return vec


def condition_indices(chord: Chord, tick_in_bar: int, beats_per_bar: int = 4) -> tuple[int, int, int]:
    """The three hot positions of the version-1 vector (quality, beat, sub-beat)."""
    tick_in_bar %= beats_per_bar * TICKS_PER_BEAT
    beat, sub = divmod(tick_in_bar, TICKS_PER_BEAT)
    return (
        _QUALITY_INDEX[chord.quality],
        len(QUALITIES) + min(beat, BEATS - 1),
        len(QUALITIES) + BEATS + sub,
    )


@dataclass(frozen=True)
class Context:
    """Everything version 2 describes about the next value's position (ticks, BPM, MIDI pitches)."""

    chord: Chord
    tick_in_bar: int
    beats_per_bar: int = 4
    next_chord: Chord | None = None
    ticks_to_next: int | None = None
    height: float | None = None  # previous pitch in the register, 0 (bottom) .. 1 (top); None: no pitch
    tempo: float = 120.0
    phrase_notes: int = 0
    chorus: int = 1
    bar: int = 0  # bar of the chorus, from 0
    prev_pitch: int | None = None  # the previous sounding pitch (MIDI; version 3), None: none yet


def indices(ctx: Context, version: int = 2) -> tuple[int, ...]:
    """The hot positions of the version-2 (eleven) or version-3 (twelve) vector."""
    hot = indices_v2(ctx)
    if version < 3:
        return hot
    root = ctx.chord.root if ctx.chord.root is not None else 0  # over N.C. degrees count from C
    prev = 12 if ctx.prev_pitch is None else (ctx.prev_pitch - root) % 12
    return (*hot, _OFFSETS[len(GROUPS_V2)] + prev)


def indices_v2(ctx: Context) -> tuple[int, ...]:
    """The eleven hot positions of the version-2 vector."""
    beat, sub = divmod(ctx.tick_in_bar % (ctx.beats_per_bar * TICKS_PER_BEAT), TICKS_PER_BEAT)
    nxt = ctx.next_chord
    if nxt is None or nxt.root is None or ctx.chord.root is None:
        next_root = 12
    else:
        next_root = (nxt.root - ctx.chord.root) % 12
    soon = len(SOON) if ctx.ticks_to_next is None else bisect_right(SOON, ctx.ticks_to_next - 1)
    height = HEIGHTS if ctx.height is None else min(max(int(ctx.height * HEIGHTS), 0), HEIGHTS - 1)
    hot = (
        _QUALITY_INDEX[ctx.chord.quality],
        min(beat, BEATS - 1),
        sub,
        next_root,
        _QUALITY_INDEX[nxt.quality] if nxt is not None else _QUALITY_INDEX["nc"],
        min(soon, len(SOON)),
        height,
        bisect_right(TEMPI, ctx.tempo),
        bisect_right(PHRASE, ctx.phrase_notes),
        min(max(ctx.chorus, 1), CHORUSES) - 1,
        ctx.bar % 4,
    )
    return tuple(off + h for off, h in zip(_OFFSETS, hot, strict=False))  # (version 2's offsets)


def height_in(pitch: int | None, low: int, high: int) -> float | None:
    """Where a pitch sits in [low, high], 0..1 (None when there is no pitch)."""
    if pitch is None:
        return None
    return (pitch - low) / max(high - low, 1)


def next_change(ticks: Sequence[int], chords: Sequence[Chord], tick: int) -> tuple[Chord | None, int | None]:
    """The next chord after ``tick`` in a list of change points, and the ticks until it sounds."""
    i = bisect_right(ticks, tick)
    if i >= len(ticks):
        return None, None
    return chords[i], ticks[i] - tick


def describe(version: int = 1) -> dict:
    """The layout saved in vocab.json, so a model directory says what conditioning it expects."""
    if version in GROUPS:
        groups = GROUPS[version]
        return {"version": version, "size": sum(size for _, size in groups),
                "groups": [list(g) for g in groups], "qualities": list(QUALITIES), "tempo_edges": list(TEMPI)}
    return {"size": COND_SIZE, "qualities": list(QUALITIES), "beats": BEATS, "sub_beats": TICKS_PER_BEAT}


FAST_GROUPS = ("sub_beat", "height", "prev_degree")  # what the cell's second cache part keys on


def cache_split(version: int) -> tuple[tuple[int, ...], tuple[int, ...]] | None:
    """Where, in a pattern of hot positions, the groups that vary from note to note lie (the second
    tuple) apart from the rest, for the cell's two-part row cache; None for layouts without groups."""
    if version not in GROUPS:
        return None
    names = [name for name, _ in GROUPS[version]]
    fast = tuple(i for i, name in enumerate(names) if name in FAST_GROUPS)
    return tuple(i for i in range(len(names)) if i not in fast), fast


def layout_version(meta: dict) -> int:
    """The conditioning version a vocab.json's ``conditioning`` entry describes (0 = none)."""
    size = int(meta.get("size", 0))
    if not size:
        return 0
    return int(meta.get("version", 1))


class Phrase:
    """Counts the notes since the phrase began; a rest of ``gap`` ticks or more starts a new phrase."""

    def __init__(self, gap: int = 2 * TICKS_PER_BEAT) -> None:
        self.gap = gap
        self.count = 0
        self.silence = gap

    @property
    def notes(self) -> int:
        """Notes since the phrase began, as the next value sees it."""
        return 0 if self.silence >= self.gap else self.count

    def advance(self, is_note: bool, duration: int) -> None:
        """Account for one value."""
        if is_note:
            self.count = self.notes + 1
            self.silence = 0
        else:
            self.silence += duration


class Lookahead:
    """The next chord change after a tick, in a looped form (chord spans of one chorus)."""

    def __init__(self, spans: Sequence, length: int) -> None:
        ticks: list[int] = []
        chords: list[Chord] = []
        for span in spans:
            if not chords or span.chord != chords[-1]:
                ticks.append(span.start)
                chords.append(span.chord)
        self.length = max(length, 1)
        if chords and len(chords) > 1 and chords[0] != chords[-1]:
            ticks.append(self.length)  # the next chorus begins with a change
            chords.append(chords[0])
        elif chords and len(chords) > 1:
            ticks.append(self.length + ticks[1])  # the last chord carries over the bar line
            chords.append(chords[1])
        self.ticks, self.chords = ticks, chords

    def next(self, tick: int) -> tuple[Chord | None, int | None]:
        """The next chord after ``tick`` (any chorus) and the ticks until it sounds."""
        if len(self.chords) < 2:
            return None, None
        return next_change(self.ticks, self.chords, tick % self.length)


class Situation:
    """Where the next value falls, for the conditioning: the form (bar, chorus, sections), the phrase, the
    next change, the tempo and the register the height is measured in. One per improviser; not thread-safe.

    ``version`` is the model's conditioning layout (0: none, 1, 2, 3); ticks as everywhere, tempo in BPM.
    """

    def __init__(self, progression, version: int, tempo: float, low: int, high: int,
                 sections: Sequence[str] | None = None) -> None:
        self.version = version
        self.beats_per_bar = progression.beats_per_bar
        self.bar_ticks = progression.beats_per_bar * TICKS_PER_BEAT
        self.chorus_ticks = progression.length
        self.tempo = float(tempo)
        self.low, self.high = low, high
        self.sections = tuple(sections) if sections else ("A",) * progression.bar_count
        self.phrase = Phrase()
        self.lookahead = Lookahead(progression.spans, progression.length)

    def indices(self, tick: int, chord: Chord, prev_pitch: int | None,
                phrase: Phrase | None = None) -> tuple[int, ...] | None:
        """The hot positions for a value at ``tick`` over ``chord`` (None without conditioning)."""
        if self.version == 0:
            return None
        if self.version == 1:
            return condition_indices(chord, tick % self.bar_ticks, self.beats_per_bar)
        nxt, soon = self.lookahead.next(tick)
        chorus, in_chorus = divmod(tick, self.chorus_ticks)
        ctx = Context(
            chord, tick % self.bar_ticks, self.beats_per_bar, nxt, soon,
            height_in(prev_pitch, self.low, self.high), self.tempo,
            (phrase or self.phrase).notes, chorus + 1, in_chorus // self.bar_ticks, prev_pitch,
        )
        return indices(ctx, self.version)
