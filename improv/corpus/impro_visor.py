"""Impro-Visor leadsheet reader: ``.ls`` files (melody + chords, S-expressions) to Lines.

A leadsheet has a header (``(meter 4 4)``, ``(tempo 160.0)``, ``(title ...)``), one ``(part (type chords)
...)`` and one or more ``(part (type melody) ...)`` blocks (one per chorus). Chords are written bar by bar
between ``|``; the chords of a bar share it equally and ``/`` repeats the previous chord. Melody tokens are
``pitch[#|b][+|-]*duration``: ``c`` is middle C (MIDI 60), each ``+``/``-`` an octave; ``r`` is a rest;
durations are 1 2 4 8 16 32 (whole .. 32nd), ``/3`` makes a triplet and ``+`` ties (``4+8`` = dotted
quarter). The melody parts run one after the other; the chord part loops under them (one chorus each).

One Line per file, time in integer ticks (``improv.theory.timing``): onsets are computed exactly (fractions)
and snapped to the 12-tick grid, durations at least one tick. ``meta`` holds title, composer, tempo (BPM),
meter and ``source = "impro-visor"``. A directory is read recursively (every ``*.ls`` under it, sorted).
Impro-Visor data is GPL-2: use it as an evaluation reference, never as training data for the shipped model.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from fractions import Fraction
from pathlib import Path

from improv.corpus.base import ReadResult, StepChords
from improv.errors import InputError
from improv.theory.harmony import NO_CHORD, Chord, parse_chord
from improv.theory.timing import DEFAULT_TEMPO, TICKS_PER_BEAT
from improv.theory.values import Line, Note

log = logging.getLogger(__name__)

SUFFIX = ".ls"
MAX_BYTES = 4_000_000  # a leadsheet is a few kB; refuse anything absurd
_NOTE = re.compile(r"^([a-gr])([#b]?)([+-]*)(\d.*)$")
_DURATION = re.compile(r"^(\d+)(?:/(\d+))?$")
_LETTER = {"c": 0, "d": 2, "e": 4, "f": 5, "g": 7, "a": 9, "b": 11}
_WHOLE = Fraction(4)  # beats in a whole note


def parse_duration(text: str) -> Fraction:
    """Beats of ``4``, ``8/3``, ``4+8``; ValueError for anything else."""
    total = Fraction(0)
    for part in text.split("+"):
        match = _DURATION.match(part)
        if not match or int(match.group(1)) <= 0:
            raise ValueError(f"bad duration {text[:20]!r}")
        beats = _WHOLE / int(match.group(1))
        if match.group(2):
            tuplet = int(match.group(2))
            if tuplet <= 0:
                raise ValueError(f"bad duration {text[:20]!r}")
            beats *= Fraction(1 << (tuplet.bit_length() - 1), tuplet)  # 3 in the time of 2, 5 of 4, ...
        total += beats
    return total


def parse_note(token: str) -> tuple[int | None, Fraction]:
    """(MIDI pitch or None for a rest, beats) of one melody token; ValueError if it is not one."""
    match = _NOTE.match(token)
    if not match:
        raise ValueError(f"bad note {token[:20]!r}")
    letter, accidental, octaves, duration = match.groups()
    beats = parse_duration(duration)
    if letter == "r":
        return None, beats
    pitch = 60 + _LETTER[letter] + {"#": 1, "b": -1, "": 0}[accidental]
    pitch += 12 * (octaves.count("+") - octaves.count("-"))
    if not 0 <= pitch <= 127:
        raise ValueError(f"note {token[:20]!r} outside MIDI range")
    return pitch, beats


def _strip_groups(text: str) -> str:
    """The text outside every parenthesised group (nested ones included), in one pass; a stray ``)`` is
    dropped."""
    out, depth = [], 0
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(0, depth - 1)
            out.append(" ")
        elif depth == 0:
            out.append(ch)
    return "".join(out)


def _parts(text: str) -> list[tuple[str, str]]:
    """(type, body without sub-groups) of every ``(part ...)``, the body running to the next part."""
    pieces = re.split(r"\(part\b", text)[1:]
    parts = []
    for piece in pieces:
        kind = re.search(r"\(type\s+(\w+)\)", piece)
        parts.append((kind.group(1) if kind else "", _strip_groups(piece)))
    return parts


def _header(text: str, key: str) -> str | None:
    match = re.search(rf"^\({key}\s+([^)]*)\)", text, re.M)
    return match.group(1).strip() if match else None


def parse_chords(
    body: str, beats_per_bar: int, where: str, unparsed: Counter[str]
) -> tuple[list[tuple[Fraction, Chord]], Fraction]:
    """(start beat, chord) of every chord of a chord part, and its length in beats.

    Bars are separated by ``|`` and share their chords equally."""
    changes: list[tuple[Fraction, Chord]] = []
    cache: dict[str, Chord] = {}
    previous: Chord = NO_CHORD
    bars = [bar.split() for bar in body.split("|")]
    start = Fraction(0)
    for bar in bars:
        if not bar:
            continue
        slot = Fraction(beats_per_bar, len(bar))
        for i, symbol in enumerate(bar):
            if symbol != "/":
                chord = cache.get(symbol)
                if chord is None:
                    chord = _chord(symbol, where, unparsed)
                    cache[symbol] = chord
                previous = chord
            changes.append((start + i * slot, previous))
        start += beats_per_bar
    if not changes:
        raise InputError(f"{where}: the chord part has no chords")
    return changes, start


def _chord(symbol: str, where: str, unparsed: Counter[str]) -> Chord:
    if symbol.upper() in ("NC", "N.C."):
        return NO_CHORD
    try:
        return parse_chord(symbol, where)
    except InputError as exc:
        log.warning("%s; reading it as N.C.", exc)
        unparsed[symbol] += 1
        return NO_CHORD


def parse_melody(body: str, skipped: Counter[str]) -> tuple[list[tuple[Fraction, Fraction, int]], Fraction]:
    """(onset, beats, pitch) of the notes of one melody part and its length in beats."""
    notes = []
    clock = Fraction(0)
    for token in body.split():
        try:
            pitch, beats = parse_note(token)
        except ValueError:
            skipped["unparsable token"] += 1
            continue
        if pitch is not None:
            notes.append((clock, beats, pitch))
        clock += beats
    return notes, clock


def _ticks(beats: Fraction) -> int:
    return int(round(beats * TICKS_PER_BEAT))


def read_leadsheet(path: Path, skipped: Counter[str], unparsed: Counter[str]) -> tuple[Line | None, int]:
    """One Line from one ``.ls`` file (None if it has no melody notes), and how many notes it holds."""
    try:
        if path.stat().st_size > MAX_BYTES:
            raise InputError(f"{path}: larger than {MAX_BYTES} bytes; not a leadsheet")
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc}") from exc
    meter = (_header(text, "meter") or "4 4").split()
    try:
        beats_per_bar = int(meter[0])
        tempo = float(_header(text, "tempo") or DEFAULT_TEMPO)
    except (ValueError, IndexError):
        raise InputError(f"{path}: bad meter or tempo header") from None
    if not 1 <= beats_per_bar <= 16:
        raise InputError(f"{path}: meter {' '.join(meter)[:20]} is not supported")
    parts = _parts(text)
    chord_bodies = [body for kind, body in parts if kind == "chords"]
    if not chord_bodies:
        raise InputError(f"{path}: no chord part")
    changes, form = parse_chords(chord_bodies[0], beats_per_bar, str(path), unparsed)
    notes: list[Note] = []
    clock = Fraction(0)
    choruses = 0
    for kind, body in parts:
        if kind != "melody":
            continue
        found, length = parse_melody(body, skipped)
        notes += [Note(_ticks(clock + on), max(1, _ticks(beats)), p) for on, beats, p in found]
        clock += length
        choruses += 1
    if not notes:
        return None, 0
    return _line(path, text, notes, changes, form, clock, beats_per_bar, tempo, choruses), len(notes)


def _line(path, text, notes, changes, form, length, beats_per_bar, tempo, choruses) -> Line:
    """The Line: notes de-duplicated by onset, chords looped over the melody's length."""
    by_onset: dict[int, Note] = {}
    for note in notes:
        by_onset[note.onset] = note  # a grace note snapped onto the next: the later wins
    ordered = sorted(by_onset.values(), key=lambda n: n.onset)
    clipped = [
        Note(n.onset, max(1, min(n.duration, nxt.onset - n.onset)), n.pitch)
        for n, nxt in zip(ordered, ordered[1:], strict=False)
    ] + ordered[-1:]
    loops = max(1, int(-(-length // form)))
    chords = StepChords(
        (_ticks(k * form + start), chord) for k in range(loops) for start, chord in changes
    )
    meta = {
        "source": "impro-visor",
        "title": _header(text, "title") or path.stem,
        "composer": _header(text, "composer") or "",
        "tempo": tempo,
        "signature": f"{beats_per_bar}/4",
        "form_ticks": _ticks(form),
        "choruses": choruses,
    }
    return Line(path.stem, clipped, chords, beats_per_bar, meta)


def read_impro_visor(path: str | Path) -> ReadResult:
    """Every leadsheet at ``path`` (one ``.ls`` file, or a directory read recursively) as Lines."""
    path = Path(path)
    files = sorted(path.rglob(f"*{SUFFIX}")) if path.is_dir() else [path]
    if not files:
        raise InputError(f"{path}: no {SUFFIX} leadsheets in it")
    skipped: Counter[str] = Counter()
    unparsed: Counter[str] = Counter()
    lines, read = [], 0
    for file in files:
        line, count = read_leadsheet(file, skipped, unparsed)
        read += count
        if line is None:
            skipped["leadsheet without melody"] += 1
            continue
        line.meta["path"] = str(file.relative_to(path)) if path.is_dir() else file.name
        lines.append(line)
    if not lines:
        raise InputError(f"{path}: no melody notes in any leadsheet")
    return ReadResult(str(path), "impro-visor", lines, read, skipped, unparsed)
