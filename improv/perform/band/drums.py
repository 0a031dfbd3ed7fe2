"""Swing drums on the General MIDI kit (channel 10): ride pattern, hi-hat on 2 and 4, fills into sections.

Per bar: the ride on every beat with the swung skip note on the and of 2 and 4 ("ding, ding-a ding,
ding-a"), the hi-hat pedal on 2 and 4, the bass drum feathered on every beat, a little snare and bass-drum
chatter off the beat. In the bar before each form section (the top of every chorus, a new section letter)
the drummer fills over the last two beats, and the new section opens with a crash and a kick on beat 1.
``Drummer`` is what every drummer here shares (the bossa one too): the bar, its time up to the fill, the fill.
"""

from __future__ import annotations

import numpy as np

from improv.perform.band.form import BandNote, Form, Player, jitter, make_note
from improv.theory.timing import TICKS_PER_BEAT

KICK, SIDE, SNARE, HAT_PEDAL, CRASH, RIDE = 36, 37, 38, 44, 49, 51
TOM_HIGH, TOM_MID, TOM_LOW, FLOOR_HIGH, FLOOR_LOW = 50, 48, 45, 43, 41
FILL_VOICES = frozenset({SNARE, TOM_HIGH, TOM_MID, TOM_LOW, FLOOR_HIGH, FLOOR_LOW})
BEAT = TICKS_PER_BEAT
HIT = BEAT // 4  # drum notes are short; the sample rings on

# Fills over the last two beats: (ticks before the bar end, drum, velocity).
FILLS: tuple[tuple[tuple[int, int, int], ...], ...] = (
    ((24, SNARE, 62), (20, SNARE, 66), (16, SNARE, 72), (12, TOM_HIGH, 80), (8, TOM_LOW, 86),
     (4, FLOOR_HIGH, 92)),  # triplets down the kit
    ((12, SNARE, 70), (9, SNARE, 74), (6, TOM_MID, 82), (3, FLOOR_LOW, 90)),  # sixteenths on 4
    ((18, SNARE, 78), (12, SNARE, 72), (8, SNARE, 80), (4, FLOOR_HIGH, 95), (4, KICK, 90)),  # and of 3
    ((24, SNARE, 55), (16, SNARE, 65), (12, SNARE, 75), (8, SNARE, 85), (4, SNARE, 98)),  # a snare roll up
)


Hit = tuple[int, int, int]  # (tick, drum, velocity)


class Drummer(Player):
    """A drummer over a form, one bar at a time: its time up to the fill, and in the bar before each form
    section a fill over the last two beats (one of ``FILLS``, drawn from the generator). A groove is the
    ``_time`` of one bar (the crash that opens a section included) and what ``_under_fill`` plays below it."""

    FILLS: tuple[tuple[Hit, ...], ...] = FILLS  # (ticks before the bar end, drum, velocity)

    def bar(self, index: int) -> list[BandNote]:
        """The drum notes of bar ``index``."""
        start = self.form.bar_start(index)
        end = start + self.form.bar_ticks
        fill = self.form.section_starts(index + 1) and self.form.beats_per_bar >= 2
        fill_from = end - 2 * BEAT if fill else end
        hits = self._time(index, start, fill_from, crash=index > 0 and self.form.section_starts(index))
        if fill:
            pattern = self.FILLS[int(self.rng.choice(len(self.FILLS)))]
            hits += [(end - before, drum, vel + jitter(self.rng, 4)) for before, drum, vel in pattern]
            hits += self._under_fill(start, fill_from, end)
        return [make_note(t, HIT, drum, v, self.channel, self.swing) for t, drum, v in sorted(hits)]

    def _time(self, index: int, start: int, until: int, *, crash: bool) -> list[Hit]:
        """The groove of bar ``index`` from ``start`` up to ``until`` (the fill's first tick or the end)."""
        raise NotImplementedError

    def _under_fill(self, start: int, fill_from: int, end: int) -> list[Hit]:
        """What keeps time below the fill."""
        return []


class SwingDrums(Drummer):
    """A drummer over a form, one bar at a time (call ``bar`` with 0, 1, 2, ... in order)."""

    def __init__(self, form: Form, rng: np.random.Generator, *, channel: int = 9, swing: float = 0.5,
                 velocity: int = 80) -> None:
        super().__init__(form, rng, channel=channel, swing=swing, velocity=velocity)

    def _time(self, index: int, start: int, until: int, *, crash: bool) -> list[Hit]:
        """Beat by beat up to the fill; the crash (and a kick) on beat 1 when a section opens."""
        hits: list[Hit] = []
        for beat in range(self.form.beats_per_bar):
            tick = start + beat * BEAT
            if tick >= until:
                break
            hits += self._beat(tick, beat, crash and beat == 0)
        return hits

    def _under_fill(self, start: int, fill_from: int, end: int) -> list[Hit]:
        """The hi-hat pedal keeps 2 and 4."""
        return [(t, HAT_PEDAL, 66) for t in range(fill_from, end, BEAT) if (t - start) // BEAT % 2]

    def _beat(self, tick: int, beat: int, crash: bool) -> list[Hit]:
        """One beat of time: ride (+ skip on 2 and 4), hi-hat on 2 and 4, feathered kick, chatter."""
        v, rng = self.velocity, self.rng
        backbeat = beat % 2 == 1
        hits = [(tick, CRASH if crash else RIDE, (v + 14 if crash else v + (6 if backbeat else 0))
                 + jitter(rng, 4)), (tick, KICK, (v if crash else 34) + jitter(rng, 3))]
        if backbeat:
            hits.append((tick, HAT_PEDAL, 68 + jitter(rng, 4)))
            hits.append((tick + BEAT // 2, RIDE, v - 18 + jitter(rng, 5)))  # the skip note, swung
        roll = rng.random()
        if roll < 0.10:
            hits.append((tick + BEAT // 2, SNARE, 40 + jitter(rng, 8)))  # comping on the snare
        elif roll < 0.13:
            hits.append((tick + BEAT // 2, KICK, 62 + jitter(rng, 6)))  # a bomb
        elif roll < 0.16:
            hits.append((tick, SIDE, 50 + jitter(rng, 6)))
        return hits
