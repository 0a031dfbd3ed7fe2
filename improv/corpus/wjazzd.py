"""Weimar Jazz Database reader: ``wjazzd_notes_with_chords.csv`` (+ ``wjazzd_solos.csv``) to Lines.

One Line per solo (``melid``). Onsets come from the metrical annotation, not from seconds:
``beat = bar_start(bar) + (beat - 1) + (tatum - 1) / division``, snapped to the 12-tick grid, where
bars are counted from the solo's first bar (pickup bars included, so onsets are >= 0) and each bar
is as long as its own ``period``. Durations come from seconds over the local ``beatdur``, snapped to
the grid (at least one tick) and clipped at the next onset. The chord of each note (the ``chord``
column, parsed once per symbol) makes the Line's ``chord_at`` step function.
"""

from __future__ import annotations

import csv
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from improv.corpus.base import WJAZZD_NOTES, Progress, ReadResult, StepChords
from improv.errors import InputError
from improv.theory.harmony import NO_CHORD, Chord, parse_chord
from improv.theory.timing import TICKS_PER_BEAT
from improv.theory.values import Line, Note

log = logging.getLogger(__name__)

SOLOS_CSV = "wjazzd_solos.csv"
NEEDED = (
    "melid",
    "onset",
    "duration",
    "pitch",
    "bar",
    "beat",
    "tatum",
    "division",
    "period",
    "beatdur",
    "chord",
)
OPTIONAL = ("chorus_id",)


@dataclass(frozen=True)
class NoteRow:
    """One note row of the CSV, parsed."""

    seconds: float
    duration: float  # seconds
    pitch: int
    bar: int
    beat: int  # 1-based
    tatum: int  # 1-based
    division: int
    period: int  # beats in this bar
    beatdur: float  # seconds per beat here
    chord: str
    chorus: int = 0  # chorus_id (0 = before the first chorus); 0 when the column is absent


@dataclass(frozen=True)
class QuantNote:
    """A quantised note: ticks from the downbeat of the solo's first bar."""

    onset: int
    duration: int
    pitch: int
    chord: str
    chorus: int = 0
    bar: int = 0


def bar_starts(periods: dict[int, int]) -> dict[int, int]:
    """Tick of each bar's downbeat, from the first bar in ``periods`` (bar -> beats in it).

    Bars with no entry between the first and last take the period of the bar before them.
    """
    if not periods:
        return {}
    first, last = min(periods), max(periods)
    starts: dict[int, int] = {}
    tick = 0
    period = periods[first]
    for bar in range(first, last + 1):
        period = periods.get(bar, period)
        starts[bar] = tick
        tick += period * TICKS_PER_BEAT
    return starts


def position_ticks(bar_start: int, beat: int, tatum: int, division: int) -> int:
    """Onset tick of (beat, tatum/division) in a bar starting at ``bar_start``; halves round up."""
    sub = (2 * (tatum - 1) * TICKS_PER_BEAT + division) // (2 * division)
    return bar_start + (beat - 1) * TICKS_PER_BEAT + sub


def duration_ticks(seconds: float, beatdur: float) -> int:
    """A duration in seconds as ticks at the local tempo, at least 1."""
    return max(1, int(seconds / beatdur * TICKS_PER_BEAT + 0.5))


def quantise_solo(rows: Sequence[NoteRow], skipped: Counter[str]) -> list[QuantNote]:
    """Quantise one solo's rows (any order) to a monophonic list of notes sorted by onset.

    Rows that cannot be placed are counted in ``skipped`` by reason: ``zero duration``,
    ``bad position`` (beat/tatum outside the bar/beat), ``bad tempo`` (beatdur <= 0) and
    ``same onset`` (two notes snapped to one tick: the later one in the recording is kept).
    """
    good: list[NoteRow] = []
    for row in rows:
        if row.duration <= 0:
            skipped["zero duration"] += 1
        elif row.beatdur <= 0:
            skipped["bad tempo"] += 1
        elif not (
            row.period >= 1
            and row.division >= 1
            and 1 <= row.beat <= row.period
            and 1 <= row.tatum <= row.division
        ):
            skipped["bad position"] += 1
        else:
            good.append(row)
    if not good:
        return []
    periods: dict[int, int] = {}
    for row in good:
        periods.setdefault(row.bar, row.period)
    starts = bar_starts(periods)
    placed = sorted(
        ((position_ticks(starts[r.bar], r.beat, r.tatum, r.division), r.seconds, r) for r in good),
        key=lambda item: (item[0], item[1]),
    )
    kept: list[tuple[int, NoteRow]] = []
    for onset, _, row in placed:
        if kept and kept[-1][0] == onset:
            skipped["same onset"] += 1
            kept[-1] = (onset, row)
        else:
            kept.append((onset, row))
    notes: list[QuantNote] = []
    for i, (onset, row) in enumerate(kept):
        duration = duration_ticks(row.duration, row.beatdur)
        if i + 1 < len(kept):
            duration = min(duration, kept[i + 1][0] - onset)
        notes.append(QuantNote(onset, duration, row.pitch, row.chord, row.chorus, starts[row.bar]))
    return notes


def solo_meta(rows: Sequence[NoteRow], notes: Sequence[QuantNote]) -> dict:
    """What the conditioning needs beyond the notes: the median tempo (BPM) and the tick where each
    chorus starts (the downbeat of the first bar holding a note of that chorus)."""
    beats = sorted(r.beatdur for r in rows if r.beatdur > 0)
    starts: dict[int, int] = {}
    for note in notes:
        if note.chorus > 0:
            starts[note.chorus] = min(starts.get(note.chorus, note.bar), note.bar)
    return {
        "tempo": round(60.0 / beats[len(beats) // 2], 1) if beats else None,
        "chorus_ticks": [starts[c] for c in sorted(starts)],
    }


def make_line(
    name: str,
    notes: Sequence[QuantNote],
    parse: Callable[[str, str], Chord],
    beats_per_bar: int,
    meta: dict | None = None,
    where: str = "",
) -> Line:
    """A `Line` from quantised notes; ``parse(symbol, where)`` turns chord symbols into Chords."""
    line_notes = [Note(n.onset, n.duration, n.pitch) for n in notes]
    chords = StepChords((n.onset, parse(n.chord, where or name)) for n in notes)
    return Line(name, line_notes, chords, beats_per_bar, dict(meta or {}))


def read_wjazzd(path: str | Path, *, progress: Progress | None = None) -> ReadResult:
    """Read every solo of the notes CSV at ``path`` (the file or its directory) into Lines."""
    path = Path(path)
    notes_csv = path / WJAZZD_NOTES if path.is_dir() else path
    solos = _read_solos(notes_csv.with_name(SOLOS_CSV))
    skipped: Counter[str] = Counter()
    by_solo, rows_read = _read_notes(notes_csv, skipped)
    cache: dict[str, Chord] = {}

    unparsed: Counter[str] = Counter()

    def parse(symbol: str, where: str) -> Chord:
        chord = cache.get(symbol)
        if chord is None:
            try:
                chord = parse_chord(symbol, where)
            except InputError as exc:
                log.warning("%s; reading it as N.C.", exc)
                chord = NO_CHORD
            cache[symbol] = chord
        if chord is NO_CHORD and symbol.upper() not in ("NC", "N.C."):
            unparsed[symbol] += 1
        return chord

    lines = []
    total = len(by_solo)
    for done, (melid, rows) in enumerate(sorted(by_solo.items()), start=1):
        quantised = quantise_solo(rows, skipped)
        if progress is not None:
            progress(done, total)
        if not quantised:
            log.warning("%s: solo %d has no usable notes", notes_csv, melid)
            continue
        info = solos.get(melid, {})
        name = info.get("id") or f"melid {melid}"
        period = Counter(r.period for r in rows).most_common(1)[0][0]
        meta = {"melid": melid, "source": "wjazzd", **solo_meta(rows, quantised)}
        meta.update({k: v for k, v in info.items() if k in ("performer", "title", "signature")})
        lines.append(make_line(name, quantised, parse, period, meta, f"{notes_csv.name} melid {melid}"))
    if not lines:
        raise InputError(f"{notes_csv}: no notes")
    if skipped:
        log.info("%s: skipped %s", notes_csv, dict(skipped))
    return ReadResult(str(notes_csv), "wjazzd", lines, rows_read, skipped, unparsed)


def _read_notes(notes_csv: Path, skipped: Counter[str]) -> tuple[dict[int, list[NoteRow]], int]:
    """Rows grouped by melid, and how many note rows the file holds."""
    by_solo: dict[int, list[NoteRow]] = {}
    rows_read = 0
    try:
        with notes_csv.open(newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            col = _columns(header, notes_csv)
            width = max(col.values()) + 1
            for record in reader:
                if not record:
                    continue
                rows_read += 1
                row = _parse_row(record, col, width)
                if row is None:
                    skipped["unparsable row"] += 1
                    continue
                by_solo.setdefault(row[0], []).append(row[1])
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"{notes_csv}: cannot read: {exc}") from exc
    return by_solo, rows_read


def _columns(header: list[str] | None, where: Path) -> dict[str, int]:
    if not header:
        raise InputError(f"{where}: empty file")
    col = {name.strip(): i for i, name in enumerate(header)}
    missing = [name for name in NEEDED if name not in col]
    if missing:
        raise InputError(f"{where}: not a WJazzD notes CSV (missing columns: {', '.join(missing)})")
    return {name: col[name] for name in (*NEEDED, *OPTIONAL) if name in col}


def _parse_row(record: list[str], col: dict[str, int], width: int) -> tuple[int, NoteRow] | None:
    if len(record) < width:
        return None
    try:
        melid = int(record[col["melid"]])
        row = NoteRow(
            seconds=float(record[col["onset"]]),
            duration=float(record[col["duration"]]),
            pitch=int(record[col["pitch"]]),
            bar=int(record[col["bar"]]),
            beat=int(record[col["beat"]]),
            tatum=int(record[col["tatum"]]),
            division=int(record[col["division"]]),
            period=int(record[col["period"]]),
            beatdur=float(record[col["beatdur"]]),
            chord=record[col["chord"]].strip() or "NC",
            chorus=int(record[col["chorus_id"]] or 0) if "chorus_id" in col else 0,
        )
    except ValueError:
        return None
    if not 0 <= row.pitch <= 127:
        return None
    return melid, row


def _read_solos(solos_csv: Path) -> dict[int, dict[str, str]]:
    """melid -> {id, performer, title, signature}; empty when the file is absent or unreadable."""
    if not solos_csv.is_file():
        return {}
    solos: dict[int, dict[str, str]] = {}
    try:
        with solos_csv.open(newline="", encoding="utf-8") as fh:
            for record in csv.DictReader(fh):
                try:
                    melid = int(record.get("melid") or "")
                except ValueError:
                    continue
                solos[melid] = {
                    k: (record.get(k) or "").strip() for k in ("id", "performer", "title", "signature")
                }
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        log.warning("cannot read %s: %s", solos_csv, exc)
        return {}
    return solos
