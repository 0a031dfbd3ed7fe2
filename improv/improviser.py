"""The improviser: asks the cell for the next value and realises it as a note over the chord sounding there.

It is a stateful generator: the cell's (a, c) state, the previous pitch and the position in the form live
for the whole session, one value at a time, so it never needs the piece in advance. Time inside is integer
ticks; what it yields (``TimedNote``) is in beats, the public contract with the engine and file writers.

Post-processing (what the seed did after generation, done here as each note is made): register range and
maximum leap (in ``decode``), no more than ``max_repeats`` repeated pitches, a velocity shape (accents on
the beat, a little humanising) and an articulation gate; swing is a time warp of the eighth-note offbeat.
``improv.shaping`` adds a slowly moving register target with an arc over choruses, avoid-note nudges, a
repeated-pitch penalty and the rhythm biases (``shaping=Shaping.off()`` gives the version-1 improviser).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from improv.model.cell import Cell
from improv.model.conditioning import condition_indices
from improv.model.sampling import Sampler
from improv.shaping import VERSION as SHAPING_VERSION
from improv.shaping import Shaper, Shaping, repeat_indices
from improv.theory.harmony import Chord
from improv.theory.progression import Progression
from improv.theory.timing import TICKS_PER_BEAT, swing_beats
from improv.theory.values import Line, Note, Value, Vocabulary, decode, encode

IMPROVISER_VERSION = SHAPING_VERSION  # 1: hard register walls, no shaping (``Shaping.off()``)


@dataclass(frozen=True)
class TimedNote:
    """A note to play: onset and duration in beats from bar 1 of the form, MIDI pitch and velocity."""

    onset: float
    duration: float
    pitch: int
    velocity: int


@dataclass(frozen=True)
class Step:
    """What one step of the improviser made (for logs, status lines and tests)."""

    tick: int
    value: Value
    chord: Chord
    pitch: int | None


@dataclass(frozen=True)
class Location:
    """Where a tick falls in the form: chorus (from 1), bar of the chorus (from 1), beat (from 1), section."""

    chorus: int
    bar: int
    beat: float
    section: str


@dataclass
class Range:
    """The register: lowest and highest MIDI pitch, and where anchors gravitate."""

    low: int = 52
    high: int = 84

    def __post_init__(self) -> None:
        if not 0 <= self.low < self.high <= 127 or self.high - self.low < 12:
            raise ValueError(f"range {self.low}..{self.high} must span at least an octave within 0..127")

    @property
    def centre(self) -> int:
        """The middle of the range."""
        return (self.low + self.high) // 2


class Improviser:
    """An endless stream of notes over a progression, driven by a stateful cell."""

    def __init__(
        self,
        cell: Cell,
        vocab: Vocabulary,
        progression: Progression,
        sampler: Sampler,
        *,
        register: Range | None = None,
        max_leap: int = 12,
        max_repeats: int = 2,
        velocity: int = 90,
        swing: float = 0.0,
        gate: float = 0.92,
        sections: Sequence[str] | None = None,
        shaping: Shaping | None = None,
    ) -> None:
        self.cell = cell
        self.vocab = vocab
        self.progression = progression
        self.sampler = sampler
        self.rng = sampler.rng
        self.register = register or Range()
        self.centre = self.register.centre
        self.max_leap = max_leap
        self.max_repeats = max_repeats
        self.velocity = velocity
        self.swing = swing
        self.gate = gate
        self.position = 0  # tick where the next value starts
        self.prev_pitch: int | None = None
        self.prev_index: int | None = None
        self.repeats = 0
        self._bar = progression.beats_per_bar * TICKS_PER_BEAT
        self.sections = tuple(sections) if sections else ("A",) * progression.bar_count
        self.shaping = shaping if shaping is not None else Shaping()
        self.shaper = Shaper(self.shaping, self.rng, self.register.low, self.register.high,
                             progression.length, self._bar)
        sampler.penalise(len(vocab), repeat_indices(vocab), self.shaping.repeat_penalty)

    # -- one value at a time -----------------------------------------------------------------------
    def step(self) -> Step:
        """Sample the next value at the current position and realise it."""
        tick = self.position
        chord = self.progression.chord_at(tick)
        cond = condition_indices(chord, tick % self._bar, self.progression.beats_per_bar)
        logits = self.cell.step_logits(self.prev_index, cond if self.cell.cond_size else None)
        index = self.sampler.sample(self.shaper.bias(logits, tick, self.vocab))
        value = self.vocab.values[index]
        self.prev_index = index
        pitch = self._realise(value, chord, tick)
        self.position += value.duration
        return Step(tick, value, chord, pitch)

    def _realise(self, value: Value, chord: Chord, tick: int = 0) -> int | None:
        """A pitch for the value, steered towards the register target, limiting repeated notes."""
        if value.kind == "R":
            return None
        reg = self.register
        shaper = self.shaper
        centre = shaper.target(tick)
        steered = shaper.steer(value, self.prev_pitch, centre)
        pitch = decode(
            steered,
            chord,
            self.prev_pitch,
            self.rng,
            low=reg.low,
            high=reg.high,
            centre=centre,
            max_leap=self.max_leap,
        )
        if pitch is None:
            return None
        pitch = shaper.unrepeat(pitch, steered, chord, self.prev_pitch)
        if pitch == self.prev_pitch:
            self.repeats += 1
            if self.repeats >= self.max_repeats:
                step = 1 if pitch < centre else -1
                pitch += step * int(self.rng.integers(1, 3))
                self.repeats = 0
        else:
            self.repeats = 0
        pitch = shaper.nudge(pitch, value, chord, tick, self.prev_pitch)
        self.prev_pitch = pitch
        return pitch

    def note_for(self, step: Step) -> TimedNote | None:
        """The TimedNote a step sounds (None for a rest), with swing, gate and velocity shape."""
        if step.pitch is None:
            return None
        start = swing_beats(step.tick / TICKS_PER_BEAT, self.swing)
        end = swing_beats((step.tick + step.value.duration) / TICKS_PER_BEAT, self.swing)
        return TimedNote(start, (end - start) * self.gate, step.pitch, self._velocity(step.tick))

    def _velocity(self, tick: int) -> int:
        """Accent the beat, lighten the offbeats, humanise by a few steps."""
        sub = tick % TICKS_PER_BEAT
        accent = 8 if tick % self._bar == 0 else 4 if sub == 0 else -6 if sub == 6 else 0
        jitter = int(self.rng.integers(-4, 5))
        return int(min(127, max(1, self.velocity + self.shaper.dynamics() + accent + jitter)))

    def __iter__(self) -> Iterator[TimedNote]:
        """Endless notes; rests advance time silently."""
        while True:
            note = self.note_for(self.step())
            if note is not None:
                yield note

    def notes_until(self, beats: float) -> list[TimedNote]:
        """Every note starting before ``beats`` (offline use); notes are cut at ``beats``."""
        end = int(round(beats * TICKS_PER_BEAT))
        notes = []
        while self.position < end:
            note = self.note_for(self.step())
            if note is not None:
                notes.append(
                    TimedNote(note.onset, min(note.duration, beats - note.onset), note.pitch, note.velocity)
                )
        return notes

    def location(self, tick: int | None = None) -> Location:
        """Chorus, bar, beat and form section of a tick (default: the next value's)."""
        tick = self.position if tick is None else tick
        chorus, in_chorus = divmod(tick, self.progression.length)
        bar, in_bar = divmod(in_chorus, self._bar)
        section = self.sections[bar] if bar < len(self.sections) else self.sections[-1]
        return Location(chorus + 1, bar + 1, 1 + in_bar / TICKS_PER_BEAT, section)

    # -- listening ---------------------------------------------------------------------------------
    def reseed(self, notes: Sequence[Note], weight: float = 0.7) -> int:
        """Prime the live state with a played phrase, from the current state (never from zero).

        The phrase (ticks on this improviser's timeline) is encoded against the chords sounding when it was
        played and run through the cell; the new state is ``(1 - weight) * before + weight * after``.
        Returns how many values were primed.
        """
        if not notes:
            return 0
        if not 0.0 <= weight <= 1.0:
            raise ValueError("reseed weight must be within 0..1")
        line = Line("call", list(notes), self.progression.chord_at, self.progression.beats_per_bar)
        tokens = encode(line)
        before_a, before_c = self.cell.state
        prev = self.prev_index
        for token in tokens:
            cond = condition_indices(token.chord, token.onset % self._bar, self.progression.beats_per_bar)
            self.cell.step_logits(prev, cond if self.cell.cond_size else None)
            prev = self.vocab.index(token.value)
            self.sampler.observe(prev)
        after_a, after_c = self.cell.state
        self.cell.state = (
            (1 - weight) * before_a + weight * after_a,
            (1 - weight) * before_c + weight * after_c,
        )
        self.prev_index = prev
        self.prev_pitch = notes[-1].pitch
        return len(tokens)

    def jump(self, tick: int) -> None:
        """Move the position (a new chorus, a Song Position Pointer); the state is kept."""
        self.position = int(tick)
