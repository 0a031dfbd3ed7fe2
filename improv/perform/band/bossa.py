"""The bossa nova groove (tunes whose feel or style is bossa, samba or latin): drums and bass.

Drums (General MIDI kit, channel 10): closed hi-hat on every straight eighth (the beats stronger), the
bass drum in the surdo rhythm (1, the and of 2, 3, the and of 4: "boom . . b-boom . . b"), and the
cross-stick on the two-bar bossa clave: 1, the and of 2, 4 | 2, the and of 3. In the bar before each form
section the drummer fills over the last two beats in sixteenths (softer than in swing), and the section
opens with a crash.

Bass: root on beat 1 (and on any chord's first beat), the fifth on beat 3, each a dotted quarter, with an
eighth-note pickup on the and of 2 and 4 that sounds the next note early (root, fifth; the next chord's
root into a change). Register E1..G3. Ticks inside, BandNote out; one bar at a time, in order.
"""

from __future__ import annotations

import numpy as np

from improv.perform.band.bass import CENTRE, HIGH, LOW, chord_root
from improv.perform.band.drums import (
    CRASH,
    FLOOR_HIGH,
    FLOOR_LOW,
    KICK,
    SIDE,
    SNARE,
    TOM_HIGH,
    TOM_LOW,
    TOM_MID,
    Drummer,
    Hit,
)
from improv.perform.band.form import BandNote, Form, Player, jitter, make_note
from improv.theory.harmony import Chord
from improv.theory.timing import TICKS_PER_BEAT

BEAT = TICKS_PER_BEAT
EIGHTH = BEAT // 2
HAT_CLOSED = 42
CLAVE = ((0, 3, 6), (2, 5))  # eighths of the cross-stick in the first and the second bar of the phrase
SURDO = ((0, 74), (3, 52), (4, 66), (7, 52))  # (eighth, velocity) of the bass drum
# Fills over the last two beats, sixteenths: (ticks before the bar end, drum, velocity).
FILLS: tuple[tuple[tuple[int, int, int], ...], ...] = (
    ((12, SNARE, 58), (9, SNARE, 62), (6, TOM_MID, 68), (3, FLOOR_LOW, 74)),
    ((18, SNARE, 54), (15, SNARE, 58), (12, TOM_HIGH, 62), (9, TOM_HIGH, 64), (6, TOM_LOW, 70),
     (3, FLOOR_HIGH, 76)),
    ((24, SIDE, 66), (18, SNARE, 58), (12, SNARE, 62), (6, TOM_MID, 68), (3, FLOOR_LOW, 72)),
)


class BossaDrums(Drummer):
    """A bossa drummer over a form, one bar at a time (call ``bar`` with 0, 1, 2, ... in order)."""

    FILLS = FILLS

    def __init__(self, form: Form, rng: np.random.Generator, *, channel: int = 9, swing: float = 0.0,
                 velocity: int = 70) -> None:
        super().__init__(form, rng, channel=channel, swing=swing, velocity=velocity)

    def _time(self, index: int, start: int, until: int, *, crash: bool) -> list[Hit]:
        """One bar of the groove up to the fill: hi-hat eighths, the surdo kick, the cross-stick clave; the
        crash when a section opens."""
        rng, eighths = self.rng, self.form.beats_per_bar * 2
        hits = [(start + e * EIGHTH, HAT_CLOSED, (58 if e % 2 == 0 else 44) + jitter(rng, 4))
                for e in range(eighths)]
        hits += [(start + e * EIGHTH, KICK, v + jitter(rng, 3)) for e, v in SURDO if e < eighths]
        hits += [(start + e * EIGHTH, SIDE, 68 + jitter(rng, 5)) for e in CLAVE[index % 2] if e < eighths]
        hits = [hit for hit in hits if hit[0] < until]
        if crash:
            hits.append((start, CRASH, self.velocity + 8 + jitter(rng, 4)))
        return hits

    def _under_fill(self, start: int, fill_from: int, end: int) -> list[Hit]:
        """The kick under the fill's first beat."""
        return [(fill_from, KICK, 60 + jitter(self.rng, 3))]


def fifth_of(chord: Chord) -> int:
    """The chord's fifth (diminished or augmented when the chord has one) as a pitch class."""
    rel = {(pc - chord.root) % 12 for pc in chord.tones}
    step = next((i for i in (7, 6, 8) if i in rel), 7)
    return (chord.root + step) % 12


class BossaBass(Player):
    """The bossa bass line over a form, one bar at a time (call ``bar`` with 0, 1, 2, ... in order)."""

    def __init__(self, form: Form, rng: np.random.Generator, *, channel: int = 1, swing: float = 0.0,
                 velocity: int = 82) -> None:
        super().__init__(form, rng, channel=channel, swing=swing, velocity=velocity)
        self.prev = CENTRE
        self._root_pitch = CENTRE
        # tick -> (pitch, chord) of a main note already chosen (a pickup's)
        self._plan: dict[int, tuple[int | None, Chord]] = {}

    def bar(self, index: int) -> list[BandNote]:
        """The notes of bar ``index``: main notes on 1 and 3 (and chord starts), pickups before them."""
        start = self.form.bar_start(index)
        end = start + self.form.bar_ticks
        mains = sorted({start + b * BEAT for b in range(0, self.form.beats_per_bar, 2)}
                       | {s.start for s in self.form.spans_in_bar(index) if s.start > start})
        notes: list[BandNote] = []
        for k, tick in enumerate(mains):
            following = mains[k + 1] if k + 1 < len(mains) else end
            pitch = self._main(tick)
            pickup = following - EIGHTH
            has_pickup = pickup - tick >= 2 * EIGHTH
            if pitch is not None:
                length = (pickup if has_pickup else following) - tick - 1
                notes.append(self._note(tick, length, pitch, accent=6 if tick == start else 0))
            if has_pickup:
                ahead = self._main(following)
                if ahead is not None:
                    notes.append(self._note(pickup, EIGHTH - 1, ahead, accent=-8))
        return notes

    def _main(self, tick: int) -> int | None:
        """The pitch of the main note at ``tick``: the root on a chord's first beat and on every bar's
        beat 1, else the fifth. Chosen once (a pickup sounds it first, then the note itself), again when
        a played chord has replaced the chord it was chosen for."""
        span = self.form.span_at(tick)
        if tick in self._plan and self._plan[tick][1] == span.chord:
            return self._plan[tick][0]
        pitch = None
        if span.chord.root is not None:
            downbeat = tick % self.form.bar_ticks == 0
            pitch = self._root(span.chord) if downbeat or tick == span.start else self._fifth(span.chord)
            self.prev = pitch
        self._plan = {t: p for t, p in self._plan.items() if t >= tick}
        self._plan[tick] = (pitch, span.chord)
        return pitch

    def _root(self, chord: Chord) -> int:
        """The chord's bass note in the octave nearest the line, drawn towards the centre."""
        pc = chord_root(chord)
        candidates = [p for p in range(LOW, HIGH + 1) if p % 12 == pc]
        costs = [abs(p - self.prev) + 0.5 * abs(p - CENTRE) + self.rng.uniform(0, 1.5) for p in candidates]
        self._root_pitch = candidates[int(np.argmin(costs))]
        return self._root_pitch

    def _fifth(self, chord: Chord) -> int:
        """The fifth a fourth below or a fifth above the root, whichever the register allows and is nearer."""
        pc = fifth_of(chord)
        around = range(self._root_pitch - 7, self._root_pitch + 8)
        near = [p for p in around if p % 12 == pc and LOW <= p <= HIGH]
        return min(near, key=lambda p: (abs(p - CENTRE), p)) if near else self._root_pitch

    def _note(self, tick: int, length: int, pitch: int, accent: int) -> BandNote:
        velocity = self.velocity + accent + jitter(self.rng, 4)
        return make_note(tick, max(1, length), pitch, velocity, self.channel, self.swing)
