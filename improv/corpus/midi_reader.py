"""General MIDI file reader: a melody line and chord symbols from any multitrack file.

Nothing is hard-coded. A *part* is the notes of one channel in one track. The melody is chosen with
``melody=`` (track name, track index or ``ch<N>`` for channel N = 1..16) or detected: among the
non-drum parts that are mostly monophonic and above the bass register, the one with the most
non-overlapping notes (ties: higher mean pitch). Chords come from ``chords=`` (track names or the
same selectors) or, by default, every polyphonic non-drum part. At each beat the sounding pitch
classes (weighted by how long they sound in the beat; the lowest one hints at the root) are matched
against chord templates, giving a symbol that `parse_chord` reads. The melody is made monophonic by
keeping the highest note where notes overlap. An optional window ``start``/``end`` (beats) keeps
the melody notes starting in ``[start, end)`` and moves ``start`` to tick 0.
"""

from __future__ import annotations

import logging
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import mido

from improv.corpus.base import ReadResult, StepChords, add_highest, clip_to_next
from improv.errors import InputError, closest, excerpt
from improv.theory.harmony import NO_CHORD, NOTE_NAMES, parse_chord
from improv.theory.timing import TICKS_PER_BEAT
from improv.theory.values import Line, Note

log = logging.getLogger(__name__)

DRUM_CHANNEL = 9  # 0-based (channel 10 for musicians)
MIN_MONOPHONY = 0.5  # share of notes that overlap no other note, for a melody candidate
MIN_MELODY_PITCH = 55.0  # mean pitch of a melody candidate (above the bass register)
POLYPHONIC = 0.5  # a part with fewer non-overlapping notes than this is a chord part

# (intervals above the root, WJazzD-style suffix); order = preference on equal scores
TEMPLATES: tuple[tuple[tuple[int, ...], str], ...] = (
    ((0, 4, 7, 10), "7"),
    ((0, 3, 7, 10), "-7"),
    ((0, 4, 7, 11), "j7"),
    ((0, 4, 7), ""),
    ((0, 3, 7), "-"),
    ((0, 3, 6, 10), "m7b5"),
    ((0, 3, 6, 9), "o7"),
    ((0, 4, 7, 9), "6"),
    ((0, 3, 7, 9), "-6"),
    ((0, 3, 7, 11), "-j7"),
    ((0, 5, 7, 10), "sus7"),
    ((0, 5, 7), "sus"),
    ((0, 3, 6), "o"),
    ((0, 4, 8), "+"),
)
TENSIONS = frozenset({2, 5, 9})  # 9, 11, 13: cheap extras in a voicing


@dataclass(frozen=True)
class MidiNote:
    """A note in MIDI ticks."""

    start: int
    end: int
    pitch: int
    velocity: int


@dataclass
class Part:
    """The notes of one channel (0-based) of one track."""

    track: int
    name: str
    channel: int
    notes: list[MidiNote]

    @property
    def label(self) -> str:
        """``3 'Guitar' ch6`` (channels 1-based, as musicians count)."""
        return f"{self.track} {self.name!r} ch{self.channel + 1}"

    @property
    def drum(self) -> bool:
        return self.channel == DRUM_CHANNEL

    @property
    def mean_pitch(self) -> float:
        return sum(n.pitch for n in self.notes) / len(self.notes) if self.notes else 0.0


@dataclass
class MidiFile:
    """The parts of a file with its grid: MIDI ticks per beat and beats per bar."""

    path: Path
    parts: list[Part]
    tpq: int
    beats_per_bar: int
    track_names: list[str]


def read_midi_file(path: str | Path) -> mido.MidiFile:
    """A MIDI file as mido reads it; one clear InputError for a missing, corrupt, truncated or type-2
    file, or one without ticks per beat (0 or SMPTE timing). Every MIDI reader goes through here."""
    path = Path(path)
    try:
        mid = mido.MidiFile(str(path))
    except FileNotFoundError as exc:
        raise InputError(f"{path}: no such file") from exc
    except EOFError as exc:
        raise InputError(f"{path}: corrupt or truncated MIDI file (it ends early)") from exc
    except Exception as exc:  # mido raises OSError, ValueError, KeyError, ...
        detail = str(exc) or type(exc).__name__
        raise InputError(f"{path}: corrupt or truncated MIDI file ({detail})") from exc
    if mid.type == 2:
        raise InputError(f"{path}: MIDI type 2 (independent sequences) is not supported")
    if mid.ticks_per_beat <= 0:  # mido gives SMPTE divisions as negative numbers
        raise InputError(f"{path}: MIDI file without a metrical time base "
                         f"({'SMPTE timing' if mid.ticks_per_beat else '0 ticks per beat'})")
    return mid


def open_midi(path: str | Path) -> MidiFile:
    """Read the notes of every track and channel; InputError for unreadable files."""
    path = Path(path)
    mid = read_midi_file(path)
    tpq = mid.ticks_per_beat
    parts: list[Part] = []
    names: list[str] = []
    signatures: list[tuple[int, int, int]] = []
    for index, track in enumerate(mid.tracks):
        name, notes_by_channel = _track_notes(track, signatures)
        names.append(name or f"track {index}")
        for channel, notes in sorted(notes_by_channel.items()):
            parts.append(Part(index, name or f"track {index}", channel, notes))
    return MidiFile(path, parts, tpq, _beats_per_bar(signatures, path), names)


def _track_notes(
    track: Iterable[mido.Message], signatures: list[tuple[int, int, int]]
) -> tuple[str, dict[int, list[MidiNote]]]:
    """Pair note-ons with the first later note-off of the same channel and key (FIFO)."""
    name = ""
    now = 0
    pending: dict[tuple[int, int], list[tuple[int, int]]] = defaultdict(list)
    notes: dict[int, list[MidiNote]] = defaultdict(list)
    for msg in track:
        now += msg.time
        kind = msg.type
        if kind == "note_on" and msg.velocity > 0:
            pending[(msg.channel, msg.note)].append((now, msg.velocity))
        elif kind in ("note_off", "note_on"):
            queue = pending.get((msg.channel, msg.note))
            if queue:
                start, velocity = queue.pop(0)
                notes[msg.channel].append(MidiNote(start, now, msg.note, velocity))
        elif kind == "track_name" and not name:
            name = msg.name.strip()
        elif kind == "time_signature":
            signatures.append((now, msg.numerator, msg.denominator))
    for channel in notes:
        notes[channel].sort(key=lambda n: (n.start, -n.pitch))
    return name, notes


def _beats_per_bar(signatures: list[tuple[int, int, int]], path: Path) -> int:
    if not signatures:
        return 4
    signatures.sort()
    _, num, den = signatures[0]
    if len({(n, d) for _, n, d in signatures}) > 1:
        log.warning("%s: time signature changes; using the first, %d/%d", path, num, den)
    return max(1, round(num * 4 / den))


def monophony(notes: Sequence[MidiNote], tolerance: int) -> float:
    """Share of notes that overlap no other note by more than ``tolerance`` ticks."""
    if not notes:
        return 0.0
    overlapping: set[int] = set()
    for i, note in enumerate(notes):
        j = i + 1
        while j < len(notes) and notes[j].start < note.end - tolerance:
            overlapping.add(i)
            overlapping.add(j)
            j += 1
    return 1.0 - len(overlapping) / len(notes)


def select_parts(midi: MidiFile, selector: str | int, role: str) -> list[Part]:
    """Parts matching a track index, ``ch<N>`` (channel 1-16) or a track name (case-insensitive)."""
    text = str(selector).strip()
    if re.fullmatch(r"\d+", text):
        found = [p for p in midi.parts if p.track == int(text)]
    elif m := re.fullmatch(r"(?i)(?:ch|channel)\s*[:=]?\s*(\d+)", text):
        found = [p for p in midi.parts if p.channel + 1 == int(m.group(1))]
    else:
        found = [p for p in midi.parts if p.name.lower() == text.lower()]
        if not found:
            found = [p for p in midi.parts if text.lower() in p.name.lower()]
    if not found:
        listing = closest(text, [f"{i} {n}" for i, n in enumerate(midi.track_names)], "tracks")
        raise InputError(
            f"{midi.path}: no {role} track {excerpt(text)} with notes ({listing}; "
            "select by name, index, or ch<N> for channel N)"
        )
    return found


def detect_melody(midi: MidiFile) -> Part:
    """The melody part: mostly monophonic, above the bass, with the most non-overlapping notes."""
    tolerance = midi.tpq // 8
    candidates = [p for p in midi.parts if not p.drum and p.notes]
    if not candidates:
        why = "only drum notes (channel 10)" if midi.parts else "no notes"
        raise InputError(f"{midi.path}: no usable melody: the file has {why}")
    scored = [(monophony(p.notes, tolerance), p) for p in candidates]
    mono = [(m, p) for m, p in scored if m >= MIN_MONOPHONY]
    if not mono:
        raise InputError(
            f"{midi.path}: no usable melody: every non-drum track is polyphonic "
            f"({', '.join(p.label for p in candidates)}); choose one with --melody"
        )
    high = [(m, p) for m, p in mono if p.mean_pitch >= MIN_MELODY_PITCH]
    pool = high or mono
    best = max(pool, key=lambda mp: (mp[0] * len(mp[1].notes), mp[1].mean_pitch))[1]
    log.info("melody detected: %s", best.label)
    return best


def detect_chord_parts(midi: MidiFile, melody: Sequence[Part]) -> list[Part]:
    """Polyphonic non-drum parts other than the melody."""
    tolerance = midi.tpq // 8
    return [
        p
        for p in midi.parts
        if not p.drum and p not in melody and len(p.notes) >= 2 and monophony(p.notes, tolerance) < POLYPHONIC
    ]


def skyline(notes: Iterable[MidiNote]) -> list[MidiNote]:
    """A monophonic line: where notes overlap the highest one is kept.

    A note starting under a higher sounding note is dropped; a higher note starting under a lower
    one cuts the lower one off.
    """
    line: list[MidiNote] = []
    for note in sorted(notes, key=lambda n: (n.start, -n.pitch)):
        if line and note.start < line[-1].end:
            last = line[-1]
            if note.pitch <= last.pitch:
                continue
            if note.start <= last.start:
                line.pop()
            else:
                line[-1] = MidiNote(last.start, note.start, last.pitch, last.velocity)
        line.append(note)
    return line


def chord_symbol(weights: Sequence[float], bass: int | None) -> str | None:
    """The best template match for pitch-class weights (12 floats), or None when silent."""
    total = sum(weights)
    if total <= 0:
        return None
    top = max(weights)
    best: tuple[float, str] | None = None
    for root in range(12):
        if weights[root] <= 0:
            continue
        for intervals, suffix in TEMPLATES:
            tones = {(root + i) % 12 for i in intervals}
            score = 0.0
            for pc in range(12):
                w = weights[pc]
                if pc in tones:
                    score += w if w > 0 else -0.3 * top * (0.3 if pc == (root + 7) % 12 else 1.0)
                elif w > 0:
                    score -= w * (0.3 if (pc - root) % 12 in TENSIONS else 1.0)
            if bass == root:
                score += 0.5 * top
            if best is None or score > best[0] + 1e-9:
                best = (score, NOTE_NAMES[root] + suffix)
    return best[1] if best else None


def detect_bass_parts(midi: MidiFile, exclude: Sequence[Part]) -> list[Part]:
    """Mostly monophonic non-drum parts below the melody register (they hint at chord roots)."""
    tolerance = midi.tpq // 8
    return [
        p
        for p in midi.parts
        if not p.drum
        and p not in exclude
        and p.notes
        and p.mean_pitch < MIN_MELODY_PITCH - 5
        and monophony(p.notes, tolerance) >= MIN_MONOPHONY
    ]


class _Sounding:
    """The notes of some parts sounding in successive windows (windows must move forward)."""

    def __init__(self, parts: Sequence[Part]) -> None:
        self.notes = sorted((n for p in parts for n in p.notes), key=lambda n: n.start)
        self.next = 0
        self.active: list[MidiNote] = []

    def window(self, lo: int, hi: int) -> list[tuple[MidiNote, int]]:
        """(note, ticks it sounds inside [lo, hi)) for the notes sounding there."""
        while self.next < len(self.notes) and self.notes[self.next].start < hi:
            self.active.append(self.notes[self.next])
            self.next += 1
        self.active = [n for n in self.active if n.end > lo]
        found = []
        for n in self.active:
            overlap = min(n.end, hi) - max(n.start, lo)
            if overlap > 0:
                found.append((n, overlap))
        return found


def beat_chords(
    parts: Sequence[Part],
    tpq: int,
    first: int,
    last: int,
    bass_parts: Sequence[Part] = (),
) -> list[tuple[int, str]]:
    """(beat, symbol) where chord notes sound, for the beats in [first, last) where what sounds
    can change (a chord holds over the beats between: ``StepChords`` reads it so).

    The lowest sounding note of ``bass_parts`` (else of ``parts``) is the root hint; bass notes
    also add half weight to their pitch class. Work is bounded by the number of notes, not by the
    length of the file: only beats where a note starts or ends, and the beat after, are looked at.
    """
    chords, basses = _Sounding(parts), _Sounding(bass_parts)
    out: list[tuple[int, str]] = []
    for beat in _changing_beats([*parts, *bass_parts], tpq, first, last):
        lo, hi = beat * tpq, (beat + 1) * tpq
        weights = [0.0] * 12
        sounding = chords.window(lo, hi)
        for n, overlap in sounding:
            weights[n.pitch % 12] = min(1.0, weights[n.pitch % 12] + overlap / tpq)
        if not any(weights):
            continue
        below = basses.window(lo, hi)
        for n, overlap in below:
            weights[n.pitch % 12] = min(1.0, weights[n.pitch % 12] + 0.5 * overlap / tpq)
        lowest = min(below or sounding, key=lambda item: item[0].pitch)[0]
        symbol = chord_symbol(weights, lowest.pitch % 12)
        if symbol is not None:
            out.append((beat, symbol))
    return out


def _changing_beats(parts: Sequence[Part], tpq: int, first: int, last: int) -> list[int]:
    """The beats in [first, last) where the sounding notes may differ from the beat before: those
    a note starts or ends in, and the beat after each (a beat covered whole by the same notes as
    the one before gives the same chord)."""
    beats: set[int] = set()
    for part in parts:
        for n in part.notes:
            begin, finish = n.start // tpq, max(n.start, n.end - 1) // tpq
            beats.update((begin, begin + 1, finish, finish + 1))
    return sorted(b for b in beats if first <= b < last)


def read_midi(
    path: str | Path,
    *,
    melody: str | int | None = None,
    chords: str | Sequence[str] | None = None,
    start: float | None = None,
    end: float | None = None,
) -> ReadResult:
    """One Line from a MIDI file: the melody with chord symbols detected at every beat."""
    midi = open_midi(path)
    if not any(p.notes for p in midi.parts):
        raise InputError(f"{midi.path}: no notes")
    mel_parts = select_parts(midi, melody, "melody") if melody is not None else [detect_melody(midi)]
    if chords is None:
        chord_parts = detect_chord_parts(midi, mel_parts)
    else:
        names = [c for c in chords.split(",")] if isinstance(chords, str) else list(chords)
        chord_parts = [p for c in names if c.strip() for p in select_parts(midi, c, "chord")]
    skipped: Counter[str] = Counter()
    raw = [n for p in mel_parts for n in p.notes]
    mono = skyline(raw)
    if len(mono) < len(raw):
        skipped["under a higher note"] += len(raw) - len(mono)
    lo = 0 if start is None else round(start * midi.tpq)
    hi = None if end is None else round(end * midi.tpq)
    if start is not None and start % midi.beats_per_bar:
        log.warning("%s: window start %s is not on a bar line", midi.path, start)
    windowed = [n for n in mono if n.start >= lo and (hi is None or n.start < hi)]
    if len(windowed) < len(mono):
        skipped["outside the window"] += len(mono) - len(windowed)
    labels = ", ".join(p.label for p in mel_parts)
    if not windowed:
        where = f" in the window {start}..{end}" if start is not None or end is not None else ""
        raise InputError(f"{midi.path}: no usable melody: no notes in {labels}{where}")
    notes = _to_ticks(windowed, lo, midi.tpq, skipped)
    first_beat = lo // midi.tpq
    last_beat = (hi if hi is not None else max(n.end for n in windowed)) // midi.tpq + 1
    bass_parts = detect_bass_parts(midi, [*mel_parts, *chord_parts])
    symbols = beat_chords(chord_parts, midi.tpq, first_beat, last_beat, bass_parts)
    if symbols:
        changes = [
            ((beat - first_beat) * TICKS_PER_BEAT, parse_chord(sym, f"{midi.path} beat {beat}"))
            for beat, sym in symbols
        ]
    else:
        log.warning("%s: no chord notes found; the melody is read against N.C.", midi.path)
        changes = [(0, NO_CHORD)]
    line = Line(
        f"{midi.path.stem}:{mel_parts[0].name}",
        notes,
        StepChords(changes),
        midi.beats_per_bar,
        {
            "source": "midi",
            "melody": labels,
            "chords": ", ".join(p.label for p in chord_parts),
            "bass": ", ".join(p.label for p in bass_parts),
        },
    )
    return ReadResult(str(midi.path), "midi", [line], len(raw), skipped)


def _to_ticks(notes: Sequence[MidiNote], origin: int, tpq: int, skipped: Counter[str]) -> list[Note]:
    """MIDI ticks to grid ticks from ``origin``; same-tick collisions keep the higher note."""
    out: list[Note] = []
    for n in notes:
        onset = round((n.start - origin) * TICKS_PER_BEAT / tpq)
        duration = max(1, round((n.end - n.start) * TICKS_PER_BEAT / tpq))
        add_highest(out, Note(onset, duration, n.pitch, n.velocity), skipped)
    clip_to_next(out)
    return out
