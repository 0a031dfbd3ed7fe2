"""Guidance for a degree model (improviser versions 3 to 5): biases on the logits before sampling (version
3 adds them to the model's logits, so the temperature scales them too; version 4 hands them to the sampler,
which adds them after the temperature at their size at the reference one: ``improv.model.sampling.Held``).

A degree value names a pitch class (a degree of the chord) and a direction, so once the previous pitch, the
chord and the register are known, every value's pitch is known before the draw: ``realised`` computes it
for the 12 degrees x 4 moves (``+ - =`` and the anchor) exactly as ``improv.theory.degrees.decode`` would.
The biases then favour or disfavour values by the pitch they would sound (the model still chooses; a bias
only changes the odds, ``improv.shaping.Steering`` sets their size in logits, natural-log odds):

- register: a pull towards the slowly moving register target (``Shaper.target``: the phrase contour and
  the arc over choruses), per semitone, and a steeper one beyond the comfort zone; ``--range`` stays the
  outer limit (decode turns a move around there).
- repeats: a value that would sound the previous pitch again.
- guide tones at a change: on the first value over a new chord, the old chord's 7th falling (or rising)
  to the new chord's 3rd by step (1 or 2 semitones), and the new chord's 3rd or 7th in general; on the
  value that ends on the change (the last note over the old chord), the old chord's 3rd or 7th.
- avoid notes: a value a beat or longer whose degree is an avoid note over its chord, and a harsh one
  (``improv.shaping.harsh``) on beat 1 or 3, whatever its length.
- tempo: values shorter than an eighth, per doubling of the tempo above ``REFERENCE_BPM`` (the model
  hears the tempo, but plays a little too busily at 200 BPM and up, where WJazzD's players thin out).
- density (version 5, ``Density``): when the line's notes per beat over the last bars leave a band around
  what WJazzD's players play at this tempo (their median per tempo, ``DENSITY_BY_TEMPO``), values that
  would make it busier lose odds and the others gain, in proportion to how far outside the band it is;
  inside the band the line is left alone, so it still breathes and runs.

Units: ticks (12 per beat), MIDI pitches, BPM. No random draw. Not thread-safe: one per improviser, used
from the thread that steps it.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np

from improv.shaping import REFERENCE_BPM, Steering, avoid, harsh
from improv.theory.degrees import MOVES
from improv.theory.harmony import Chord
from improv.theory.timing import TICKS_PER_BEAT

ANCHOR = len(MOVES)  # the move column of a value with no move (an anchor)
COLUMNS = len(MOVES) + 1
REST = 12 * COLUMNS  # the table slot of a rest (no pitch: no bias but the tempo's)
_DEGREES = np.arange(12)
# notes per beat of WJazzD's 4/4 swing solos, median per tempo bin (< 120, 120-160, 160-200, 200-260, >= 260
# BPM; ``benchmarks.bench_musicianship``'s reference), at each bin's typical tempo; interpolated between
DENSITY_BY_TEMPO = ((100.0, 2.33), (140.0, 1.68), (180.0, 1.39), (230.0, 1.31), (280.0, 1.29))
DENSITY_WINDOW = 4 * 4 * TICKS_PER_BEAT  # the line's density is counted over its last four bars
DENSITY_BAND = 0.1  # no bias while within this share of the players' median
_CACHE = 256  # register tables kept (keyed by root, previous pitch, target): about 0.25 MB at most (at
# 4096 a 30-minute soak grew 4 MB: the keys keep coming, so a cache this size only grows)


@dataclass(frozen=True)
class Register:
    """The register the realiser works in: the outer limits, the largest move and the comfort zone."""

    low: int
    high: int
    max_leap: int
    zone: float  # half the comfort zone around the target, semitones


def fold(pitch: np.ndarray, low: int, high: int) -> np.ndarray:
    """Pitches moved by octaves into [low, high] (``degrees._fold``; the range spans an octave or more)."""
    below = pitch < low
    pitch = np.where(below, pitch + 12 * ((low - pitch + 11) // 12), pitch)
    above = pitch > high
    return np.where(above, pitch - 12 * ((pitch - high + 11) // 12), pitch)


def realised(root: int, prev: int | None, centre: int, reg: Register) -> np.ndarray:
    """The pitch every (degree, move) names: shape (12, 4), columns ``+ - =`` and the anchor."""
    pc = (root + _DEGREES) % 12
    up_to = (pc - centre) % 12
    anchor = fold(np.where(up_to < 6, centre + up_to, centre + up_to - 12), reg.low, reg.high)
    if prev is None:
        return np.repeat(anchor[:, None], COLUMNS, axis=1)
    r = (pc - prev) % 12
    up = prev + np.where(r == 0, 12, r)
    down = prev - np.where(r == 0, 12, 12 - r)
    same = prev + np.where(r <= 6, r, r - 12)
    up_bad = (up - prev > reg.max_leap) | (up < reg.low) | (up > reg.high)
    down_bad = (prev - down > reg.max_leap) | (down < reg.low) | (down > reg.high)
    up, down = np.where(up_bad, down, up), np.where(down_bad, up, down)  # the line turns around
    table = np.empty((12, COLUMNS), dtype=np.int64)
    table[:, 0], table[:, 1], table[:, 2], table[:, 3] = up, down, same, anchor
    return fold(table, reg.low, reg.high)


def third_and_seventh(chord: Chord) -> tuple[int | None, int | None]:
    """The pitch classes of a chord's 3rd (major or minor) and 7th (minor or major), None where absent."""
    if chord.root is None:
        return None, None
    third = next(((chord.root + s) % 12 for s in (4, 3) if (chord.root + s) % 12 in chord.tones), None)
    seventh = next(((chord.root + s) % 12 for s in (10, 11) if (chord.root + s) % 12 in chord.tones), None)
    return third, seventh


class Guidance:
    """The biases for one improviser over one degree vocabulary."""

    def __init__(self, vocab, steering: Steering, register: Register, bar_ticks: int,
                 tempo: float | None = None, avoid_notes: bool = True) -> None:
        values = vocab.values
        degree = np.array([-1 if v.degree is None else v.degree for v in values], dtype=np.int64)
        move = np.array([ANCHOR if v.move is None else MOVES.index(v.move) for v in values], dtype=np.int64)
        self.slot = np.where(degree < 0, REST, np.maximum(degree, 0) * COLUMNS + move)
        self.degree = np.where(degree < 0, 12, degree)  # 12: a rest, in the 13-long degree masks
        self.durations = np.array([v.duration for v in values], dtype=np.int64)
        self.steering, self.register, self.bar_ticks = steering, register, bar_ticks
        self.avoid_notes = avoid_notes
        self._tempo = np.zeros(len(values))
        if tempo and tempo > 0 and steering.fast:
            octaves = max(0.0, math.log2(tempo / REFERENCE_BPM))
            short = self.durations < TICKS_PER_BEAT // 2
            self._tempo = -steering.fast * octaves * short.astype(np.float64)
        self._tables: dict[tuple[int, int | None, int], tuple[np.ndarray, np.ndarray]] = {}
        self._avoid: dict[tuple[Chord, bool], np.ndarray] = {}
        self._roles: dict[Chord, np.ndarray] = {}
        self.guided = 0  # changes at which the guide-tone bias applied (for tests and logs)
        gain = steering.density
        self.density = Density(self.durations, degree < 0, tempo, gain) if gain else None

    def advance(self, duration: int, is_note: bool) -> None:
        """Account for the value just played (the density governor counts the line's notes)."""
        if self.density is not None:
            self.density.advance(duration, is_note)

    def bias(self, logits: np.ndarray, tick: int, chord: Chord, old: Chord | None, prev: int | None,
             target: int, soon: int | None) -> None:
        """Add every bias to ``logits`` (in place) for a value at ``tick`` over ``chord``.

        ``old`` is the chord just before ``tick`` when ``tick`` is a change (else None), ``prev`` the
        previous sounding pitch, ``target`` the register target, ``soon`` the ticks to the next change.
        """
        root = chord.root or 0
        table, pitch = self._register_table(root, prev, target)
        if old is not None and prev is not None and old.root is not None and chord.root is not None:
            table = table + self._change_table(pitch, prev, old, chord)
        logits += table[self.slot]
        logits += self._tempo
        if self.density is not None:
            self.density.bias(logits)
        if self.avoid_notes and chord.root is not None:
            strong = tick % self.bar_ticks in (0, self.bar_ticks // 2)
            logits += self._avoid_bias(chord, strong)
        if soon is not None and self.steering.approach and chord.root is not None:
            third, seventh = third_and_seventh(chord)
            wanted = np.zeros(13, dtype=bool)
            for pc in (third, seventh):
                if pc is not None:
                    wanted[(pc - root) % 12] = True
            logits[(self.durations == soon) & wanted[self.degree]] += self.steering.approach

    def held_classes(self, rhythm: np.ndarray, tick: int, chord: Chord) -> np.ndarray:
        """The classes version 4 holds at the reference temperature (``improv.model.sampling.Held``): the
        rhythm (``rhythm``: a class per value), and on beats 1 and 3 also whether the value is a chord
        tone, so a cold line does not crowd onto chord tones on the strong beats. Below 2 x the rhythm
        classes."""
        if chord.root is None or tick % self.bar_ticks not in (0, self.bar_ticks // 2):
            return 2 * rhythm
        found = self._roles.get(chord)
        if found is None:
            tone = np.zeros(13, dtype=np.int64)
            tone[[(pc - chord.root) % 12 for pc in chord.tones]] = 1
            found = 2 * rhythm + tone[self.degree]
            if len(self._roles) >= _CACHE:
                self._roles.clear()
            self._roles[chord] = found
        return found

    def _register_table(self, root: int, prev: int | None, target: int) -> tuple[np.ndarray, np.ndarray]:
        """Pull towards the target and the repeated-pitch penalty, per (degree, move) slot (+ the rest),
        and the pitch of every slot."""
        key = (root, prev, target)
        found = self._tables.get(key)
        if found is not None:
            return found
        s, reg = self.steering, self.register
        pitch = realised(root, prev, target, reg).ravel()
        away = np.abs(pitch - target).astype(np.float64)
        table = np.zeros(REST + 1)
        table[:REST] = -s.pull * away - s.wall * np.maximum(away - reg.zone, 0.0)
        if prev is not None:
            table[:REST] -= s.repeat * (pitch == prev)
        if len(self._tables) >= _CACHE:
            self._tables.clear()
        self._tables[key] = (table, pitch)
        return table, pitch

    def _change_table(self, pitch: np.ndarray, prev: int, old: Chord, new: Chord) -> np.ndarray:
        """At a change (``pitch``: every slot's pitch): the old 7th to the new 3rd by step, and the new 3rd
        or 7th at all."""
        s = self.steering
        pcs = pitch % 12
        third, seventh = third_and_seventh(new)
        _, old_seventh = third_and_seventh(old)
        table = np.zeros(REST + 1)
        guide = np.isin(pcs, [pc for pc in (third, seventh) if pc is not None])
        table[:REST] += s.guide_tones * guide
        if third is not None and old_seventh is not None and prev % 12 == old_seventh:
            step = (np.abs(pitch - prev) >= 1) & (np.abs(pitch - prev) <= 2)
            table[:REST] += s.guide * (step & (pcs == third))
            self.guided += 1
        if s.repeat and prev % 12 in (third, seventh):
            table[:REST] += s.repeat * (pitch == prev)  # a common guide tone held over the change is fine
        return table

    def _avoid_bias(self, chord: Chord, strong: bool) -> np.ndarray:
        """Per value: an avoid note a beat or longer, or a harsh one on beat 1 or 3."""
        key = (chord, strong)
        found = self._avoid.get(key)
        if found is not None:
            return found
        root = chord.root or 0
        bad_long = np.array([avoid(root + d, chord) for d in range(12)] + [False])
        bad_short = np.array([harsh(root + d, chord) for d in range(12)] + [False])
        long = self.durations >= TICKS_PER_BEAT
        bad = (long & bad_long[self.degree]) | (strong & bad_short[self.degree])
        found = -self.steering.avoid * bad.astype(np.float64)
        self._avoid[key] = found
        return found


class Density:
    """The line's notes per beat over its last bars against the players' median at this tempo (version 5).

    ``bias`` moves the odds of every value by how much it would add to the density (a note of ``d`` ticks
    adds 12 / d notes per beat, a rest none) relative to the median, scaled by ``gain`` times how far the
    line is outside the band (a share of the median): a line too busy leans to longer notes and rests, one
    too sparse to shorter notes. Deterministic; not thread-safe.
    """

    def __init__(self, durations: np.ndarray, rest: np.ndarray, tempo: float | None, gain: float) -> None:
        tempi, medians = zip(*DENSITY_BY_TEMPO, strict=True)
        self.median = float(np.interp(tempo or 120.0, tempi, medians))
        rate = np.where(rest, 0.0, TICKS_PER_BEAT / np.maximum(durations, 1))
        self._lean = gain * (rate - self.median) / self.median  # per unit of relative excess
        self.recent: deque[tuple[int, bool]] = deque()
        self.ticks = self.notes = 0

    def advance(self, duration: int, is_note: bool) -> None:
        """Count one value; forget what fell out of the window."""
        self.recent.append((duration, is_note))
        self.ticks += duration
        self.notes += is_note
        while self.ticks - self.recent[0][0] >= DENSITY_WINDOW:
            old, was_note = self.recent.popleft()
            self.ticks -= old
            self.notes -= was_note

    @property
    def excess(self) -> float:
        """How far the recent density is outside the band, as a share of the median (0 inside it, or
        before two bars have been played)."""
        if self.ticks < DENSITY_WINDOW // 2:
            return 0.0
        ratio = self.notes * TICKS_PER_BEAT / self.ticks / self.median - 1.0
        return math.copysign(max(abs(ratio) - DENSITY_BAND, 0.0), ratio)

    def bias(self, logits: np.ndarray) -> None:
        """Lean the odds (in place) against the excess, if there is one."""
        excess = self.excess
        if excess:
            logits -= excess * self._lean
