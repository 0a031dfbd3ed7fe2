"""The small helpers the chart importers share: :class:`LoadFailure` (a tune that did not load),
:func:`split_bar` (how chords share a bar), :func:`build_progression` (written bars of chord
symbols -> ``Progression``), :func:`changes_text`, :func:`in_where` (where a message points), and
:class:`ChartFile` (a source and its text, read once). Time in integer ticks (improv.theory.timing).
No threads.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from improv.errors import InputError
from improv.theory.harmony import NO_CHORD, Chord, parse_chord, pitch_class
from improv.theory.progression import ChordSpan, Progression, even_split
from improv.theory.timing import TICKS_PER_BEAT

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadFailure:
    """A tune of a library that did not load: where it was and why."""

    source: str  # file (and tune title) it came from
    reason: str

    def __str__(self) -> str:
        if self.reason.startswith(self.source):
            return self.reason
        return f"{self.source}: {self.reason}"


class ChartFile:
    """A library source handed to each importer's ``claims``: its path and (read once) its text."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._text: str | None = None

    @property
    def text(self) -> str:
        """The file as UTF-8 (bad bytes replaced); InputError naming the file when unreadable."""
        if self._text is None:
            try:
                self._text = self.path.read_text(encoding="utf-8", errors="replace")
            except OSError as exc:
                raise InputError(f"cannot read library {str(self.path)!r}: {exc.strerror}") from None
        return self._text

    def looks_like_xml(self) -> bool:
        """A MusicXML score whatever its name: the root element shows in the first 4 KB."""
        try:
            with self.path.open("rb") as handle:
                head = handle.read(4096)
        except OSError:
            return False
        return b"<score-partwise" in head or b"<score-timewise" in head


# ---------------------------------------------------------------- shared helpers


def in_where(where: str) -> str:
    """`` in <where>`` for a message, or nothing when ``where`` is empty."""
    return f" in {where}" if where else ""


def beats_per_bar(numerator: int, denominator: int) -> int:
    """Beats of a bar as :mod:`improv.theory.progression` counts them: the numerator, with a
    half-note denominator counting two beats (2/2 -> 4, 6/8 -> 6)."""
    return numerator * 2 if denominator == 2 else numerator


def split_bar(count: int, beats: int) -> list[int]:
    """Ticks of ``count`` chords sharing a bar of ``beats`` beats: whole beats when they fit,
    the first chords taking the remainder (3 chords in 4/4 -> 2+1+1 beats); more chords than
    beats share the bar's ticks evenly."""
    if count < 1:
        raise ValueError("a bar needs at least one chord")
    if count <= beats:
        share, extra = divmod(beats, count)
        return [(share + (1 if k < extra else 0)) * TICKS_PER_BEAT for k in range(count)]
    total = beats * TICKS_PER_BEAT
    if count > total:
        raise InputError(f"{count} chords do not fit in a bar of {beats} beats")
    return even_split(count, total)


def build_progression(
    bars: list[list[tuple[str, int]]],
    beats: int,
    *,
    title: str = "",
    key: str | None = None,
    where: str = "",
) -> Progression:
    """A progression from bars of ``(symbol, ticks)``; symbol ``""`` continues the chord before
    (at the very start: the last chord of the form, as the form loops) and ``"W/X"`` is the chord
    before with bass ``X`` (iReal's invisible chord). Errors name the bar and chord."""
    chords: list[tuple[Chord | None, int]] = []
    previous: Chord | None = None
    for number, bar in enumerate(bars, 1):
        for position, (symbol, ticks) in enumerate(bar, 1):
            place = f"bar {number}, chord {position}" + (f" of {where}" if where else "")
            if ticks <= 0:
                raise InputError(f"chord without duration at {place}")
            if symbol == "":
                chords.append((None, ticks))
                continue
            if symbol.startswith("W"):
                chord = _with_bass(previous, symbol, place)
            else:
                chord = parse_chord(symbol, place)
            chords.append((chord, ticks))
            previous = chord
    first = next((c for c, _ in chords if c is not None), None)
    if first is None:
        raise InputError(f"no chords{in_where(where)}")
    last = next(c for c, _ in reversed(chords) if c is not None)
    spans: list[ChordSpan] = []
    start = 0
    current = last
    for chord, ticks in chords:
        if chord is None and spans:
            old = spans[-1]
            spans[-1] = ChordSpan(old.chord, old.start, old.length + ticks)
        else:
            current = chord if chord is not None else current
            spans.append(ChordSpan(current, start, ticks))
        start += ticks
    return Progression(tuple(spans), beats, title, key)


def _with_bass(previous: Chord | None, symbol: str, place: str) -> Chord:
    """iReal ``W/X``: the previous chord, now over bass ``X``."""
    if previous is None or previous is NO_CHORD or previous.root is None:
        raise InputError(f"invisible chord {symbol!r} with no chord before it at {place}")
    _, _, bass = symbol.partition("/")
    if not bass:
        return previous
    base = previous.symbol.split("/")[0]
    try:
        pitch_class(bass)
    except ValueError:
        raise InputError(f"bad bass note in {symbol!r} at {place}") from None
    return parse_chord(f"{base}/{bass}", place)


def changes_text(progression: Progression, bar_lengths: list[int]) -> str:
    """The progression as text, bar by bar (``| D-7:2 G7:2 | C^7 |``); explicit beats are
    written only where a bar's chords do not share it evenly."""
    out = []
    start = 0
    spans = progression.spans
    k = 0
    for length in bar_lengths:
        end = start + length
        while spans[k].end <= start:
            k += 1
        pieces = []
        j = k
        while j < len(spans) and spans[j].start < end:
            overlap = min(spans[j].end, end) - max(spans[j].start, start)
            pieces.append((spans[j].chord.symbol, overlap))
            j += 1
        if [ticks for _, ticks in pieces] == even_split(len(pieces), length):
            out.append(" ".join(symbol for symbol, _ in pieces))
        else:
            out.append(" ".join(f"{symbol}:{ticks / TICKS_PER_BEAT:g}" for symbol, ticks in pieces))
        start = end
    return "| " + " | ".join(out) + " |"


def most_common_meter(meters: list[tuple[int, int]]) -> tuple[int, int]:
    """The time signature most bars are in (the first one on a tie)."""
    counts = Counter(meters)
    best = max(counts.values())
    return next(m for m in meters if counts[m] == best)
