"""MusicXML lead-sheet reader: melody notes and chord symbols (music21) to one Line.

The melody is the first part with notes (ties merged; a chord keeps its top note; rests are the
gaps). Chord symbols may sit in any part; each `ChordSymbol` figure goes through `parse_chord`,
falling back to root + kind when the figure is in a dialect the parser does not read. A pickup
measure is shifted so that tick 0 is the downbeat of the first full bar's grid.
"""

from __future__ import annotations

import logging
from collections import Counter
from fractions import Fraction
from pathlib import Path

from improv.charts.leadsheet import chord_text, parse_musicxml
from improv.corpus.base import ReadResult, StepChords, add_highest, clip_to_next
from improv.errors import InputError
from improv.theory.harmony import Chord, parse_chord
from improv.theory.timing import TICKS_PER_BEAT
from improv.theory.values import Line, Note

log = logging.getLogger(__name__)


def _ticks(quarter_length: float | Fraction) -> int:
    return round(Fraction(quarter_length).limit_denominator(10_000) * TICKS_PER_BEAT)


def read_musicxml(path: str | Path) -> ReadResult:
    """One Line from a MusicXML lead sheet; InputError without notes or without chord symbols."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    score = parse_musicxml(path)
    parts = _parts(score)
    pickup = _pickup(parts[0]) if parts else 0
    symbols, melody = _symbols_and_melody(parts, pickup)
    if melody is None:
        raise InputError(f"{path}: no notes")
    if not symbols:
        raise InputError(f"{path}: no chord symbols (a lead sheet needs <harmony> elements)")
    skipped: Counter[str] = Counter()
    notes, read = _melody_notes(melody, pickup, skipped)
    if not notes:
        raise InputError(f"{path}: no notes")
    where = str(path)
    changes = [(tick, _chord(cs, f"{where} offset {tick / TICKS_PER_BEAT:g}")) for tick, cs in symbols]
    line = Line(
        path.stem,
        notes,
        StepChords(changes),
        _beats_per_bar(parts[0]),
        {"source": "musicxml", "title": _title(score) or path.stem},
    )
    return ReadResult(str(path), "musicxml", [line], read, skipped)


def _parts(score: object) -> list:
    from music21 import stream

    return list(score.parts) if isinstance(score, stream.Score) else [score]  # type: ignore[attr-defined]


def _symbols_and_melody(parts: list, pickup: int) -> tuple[list[tuple[int, object]], object | None]:
    """Every chord symbol of every part with its tick, and the melody: the first part with notes
    (flattened, ties merged), or None."""
    from music21 import harmony, note

    symbols: list[tuple[int, object]] = []
    melody = None
    for part in parts:
        flat = part.stripTies().flatten()
        for cs in flat.getElementsByClass(harmony.ChordSymbol):
            symbols.append((_ticks(cs.offset) + pickup, cs))
        if melody is None and any(
            not isinstance(n, harmony.ChordSymbol) for n in flat.getElementsByClass(note.NotRest)
        ):
            melody = flat
    return symbols, melody


def _melody_notes(melody: object, pickup: int, skipped: Counter[str]) -> tuple[list[Note], int]:
    """The melody's notes in ticks (a chord keeps its top note; a note held past the next onset
    ends there) and how many notes were read."""
    from music21 import harmony, note

    notes: list[Note] = []
    read = 0
    for element in melody.getElementsByClass(note.NotRest):  # type: ignore[attr-defined]
        if isinstance(element, harmony.ChordSymbol):
            continue
        read += 1
        pitches = [p.midi for p in element.pitches]
        duration = _ticks(element.quarterLength)
        if not pitches or duration <= 0:
            skipped["grace or unpitched"] += 1
            continue
        velocity = element.volume.velocity if element.volume.velocity is not None else 90
        onset = _ticks(element.offset) + pickup
        add_highest(notes, Note(onset, duration, max(pitches), int(velocity)), skipped)
    notes.sort(key=lambda n: n.onset)
    clip_to_next(notes)
    return notes, read


def _chord(cs: object, where: str) -> Chord:
    """The Chord of a music21 ChordSymbol (rebuilt from root, kind, degrees and bass: music21 figures
    spell flats as ``-``, which chord dialects read as minor)."""
    return parse_chord(chord_text(cs, where), where)


def _pickup(part: object) -> int:
    """Ticks to add so an incomplete first measure ends on its bar line."""
    from music21 import stream

    measures = list(part.getElementsByClass(stream.Measure))  # type: ignore[attr-defined]
    if not measures:
        return 0
    padding = measures[0].paddingLeft or 0
    return _ticks(padding)


def _beats_per_bar(part: object) -> int:
    from music21 import meter

    found = part.recurse().getElementsByClass(meter.TimeSignature)  # type: ignore[attr-defined]
    ts = next(iter(found), None)
    if ts is None:
        return 4
    return max(1, round(ts.barDuration.quarterLength))


def _title(score: object) -> str:
    meta = getattr(score, "metadata", None)
    return (getattr(meta, "title", None) or "") if meta is not None else ""
