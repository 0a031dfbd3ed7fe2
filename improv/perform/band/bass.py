"""Walking bass: quarter notes, chord tones on the strong beats, approach notes into every change.

How a bassist builds the line, beat by beat (one bar at a time, in order; state carries across bars):

* the first beat of a chord: its root (the slash bass when written), in the octave nearest the line;
* the beat before a change: an approach to the next chord's first note, a half step below or above
  (chromatic) or a scale step; on a strong beat, the approach that is also a chord tone wins;
* the other strong beats (1 and 3; beat 1 in odd meters): a chord tone, stepping on in the line's direction;
* the weak beats in between: scale tones passing in the line's direction;
* now and then a swung eighth "skip" on a passing beat (a ghosted repeat), as a player's hand does.

Register E1..G3 (MIDI 28..55), the range an upright bass walks in, centred on E2. Ticks inside, BandNote out.
"""

from __future__ import annotations

import numpy as np

from improv.perform.band.form import BandNote, Form, Player, Span, jitter, make_note
from improv.theory.harmony import Chord
from improv.theory.timing import TICKS_PER_BEAT

LOW, HIGH, CENTRE = 28, 55, 40
BEAT = TICKS_PER_BEAT
SKIP_CHANCE = 0.07


def _pitches(pcs, low: int = LOW, high: int = HIGH) -> list[int]:
    """Every pitch of the pitch classes ``pcs`` within low..high."""
    wanted = set(pcs)
    return [p for p in range(low, high + 1) if p % 12 in wanted]


def chord_root(chord: Chord) -> int | None:
    """The pitch class a bassist plays on the chord's first beat: the slash bass, else the root."""
    return chord.bass if chord.bass is not None else chord.root


class WalkingBass(Player):
    """A walking line over a form, one bar at a time (call ``bar`` with 0, 1, 2, ... in order)."""

    def __init__(self, form: Form, rng: np.random.Generator, *, channel: int = 1, swing: float = 0.5,
                 velocity: int = 80) -> None:
        super().__init__(form, rng, channel=channel, swing=swing, velocity=velocity)
        self.prev = CENTRE
        self.direction = 1
        self._plan: dict[int, int] = {}  # tick -> pitch chosen for a chord's first beat by its approach

    def bar(self, index: int) -> list[BandNote]:
        """The notes of bar ``index`` (0-based bar of the performance)."""
        notes: list[BandNote] = []
        start = self.form.bar_start(index)
        for beat in range(self.form.beats_per_bar):
            tick = start + beat * BEAT
            span = self.form.span_at(tick)
            pitch = self._pitch(tick, beat, span)
            if pitch is None:
                continue
            notes += self._sound(tick, beat, span, pitch)
            self.prev = pitch
        return notes

    def _pitch(self, tick: int, beat: int, span: Span) -> int | None:
        """The pitch for one beat, by its role in the line."""
        chord = span.chord
        if chord.root is None:
            return None
        first = tick == span.start
        last = tick + BEAT >= span.end
        strong = beat == 0 or (self.form.beats_per_bar % 2 == 0 and beat % 2 == 0)
        nxt = self.form.next_span(span)
        if first:
            planned = self._plan.pop(tick, None)
            if planned is not None and planned % 12 == chord_root(chord):
                return planned  # the approach's target (not when a played chord replaced its chord)
            return self._nearest_root(chord)
        if last and nxt.chord.root is not None:
            return self._approach(nxt, chord, strong=strong)
        if strong:
            return self._chord_tone(chord)
        return self._passing(chord)

    def _nearest_root(self, chord: Chord) -> int:
        """The chord's bass note in the octave nearest the line, drawn towards the centre."""
        candidates = _pitches([chord_root(chord)])
        costs = [abs(p - self.prev) + 0.35 * abs(p - CENTRE) + self.rng.uniform(0, 2) for p in candidates]
        return candidates[int(np.argmin(costs))]

    def _target(self, span: Span) -> int:
        """Choose (and remember) the first note of the next chord, so the approach can lead into it."""
        pitch = self._plan.get(span.start)
        if pitch is None:
            pitch = self._nearest_root(span.chord)
            self._plan[span.start] = pitch
        return pitch

    def _approach(self, nxt: Span, chord: Chord, *, strong: bool) -> int:
        """A note a half step or a scale step from the next chord's first note."""
        target = self._target(nxt)
        scale = set(chord.scale) | set(nxt.chord.scale)
        options = [target - 1, target + 1] + [target + d for d in (-2, 2) if (target + d) % 12 in scale]
        options = [p for p in options if LOW <= p <= HIGH and p != self.prev]
        options = options or [target + 1 if target - 1 < LOW else target - 1]
        tones = [p for p in options if p % 12 in chord.tones]
        if strong and tones:
            options = tones
        side = 1 if self.prev > target else -1  # come from the side the line is on
        weights = np.array([2.0 if (p - target) * side > 0 else 1.0 for p in options])
        weights += np.array([1.5 if p % 12 in chord.tones else 0.0 for p in options])
        return options[int(self.rng.choice(len(options), p=weights / weights.sum()))]

    def _turn(self) -> None:
        """Turn the line round near the ends of the register, and now and then by choice."""
        if self.prev >= HIGH - 6:
            self.direction = -1
        elif self.prev <= LOW + 5:
            self.direction = 1
        elif self.rng.random() < 0.2:
            self.direction = -self.direction

    def _chord_tone(self, chord: Chord) -> int:
        """A chord tone other than the last note, stepping on in the line's direction."""
        self._turn()
        candidates = [p for p in _pitches(chord.tones) if p != self.prev] or [self.prev]
        costs = [abs(p - self.prev) + (5 if (p - self.prev) * self.direction < 0 else 0)
                 + self.rng.uniform(0, 2) for p in candidates]
        return candidates[int(np.argmin(costs))]

    def _passing(self, chord: Chord) -> int:
        """A scale tone one or two semitones on in the line's direction."""
        self._turn()
        for direction in (self.direction, -self.direction):
            steps = [self.prev + direction * d for d in (1, 2)]
            steps = [p for p in steps if LOW <= p <= HIGH and p % 12 in chord.scale]
            if steps:
                self.direction = direction
                return steps[-1] if len(steps) == 2 and self.rng.random() < 0.6 else steps[0]
        return self._chord_tone(chord)

    def _sound(self, tick: int, beat: int, span: Span, pitch: int) -> list[BandNote]:
        """The note(s) for a beat: a legato quarter, or a quarter-and-skip on a passing beat."""
        accent = 6 if beat == 0 else 3 if beat % 2 else 0
        velocity = self.velocity + accent + jitter(self.rng, 4)
        passing = tick != span.start and tick + BEAT < span.end
        if passing and self.rng.random() < SKIP_CHANCE:
            half = BEAT // 2
            return [make_note(tick, half, pitch, velocity, self.channel, self.swing),
                    make_note(tick + half, half - 1, pitch, velocity - 30, self.channel, self.swing)]
        return [make_note(tick, BEAT - 1, pitch, velocity, self.channel, self.swing)]
