"""The internal tempo clock: beats <-> ``time.perf_counter`` seconds, tempo changes, output offset.

The mapping is an anchor ``(time, beat, seconds per beat)`` replaced atomically, so the emitter can
convert a beat to a due time at the last moment (late binding) while another thread changes tempo.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from improv.theory.timing import TICKS_PER_BEAT

MIN_TEMPO = 20.0
MAX_TEMPO = 400.0


class _Anchor(NamedTuple):
    time: float  # perf_counter seconds at ``beat`` (without the latency offset)
    beat: float
    spb: float  # seconds per beat


class Clock:
    """Beat positions of a running performance at a (changeable) tempo."""

    def __init__(self, tempo: float, latency_offset_ms: float = 0.0, *,
                 now: Callable[[], float] = time.perf_counter) -> None:
        self._check(tempo)
        self.offset = latency_offset_ms / 1000.0
        self.now = now  # the time source (perf_counter; a test's manual clock)
        self._anchor = _Anchor(now(), 0.0, 60.0 / tempo)
        self.started = False

    @staticmethod
    def _check(tempo: float) -> None:
        if not MIN_TEMPO <= tempo <= MAX_TEMPO:
            raise ValueError(f"tempo {tempo} outside {MIN_TEMPO:g}..{MAX_TEMPO:g} BPM")

    def start(self, at: float | None = None, beat: float = 0.0) -> None:
        """Beat ``beat`` happens at perf_counter time ``at`` (default now)."""
        t = self.now() if at is None else at
        self._anchor = _Anchor(t, beat, self._anchor.spb)
        self.started = True

    @property
    def tempo(self) -> float:
        """Beats per minute."""
        return 60.0 / self._anchor.spb

    @property
    def seconds_per_beat(self) -> float:
        return self._anchor.spb

    def set_tempo(self, tempo: float, at: float | None = None) -> None:
        """Change tempo from time ``at`` (default now) on; beats already passed do not move."""
        self._check(tempo)
        t = self.now() if at is None else at
        a = self._anchor
        self._anchor = _Anchor(t, a.beat + (t - a.time) / a.spb, 60.0 / tempo)

    def time_at(self, beat: float) -> float:
        """perf_counter seconds at which ``beat`` must be sent (latency offset included)."""
        a = self._anchor
        return a.time + (beat - a.beat) * a.spb + self.offset

    def beat_at(self, t: float | None = None) -> float:
        """The beat being sent at perf_counter time ``t`` (default now)."""
        a = self._anchor
        now = self.now() if t is None else t
        return a.beat + (now - self.offset - a.time) / a.spb

    def seconds(self, beats: float) -> float:
        """A duration in beats as seconds at the current tempo."""
        return beats * self._anchor.spb


def clock_now(clock: object) -> Callable[[], float]:
    """The time source of any engine clock: its ``now`` when it has one, else ``time.perf_counter``
    (the MIDI clock follower's TransportClock reads perf_counter itself)."""
    return getattr(clock, "now", time.perf_counter)


@dataclass(frozen=True)
class Frame:
    """Where the form sits on the engine's (emitter) beats: its beat 0 (after the count-in) and the end."""

    offset: float = 0.0
    end: float | None = None  # emitter beat where the session ends (None: never)

    def clip(self, beat: float) -> float:
        return beat if self.end is None else min(beat, self.end)

    def past_end(self, beat: float) -> bool:
        return self.end is not None and beat >= self.end


class Timeline:
    """A clock and a frame: the form's beats and ticks at a time, and back (any thread: it only reads)."""

    def __init__(self, clock, frame: Frame) -> None:
        self.clock = clock
        self.frame = frame
        self.now = clock_now(clock)

    def beat(self, t: float | None = None) -> float:
        """The form beat being sent at time ``t`` (default now)."""
        return self.clock.beat_at(t) - self.frame.offset

    def ticks(self, t: float) -> float:
        """The form tick at time ``t`` (what the listeners place what they hear on)."""
        return (self.clock.beat_at(t) - self.frame.offset) * TICKS_PER_BEAT

    def time_of(self, beat: float) -> float:
        """When form beat ``beat`` is sent."""
        return self.clock.time_at(beat + self.frame.offset)
