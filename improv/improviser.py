"""The improviser: asks the cell for the next value and realises it as a note over the chord sounding there.

It is a stateful generator: the cell's (a, c) state, the previous pitch and the position in the form live
for the whole session, one value at a time, so it never needs the piece in advance. Time inside is integer
ticks; what it yields (``TimedNote``) is in beats, the public contract with the engine and file writers.

Post-processing (what the seed did after generation, done here as each note is made): register range and
maximum leap (in ``decode``), no more than ``max_repeats`` repeated pitches, a velocity shape (accents on
the beat, a little humanising) and an articulation gate; swing is a time warp of the eighth-note offbeat.

Two model generations are realised: kind/leap values (version 1: the realiser draws a pitch of the kind
near the leap, as before, bit for bit) and degree values (version 2: the model names the chord degree and
direction, the realiser only places anchors and folds the register; its conditioning looks ahead to the
next chord and knows the tempo, the height, the phrase and the chorus; a beat keeps whole tuplets).

``improv.shaping`` adds a slowly moving register target with an arc over choruses, avoid-note nudges and
the velocity arc to both; for kind/leap values also the repeated-pitch penalty, the leap steering and the
rhythm biases (a degree model keeps whole tuplets and hears the tempo itself). For degree values,
``improv.guidance`` (improviser version 3) reweights the model's odds before each draw: guide tones at the
changes, a pull towards the register target, fewer repeated pitches, no long or strong avoid notes.

Settings live in two objects: ``Voice`` (register, leap, repeats, velocity, swing, gate) and
``improv.model.conditioning.Situation`` (where the next value falls: form, phrase, next change, tempo).

``improv.motifs`` gives it a memory for ideas (version 3): now and then a recent cell is restated,
transformed onto the new chord, when the model's probabilities choose it; answers develop a cell of the
call. ``settings_for_version(version)`` gives the shaping and motif settings of each version:
1 ``Shaping.off()``; 2 the shaping without guidance or motifs; 3 guidance and the motif memory; 4 the same,
with the guidance's biases added after the temperature and the rhythm (and the share of chord tones on beats
1 and 3) held at the reference temperature (``improv.model.sampling.Held``: the temperature chooses the
notes, not how busy the line is), and the live
``register_centre`` placing the register target.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from improv.errors import InputError
from improv.guidance import Guidance
from improv.guidance import Register as GuideRegister
from improv.model.cell import Cell
from improv.model.conditioning import Phrase, Situation
from improv.model.rhythm import MASKED, TupletGuard
from improv.model.sampling import Sampler
from improv.motifs import MotifMemory, MotifSettings, PlanStep
from improv.shaping import VERSION as SHAPING_VERSION
from improv.shaping import Shaper, Shaping, for_version, repeat_indices
from improv.theory import degrees
from improv.theory.harmony import Chord
from improv.theory.pitch import DEFAULT_REGISTER
from improv.theory.progression import Progression
from improv.theory.timing import TICKS_PER_BEAT, swing_beats
from improv.theory.values import Line, Note, Value, Vocabulary, decode, encode

# session logs record it (1: hard register walls, no shaping, ``Shaping.off()``; 2: shaping; 3: shaping with
# guidance and the motif memory; 4: the guidance after the temperature, the rhythm held, register_centre
# heard; 5: the density governor, ``improv.guidance.Density``); a version-1 model keeps the version-1
# realisation path whatever the improviser version

IMPROVISER_VERSION = 5


def settings_for_version(version: int, tempo: float | None = None) -> tuple[Shaping, MotifSettings]:
    """The shaping and motif settings of an improviser version (a session log names it); InputError for an
    unknown one."""
    if version not in range(1, IMPROVISER_VERSION + 1):
        raise InputError(f"improviser version {version} is unknown (this improv has 1..{IMPROVISER_VERSION})")
    if version == IMPROVISER_VERSION:
        return for_version(SHAPING_VERSION, tempo), MotifSettings()
    return for_version(version, tempo), MotifSettings.of_version(version)


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

    low: int = DEFAULT_REGISTER[0]
    high: int = DEFAULT_REGISTER[1]

    def __post_init__(self) -> None:
        if not 0 <= self.low < self.high <= 127 or self.high - self.low < 12:
            raise ValueError(f"range {self.low}..{self.high} must span at least an octave within 0..127")

    @property
    def centre(self) -> int:
        """The middle of the range."""
        return (self.low + self.high) // 2


@dataclass
class Voice:
    """How the line is played: the register, the largest leap, repeated notes, velocity, swing, gate."""

    register: Range = field(default_factory=Range)
    max_leap: int = 12
    max_repeats: int = 2
    velocity: int = 90
    swing: float = 0.0
    gate: float = 0.92


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
        tempo: float = 120.0,
        cond_version: int = 1,
        shaping: Shaping | None = None,
        motifs: MotifSettings | None = None,
    ) -> None:
        self.cell = cell
        self.vocab = vocab
        self.progression = progression
        self.sampler = sampler
        self.voice = Voice(register or Range(), max_leap, max_repeats, velocity, swing, gate)
        reg = self.voice.register
        self.position = 0  # tick where the next value starts
        self.prev_pitch: int | None = None
        self.prev_index: int | None = None
        self.repeats = 0
        self.situation = Situation(progression, cond_version if cell.cond_size else 0, tempo, reg.low,
                                   reg.high, sections)
        degree = self.degree
        self.tuplets = TupletGuard([v.duration for v in vocab.values]) if degree else None
        self._same = np.array([getattr(v, "move", None) == "=" for v in vocab.values])
        self.shaping = shaping if shaping is not None else Shaping()
        self.shaper = Shaper(self.shaping, self.rng, reg.low, reg.high, progression.length,
                             self.situation.bar_ticks)
        self.guidance = self._guidance() if degree else None
        sampler.penalise(len(vocab), repeat_indices(vocab), self.shaping.repeat_penalty)
        reference = self.shaping.steering.reference if self.guidance is not None else None
        sampler.held = None
        if reference is not None:  # version 4: the rhythm (and chord tones on 1 and 3) held at the reference
            self._rhythm = rhythm_classes(vocab)
            sampler.hold(2 * self._rhythm, reference, count=2 * int(self._rhythm.max() + 1))
        self.motifs = MotifMemory(motifs if motifs is not None else MotifSettings(), self.rng,
                                  self.situation.bar_ticks)

    def _guidance(self) -> Guidance | None:
        """The degree model's steering before sampling (improviser version 3), None when it is off."""
        s, reg = self.shaping, self.voice.register
        if s.steering is None:
            return None
        zone = s.zone * (reg.high - reg.low)
        return Guidance(self.vocab, s.steering, GuideRegister(reg.low, reg.high, self.voice.max_leap, zone),
                        self.situation.bar_ticks, s.tempo, avoid_notes=s.nudges)

    @property
    def centre(self) -> int:
        """The register centre the live ``register_centre`` parameter sets (the middle of the range until
        then): version 4 moves the register target around it, version 1's anchors gravitate to it,
        versions 2 and 3 ignore it (``Shaper.place``)."""
        home = self.shaper.home
        return self.voice.register.centre if home is None else home

    @centre.setter
    def centre(self, pitch: int) -> None:
        self.shaper.place(pitch)

    @property
    def rng(self) -> np.random.Generator:
        """The session's one random generator (the sampler's)."""
        return self.sampler.rng

    @property
    def register(self) -> Range:
        """The register (``voice.register``)."""
        return self.voice.register

    @property
    def degree(self) -> bool:
        """Whether the model speaks degree values (version 2) rather than kind/leap values."""
        return isinstance(self.vocab, degrees.DegreeVocabulary)

    # -- one value at a time -----------------------------------------------------------------------
    def step(self) -> Step:
        """Sample the next value at the current position and realise it."""
        tick = self.position
        chord = self.progression.chord_at(tick)
        self.motifs.before_step(self, tick)  # may plan a restatement from here
        logits = self.cell.step_logits(self.prev_index, self.condition(tick, chord))
        planned = self.motifs.take(tick, logits, self.vocab)
        if planned is not None and not self._on_grid(planned.index, tick):
            self.motifs.drop()  # the beat already took the other tuplet family: the line goes on freely
            planned = None
        if planned is not None:
            value, pitch = self._planned(planned)
        else:
            target, bias, classes = None, None, None
            if self.degree:  # the model keeps whole tuplets and hears the tempo (conditioning v2)
                self._shape_degree(logits, tick)
                target, bias = self._steer(logits, tick, chord)
                if bias is not None:
                    classes = self.guidance.held_classes(self._rhythm, tick, chord)
            else:
                self.shaper.bias(logits, tick, self.vocab)
            index = self.sampler.sample(logits, bias, classes)
            value = self.vocab.values[index]
            self.prev_index = index
            pitch = self._realise(value, chord, tick, target)
        self.situation.phrase.advance(pitch is not None, value.duration)
        if self.guidance is not None:
            self.guidance.advance(value.duration, pitch is not None)
        if self.tuplets is not None:
            self.tuplets.advance(tick)
        self.position += value.duration
        self.motifs.record(tick, value.duration, pitch)
        return Step(tick, value, chord, pitch)

    def _on_grid(self, index: int, tick: int) -> bool:
        """Whether the value keeps the beat's tuplet family whole (degree models; always for the others)."""
        mask = self.tuplets.penalty(tick) if self.tuplets is not None else None
        return mask is None or mask[index] >= 0

    def _planned(self, planned: PlanStep) -> tuple[Value, int | None]:
        """A value the motif memory planned (the cell stepped for it; the loop guard sees it)."""
        self.sampler.observe(planned.index)
        self.prev_index = planned.index
        if planned.pitch is not None:
            self.repeats = self.repeats + 1 if planned.pitch == self.prev_pitch else 0
            self.prev_pitch = planned.pitch
        return self.vocab.values[planned.index], planned.pitch

    def condition(self, tick: int, chord: Chord, prev_pitch: int | None = None, phrase: Phrase | None = None):
        """The hot conditioning positions for a value at ``tick`` (None for a model without conditioning)."""
        prev = self.prev_pitch if prev_pitch is None else prev_pitch
        return self.situation.indices(tick, chord, prev, phrase)

    def _steer(self, logits: np.ndarray, tick: int, chord: Chord) -> tuple[int | None, np.ndarray | None]:
        """Guidance before sampling: the register target it used (None when off) and the biases for the
        sampler to add after the temperature (version 4; version 3 adds them to ``logits`` here: None)."""
        if self.guidance is None:
            return None, None
        target = self.shaper.target(tick)
        before = self.progression.chord_at(tick - 1) if tick > 0 else None
        old = before if before is not None and before != chord else None
        _, soon = self.situation.lookahead.next(tick)
        bias = logits if self.sampler.held is None else np.zeros_like(logits)
        self.guidance.bias(bias, tick, chord, old, self.prev_pitch, target, soon)
        return target, None if bias is logits else bias

    def _shape_degree(self, logits: np.ndarray, tick: int) -> None:
        """Whole tuplets in a beat, and no more than ``max_repeats`` repeated pitches (degree models)."""
        mask = self.tuplets.penalty(tick) if self.tuplets is not None else None
        if mask is not None:
            logits += mask
        if self.repeats + 1 >= self.voice.max_repeats and self._same.any():
            logits[self._same] += MASKED

    def _realise(self, value: Value, chord: Chord, tick: int = 0, target: int | None = None) -> int | None:
        """A pitch for the value, steered towards the register target, limiting repeated notes."""
        if self.degree:
            return self._realise_degree(value, chord, tick, target)
        if value.kind == "R":
            return None
        voice = self.voice
        reg = voice.register
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
            max_leap=voice.max_leap,
        )
        if pitch is None:
            return None
        pitch = shaper.unrepeat(pitch, steered, chord, self.prev_pitch)
        if pitch == self.prev_pitch:
            self.repeats += 1
            if self.repeats >= voice.max_repeats:
                step = 1 if pitch < centre else -1
                pitch += step * int(self.rng.integers(1, 3))
                self.repeats = 0
        else:
            self.repeats = 0
        pitch = shaper.nudge(pitch, value, chord, tick, self.prev_pitch)
        self.prev_pitch = pitch
        return pitch

    def _realise_degree(self, value, chord: Chord, tick: int, target: int | None = None) -> int | None:
        """The pitch a degree value names (the model chose it; the register target places anchors and
        folds octaves; a long or strong avoid note is nudged). ``target``: the one guidance used."""
        if value.degree is None:
            return None
        reg = self.voice.register
        centre = self.shaper.target(tick) if target is None else target
        pitch = degrees.decode(
            value, chord, self.prev_pitch, low=reg.low, high=reg.high, centre=centre,
            max_leap=self.voice.max_leap,
        )
        if pitch is None:
            return None
        pitch = self.shaper.nudge(pitch, value, chord, tick, self.prev_pitch)
        self.repeats = self.repeats + 1 if pitch == self.prev_pitch else 0
        self.prev_pitch = pitch
        return pitch

    def note_for(self, step: Step) -> TimedNote | None:
        """The TimedNote a step sounds (None for a rest), with swing, gate and velocity shape."""
        if step.pitch is None:
            return None
        swing = self.voice.swing
        start = swing_beats(step.tick / TICKS_PER_BEAT, swing)
        end = swing_beats((step.tick + step.value.duration) / TICKS_PER_BEAT, swing)
        return TimedNote(start, (end - start) * self.voice.gate, step.pitch, self._velocity(step.tick))

    def _velocity(self, tick: int) -> int:
        """Accent the beat, lighten the offbeats, humanise by a few steps."""
        sub = tick % TICKS_PER_BEAT
        accent = 8 if tick % self.situation.bar_ticks == 0 else 4 if sub == 0 else -6 if sub == 6 else 0
        jitter = int(self.rng.integers(-4, 5))
        return int(min(127, max(1, self.voice.velocity + self.shaper.dynamics() + accent + jitter)))

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
        bar, in_bar = divmod(in_chorus, self.situation.bar_ticks)
        sections = self.situation.sections
        section = sections[bar] if bar < len(sections) else sections[-1]
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
        tokens = degrees.encode(line) if self.degree else encode(line)
        before_a, before_c = self.cell.state
        prev = self.prev_index
        prev_pitch, phrase = self.prev_pitch, Phrase()
        for token in tokens:
            self.cell.step_logits(prev, self.condition(token.onset, token.chord, prev_pitch, phrase))
            prev = self.vocab.index(token.value)
            self.sampler.observe(prev)
            sounding = [n.pitch for n in notes if n.onset <= token.onset + 2]
            is_note = token.value.kind != "R"
            phrase.advance(is_note, token.value.duration)
            if is_note and sounding:
                prev_pitch = sounding[-1]
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


def rhythm_classes(vocab: Vocabulary) -> np.ndarray:
    """A class index per value: its duration, and whether it is a rest (what version 4 holds at the
    reference temperature)."""
    keys = [(v.duration, v.kind == "R") for v in vocab.values]
    index = {key: i for i, key in enumerate(sorted(set(keys)))}
    return np.array([index[key] for key in keys], dtype=np.int64)
