"""What every corpus reader returns and shares: `ReadResult`, the `Progress` callback, the
picklable ``chord_at`` step functions and the monophonic-line helpers (`add_highest`,
`clip_to_next`). Readers import from here, never from `loader` (no circle).

Time is integer ticks (improv.theory.timing). Pure data; no threads.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from improv.theory.values import Line, Note

WJAZZD_NOTES = "wjazzd_notes_with_chords.csv"

# (done, total) -> None; called by slow readers so the CLI can show progress
Progress = Callable[[int, int], None]


@dataclass
class ReadResult:
    """What a reader produced from one source: lines, how many notes it read and what it skipped."""

    source: str
    kind: str
    lines: list[Line]
    notes_read: int
    skipped: Counter[str] = field(default_factory=Counter)
    unparsed_chords: Counter[str] = field(default_factory=Counter)  # symbol -> notes read as N.C.

    @property
    def notes_kept(self) -> int:
        """Notes in the lines (read minus skipped)."""
        return sum(len(line.notes) for line in self.lines)

    def skipped_summary(self) -> str:
        """``"3 zero duration, 2 same onset"`` or ``"none"``."""
        if not self.skipped:
            return "none"
        return ", ".join(f"{n} {why}" for why, n in self.skipped.most_common())


def add_highest(notes: list[Note], note: Note, skipped: Counter[str]) -> None:
    """Append ``note`` to a line in onset order; when it starts with the last note (a chord or a
    collision on the grid) only the higher of the two stays, counted as ``same onset``."""
    if notes and notes[-1].onset == note.onset:
        skipped["same onset"] += 1
        if notes[-1].pitch >= note.pitch:
            return
        notes.pop()
    notes.append(note)


def clip_to_next(notes: list[Note]) -> None:
    """Shorten (in place) each note of a sorted line that lasts past the next onset to end there."""
    for i in range(len(notes) - 1):
        gap = notes[i + 1].onset - notes[i].onset
        if notes[i].duration > gap:
            notes[i] = replace(notes[i], duration=gap)


class ShiftedChords:
    """``chord_at`` of a piece of a line: the line's chords ``origin`` ticks later (picklable)."""

    __slots__ = ("chords", "origin")

    def __init__(self, chords: Callable[[int], Any], origin: int) -> None:
        self.chords, self.origin = chords, origin

    def __call__(self, tick: int) -> Any:
        return self.chords(tick + self.origin)


class StepChords:
    """``chord_at`` for a Line: the chord of the last change at or before a tick (a step function).

    Ticks before the first change get the first chord. Picklable, so cached lines keep it.
    """

    __slots__ = ("ticks", "chords")

    def __init__(self, changes: Iterable[tuple[int, Any]]) -> None:
        ticks: list[int] = []
        chords: list[Any] = []
        for tick, chord in sorted(changes, key=lambda change: change[0]):
            if chords and chord == chords[-1]:
                continue
            if ticks and ticks[-1] == tick:  # two changes at one tick: the later wins
                chords[-1] = chord
                continue
            ticks.append(tick)
            chords.append(chord)
        if not chords:
            raise ValueError("StepChords needs at least one chord")
        self.ticks = tuple(ticks)
        self.chords = tuple(chords)

    def __call__(self, tick: int) -> Any:
        i = bisect.bisect_right(self.ticks, tick) - 1
        return self.chords[max(i, 0)]

    def __getstate__(self) -> tuple[tuple[int, ...], tuple[Any, ...]]:
        return self.ticks, self.chords

    def __setstate__(self, state: tuple[tuple[int, ...], tuple[Any, ...]]) -> None:
        self.ticks, self.chords = state

    def __repr__(self) -> str:
        return f"StepChords({len(self.ticks)} changes)"
