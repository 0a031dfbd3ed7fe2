"""Shaping the line (issue 9, items 4-6): a register that breathes, an arc over choruses, no hanging avoid
notes, fewer repeated pitches, rhythm that follows the tempo and keeps tuplets whole.

The improviser asks a `Shaper` at three points of each step:

1. ``bias(logits, tick, vocab)`` before sampling: fewer 16ths and triplets at fast tempos and more at
   slow ones (real players' notes per beat fall with tempo: WJazzD 2.3 below 120 BPM, 1.3 at 260 and
   up), and a beat that has started on the triplet grid stays on it (the 16th grid likewise): whole
   tuplets; no value ends off both grids (a 2-tick value would shift every later note off the
   beat). The repeated-pitch penalty lives in the sampler (``Sampler.penalise``).
   The velocity follows the arc too (``dynamics``).
2. ``target(tick)`` and ``steer(value, prev, centre)`` before a pitch is chosen: the register target
   glides slowly (a new phrase goal every few bars, around a level that rises over an arc of choruses
   to a climax and falls back); a leap that would carry the line far from the target is turned around
   with a probability that grows with the distance. ``--range`` stays the outer limit only (``decode``
   mirrors at it); the target and the comfort zone scale with the range, so a wider range gives a wider
   line.
3. ``nudge(pitch, value, chord, tick, prev)`` after: an avoid note held >= 1 beat, or a harsh one (the
   clashes, a b9 over a non-dominant) starting on beat 1 or 3, moves a semitone to the nearest chord tone or
   tension (``nudges=False`` turns it off); ``unrepeat`` moves a leaping value that landed on the previous
   pitch on to the next pitch of its kind.

For a degree model, improviser version 3 also reweights the odds before each draw (``improv.guidance``,
sized by ``Steering``): guide tones at the changes, a pull towards the register target, fewer repeated
pitches, no long or strong avoid notes. Version 4 adds those biases after the temperature and holds the
rhythm at the reference temperature (``Steering.reference``, ``improv.model.sampling.Held``), and the live
``register_centre`` places the register target (``Shaper.place``; versions 2 and 3 ignored it, version 1's
anchors gravitate to it). ``for_version`` maps a session log's improviser version to its shaping (1: none,
2: without the steering, 3: steering tempered with the model's odds, 4: all).

Time in ticks (``improv.theory.timing``). Every random draw goes through the improviser's one Generator.
Not thread-safe: one Shaper per improviser, used from the thread that steps it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from improv.errors import InputError
from improv.measures import clashes
from improv.model.sampling import DEFAULT_TEMPERATURE
from improv.theory.harmony import Chord
from improv.theory.timing import TICKS_PER_BEAT
from improv.theory.values import Value, Vocabulary, classify

VERSION = 5  # the improviser version that shapes (1: hard register walls, no shaping; 2: no steering; 3: the
# steering tempered with the model's odds, register_centre ignored; 4: no density governor)
DYNAMICS = 20  # velocity steps between the arc's lowest and highest level
REFERENCE_BPM = 150.0  # the tempo at which the model's own rhythm is left alone
KINDS = ("C", "S", "A", "X")  # the value kinds ``classify`` names
OFF_GRID = 1e9  # subtracted from values that would break a tuplet
# where a value starting this many ticks into a beat may end inside the same beat (whole tuplets):
# on the triplet grid only on it, on the 16th grid only on it; the beat's end is always fine
SAME_BEAT_ENDS = {4: (8,), 8: (), 3: (6, 9), 9: (), 6: (9,)}
GRID = (0, 3, 4, 6, 8, 9)  # ticks into a beat on the 16th or the triplet grid


@dataclass(frozen=True)
class Steering:
    """How strongly a degree model's odds are reweighted before it samples (``improv.guidance``), in logits.

    ``pull`` and ``wall`` are per semitone from the register target (``wall`` beyond the comfort zone);
    ``guide`` favours the old chord's 7th to the new chord's 3rd by step at a change, ``guide_tones`` the
    new chord's 3rd or 7th there, ``approach`` the old chord's 3rd or 7th as the last note before it;
    ``repeat`` is against a repeated pitch, ``avoid`` against an avoid note held a beat or more (or a harsh
    one on beat 1 or 3; only while nudges are on), ``fast`` against values shorter than an eighth per
    doubling of the tempo above 150 BPM. ``density`` (version 5; 0 before) is the gain of the density
    governor (``improv.guidance.Density``): logits per unit of a value's density against the players'
    median, per unit of the line's excess over the band.

    ``reference`` (version 4) is the temperature at which these sizes are meant: the biases are added after
    the temperature (divided by ``reference``, not by the sampling temperature), and the rhythm (each
    value's duration, note or rest; on beats 1 and 3 also chord tone or not: ``Guidance.held_classes``)
    keeps the shares it has at ``reference``, so a low temperature no longer sharpens the guide-tone bonus
    or crowds the line into its busiest rhythm and onto chord tones, and a high one no longer breaks the
    rhythm up. None (version 3): the biases are added to the model's logits before the
    temperature.
    """

    pull: float = 0.08
    wall: float = 0.35
    guide: float = 1.0  # (2.0 in versions 3 and 4: a model that hears the previous degree needs less)
    guide_tones: float = 0.4
    approach: float = 0.6
    repeat: float = 0.2
    avoid: float = 2.5
    fast: float = 0.5
    reference: float | None = DEFAULT_TEMPERATURE
    density: float = 6.0  # version 5: the density governor's gain (``improv.guidance.Density``); 0: off


@dataclass(frozen=True)
class Shaping:
    """What to shape. ``arc_choruses`` choruses make one arc (climax at ``climax`` of it)."""

    register: bool = True
    arc_choruses: int = 4
    climax: float = 0.7
    phrase_bars: int = 2
    zone: float = 0.28  # half the comfort zone, as a share of the range
    margin: float = 0.3  # the target keeps this share of the range from either end
    nudges: bool = True
    tuplets: bool = True
    tempo: float | None = None  # BPM; None = no tempo density bias
    fast_penalty: float = 1.2  # logit change of sub-eighth values per halving (+) / doubling (-) of 150 BPM
    repeat_penalty: float = 1.0  # logit penalty on values that repeat the previous pitch
    steering: Steering | None = field(default_factory=Steering)  # degree models; None: version 2
    centre_control: bool = True  # the live register_centre places the register target (version 4)

    @classmethod
    def off(cls) -> Shaping:
        """The improviser of model version 1: hard walls, no nudges, no biases."""
        return cls(register=False, nudges=False, tuplets=False, tempo=None, repeat_penalty=0.0, steering=None)


def for_version(version: int, tempo: float | None = None) -> Shaping:
    """The shaping of an improviser version (a session log names it); InputError for an unknown one.

    1: no shaping; 2: shaping without the degree model's steering (``improv.guidance``); 3: the steering
    before the temperature, ``register_centre`` ignored; 4: without the density governor; 5: all of it.
    """
    if version == 1:
        return Shaping.off()
    if version == 2:
        return Shaping(tempo=tempo, steering=None, centre_control=False)
    if version == 3:
        steering = Steering(guide=2.0, reference=None, density=0.0)
        return Shaping(tempo=tempo, steering=steering, centre_control=False)
    if version == 4:
        return Shaping(tempo=tempo, steering=Steering(guide=2.0, density=0.0))
    if version == VERSION:
        return Shaping(tempo=tempo)
    raise InputError(f"improviser version {version} is unknown (this improv has 1 to {VERSION})")


def arc_level(chorus_pos: float, climax: float) -> float:
    """0..1 register level over one arc (0 = start, 1 = end): a rise to the climax, then a release."""
    x = chorus_pos % 1.0
    if x < climax:
        return 0.3 + 0.6 * math.sin(0.5 * math.pi * x / climax) ** 2
    return 0.9 - 0.65 * math.sin(0.5 * math.pi * (x - climax) / (1.0 - climax))


def avoid(pitch: int, chord: Chord) -> bool:
    """A note not to hold: the issue's clashes (maj7 over a dominant, b7 over a maj7, natural 5 over a
    m7b5), the natural 11 over a major 3rd, and over a chord that is not a dominant any note outside its
    chord scale (a b9, a minor 3rd over a major chord, ...). Chord tones and written tensions never are;
    a dominant's altered tensions (b9, #9, #11, b13) are colours, not avoid notes."""
    if chord.root is None:
        return False
    pc = pitch % 12
    if pc in chord.tones or pc in chord.tensions:
        return False
    if clashes(pitch, chord):
        return True
    if (pitch - chord.root) % 12 == 5 and (chord.root + 4) % 12 in chord.tones:
        return True
    return chord.quality != "dom" and pc not in chord.scale


def harsh(pitch: int, chord: Chord) -> bool:
    """The avoid notes a short note on beat 1 or 3 may not be: the clashes and a b9 over a non-dominant."""
    if chord.root is None or pitch % 12 in chord.tones or pitch % 12 in chord.tensions:
        return False
    return clashes(pitch, chord) or ((pitch - chord.root) % 12 == 1 and chord.quality != "dom")


class Shaper:
    """The per-session state of the shaping: the register target and the tuplet grid of the beat."""

    def __init__(self, shaping: Shaping, rng: np.random.Generator, low: int, high: int,
                 chorus_ticks: int, bar_ticks: int) -> None:
        self.shaping = shaping
        self.rng = rng
        self.low, self.high = low, high
        self.chorus_ticks, self.bar_ticks = chorus_ticks, bar_ticks
        self.centre = float((low + high) // 2)
        self.goal = self.centre
        self.level = 0.5  # where the arc is (0..1), for the dynamics
        self.drawn = 0.5  # the phrase goal's level (the arc's and a random step), before clipping
        self.next_goal = 0
        self.home: int | None = None  # the live register_centre (None: the middle of the range)
        self.nudged = 0
        self._fast: np.ndarray | None = None
        self._subs: np.ndarray | None = None

    # -- register ----------------------------------------------------------------------------------
    def target(self, tick: int) -> int:
        """The register target at a tick (moves slowly; a new phrase goal every ``phrase_bars``)."""
        s = self.shaping
        if not s.register:  # (version 1: anchors gravitate to the middle, or to the live register_centre)
            return (self.low + self.high) // 2 if self.home is None else self.home
        if tick >= self.next_goal:
            arc = tick / (self.chorus_ticks * max(1, s.arc_choruses))
            self.level = arc_level(arc, s.climax)
            self.drawn = self.level + float(self.rng.normal(0.0, 0.1))
            self.goal = self._goal()
            self.next_goal = tick + s.phrase_bars * self.bar_ticks
        self.centre += 0.15 * (self.goal - self.centre)
        return int(round(self.centre))

    def _goal(self) -> float:
        """The phrase goal: the drawn level within the range less its margins, moved with the register
        centre when one is set (version 4), never nearer either end than half the margin."""
        s = self.shaping
        width = self.high - self.low
        margin = s.margin * width
        goal = self.low + margin + min(max(self.drawn, 0.0), 1.0) * (width - 2 * margin)
        if self.home is None or not s.centre_control:
            return goal
        goal += self.home - (self.low + self.high) / 2
        return min(max(goal, self.low + margin / 2), self.high - margin / 2)

    def place(self, centre: int) -> None:
        """The live ``register_centre`` (a MIDI pitch): from now on the register target's phrase goals move
        around it, the arc and the phrase contour kept, inside the range (version 4; the current goal moves
        at once, and the target glides there). Version 1 anchors gravitate to it; versions 2 and 3 ignore
        it (their session logs replay as they were played)."""
        self.home = int(centre)
        if self.shaping.register and self.shaping.centre_control and self.next_goal > 0:
            self.goal = self._goal()

    def dynamics(self) -> int:
        """Velocity offset that follows the arc: softer at the start and the release, louder at the climax."""
        return round(DYNAMICS * (self.level - 0.5)) if self.shaping.register else 0

    def steer(self, value: Value, prev: int | None, centre: int) -> Value:
        """The value, its leap turned around when it would carry the line far from the target ``centre``."""
        leap = getattr(value, "leap", None)
        if not self.shaping.register or prev is None or not leap:
            return value
        zone = self.shaping.zone * (self.high - self.low)
        after = prev + leap
        away = abs(after - centre) - zone
        if away <= 0 or abs(after - centre) <= abs(prev - centre):
            return value
        if self.rng.random() < min(1.0, 0.35 + away / 5.0):
            return replace(value, leap=-leap)  # any value type with a leap (vocabulary versions)
        return value

    # -- avoid notes -------------------------------------------------------------------------------
    def nudge(self, pitch: int, value: Value, chord: Chord, tick: int, prev: int | None) -> int:
        """A semitone to the nearest chord tone (else tension) when an avoid note is long or on 1/3."""
        if not self.shaping.nudges or chord.root is None:
            return pitch
        strong = tick % self.bar_ticks in (0, self.bar_ticks // 2)
        long = value.duration >= TICKS_PER_BEAT
        if not ((long and avoid(pitch, chord)) or (strong and harsh(pitch, chord))):
            return pitch
        # a long note goes to a chord tone first; a short one on 1/3 to whichever is in the line's direction
        first = 1 if prev is None or pitch >= prev else -1
        order = (chord.tones, chord.tensions) if value.duration >= TICKS_PER_BEAT else (
            chord.tones | chord.tensions,)
        for wanted in order:
            for step in (first, -first):
                cand = pitch + step
                if self.low <= cand <= self.high and cand % 12 in wanted and not avoid(cand, chord):
                    self.nudged += 1
                    return cand
        return pitch

    def unrepeat(self, pitch: int, value: Value, chord: Chord, prev: int | None) -> int:
        """A value that moves (leap != 0) but landed on the previous pitch: the nearest pitch of its kind
        the way it leaps (up to a minor third), else the pitch unchanged."""
        leap = getattr(value, "leap", None)
        if self.shaping.repeat_penalty <= 0 or prev is None or pitch != prev or not leap:
            return pitch
        if value.kind not in KINDS:
            return pitch
        step = 1 if leap > 0 else -1
        for k in range(1, 4):
            cand = prev + step * k
            if self.low <= cand <= self.high and classify(cand, chord) == value.kind:
                return cand
        return pitch

    # -- rhythm ------------------------------------------------------------------------------------
    def bias(self, logits: np.ndarray, tick: int, vocab: Vocabulary) -> np.ndarray:
        """Logits with the tempo density bias and the whole-tuplet rule applied (in place)."""
        s = self.shaping
        if self._fast is None:
            self._prepare(vocab)
        if s.tempo is not None and s.tempo > 0 and s.fast_penalty > 0:
            logits -= self._fast * (s.fast_penalty * math.log2(s.tempo / REFERENCE_BPM))
        if s.tuplets:
            sub = tick % TICKS_PER_BEAT
            ends = sub + self._durations
            broken = ~np.isin(ends % TICKS_PER_BEAT, GRID)  # never off both grids (a 2-tick value would)
            if sub in SAME_BEAT_ENDS:
                broken |= (ends < TICKS_PER_BEAT) & ~np.isin(ends, SAME_BEAT_ENDS[sub])
            logits[broken] -= OFF_GRID
        return logits

    def _prepare(self, vocab: Vocabulary) -> None:
        durations = np.array([v.duration for v in vocab.values], dtype=np.int64)
        self._durations = durations
        self._fast = (durations < TICKS_PER_BEAT // 2).astype(np.float64)


def repeat_indices(vocab: Vocabulary) -> np.ndarray:
    """Indices of the sounding values that restate the previous pitch (leap 0)."""
    found = [i for i, v in enumerate(vocab.values) if v.kind != "R" and getattr(v, "leap", None) == 0]
    return np.array(found, dtype=np.int64)
