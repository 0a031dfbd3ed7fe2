"""The internal tempo clock: beats <-> ``time.perf_counter`` seconds, tempo changes, output offset.

The mapping is an anchor ``(time, beat, seconds per beat)`` replaced atomically, so the emitter can
convert a beat to a due time at the last moment (late binding) while another thread changes tempo.
"""

from __future__ import annotations

import time
from typing import NamedTuple

MIN_TEMPO = 20.0
MAX_TEMPO = 400.0


class _Anchor(NamedTuple):
    time: float  # perf_counter seconds at ``beat`` (without the latency offset)
    beat: float
    spb: float  # seconds per beat


class Clock:
    """Beat positions of a running performance at a (changeable) tempo."""

    def __init__(self, tempo: float, latency_offset_ms: float = 0.0) -> None:
        self._check(tempo)
        self.offset = latency_offset_ms / 1000.0
        self._anchor = _Anchor(time.perf_counter(), 0.0, 60.0 / tempo)
        self.started = False

    @staticmethod
    def _check(tempo: float) -> None:
        if not MIN_TEMPO <= tempo <= MAX_TEMPO:
            raise ValueError(f"tempo {tempo} outside {MIN_TEMPO:g}..{MAX_TEMPO:g} BPM")

    def start(self, at: float | None = None, beat: float = 0.0) -> None:
        """Beat ``beat`` happens at perf_counter time ``at`` (default now)."""
        t = time.perf_counter() if at is None else at
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
        t = time.perf_counter() if at is None else at
        a = self._anchor
        self._anchor = _Anchor(t, a.beat + (t - a.time) / a.spb, 60.0 / tempo)

    def time_at(self, beat: float) -> float:
        """perf_counter seconds at which ``beat`` must be sent (latency offset included)."""
        a = self._anchor
        return a.time + (beat - a.beat) * a.spb + self.offset

    def beat_at(self, t: float | None = None) -> float:
        """The beat being sent at perf_counter time ``t`` (default now)."""
        a = self._anchor
        now = time.perf_counter() if t is None else t
        return a.beat + (now - self.offset - a.time) / a.spb

    def seconds(self, beats: float) -> float:
        """A duration in beats as seconds at the current tempo."""
        return beats * self._anchor.spb
