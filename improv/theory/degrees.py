"""The degree vocabulary (values version 2): which chord tone, which way, how long.

A *degree value* is one token ``DEGREE,DURATION[,MOVE]``:

- DEGREE is the note's chromatic degree above the root of the chord sounding at its onset, named
  ``1 b2 2 b3 3 4 #4 5 b6 6 b7 7`` (so ``b7`` over Dm7 is C, ``3`` over G7 is B, ``b3`` is the minor
  third or the #9, ``b2`` the b9); ``R`` is a rest. Whether it is a chord tone, a tension or an avoid
  note follows from the degree and the chord quality in the conditioning.
  Over N.C. the degree is counted from C.
- DURATION is the time to the next value, in ticks (12 per beat), on the grid of ``improv.theory.values``.
- MOVE is the direction from the previous sounding note: ``+`` up, ``-`` down, ``=`` the same pitch. The
  size of the move follows from the degree: the nearest pitch of that degree in that direction (so a move
  spans 1..12 semitones; leaps beyond an octave fold into it). A note with no move is an *anchor*: the first
  note of a line or of a phrase after a long rest; the realiser places it in the register.

So the model, not a random draw in the realiser, chooses the 3rd over the 7th and the way the line turns;
the realiser only picks the octave of an anchor and folds a move back when it would leave the register.
The kind/leap vocabulary (``improv.theory.values``, version 1) stays loadable for older models.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from improv.errors import InputError
from improv.theory.harmony import Chord
from improv.theory.timing import TICKS_PER_BEAT
from improv.theory.values import Line, Token, Vocabulary, events, read_vocab_json

DEGREE_NAMES = ("1", "b2", "2", "b3", "3", "4", "#4", "5", "b6", "6", "b7", "7")
_DEGREE_INDEX = {name: i for i, name in enumerate(DEGREE_NAMES)}
MOVES = ("+", "-", "=")
VOCAB_FORMAT = "improv-degree-vocab"
VOCAB_VERSION = 2


@dataclass(frozen=True)
class Degree:
    """One degree token: ``degree`` 0..11 above the chord root (None for a rest), ticks, move or None."""

    degree: int | None
    duration: int
    move: str | None = None

    @property
    def kind(self) -> str:
        """``R`` for a rest, else the degree's name (what logs and status lines show)."""
        return "R" if self.degree is None else DEGREE_NAMES[self.degree]

    def __str__(self) -> str:
        text = f"{self.kind},{self.duration / TICKS_PER_BEAT:.3f}"
        return text if self.move is None else f"{text},{self.move}"

    @property
    def sort_key(self) -> tuple[int, int, int]:
        """Stable vocabulary order: rests first, then degree, duration, move (anchors first)."""
        degree = -1 if self.degree is None else self.degree
        return (degree, self.duration, -1 if self.move is None else MOVES.index(self.move))

    @classmethod
    def parse(cls, text: str) -> Degree:
        """Read ``3,0.250,+`` back into a Degree."""
        parts = text.split(",")
        if len(parts) not in (2, 3) or (parts[0] != "R" and parts[0] not in _DEGREE_INDEX):
            raise InputError(f"malformed degree value {text[:40]!r}")
        if len(parts) == 3 and (parts[2] not in MOVES or parts[0] == "R"):
            raise InputError(f"malformed degree value {text[:40]!r}")
        try:
            duration = int(round(float(parts[1]) * TICKS_PER_BEAT))
        except ValueError as exc:
            raise InputError(f"malformed degree value {text[:40]!r}") from exc
        degree = None if parts[0] == "R" else _DEGREE_INDEX[parts[0]]
        return cls(degree, duration, parts[2] if len(parts) == 3 else None)


def degree_of(pitch: int, chord: Chord) -> int:
    """The chromatic degree of a pitch above the chord's root (above C for N.C.)."""
    return (pitch - (chord.root or 0)) % 12


def move_of(pitch: int, prev: int) -> str:
    """The direction from ``prev`` to ``pitch``."""
    return "+" if pitch > prev else "-" if pitch < prev else "="


def encode(line: Line) -> list[Token]:
    """A line as degree tokens (the timing is ``values.events``: the same onsets, rests and anchors)."""
    tokens: list[Token] = []
    for ev in events(line):
        chord = line.chord_at(ev.onset)
        if ev.pitch is None:
            tokens.append(Token(Degree(None, ev.duration), ev.onset, chord))  # type: ignore[arg-type]
            continue
        move = None if ev.anchor or ev.prev is None else move_of(ev.pitch, ev.prev)
        value = Degree(degree_of(ev.pitch, chord), ev.duration, move)
        tokens.append(Token(value, ev.onset, chord))  # type: ignore[arg-type]
    return tokens


def moved(pc: int, prev: int, move: str) -> int:
    """The nearest pitch of pitch class ``pc`` above (``+``), below (``-``) or at (``=``) ``prev``."""
    if move == "=":
        return prev + ((pc - prev) % 12 if (pc - prev) % 12 <= 6 else (pc - prev) % 12 - 12)
    up = (pc - prev) % 12 or 12
    return prev + up if move == "+" else prev - ((prev - pc) % 12 or 12)


def nearest(pc: int, target: int) -> int:
    """The pitch of pitch class ``pc`` nearest to ``target`` (ties go down)."""
    up = (pc - target) % 12
    return target + up if up < 6 else target + up - 12


def decode(
    value: Degree,
    chord: Chord,
    prev: int | None,
    *,
    low: int = 48,
    high: int = 84,
    centre: int = 66,
    max_leap: int = 12,
) -> int | None:
    """The pitch a degree value names over a chord (None for a rest). No random choice is left.

    An anchor (or a first note) takes the degree nearest to ``centre``; a move takes the nearest pitch of the
    degree in its direction. A move that would leave [low, high], or leap wider than ``max_leap``, turns
    around (the same degree the other way): the register decides the direction there, the degree stays
    the model's. Whatever remains outside the range is folded in by octaves.
    """
    if value.degree is None:
        return None
    pc = ((chord.root or 0) + value.degree) % 12
    if prev is None or value.move is None:
        return _fold(nearest(pc, centre), low, high)
    pitch = moved(pc, prev, value.move)
    if value.move != "=" and (abs(pitch - prev) > max_leap or not low <= pitch <= high):
        pitch = moved(pc, prev, "-" if value.move == "+" else "+")  # the line turns around
    return _fold(pitch, low, high)


def _fold(pitch: int, low: int, high: int) -> int:
    """Move a pitch by octaves into [low, high] (the range spans at least an octave)."""
    while pitch < low:
        pitch += 12
    while pitch > high:
        pitch -= 12
    return pitch


class DegreeVocabulary(Vocabulary):
    """The sorted degree values a model knows, mapping an unseen value to its nearest known one."""

    format = VOCAB_FORMAT
    version = VOCAB_VERSION
    value_type = Degree


def _distance(a: Degree, b: Degree) -> float:
    """How far apart two degree values are, for mapping rare values."""
    if (a.degree is None) != (b.degree is None):
        return 1000.0 + abs(a.duration - b.duration)
    degree = 0.0 if a.degree == b.degree else 100.0
    move = 0.0 if a.move == b.move else 50.0
    return degree + move + abs(a.duration - b.duration) / 3.0


DegreeVocabulary.distance = staticmethod(_distance)


def load_vocabulary(path: Path):
    """Read any ``vocab.json`` (degree values, version 2, or kind/leap values, version 1).

    Returns the vocabulary and the whole JSON (for the conditioning settings).
    """
    data = read_vocab_json(Path(path))
    if not isinstance(data, dict):
        raise InputError(f"{path} is not an improv vocabulary")
    if data.get("format") == VOCAB_FORMAT and data.get("version") == VOCAB_VERSION:
        return DegreeVocabulary.from_json(data, Path(path)), data
    return Vocabulary.checked(data, Path(path))
