"""What every band part reads: the form (chords per bar, section starts, looping choruses) and the feel.

Ticks here are absolute: tick 0 is beat 1 of bar 1 of the first chorus; the form loops, so bar ``b`` of the
performance is bar ``b % bar_count`` of the chorus. ``BandNote`` is the parts' output, in beats (swing applied
when the note is made), with a 0-based MIDI channel. No threads, no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from improv.theory.progression import ChordSpan, Progression
from improv.theory.timing import DEFAULT_TEMPO, TICKS_PER_BEAT, swing_beats


@dataclass(frozen=True)
class BandNote:
    """One note of a band part: onset and duration in beats from bar 1, pitch, velocity, channel 0-15."""

    onset: float
    duration: float
    pitch: int
    velocity: int
    channel: int


GROOVES = ("swing", "bossa")
# words of a tune's feel or style (iReal's style field: "Bossa Nova", "Latin", "Samba") that mean the
# band plays a bossa groove (cross-stick clave, straight eighths, root-fifth bass) instead of swing
BOSSA_WORDS = ("bossa", "latin", "samba", "baiao")


def groove_of(feel: str | None, style: str | None = "") -> str:
    """The band's groove for a tune's feel ("swing", "bossa", ...) and its source's style name."""
    words = f"{feel or ''} {style or ''}".casefold().replace("ã", "a")
    return "bossa" if any(word in words for word in BOSSA_WORDS) else "swing"


@dataclass(frozen=True)
class Feel:
    """How the band plays: tempo (BPM, for density choices only), swing (0 straight .. 0.75 dotted) and
    the groove (one of GROOVES)."""

    tempo: float = DEFAULT_TEMPO
    swing: float = 0.5
    groove: str = "swing"


Span = ChordSpan  # here in absolute ticks of the performance (the form looped), not ticks of one chorus


class Form:
    """The progression looped over choruses, with its section labels (one per bar of a chorus)."""

    def __init__(self, progression: Progression, sections: Sequence[str] | None = None) -> None:
        self.progression = progression
        count = progression.bar_count
        self.sections = tuple(sections) if sections and len(sections) == count else ("A",) * count
        self.beats_per_bar = progression.beats_per_bar
        self.bar_ticks = progression.bar_ticks

    def bar_start(self, bar: int) -> int:
        """Absolute tick of beat 1 of bar ``bar`` (0-based bar of the performance)."""
        return bar * self.bar_ticks

    def span_at(self, tick: int) -> Span:
        """The chord span sounding at absolute ``tick`` (looping over the form)."""
        prog = self.progression
        chorus_start = (tick // prog.length) * prog.length
        span = prog.span_at(tick)
        return Span(span.chord, chorus_start + span.start, span.length)

    def next_span(self, span: Span) -> Span:
        """The span after ``span``."""
        return self.span_at(span.end)

    def spans_in_bar(self, bar: int) -> list[Span]:
        """Spans sounding in bar ``bar`` (the first may have started before it), in order."""
        start, end = self.bar_start(bar), self.bar_start(bar + 1)
        spans, tick = [], start
        while tick < end:
            span = self.span_at(tick)
            spans.append(span)
            tick = span.end
        return spans

    def section_starts(self, bar: int) -> bool:
        """True when bar ``bar`` begins a form section (the top of a chorus or a new section label)."""
        local = bar % self.progression.bar_count
        return local == 0 or self.sections[local] != self.sections[local - 1]


def swung(tick: int, swing: float) -> float:
    """Beats of ``tick`` with the offbeat eighth swung; triplets and 16ths stay where they are written."""
    if tick % TICKS_PER_BEAT == TICKS_PER_BEAT // 2:
        return swing_beats(tick / TICKS_PER_BEAT, swing)
    return tick / TICKS_PER_BEAT


def make_note(tick: int, ticks: int, pitch: int, velocity: int, channel: int, swing: float) -> BandNote:
    """A BandNote from a tick onset and length, with the eighth-note swing applied to both ends."""
    start = swung(tick, swing)
    end = max(swung(tick + max(1, ticks), swing), start + 1 / TICKS_PER_BEAT)
    velocity = int(max(1, min(127, velocity)))
    return BandNote(round(start, 6), round(end - start, 6), int(pitch), velocity, channel)


def jitter(rng, spread: int) -> int:
    """A small random velocity change in ``-spread..spread``."""
    return int(rng.integers(-spread, spread + 1))


class Player:
    """What every part has: the form, its generator, its channel, the swing and a base velocity."""

    def __init__(self, form: Form, rng: np.random.Generator, *, channel: int, swing: float,
                 velocity: int) -> None:
        self.form = form
        self.rng = rng
        self.channel = channel
        self.swing = swing
        self.velocity = velocity
