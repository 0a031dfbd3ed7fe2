"""The values grammar: a monophonic line as chord-relative tokens, and back.

A *value* is one token ``KIND,DURATION[,LEAP]``:

- KIND is the note's relation to the chord sounding at its onset: ``C`` chord tone, ``S`` scale tone of the
  chord scale, ``A`` approach tone (a semitone from a chord tone), ``X`` anything else, ``R`` a rest.
- DURATION is the time to the next value, in ticks (12 per beat), from a fixed set that covers straight and
  triplet subdivisions. Onsets are implied by the running sum of durations, so nothing needs placing.
- LEAP is the interval in semitones from the previous sounding note (rests do not reset it). A note with no
  leap is an *anchor*: the first note of a line or of a phrase after a long rest.

Compared with the seed grammar (``seed_grammar`` keeps that for compatibility): pitch classes instead of
spelled names, rests are values, onsets follow from durations, one seeded generator for every choice,
and a sorted, versioned vocabulary.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from improv.errors import InputError
from improv.theory.harmony import Chord
from improv.theory.timing import TICKS_PER_BEAT

KINDS = ("C", "S", "A", "X", "R")
# Durations a value may take, in ticks: 16th-triplet (2), 16th (3), 8th-triplet (4), 8th (6),
# quarter-triplet (8), dotted 8th (9), quarter (12), half-triplet (16), dotted quarter (18), half (24),
# dotted half (36) and whole (48).
DURATIONS = (2, 3, 4, 6, 8, 9, 12, 16, 18, 24, 36, 48)
MAX_LEAP = 12  # leaps beyond an octave are folded into it
REST_MIN = 6  # a silence shorter than an eighth is articulation, not a rest
PHRASE_GAP = 2 * TICKS_PER_BEAT  # a rest this long starts a new phrase (next note is an anchor)
SLACK = 3  # decoding looks for the kind within +-SLACK semitones of the leap (the seed's minor third)
VOCAB_FORMAT = "improv-vocab"
VOCAB_VERSION = 1


@dataclass(frozen=True)
class Value:
    """One grammar token."""

    kind: str
    duration: int
    leap: int | None = None

    def __str__(self) -> str:
        text = f"{self.kind},{self.duration / TICKS_PER_BEAT:.3f}"
        return text if self.leap is None else f"{text},{self.leap:+d}"

    @property
    def sort_key(self) -> tuple[str, int, int]:
        """Stable order for the vocabulary: kind, duration, then leap (anchors first)."""
        return (self.kind, self.duration, -100 if self.leap is None else self.leap)

    @classmethod
    def parse(cls, text: str) -> Value:
        """Read ``C,0.250,+2`` back into a Value."""
        parts = text.split(",")
        if len(parts) not in (2, 3) or parts[0] not in KINDS:
            raise InputError(f"malformed value {text!r}")
        try:
            duration = int(round(float(parts[1]) * TICKS_PER_BEAT))
            leap = int(parts[2]) if len(parts) == 3 else None
        except ValueError as exc:
            raise InputError(f"malformed value {text!r}") from exc
        return cls(parts[0], duration, leap)


@dataclass(frozen=True)
class Note:
    """A note of a line, in ticks."""

    onset: int
    duration: int
    pitch: int
    velocity: int = 90


@dataclass
class Line:
    """A monophonic line with the harmony under it (what corpus readers produce)."""

    name: str
    notes: list[Note]
    chord_at: Callable[[int], Chord]
    beats_per_bar: int = 4
    meta: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Token:
    """A value placed in time, with the chord sounding where it starts."""

    value: Value
    onset: int
    chord: Chord


def classify(pitch: int, chord: Chord) -> str:
    """The kind of a pitch against a chord: C, S, A or X (pitch classes, never spelling)."""
    pc = pitch % 12
    if pc in chord.tones:
        return "C"
    if pc in chord.scale:
        return "S"
    if (pc + 1) % 12 in chord.tones or (pc - 1) % 12 in chord.tones:
        return "A"
    return "X"


def split_duration(ticks: int) -> list[int]:
    """Write a span of ticks as grid durations, longest first (greedy; the last may round)."""
    parts: list[int] = []
    while ticks >= DURATIONS[0]:
        part = max(d for d in DURATIONS if d <= ticks)
        parts.append(part)
        ticks -= part
    if ticks > 0 and parts:
        parts[-1] = nearest_duration(parts[-1] + ticks)
    elif ticks > 0:
        parts.append(DURATIONS[0])
    return parts


def nearest_duration(ticks: int) -> int:
    """The grid duration nearest to ``ticks`` (ties go to the shorter)."""
    return min(DURATIONS, key=lambda d: (abs(d - ticks), d))


def fold_leap(leap: int) -> int:
    """Fold a leap larger than an octave into the octave, keeping its direction."""
    while abs(leap) > MAX_LEAP:
        leap -= 12 if leap > 0 else -12
    return leap


@dataclass(frozen=True)
class Event:
    """One step of a line on the value grid: a note (``pitch``) or a rest (``pitch`` None).

    ``prev`` is the previous sounding pitch and ``anchor`` says the note starts a phrase (no leap).
    """

    onset: int
    duration: int
    pitch: int | None
    prev: int | None
    anchor: bool


def events(line: Line) -> list[Event]:
    """A line as grid events: notes and rests whose durations sum to the real onsets.

    Each note lasts until the next onset (short gaps are articulation); a gap of an eighth or more becomes
    rest events. Durations are snapped to the grid with the error carried forward, so the running sum
    stays within a tick or two of the real onsets and never drifts. Every vocabulary encodes these.
    """
    out: list[Event] = []
    notes = sorted(line.notes, key=lambda n: n.onset)
    if not notes:
        return out
    clock = notes[0].onset  # running sum of durations: where the next value starts
    prev_pitch: int | None = None
    silence = PHRASE_GAP  # the first note is an anchor
    for i, note in enumerate(notes):
        next_onset = notes[i + 1].onset if i + 1 < len(notes) else note.onset + note.duration
        span = max(next_onset - clock, 1)
        sounding = min(max(note.duration - (clock - note.onset), 1), span)
        if span - sounding < REST_MIN:
            sounding = span  # legato: a short gap is articulation
        duration = nearest_duration(min(sounding, DURATIONS[-1]))
        anchor = prev_pitch is None or silence >= PHRASE_GAP
        out.append(Event(clock, duration, note.pitch, prev_pitch, anchor))
        clock += duration
        prev_pitch, silence = note.pitch, 0
        if next_onset - clock >= REST_MIN:
            for part in split_duration(next_onset - clock):
                out.append(Event(clock, part, None, prev_pitch, False))
                clock += part
                silence += part
    return out


def encode(line: Line) -> list[Token]:
    """Encode a line as kind/leap tokens (see ``events`` for the timing)."""
    tokens: list[Token] = []
    for ev in events(line):
        chord = line.chord_at(ev.onset)
        if ev.pitch is None:
            tokens.append(Token(Value("R", ev.duration), ev.onset, chord))
            continue
        leap = None if ev.anchor or ev.prev is None else fold_leap(ev.pitch - ev.prev)
        tokens.append(Token(Value(classify(ev.pitch, chord), ev.duration, leap), ev.onset, chord))
    return tokens


def tokens_to_notes(tokens: Iterable[Token]) -> list[tuple[int, int, str]]:
    """(onset, duration, kind) of the sounding values: a debugging and test view."""
    return [(t.onset, t.value.duration, t.value.kind) for t in tokens if t.value.kind != "R"]


def decode(
    value: Value,
    chord: Chord,
    prev: int | None,
    rng: np.random.Generator,
    *,
    low: int = 48,
    high: int = 84,
    centre: int = 66,
    max_leap: int = 12,
) -> int | None:
    """A pitch for a value against a chord (None for a rest).

    A leap looks for the value's kind within +-SLACK semitones of ``prev + leap``, preferring the nearest;
    a leap that would leave [low, high] is mirrored (register steering). An anchor picks a pitch of the
    kind near ``centre``. With no candidate of the kind, the nearest pitch in range is taken.
    """
    if value.kind == "R":
        return None
    if prev is None or value.leap is None:
        return _pick(value.kind, chord, centre, 6, low, high, rng, prev, max_leap)
    leap = value.leap
    if not low <= prev + leap <= high:
        leap = -leap
    target = prev + leap
    return _pick(value.kind, chord, target, SLACK, low, high, rng, prev, max_leap)


def _pick(
    kind: str,
    chord: Chord,
    target: int,
    reach: int,
    low: int,
    high: int,
    rng: np.random.Generator,
    prev: int | None,
    max_leap: int,
) -> int:
    """Choose a pitch of ``kind`` near ``target`` (within ``reach``), weighted by closeness.

    Pitches stay within [low, high] and within ``max_leap`` of ``prev``; with no pitch of the kind
    there, the target itself is taken, clamped into those bounds.
    """
    floor, ceiling = low, high
    if prev is not None:
        floor, ceiling = max(floor, prev - max_leap), min(ceiling, prev + max_leap)
    lo, hi = max(floor, target - reach), min(ceiling, target + reach)
    candidates = [p for p in range(lo, hi + 1) if classify(p, chord) == kind]
    if not candidates:
        return int(min(max(target, floor), ceiling))
    weights = np.exp(-np.abs(np.array(candidates) - target) / (1.0 if reach <= SLACK else 3.0))
    return int(candidates[int(rng.choice(len(candidates), p=weights / weights.sum()))])


def read_vocab_json(path: Path) -> object:
    """A ``vocab.json`` parsed (InputError naming the file when it cannot be read or parsed)."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read vocabulary {path}: {exc}") from exc


class Vocabulary:
    """The sorted list of values a model knows, with a map for rare values to their nearest known one.

    Subclasses (``degrees.DegreeVocabulary``) set ``format``, ``version``, ``value_type`` and ``distance``.
    """

    format = VOCAB_FORMAT
    version = VOCAB_VERSION
    value_type = Value

    def __init__(self, values: Iterable[Value]) -> None:
        self.values: list[Value] = sorted(set(values), key=lambda v: v.sort_key)
        self._index = {v: i for i, v in enumerate(self.values)}
        self._nearest: dict[Value, Value] = {}

    def __len__(self) -> int:
        return len(self.values)

    def __contains__(self, value: object) -> bool:
        return value in self._index

    @classmethod
    def build(cls, values: Iterable[Value], min_count: int = 1) -> tuple[Vocabulary, int]:
        """Keep values seen at least ``min_count`` times; returns the vocabulary and how many were rare."""
        counts = Counter(values)
        kept = [v for v, n in counts.items() if n >= min_count]
        rare = sum(1 for n in counts.values() if n < min_count)
        return cls(kept), rare

    def index(self, value: Value) -> int:
        """The index of a value, mapping an unknown value to its nearest known one."""
        found = self._index.get(value)
        return found if found is not None else self._index[self.nearest(value)]

    def nearest(self, value: Value) -> Value:
        """The known value closest to ``value``: same kind if possible, then duration, then leap."""
        if value in self._index:
            return value
        cached = self._nearest.get(value)
        if cached is None:
            cached = min(self.values, key=lambda v: self.distance(value, v))
            self._nearest[value] = cached
        return cached

    def to_json(self, extra: dict | None = None) -> dict:
        """A JSON-able description (format, version, grid, values in index order)."""
        data = {
            "format": self.format,
            "version": self.version,
            "ticks_per_beat": TICKS_PER_BEAT,
            "values": [str(v) for v in self.values],
        }
        data.update(extra or {})
        return data

    def save(self, path: Path, extra: dict | None = None) -> None:
        """Write ``vocab.json``."""
        path.write_text(json.dumps(self.to_json(extra), indent=1) + "\n")

    @classmethod
    def load(cls, path: Path) -> tuple[Vocabulary, dict]:
        """Read ``vocab.json``; returns the vocabulary and the whole JSON (for conditioning settings)."""
        return cls.checked(read_vocab_json(path), path)

    @classmethod
    def checked(cls, data: object, path: Path) -> tuple[Vocabulary, dict]:
        """The vocabulary of a parsed ``vocab.json`` of this class's format and version, and the JSON."""
        kind = (data.get("format"), data.get("version")) if isinstance(data, dict) else None
        if kind != (cls.format, cls.version):
            raise InputError(f"{path} is not an improv vocabulary (format/version mismatch)")
        assert isinstance(data, dict)
        return cls.from_json(data, path), data

    @classmethod
    def from_json(cls, data: dict, path: Path):
        """The vocabulary in a parsed ``vocab.json`` (InputError naming the file if it does not fit)."""
        if data.get("ticks_per_beat") != TICKS_PER_BEAT:
            raise InputError(f"{path}: ticks_per_beat {data.get('ticks_per_beat')} != {TICKS_PER_BEAT}")
        values = data.get("values")
        if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
            raise InputError(f"{path}: 'values' must be a non-empty list of strings")
        vocab = cls(cls.value_type.parse(s) for s in values)
        if [str(v) for v in vocab.values] != values:
            raise InputError(f"{path}: values are not in sorted order")
        return vocab


def _distance(a: Value, b: Value) -> float:
    """How far apart two values are, for mapping rare values."""
    kind = 0.0 if a.kind == b.kind else 100.0
    rest = 0.0 if (a.kind == "R") == (b.kind == "R") else 1000.0
    if (a.leap is None) != (b.leap is None):
        leap = 50.0
    elif a.leap is None:
        leap = 0.0
    else:
        leap = abs(a.leap - b.leap) * 2.0
    return rest + kind + leap + abs(a.duration - b.duration) / 3.0


Vocabulary.distance = staticmethod(_distance)
