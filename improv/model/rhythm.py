"""Whole tuplets within a beat: a sampling mask so a beat is subdivided by 16ths or by triplets, not both.

Onsets inside a beat (12 ticks) belong to the straight family (ticks 3 and 9: 16ths) or the triplet family
(ticks 2, 4, 8, 10: triplets and sextuplets); the downbeat and the offbeat eighth (0, 6) fit both. Once an
onset of one family sounds in a beat, values whose end would put the next onset of the *other* family in the
same beat are masked, and so are values that would land the next onset off both grids (ticks 1, 5, 7,
11 of a beat). Pure numpy; one guard belongs to one improviser (not thread-safe).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from improv.theory.timing import TICKS_PER_BEAT

NEUTRAL, STRAIGHT, TRIPLET = 0, 1, 2
OFF_GRID = 3  # ticks 1, 5, 7, 11: only reached by mixing a 16th with a triplet, always masked
_FAMILY = [NEUTRAL, OFF_GRID, TRIPLET, STRAIGHT, TRIPLET, OFF_GRID, NEUTRAL, OFF_GRID, TRIPLET, STRAIGHT,
           TRIPLET, OFF_GRID]
MASKED = -1e9


def family(sub: int) -> int:
    """The subdivision family of a tick inside the beat (0..11); off-grid ticks are neutral."""
    return _FAMILY[sub % TICKS_PER_BEAT]


class TupletGuard:
    """Tracks the current beat's subdivision and masks values that would mix 16ths and triplets in it."""

    def __init__(self, durations: Sequence[int]) -> None:
        self.durations = np.asarray(durations, dtype=np.int64)
        self._masks: dict[tuple[int, int], np.ndarray | None] = {}
        self.beat = -1
        self.family = NEUTRAL

    def penalty(self, tick: int) -> np.ndarray | None:
        """Additive logits mask for a value starting at ``tick`` (None when nothing is masked)."""
        beat, sub = divmod(tick, TICKS_PER_BEAT)
        current = self.family if beat == self.beat else NEUTRAL
        current = current or family(sub)
        current = NEUTRAL if current == OFF_GRID else current
        key = (sub, current)
        if key not in self._masks:
            self._masks[key] = self._mask(sub, current)
        return self._masks[key]

    def _mask(self, sub: int, current: int) -> np.ndarray | None:
        ends = sub + self.durations
        families = np.array([family(int(e)) for e in ends])
        clash = families == OFF_GRID
        if current in (STRAIGHT, TRIPLET):
            other = TRIPLET if current == STRAIGHT else STRAIGHT
            clash |= (ends < TICKS_PER_BEAT) & (families == other)
        if not clash.any() or clash.all():
            return None
        return np.where(clash, MASKED, 0.0).astype(np.float32)

    def advance(self, tick: int) -> None:
        """Account for a value starting at ``tick``."""
        beat, sub = divmod(tick, TICKS_PER_BEAT)
        if beat != self.beat:
            self.beat, self.family = beat, NEUTRAL
        if family(sub) != OFF_GRID:
            self.family = self.family or family(sub)
