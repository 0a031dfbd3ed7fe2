"""Cells: the 3-6-note fragments of a phrase a soloist remembers, and the ways one is developed.

A *cell* is a run of consecutive notes of a phrase with no rest between them: onsets in ticks
(``improv.theory.timing``, 12 per beat), durations on the values' grid (each the time to the next onset,
the last one its own), pitches, and the root of the chord under its first note. A transform places a cell
at a new tick over the chord sounding there (:func:`place`):

- ``transpose``: moved by the root motion between the two chords, so it keeps its chord degrees and fits
  the new harmony (a ii cell becomes a V cell); needs the root to have moved;
- ``sequence``: transposed, then moved on by a step (1 or 2 semitones, the way ``step`` says) to the
  nearest step that puts its first note on a chord tone or tension: the cell a step higher or lower;
- ``invert``: transposed, its contour mirrored around its first note (up becomes down);
- ``displace``: transposed, its rhythm moved against the beat: ``lead`` ticks of rest first (a solo
  restatement an eighth late) or, in an answer, started where the answer starts, at another place in the
  beat than the call had it.

Octaves, the register and avoid notes are the caller's (``improv.motifs.memory``). Pure functions, no
random choice (callers pass the choices they made with the session's one Generator), no threads.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from improv.theory.harmony import Chord
from improv.theory.timing import TICKS_PER_BEAT

TRANSFORMS = ("transpose", "sequence", "invert", "displace")
CELL_MIN, CELL_MAX = 3, 6  # notes in a cell
GRID = (0, 3, 4, 6, 8, 9)  # ticks into a beat on the 16th or the triplet grid
SIXTEENTHS, TRIPLETS = (3, 9), (4, 8)

Event = tuple[int, int, int | None]  # onset, duration (ticks), pitch (None: a rest)


@dataclass(frozen=True)
class Cell:
    """Consecutive notes of a phrase: ``first`` is the index of its first note among the phrase's notes."""

    first: int
    onsets: tuple[int, ...]
    durations: tuple[int, ...]
    pitches: tuple[int, ...]
    root: int | None

    def __len__(self) -> int:
        return len(self.pitches)

    @property
    def intervals(self) -> tuple[int, ...]:
        """Semitones between consecutive notes."""
        return tuple(b - a for a, b in zip(self.pitches, self.pitches[1:], strict=False))

    @property
    def end(self) -> int:
        """The tick after its last note's duration."""
        return self.onsets[-1] + self.durations[-1]


@dataclass(frozen=True)
class Placed:
    """A transformed cell: its notes' ticks, durations and pitches, after ``lead`` ticks of rest."""

    cell: Cell
    transform: str
    shift: int  # semitones the first note moved (before octaves)
    onsets: tuple[int, ...]
    durations: tuple[int, ...]
    pitches: tuple[int, ...]
    lead: int = 0
    step: int = 0  # a sequence's step beyond the root motion


def runs(events: Iterable[Event]) -> list[list[tuple[int, int, int, int]]]:
    """Runs of consecutive notes: (index among the notes, onset, duration, pitch); a rest ends a run."""
    out: list[list[tuple[int, int, int, int]]] = []
    current: list[tuple[int, int, int, int]] = []
    index = 0
    for onset, duration, pitch in events:
        if pitch is None or (current and current[-1][1] + current[-1][2] != onset):
            if current:
                out.append(current)
            current = []
        if pitch is not None:
            current.append((index, onset, duration, pitch))
            index += 1
    if current:
        out.append(current)
    return out


def cells(events: Iterable[Event], root_at: Callable[[int], int | None], low: int = CELL_MIN,
          high: int = CELL_MAX) -> list[Cell]:
    """Every cell of ``low..high`` notes inside a run of the events, in order of their first note."""
    found = []
    for run in runs(events):
        for size in range(low, min(high, len(run)) + 1):
            for i in range(len(run) - size + 1):
                part = run[i : i + size]
                found.append(Cell(part[0][0], tuple(n[1] for n in part), tuple(n[2] for n in part),
                                  tuple(n[3] for n in part), root_at(part[0][1])))
    return sorted(found, key=lambda c: (c.first, len(c)))


def root_motion(cell: Cell, chord: Chord) -> int:
    """Semitones from the cell's chord root to ``chord``'s, folded into -6..5 (0 without a root)."""
    if cell.root is None or chord.root is None:
        return 0
    return (chord.root - cell.root + 6) % 12 - 6


def place(cell: Cell, transform: str, start: int, chord: Chord, *, step: int = 1,
          lead: int = 0) -> Placed | None:
    """The cell transformed onto ``chord``, its first note at ``start + lead`` (None if it cannot be)."""
    base = root_motion(cell, chord)
    first = cell.pitches[0]
    extra = 0
    if transform == "transpose":
        if base == 0:
            return None  # the same root: that would be a plain repeat
        pitches = [p + base for p in cell.pitches]
    elif transform == "sequence":
        extra = _sequence_step(first + base, chord, step)
        pitches = [p + base + extra for p in cell.pitches]
    elif transform == "invert":
        if not any(cell.intervals):
            return None
        pitches = [first + base - (p - first) for p in cell.pitches]
    elif transform == "displace":
        pitches = [p + base for p in cell.pitches]
    else:
        raise ValueError(f"unknown transform {transform!r} (known: {', '.join(TRANSFORMS)})")
    onsets = tuple(start + lead + o - cell.onsets[0] for o in cell.onsets)
    if not on_grid(onsets):
        return None
    return Placed(cell, transform, pitches[0] - first, onsets, cell.durations, tuple(pitches), lead, extra)


def chained(prev: Placed, played: Sequence[int], root: int | None, start: int, chord: Chord) -> Placed | None:
    """The next statement of a chain: the restated cell, as it sounded (``played``, over a chord with
    ``root``), moved on the way it was moved: by the new root motion plus the same sequence step, placed
    at ``start`` straight after it. None for an inversion (it would only turn back) or a plain repeat."""
    if prev.transform == "invert":
        return None
    cell = Cell(prev.cell.first, prev.onsets, prev.durations, tuple(played), root)
    shift = root_motion(cell, chord) + prev.step
    onsets = tuple(start + o - prev.onsets[0] for o in prev.onsets)
    if shift == 0 or not on_grid(onsets):
        return None
    return Placed(cell, prev.transform, shift, onsets, prev.durations, tuple(p + shift for p in played), 0,
                  prev.step)


def _sequence_step(pitch: int, chord: Chord, step: int) -> int:
    """The step (1 or 2 semitones, ``step``'s way first) that puts ``pitch`` on a chord tone or tension."""
    way = 1 if step >= 0 else -1
    wanted = chord.tones | chord.tensions
    for move in (way, 2 * way, -way, -2 * way):
        if (pitch + move) % 12 in wanted:
            return move
    return 2 * way


def on_grid(onsets: Sequence[int]) -> bool:
    """Every onset on the 16th or triplet grid, and no beat mixing the two (whole tuplets)."""
    beats: dict[int, set[int]] = {}
    for onset in onsets:
        beat, sub = divmod(onset, TICKS_PER_BEAT)
        if sub not in GRID:
            return False
        beats.setdefault(beat, set()).add(sub)
    return not any(subs & set(SIXTEENTHS) and subs & set(TRIPLETS) for subs in beats.values())


def octave_near(pitches: Sequence[int], near: int, low: int, high: int) -> tuple[int, ...] | None:
    """The pitches moved by whole octaves into ``low..high``, the first as near ``near`` as it fits."""
    options = [tuple(p + 12 * k for p in pitches) for k in range(-3, 4)]
    inside = [o for o in options if low <= min(o) and max(o) <= high]
    if not inside:
        return None
    return min(inside, key=lambda o: (abs(o[0] - near), o[0]))


def shape_matches(call: Sequence[int], answer: Sequence[int], tolerance: int = 0) -> str | None:
    """How a run of answer pitches restates a call cell's intervals: ``same`` (within ``tolerance``
    semitones each, same contour), ``inverted`` (mirrored), else None. For judging answers."""
    a = [y - x for x, y in zip(call, call[1:], strict=False)]
    b = [y - x for x, y in zip(answer, answer[1:], strict=False)]
    if len(a) != len(b) or not a:
        return None
    for name, sign in (("same", 1), ("inverted", -1)):
        pairs = zip(a, b, strict=True)
        if all(_sgn(y) == _sgn(sign * x) and abs(y - sign * x) <= tolerance for x, y in pairs):
            return name
    return None


def _sgn(x: int) -> int:
    return (x > 0) - (x < 0)
