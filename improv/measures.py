"""What a jazz musician hears in a solo (issue 9): ideas, guide tones, shape, rhythm and tempo.

Every measure takes a `Line` (ticks, 12 per beat, with ``chord_at``) and returns a number, or None when the
solo has nothing to measure. Definitions (the issue's):

- distinct interval 4-grams: distinct 4-grams of consecutive intervals (semitones) over all 4-grams,
  averaged over chunks of 200 intervals (``improv.evaluate.distinct_ngram_ratio``); 1.0 = nothing recurs.
- transposed cells: share of 4-note cells (their 3 intervals) whose intervals recur, starting on another
  pitch, in a cell that ends before it and starts at most 4 bars earlier.
- longest repeated interval run: the longest run of intervals in the first 400 notes that occurs twice
  without overlapping (``improv.evaluate.longest_repeat``).
- range: highest minus lowest pitch; extremes: share of notes within 2 semitones of the solo's own lowest
  or highest pitch.
- b7 -> 3rd: over changes ii-V (m7 or m7b5 to a dominant a fourth up) and V-I (a dominant to a major or
  minor chord a fourth up) whose last note before the change (sounding over the old chord) is the old
  chord's b7: the share whose first note over the new chord is its 3rd, reached by step (1 or 2 semitones).
- repeated pitches: share of intervals of 0 between consecutive notes of one phrase (a rest of at least
  ``PHRASE_GAP`` ends a phrase).
- long-note clashes: among notes sounding at least a beat (to the next onset when the gap is shorter than
  ``REST_MIN``, as the values grammar reads legato), the share that is the maj7 over a dominant, the b7
  over a maj7 chord or the natural 5 over a m7b5.
- mixed tuplets: among beats holding at least two onsets, the share whose onsets mix the 16th grid (3, 9
  ticks into the beat) and the triplet grid (4, 8). Measure on the written grid: swung eighths read from a
  MIDI file without undoing the swing land on the triplet grid and count as mixing.
- density: notes per beat; ``tempo_bin`` names the issue's five tempo bins.
- breath (not the issue's, a musician's): notes per phrase, the median over the solo's phrases where a rest
  of at least a beat (``BREATH``) ends a phrase; rest share, the share of the solo's time (first onset to
  last release) in rests of at least an eighth (``REST_MIN``).
- chord tones on beats 1 and 3: ``improv.evaluate.chord_tone_ratio(strong_only=True)``.

Pure functions, no state, no threads.
"""

from __future__ import annotations

import numpy as np

from improv.evaluate import chord_tone_ratio, distinct_ngram_ratio, longest_repeat, note_density
from improv.theory.harmony import Chord
from improv.theory.timing import TICKS_PER_BEAT
from improv.theory.values import PHRASE_GAP, REST_MIN, Line, Note

CELL = 4  # notes in a cell
CELL_BARS = 4  # how far back a transposed cell may be
RUN_NOTES = 400  # the longest repeated run looks at this many notes
EXTREME = 2  # semitones from the lowest/highest pitch
LONG = TICKS_PER_BEAT  # a long note sounds at least a beat
SIXTEENTHS = (3, 9)  # ticks into the beat on the 16th grid only
TRIPLETS = (4, 8)  # ticks into the beat on the triplet grid only
BREATH = TICKS_PER_BEAT  # a rest this long is a breath: it ends a phrase for notes per phrase
TEMPO_BINS = ((0, 120, "< 120"), (120, 160, "120-160"), (160, 200, "160-200"), (200, 260, "200-260"),
              (260, 10_000, ">= 260"))


def pitches(line: Line) -> np.ndarray:
    """MIDI pitches in onset order."""
    return np.array([n.pitch for n in line.notes], dtype=np.int64)


def interval_list(line: Line) -> list[int]:
    """Semitones between consecutive notes."""
    return np.diff(pitches(line)).tolist()


def distinct_interval_4grams(line: Line) -> float | None:
    """Distinct interval 4-grams / interval 4-grams (chunks of 200)."""
    return distinct_ngram_ratio(interval_list(line), 4)


def transposed_cells(line: Line) -> float | None:
    """Share of 4-note cells whose intervals recur on another pitch within 4 bars before."""
    notes = line.notes
    count = len(notes) - CELL + 1
    if count < 2:
        return None
    window = CELL_BARS * line.beats_per_bar * TICKS_PER_BEAT
    shapes = [_shape(notes[i : i + CELL]) for i in range(count)]
    found = 0
    for i in range(count):
        start = notes[i].onset
        for j in range(i - CELL, -1, -1):  # cells ending before this one starts
            if start - notes[j].onset > window:
                break
            if shapes[j] == shapes[i] and notes[j].pitch != notes[i].pitch:
                found += 1
                break
    return found / count


def _shape(cell: list[Note]) -> tuple[int, ...]:
    """Intervals of a cell."""
    return tuple(b.pitch - a.pitch for a, b in zip(cell, cell[1:], strict=False))


def longest_interval_run(line: Line) -> int:
    """Longest interval run occurring twice (not overlapping) within the first 400 notes."""
    return longest_repeat(interval_list(line)[: RUN_NOTES - 1])


def extremes_share(line: Line) -> float | None:
    """Share of notes within 2 semitones of the lowest or highest pitch."""
    p = pitches(line)
    if p.size < 2:
        return None
    return float(((p <= p.min() + EXTREME) | (p >= p.max() - EXTREME)).mean())


def _third(chord: Chord) -> int | None:
    if chord.root is None:
        return None
    for step in (4, 3):
        if (chord.root + step) % 12 in chord.tones:
            return (chord.root + step) % 12
    return None


def guide_change(old: Chord, new: Chord) -> bool:
    """ii-V (m7/m7b5 -> dominant a fourth up) or V-I (dominant -> major/minor a fourth up)."""
    if old.root is None or new.root is None or (new.root - old.root) % 12 != 5:
        return False
    ii_v = old.quality in ("min", "hdim") and new.quality == "dom"
    v_i = old.quality == "dom" and new.quality in ("maj", "min")
    return ii_v or v_i


def b7_to_third(line: Line) -> tuple[int, int]:
    """(changes resolved b7 -> 3rd by step, ii-V/V-I changes whose last note before was the b7)."""
    notes = line.notes
    hits = total = 0
    for i in range(1, len(notes)):
        before, after = notes[i - 1], notes[i]
        old, new = line.chord_at(before.onset), line.chord_at(after.onset)
        if old == new or not guide_change(old, new) or line.chord_at(after.onset - 1) != old:
            continue  # the change must fall between the two notes
        if (before.pitch - old.root) % 12 != 10:
            continue
        total += 1
        hits += after.pitch % 12 == _third(new) and 1 <= abs(after.pitch - before.pitch) <= 2
    return hits, total


def b7_to_third_share(line: Line) -> float | None:
    """b7 -> 3rd by step over the qualifying changes (None if there is none)."""
    hits, total = b7_to_third(line)
    return hits / total if total else None


def phrase_intervals(line: Line) -> list[int]:
    """Intervals between consecutive notes of one phrase (rests >= PHRASE_GAP split phrases)."""
    out = []
    for a, b in zip(line.notes, line.notes[1:], strict=False):
        if b.onset - (a.onset + a.duration) < PHRASE_GAP:
            out.append(b.pitch - a.pitch)
    return out


def repeated_pitch_share(line: Line) -> float | None:
    """Share of in-phrase intervals that are 0."""
    steps = phrase_intervals(line)
    return sum(s == 0 for s in steps) / len(steps) if steps else None


def sounding(line: Line) -> list[int]:
    """How long each note sounds, in ticks: to the next onset when the gap is shorter than REST_MIN."""
    notes = line.notes
    out = []
    for i, note in enumerate(notes):
        length = note.duration
        if i + 1 < len(notes):
            gap = notes[i + 1].onset - note.onset
            length = gap if gap - note.duration < REST_MIN else min(length, gap)
        out.append(length)
    return out


def clashes(pitch: int, chord: Chord) -> bool:
    """maj7 over a dominant, b7 over a maj7 chord, natural 5 over a m7b5."""
    if chord.root is None:
        return False
    degree = (pitch - chord.root) % 12
    if chord.quality == "dom":
        return degree == 11
    if chord.quality == "maj":
        return degree == 10 and (chord.root + 11) % 12 in chord.tones
    if chord.quality == "hdim":
        return degree == 7
    return False


def long_clash_share(line: Line) -> float | None:
    """Share of notes sounding >= 1 beat that clash with their chord."""
    long = [n for n, length in zip(line.notes, sounding(line), strict=True) if length >= LONG]
    if not long:
        return None
    return sum(clashes(n.pitch, line.chord_at(n.onset)) for n in long) / len(long)


def mixed_tuplet_share(line: Line) -> float | None:
    """Among beats with two or more onsets, the share mixing 16th and triplet onsets."""
    beats: dict[int, set[int]] = {}
    for note in line.notes:
        beat, sub = divmod(note.onset, TICKS_PER_BEAT)
        beats.setdefault(beat, set()).add(sub)
    busy = [subs for subs in beats.values() if len(subs) >= 2]
    if not busy:
        return None
    mixed = sum(bool(subs & set(SIXTEENTHS)) and bool(subs & set(TRIPLETS)) for subs in busy)
    return mixed / len(busy)


def gaps(line: Line) -> list[int]:
    """The silence between each note's release and the next onset, in ticks (0 or less: legato)."""
    return [b.onset - (a.onset + a.duration) for a, b in zip(line.notes, line.notes[1:], strict=False)]


def notes_per_phrase(line: Line) -> float | None:
    """The median length in notes of the solo's phrases (rests of at least ``BREATH`` end a phrase)."""
    if not line.notes:
        return None
    breaths = [i for i, gap in enumerate(gaps(line), start=1) if gap >= BREATH]
    bounds = [0, *breaths, len(line.notes)]
    return float(np.median(np.diff(bounds)))


def rest_share(line: Line) -> float | None:
    """Share of the solo's time, first onset to last release, in rests of at least ``REST_MIN``."""
    notes = line.notes
    if len(notes) < 2:
        return None
    span = max(n.onset + n.duration for n in notes) - notes[0].onset
    return sum(g for g in gaps(line) if g >= REST_MIN) / span if span > 0 else None


def tempo_bin(bpm: float | None) -> str | None:
    """The issue's tempo bin of a tempo in BPM."""
    if bpm is None:
        return None
    return next(name for low, high, name in TEMPO_BINS if low <= bpm < high)


MEASURES = (
    ("distinct_interval_4gram", "distinct interval 4-grams"),
    ("transposed_cells", "4-note cell recurring transposed within 4 bars"),
    ("longest_interval_run", "longest repeated interval run (first 400 notes)"),
    ("range", "pitch range (semitones)"),
    ("extremes", "notes within 2 semitones of the extremes"),
    ("b7_to_3rd", "b7 -> 3rd by step (ii-V, V-I)"),
    ("repeated_pitch", "repeated-pitch intervals in a phrase"),
    ("long_clash", "notes >= 1 beat that clash"),
    ("mixed_tuplets", "beats mixing 16ths and triplets"),
    ("density", "notes per beat"),
    ("chord_tone_strong", "chord tones on beats 1 and 3"),
    ("phrase_notes", "notes per phrase (a rest >= 1 beat ends one)"),
    ("rest_share", "share of time in rests"),
)


def measure_line(line: Line, length: int | None = None) -> dict[str, float | int | None]:
    """Every measure of one solo (``length`` in ticks for the density; default to the last bar)."""
    p = pitches(line)
    hits, total = b7_to_third(line)
    return {
        "distinct_interval_4gram": distinct_interval_4grams(line),
        "transposed_cells": transposed_cells(line),
        "longest_interval_run": longest_interval_run(line),
        "range": int(p.max() - p.min()) if p.size else None,
        "extremes": extremes_share(line),
        "b7_to_3rd": hits / total if total else None,
        "b7_changes": total,
        "b7_hits": hits,
        "repeated_pitch": repeated_pitch_share(line),
        "long_clash": long_clash_share(line),
        "mixed_tuplets": mixed_tuplet_share(line),
        "density": note_density(line, length),
        "chord_tone_strong": chord_tone_ratio(line, strong_only=True),
        "phrase_notes": notes_per_phrase(line),
        "rest_share": rest_share(line),
    }
