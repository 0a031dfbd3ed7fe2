"""An unscrambled iReal Pro chart to bars, and the bars played once as the main chorus.

Chart tokens: ``T44`` time signature, ``*A`` section, ``[ ] { } | Z`` bar lines (``{ }`` repeat),
``N1``/``N2``/``N3`` endings, ``x`` repeat the previous bar, ``r`` repeat the previous two bars,
``n`` no chord, ``p`` a slash (the previous chord goes on), ``W`` an invisible chord (keeps the
previous chord, possibly with a new bass ``W/C``), ``(...)`` alternate chords (ignored), ``<...>``
comments, ``Q`` coda, ``S`` segno, ``Y`` vertical space, ``U`` end, ``f`` fermata, ``s``/``l``
small/large chords, ``,`` a separator and a space an empty cell. :func:`parse_chart` reads them in
two steps: :func:`_token` cuts the next mark off the text, :class:`_Bars` gathers the marks into
bars (a blank filler bar between bar lines hands its marks on).

Form (our choice, documented): the progression is the **main chorus** an improviser loops over.
Repeats are expanded (twice, or ``<Nx>`` times; as many passes as there are endings), 1st/2nd/3rd
endings are taken in turn, D.C./D.S./Fine directives are *not* followed (looping the chorus
wraps to the top anyway) and the coda (from the last ``Q`` that starts the coda section to the end)
is dropped (:func:`expand_form`). Pure functions; no threads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from improv.charts.build import in_where
from improv.errors import InputError

_MAX_BARS = 2000


class ChartError(InputError):
    """An iReal chart that cannot be read (the message says why and where)."""


@dataclass
class Bar:
    """One written bar: its cells (chord symbols in iReal spelling, ``""`` empty, ``"p"`` slash,
    ``"x"``/``"r"`` repeat marks) and the marks around it."""

    cells: list[str] = field(default_factory=list)
    time: tuple[int, int] = (4, 4)
    section: str | None = None
    ending: int | None = None
    repeat_start: bool = False
    repeat_end: bool = False
    coda: bool = False
    coda_at_start: bool = False
    final: bool = False
    comments: list[str] = field(default_factory=list)

    @property
    def is_blank(self) -> bool:
        """Only empty cells (layout filler between bar lines)."""
        return all(cell == "" for cell in self.cells)


# ---------------------------------------------------------------- chart tokens -> bars

_CHORD_RE = re.compile(
    r"(?P<root>[A-G][b#]?|W)(?P<custom>\*[^*]{0,16}\*)?"
    r"(?P<quality>(?:sus|alt|add|6/9|[-^ohø+0-9b#])*)(?P<bass>/[A-G][b#]?)?"
)
_TIME_UNITS = {"12": (12, 8)}
# One-character marks: (kind, value) for _Bars.add; the characters in _SKIPPED are layout only.
_MARKS: dict[str, tuple[str, object]] = {
    **{c: ("open", c) for c in "{["},
    **{c: ("close", c) for c in "|]}Z"},
    "Q": ("coda", None),
    " ": ("cell", ""),
    **{c: ("cell", c) for c in "xrpn"},
}
_SKIPPED = "SYUfsl,"
Token = tuple[str, object]  # (kind, value): comment, time, section, ending, open, close, coda, cell


def parse_chart(chart: str, where: str = "") -> list[Bar]:
    """Split an unscrambled chart into bars (blank filler bars dropped)."""
    bars = _Bars()
    pos = 0
    while pos < len(chart):
        token, pos = _token(chart, pos, where)
        if token is not None:
            bars.add(*token)
    found = bars.finish()
    if not any(not b.is_blank for b in found):
        raise ChartError(f"no chords in the chart{in_where(where)}")
    return found


def _token(chart: str, pos: int, where: str) -> tuple[Token | None, int]:
    """The mark at ``pos`` (None for layout and alternate chords) and where the next one starts."""
    ch = chart[pos]
    n = len(chart)
    if ch in _MARKS:
        return _MARKS[ch], pos + 1
    if ch in _SKIPPED:
        return None, pos + 1
    if ch == "<":
        end = _closing(chart, pos, ">", "comment", where)
        comment = chart[pos + 1 : end]
        if re.match(r"\*\d\d", comment):  # '*yy': a vertical offset, not text
            comment = comment[3:]
        return ("comment", comment.strip()), end + 1
    if ch == "(":
        return None, _closing(chart, pos, ")", "alternate chord", where) + 1  # alternate chords are ignored
    if ch == "T" and pos + 2 < n and chart[pos + 1 : pos + 3].isdigit():
        return ("time", _time_signature(chart[pos + 1 : pos + 3], pos, where)), pos + 3
    if ch == "*" and pos + 1 < n:
        return ("section", chart[pos + 1]), pos + 2
    if ch == "N" and pos + 1 < n and chart[pos + 1].isdigit():
        return ("ending", int(chart[pos + 1])), pos + 2
    match = _CHORD_RE.match(chart, pos)
    if not match or match.end() == pos:
        raise ChartError(
            f"unexpected {ch!r} at character {pos}{in_where(where)}: "
            f"...{chart[max(0, pos - 10) : pos + 10]}..."
        )
    custom = (match.group("custom") or "").strip("*")
    symbol = match.group("root") + custom + match.group("quality") + (match.group("bass") or "")
    return ("cell", symbol), match.end()


def _closing(chart: str, pos: int, closer: str, what: str, where: str) -> int:
    """Where the bracket opened at ``pos`` closes; ChartError when it never does."""
    end = chart.find(closer, pos)
    if end < 0:
        raise ChartError(f"unterminated {what} {chart[pos]!r} at character {pos}{in_where(where)}")
    return end


class _Bars:
    """The bars a chart's marks make, in order; the bar being written is ``bar``."""

    def __init__(self) -> None:
        self.bars: list[Bar] = []
        self.bar = Bar()
        self.time = (4, 4)

    def add(self, kind: str, value: object) -> None:
        """One mark from :func:`_token`."""
        bar = self.bar
        if kind == "cell":
            bar.cells.append(value)  # type: ignore[arg-type]
        elif kind == "comment":
            bar.comments.append(value)  # type: ignore[arg-type]
        elif kind == "time":
            self.time = bar.time = value  # type: ignore[assignment]
        elif kind == "section":
            bar.section = value  # type: ignore[assignment]
        elif kind == "ending":
            bar.ending = value  # type: ignore[assignment]
        elif kind == "open":
            if not bar.is_blank:
                self.close()
            if value == "{":
                self.bar.repeat_start = True
        elif kind == "close":
            self.close(repeat_end=value == "}", final=value == "Z")
        else:  # coda
            bar.coda = True
            bar.coda_at_start = all(c == "" for c in bar.cells)

    def close(self, repeat_end: bool = False, final: bool = False) -> None:
        """A bar line: the bar is done and a new one starts."""
        bar = self.bar
        if not bar.is_blank:
            bar.repeat_end = bar.repeat_end or repeat_end
            bar.final = bar.final or final
            self.bars.append(bar)
            self.bar = Bar(time=self.time)
            return
        # a blank filler bar: its closing mark belongs to the bar before, its opening marks
        # (section, ending, repeat start, coda, comments) to the next one
        if self.bars:
            self.bars[-1].repeat_end = self.bars[-1].repeat_end or repeat_end
            self.bars[-1].final = self.bars[-1].final or final
        self.bar = Bar(time=self.time, section=bar.section, ending=bar.ending, repeat_start=bar.repeat_start,
                       coda=bar.coda, coda_at_start=bar.coda_at_start, comments=bar.comments)

    def finish(self) -> list[Bar]:
        """The bars, the last one closed."""
        self.close()
        return self.bars


def _time_signature(digits: str, pos: int, where: str) -> tuple[int, int]:
    if digits in _TIME_UNITS:
        return _TIME_UNITS[digits]
    num, den = int(digits[0]), int(digits[1])
    if num == 0 or den not in (2, 4, 8):
        raise ChartError(f"unknown time signature T{digits} at character {pos}{in_where(where)}")
    return num, den


# ---------------------------------------------------------------- form expansion


def expand_form(bars: list[Bar], where: str = "") -> list[Bar]:
    """Play the chart once as a main chorus: repeats and endings expanded, coda dropped,
    ``x``/``r`` repeat bars replaced by copies of the bars they repeat."""
    bars = _drop_coda(bars)
    played: list[Bar] = []
    i = 0
    start = 0
    passes = 2
    pass_no = 1
    jumped = False
    while i < len(bars):
        bar = bars[i]
        if bar.repeat_start and not (jumped and i == start):
            start, pass_no = i, 1
            passes = _passes(bars, i)
        jumped = False
        if bar.ending is not None and bar.ending < pass_no:
            i = _skip_ending(bars, i)
            continue
        if bar.ending is not None and bar.ending >= passes:
            pass_no, passes = 1, 1  # the last ending: this repeat is done
        played.extend(_resolve_repeats(bar, played, where))
        if len(played) > _MAX_BARS:
            raise ChartError(f"the form does not end (over {_MAX_BARS} bars){in_where(where)}")
        if bar.repeat_end and pass_no < passes:
            pass_no += 1
            i, jumped = start, True
            continue
        if bar.repeat_end:
            pass_no, passes = 1, 2
            start = i + 1
        i += 1
    return played


def _drop_coda(bars: list[Bar]) -> list[Bar]:
    marks = [i for i, b in enumerate(bars) if b.coda]
    if not marks:
        return bars
    last = marks[-1]
    after_final = any(b.final for b in bars[:last])
    if (len(marks) >= 2 or after_final) and (bars[last].coda_at_start or after_final) and last > 0:
        return bars[:last]
    return bars


def _passes(bars: list[Bar], start: int) -> int:
    """How many times the repeat starting at ``start`` is played."""
    passes = 2
    i = start
    while i < len(bars):
        bar = bars[i]
        for comment in bar.comments:
            times = re.search(r"(\d+)\s*[xX]\b", comment)
            if times:
                passes = max(passes, min(int(times.group(1)), 8))
        if bar.ending is not None:
            passes = max(passes, bar.ending)
        if i > start and bar.repeat_start:
            break
        if bar.repeat_end and not (i + 1 < len(bars) and bars[i + 1].ending is not None):
            break
        i += 1
    return passes


def _skip_ending(bars: list[Bar], i: int) -> int:
    """Index after the ending that starts at ``i`` (through its closing ``}``)."""
    j = i
    while j < len(bars):
        if bars[j].repeat_end:
            return j + 1
        if j > i and (bars[j].ending is not None or bars[j].repeat_start):
            return j
        j += 1
    return j


def _resolve_repeats(bar: Bar, played: list[Bar], where: str) -> list[Bar]:
    cells = [c for c in bar.cells if c != ""]
    if "r" in cells:
        if len(played) < 2:
            raise ChartError(f"'r' (repeat two bars) before two bars were played{in_where(where)}")
        return [_copy(played[-2], bar), _copy(played[-1], bar)]
    if "x" in cells:
        if not played:
            raise ChartError(f"'x' (repeat the bar) in the first bar{in_where(where)}")
        return [_copy(played[-1], bar)]
    return [bar]


def _copy(source: Bar, marks: Bar) -> Bar:
    return Bar(cells=list(source.cells), time=marks.time, section=marks.section)
