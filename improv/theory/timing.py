"""The musical time grid: integer ticks, 12 to the beat (covers 16ths and eighth triplets)."""

from __future__ import annotations

TICKS_PER_BEAT = 12


def ticks_to_beats(ticks: int) -> float:
    """Ticks as beats (float)."""
    return ticks / TICKS_PER_BEAT


def beats_to_ticks(beats: float) -> int:
    """Beats rounded to the nearest tick."""
    return int(round(beats * TICKS_PER_BEAT))
