"""The musical time grid: integer ticks, 12 to the beat (covers 16ths and eighth triplets)."""

from __future__ import annotations

TICKS_PER_BEAT = 12
DEFAULT_TEMPO = 120.0  # BPM when nothing (option, tune, file) says otherwise: the one definition


def ticks_to_beats(ticks: int) -> float:
    """Ticks as beats (float)."""
    return ticks / TICKS_PER_BEAT


def beats_to_ticks(beats: float) -> int:
    """Beats rounded to the nearest tick."""
    return int(round(beats * TICKS_PER_BEAT))


def swing_beats(beats: float, amount: float) -> float:
    """Warp a time in beats for swing: the offbeat eighth moves from 0.5 to ``0.5 + amount / 3``.

    ``amount`` 0 is straight, 0.5 a triplet (2:1) swing, 0.75 a dotted (3:1) swing. Downbeats stay put and
    the two halves of the beat are stretched and squeezed linearly, so 16ths follow the eighths.
    """
    if amount <= 0.0:
        return beats
    whole = float(int(beats // 1))
    frac = beats - whole
    offbeat = 0.5 + amount / 3.0
    if frac <= 0.5:
        return whole + frac * 2.0 * offbeat
    return whole + offbeat + (frac - 0.5) * 2.0 * (1.0 - offbeat)
