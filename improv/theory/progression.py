"""Chord progressions: a lead-sheet text into chord spans in ticks, looped over the form.

Text format (``parse_progression``)::

    key=F time=4/4
    |: F7 | Bb7 | F7 | Cm7 F7 | Bb7 | Bdim7 | F7 | Am7b5 D7b9 |
       Gm7 | C7 | F7 D7 | Gm7:3 C7:1 :|

* Bars are separated by ``|`` (``||`` is a double bar line, the same thing). Leading and trailing
  bar lines are optional; newlines are whitespace, and a line ending with ``|`` may be followed by
  a line starting with ``|``. ``| |`` on one line is an empty bar (an error). A ``#`` at the start
  of a word starts a comment to the end of the line (``F#7`` is a chord).
* Chords in a bar share its beats equally (rounded to whole ticks), unless given explicit beats:
  ``Dm7:3 G7:1``. Chords without beats share what the explicit ones leave.
* ``%`` alone in a bar repeats the previous bar. Next to other chords, ``%`` or ``/`` continues
  the chord before it for its share of the bar: ``Cmaj7 %`` = ``Cmaj7`` for the whole bar,
  ``C / / F`` = ``C:3 F:1``. At the start of a bar it continues the previous bar's last chord.
* ``|: ... :|`` plays the enclosed bars twice (no nesting; every ``|:`` needs its ``:|``).
* ``N.C.`` / ``NC`` is a bar (or part of one) with no chord.
* Header tokens before the first chord: ``key=F`` (``key=Gm`` for minor), ``time=3/4`` or a
  leading ``[3/4]``. The time signature gives ``beats_per_bar`` (its numerator; ``N/2`` counts
  half notes as two beats, ``N/1`` whole notes as four). They override the ``beats_per_bar`` and
  ``key`` arguments. A bar has 1..32 beats and a denominator is one of 1, 2, 4, 8, 16 (every reader
  of meters goes through :func:`time_signature_beats`).

Errors are ``InputError``s naming the written bar (1-based, before repeats are expanded).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass, field

from improv.errors import InputError, excerpt
from improv.theory.harmony import Chord, note_name, parse_chord, pitch_class, transpose
from improv.theory.timing import TICKS_PER_BEAT

_KEY_RE = re.compile(r"[A-G][b#♭♯]?(m|-|min|minor|maj|major)?")
_TIME_RE = re.compile(r"(\d{1,6})/(\d{1,6})")
_CONTINUE = ("%", "/")
MAX_BEATS_PER_BAR = 32
DENOMINATORS = (1, 2, 4, 8, 16)
_BEATS_RE = re.compile(r"(?P<chord>[^:]+):(?P<beats>\d{1,4}(?:\.\d{1,6})?)")


@dataclass(frozen=True)
class ChordSpan:
    """One chord sounding from ``start`` for ``length`` ticks (from the start of the form)."""

    chord: Chord
    start: int
    length: int

    @property
    def end(self) -> int:
        return self.start + self.length


@dataclass(frozen=True)
class Progression:
    """The whole form (repeats expanded) as contiguous chord spans starting at tick 0."""

    spans: tuple[ChordSpan, ...]
    beats_per_bar: int
    title: str = ""
    key: str | None = None
    _starts: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.spans:
            raise InputError("a progression needs at least one chord")
        if not 1 <= self.beats_per_bar <= MAX_BEATS_PER_BAR:
            raise InputError(f"beats per bar must be 1..{MAX_BEATS_PER_BAR}, not {self.beats_per_bar}")
        position = 0
        for span in self.spans:
            if span.start != position or span.length <= 0:
                raise ValueError(f"spans must be contiguous from 0: {span}")
            position = span.end
        object.__setattr__(self, "_starts", tuple(span.start for span in self.spans))

    @property
    def length(self) -> int:
        """Ticks of one chorus."""
        return self.spans[-1].end

    @property
    def bar_ticks(self) -> int:
        """Ticks of one bar."""
        return self.beats_per_bar * TICKS_PER_BEAT

    @property
    def bar_count(self) -> int:
        """Bars in one chorus."""
        return -(-self.length // self.bar_ticks)

    def span_at(self, tick: int) -> ChordSpan:
        """The span sounding at ``tick`` (looping over the form)."""
        index = bisect_right(self._starts, tick % self.length) - 1
        return self.spans[index]

    def chord_at(self, tick: int) -> Chord:
        """The chord sounding at ``tick``; ticks past the end loop over the form."""
        return self.span_at(tick).chord

    def bars(self) -> list[tuple[ChordSpan, ...]]:
        """The spans of each bar, in order (a span belongs to the bar it starts in)."""
        bars: list[list[ChordSpan]] = [[] for _ in range(self.bar_count)]
        for span in self.spans:
            bars[span.start // self.bar_ticks].append(span)
        return [tuple(bar) for bar in bars]

    def transposed(self, semitones: int) -> Progression:
        """The same progression moved by ``semitones`` (key text is kept unless it moves too)."""
        spans = tuple(
            ChordSpan(transpose(span.chord, semitones), span.start, span.length) for span in self.spans
        )
        key = _transpose_key(self.key, semitones)
        return Progression(spans, self.beats_per_bar, self.title, key)


def parse_progression(
    text: str,
    beats_per_bar: int = 4,
    *,
    title: str = "",
    key: str | None = None,
    source: str = "",
) -> Progression:
    """Parse lead-sheet text (see the module docstring); ``source`` prefixes error messages."""
    prefix = f"{source}: " if source else ""
    form = _Form(prefix)
    header_done = False
    for token in _tokenize(text):
        if not header_done and not form.current and not form.written and token not in ("|", "||", "|:"):
            header = _header(token, prefix)
            if header is not None:
                name, value = header
                if name == "time":
                    beats_per_bar = value  # type: ignore[assignment]
                else:
                    key = value  # type: ignore[assignment]
                continue
            header_done = True
        form.add(token)
    form.finish()
    spans: list[ChordSpan] = []
    bar_ticks = beats_per_bar * TICKS_PER_BEAT
    for index, (bar, number) in enumerate(zip(form.expanded, form.numbers, strict=True)):
        start = index * bar_ticks
        previous = spans[-1].chord if spans else None
        for chord, offset, length in _bar_spans(bar, number, bar_ticks, prefix, previous):
            spans.append(ChordSpan(chord, start + offset, length))
    return Progression(tuple(spans), beats_per_bar, title, key)


class _Form:
    """The bars of a progression as its tokens come: the written bars (counted, for messages) and
    the played ones, repeats expanded, each with its written bar number."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.written = 0
        self.expanded: list[list[str]] = []  # played bars, each a list of chord tokens
        self.numbers: list[int] = []  # written bar number of every played bar
        self.current: list[str] = []
        self.repeat_start: int | None = None  # index into `expanded` where the open |: began
        self.last_bar_line = "start"

    def add(self, token: str) -> None:
        """A bar line, a repeat sign or a chord."""
        prefix = self.prefix
        if token in ("|", "||"):
            self.close_bar(token)
        elif token == "|:":
            self.close_bar(token)
            if self.repeat_start is not None:
                raise InputError(f"{prefix}bar {self.written + 1}: nested '|:' (repeats do not nest)")
            self.repeat_start = len(self.expanded)
        elif token == ":|":
            self.close_bar(token)
            if self.repeat_start is None:
                raise InputError(f"{prefix}bar {max(self.written, 1)}: ':|' without a matching '|:'")
            if self.repeat_start == len(self.expanded):
                raise InputError(f"{prefix}bar {max(self.written, 1)}: empty repeat '|: :|'")
            self.expanded.extend(list(bar) for bar in self.expanded[self.repeat_start :])
            self.numbers.extend(self.numbers[self.repeat_start :])
            self.repeat_start = None
        else:
            if _header(token, prefix) is not None:
                raise InputError(f"{prefix}bar {self.written + 1}: header {excerpt(token)} must come "
                                 "before the first chord")
            self.current.append(token)

    def close_bar(self, bar_line: str) -> None:
        number = self.written + 1
        current = self.current
        if current:
            if current == ["%"]:
                if not self.expanded:
                    raise InputError(f"{self.prefix}bar {number}: '%' with no previous bar to repeat")
                current = list(self.expanded[-1])
            self.written += 1
            self.expanded.append(current)
            self.numbers.append(number)
        elif self.last_bar_line in ("|", "||") and bar_line in ("|", "||"):
            raise InputError(f"{self.prefix}bar {number} is empty")
        self.current = []
        self.last_bar_line = bar_line

    def finish(self) -> None:
        """The end of the text: the last bar closed, every repeat closed, some chords found."""
        self.close_bar("end")
        if self.repeat_start is not None:
            start = self.repeat_start
            bar = self.numbers[start] if start < len(self.numbers) else self.written + 1
            raise InputError(f"{self.prefix}'|:' at bar {bar} is never closed by ':|'")
        if not self.expanded:
            raise InputError(f"{self.prefix}no chords in the progression")


def _tokenize(text: str) -> list[str]:
    """Split into bar lines ('|', '||', '|:', ':|') and words; comments dropped."""
    body = "\n".join(_strip_comment(line) for line in text.split("\n"))
    body = re.sub(r"\|[ \t]*\n\s*\|", "|", body)  # '|' ending a line + '|' starting the next
    body = body.replace(":|:", " :| |: ")
    body = body.replace(":|", " :| ").replace("|:", " |: ")
    return re.findall(r":\||\|:|\|\||\||[^\s|]+", body)


def _strip_comment(line: str) -> str:
    """Drop a '#' comment: a '#' at the start of a word (a sharp follows a letter or digit)."""
    match = re.search(r"(^|\s)#", line)
    return line[: match.start()] if match else line


def _header(token: str, prefix: str) -> tuple[str, object] | None:
    """('time', beats) / ('key', name) for header tokens, else None."""
    if token.startswith("[") and token.endswith("]"):
        return "time", time_signature_beats(token[1:-1], prefix)
    name, sep, value = token.partition("=")
    if not sep:
        return None
    name = name.lower()
    if name == "time":
        return "time", time_signature_beats(value, prefix)
    if name == "key":
        return "key", check_key(value, prefix)
    raise InputError(f"{prefix}unknown header {excerpt(token)} (use key=F, time=3/4 or [3/4])")


def time_signature_beats(text: str, prefix: str = "") -> int:
    """Beats per bar of a time signature 'N/D': 1..32 beats, D in 1, 2, 4, 8, 16 (N/2 counts two
    beats a half note, N/1 four a whole note)."""
    match = _TIME_RE.fullmatch(text.strip())
    if not match or int(match.group(2)) not in DENOMINATORS:
        raise InputError(
            f"{prefix}time signature {excerpt(text)} is not like 4/4, 3/4 or 6/8 "
            f"(denominator {', '.join(map(str, DENOMINATORS))})"
        )
    numerator, denominator = int(match.group(1)), int(match.group(2))
    beats = numerator * 4 // denominator if denominator < 4 else numerator
    if not 1 <= beats <= MAX_BEATS_PER_BAR:
        raise InputError(
            f"{prefix}time signature {excerpt(text)} has {beats} beats a bar (1..{MAX_BEATS_PER_BAR})"
        )
    return beats


def check_key(text: str, prefix: str = "") -> str:
    """``text`` if it names a key like 'F', 'Bb', 'Gm', 'F#minor'; else InputError."""
    if not _KEY_RE.fullmatch(text.strip()):
        raise InputError(f"{prefix}key {excerpt(text)} is not a key like F, Bb or Gm")
    return text.strip()


def _bar_spans(
    bar: list[str], number: int, bar_ticks: int, prefix: str, previous: Chord | None
) -> list[tuple[Chord, int, int]]:
    """(chord, offset, length) of each chord in one bar; '%' or '/' continue the chord before."""
    where_base = f"{prefix}bar {number}"
    chords: list[Chord | None] = []  # None = continue the previous chord
    explicit: list[int | None] = []
    for position, token in enumerate(bar, start=1):
        match = _BEATS_RE.fullmatch(token)
        symbol = match.group("chord") if match else token
        where = f"bar {number}, chord {position}" + (f" of {prefix[:-2]}" if prefix else "")
        if symbol in _CONTINUE:
            if position == 1 and previous is None:
                raise InputError(f"{where_base}: {excerpt(symbol)} with no chord before it to continue")
            chords.append(None)
        else:
            chords.append(parse_chord(symbol, where))
        if match:
            ticks = float(match.group("beats")) * TICKS_PER_BEAT
            if ticks <= 0:
                raise InputError(f"{where_base}: {excerpt(token)} must last more than 0 beats")
            if abs(ticks - round(ticks)) > 1e-9:
                raise InputError(
                    f"{where_base}: {excerpt(token)} needs a whole number of ticks"
                    f" (beats in steps of 1/{TICKS_PER_BEAT})"
                )
            explicit.append(int(round(ticks)))
        else:
            explicit.append(None)
    given = sum(ticks for ticks in explicit if ticks is not None)
    free = [i for i, ticks in enumerate(explicit) if ticks is None]
    beats = bar_ticks // TICKS_PER_BEAT
    if not free and given != bar_ticks:
        raise InputError(f"{where_base}: explicit beats add up to {given / TICKS_PER_BEAT:g}, not {beats}")
    if free and given >= bar_ticks:
        raise InputError(
            f"{where_base}: explicit beats ({given / TICKS_PER_BEAT:g}) leave no room"
            f" for the other chords in a bar of {beats}"
        )
    remaining = bar_ticks - given
    if len(free) > remaining:
        raise InputError(f"{where_base}: too many chords for one bar")
    for i, ticks in zip(free, even_split(len(free), remaining), strict=True):
        explicit[i] = ticks
    result: list[tuple[Chord, int, int]] = []
    offset = 0
    for chord, ticks in zip(chords, explicit, strict=True):
        assert ticks is not None
        if chord is None and result:  # continue the chord before, inside this bar
            last, last_offset, last_ticks = result[-1]
            result[-1] = (last, last_offset, last_ticks + ticks)
        else:
            result.append((chord or previous, offset, ticks))  # type: ignore[arg-type]
        offset += ticks
    return result


def even_split(count: int, total: int) -> list[int]:
    """``total`` ticks shared by ``count`` chords, each rounded to whole ticks (the shares add up)."""
    return [round((k + 1) * total / count) - round(k * total / count) for k in range(count)]


def _transpose_key(key: str | None, semitones: int) -> str | None:
    """'Bb' + 2 -> 'C'; 'Gm' + 1 -> 'Abm'."""
    if key is None:
        return None
    match = re.match(r"[A-G][b#♭♯]?", key)
    if not match:
        return key
    return note_name(pitch_class(match.group(0)) + semitones) + key[match.end() :]
