"""iReal Pro playlists (``irealb://`` and ``irealbook://`` URLs) to tunes.

Why our own parser: we evaluated PyPI ``pyRealParser`` 0.1.0 (MIT, one release, 2018-05-12, no
release since; it prints to stdout instead of logging). It unscrambles all 1,460 tunes of the
"Jazz 1460" playlist without an exception, but its flattened measures glue the chords of a bar
together without a separator (``'Eh7A7b9'``), so beat positions are lost, and 270 of the 1,460
tunes (18 %) keep markup inside their measures: ``alt`` becomes ``at`` (the ``l`` is stripped as a
size marker, 211 tunes), the end mark ``U`` (155), unexpanded ``N1``/``N2``/``N3`` endings (57, so the
form is wrong, e.g. "A Ballad"), ``x``/``r`` repeat bars after alternates, ``W`` and ``S``.
This module reads the documented format itself (nothing of pyRealParser's code is used) and
loads all 1,460 tunes of that playlist (0 failures, about 0.5 s); on the 1,197 tunes where
pyRealParser leaves no markup, 977 give the same bars, the rest differ by our documented choices
(coda dropped, ``r`` = two bars, ``p`` slashes keep the chord before).

Format (public descriptions of the iReal Pro URL format):

* a URL holds ``=``-separated fields; in ``irealb://`` each song is ``title=composer==style=key=
  transpose=1r34LbKcu7<chart>=comp style=bpm=repeats`` and a playlist ends with its name; in
  ``irealbook://`` each song is the six fields ``title=composer=style=key=n=chart`` (chart in clear);
* the ``irealb`` chart is obfuscated: after the ``1r34LbKcu7`` marker it is cut in 50-character
  blocks (while more than 51 characters remain) and in each block the characters at positions
  0-4 and 10-23 are swapped with their mirror ``49 - i``; then ``XyQ`` is three empty cells,
  ``LZ`` a bar line ``" |"`` and ``Kcl`` a repeated bar ``"| x"``;
* chart tokens: ``T44`` time signature, ``*A`` section, ``[ ] { } | Z`` bar lines (``{ }`` repeat),
  ``N1``/``N2``/``N3`` endings, ``x`` repeat the previous bar, ``r`` repeat the previous two bars,
  ``n`` no chord, ``p`` a slash (the previous chord goes on), ``W`` an invisible chord (keeps the
  previous chord, possibly with a new bass ``W/C``), ``(...)`` alternate chords (ignored), ``<...>``
  comments, ``Q`` coda, ``S`` segno, ``Y`` vertical space, ``U`` end, ``f`` fermata, ``s``/``l``
  small/large chords, ``,`` a separator and a space an empty cell; chords use iReal qualities
  (``^7 -7 h7 o7 7b9 7alt sus ^ -^7 +``), which :func:`improv.theory.harmony.parse_chord` reads.

Form (our choice, documented): the progression is the **main chorus** an improviser loops over.
Repeats are expanded (twice, or ``<Nx>`` times; as many passes as there are endings), 1st/2nd/3rd
endings are taken in turn, D.C./D.S./Fine directives are *not* followed (looping the chorus
wraps to the top anyway) and the coda (from the last ``Q`` that starts the coda section to the end)
is dropped. Chords in a bar: when the bar has exactly as many cells as beats (units of the time
signature's denominator), cells are beats; otherwise the chords share the bar evenly in whole
units, the first chords taking the remainder (three chords in 4/4 are 2+1+1 beats).
Meter changes inside a tune (19 of the 1,460) keep each bar's true length; the progression's
``beats_per_bar`` is the most common meter, so ``Progression.bars()`` is approximate there.
"""

from __future__ import annotations

import html
import logging
import re
import urllib.parse
from dataclasses import dataclass, field

from improv.charts.build import (
    ChartFile,
    LoadFailure,
    beats_per_bar,
    build_progression,
    changes_text,
    even_split,
    most_common_meter,
)
from improv.errors import InputError
from improv.theory.timing import TICKS_PER_BEAT
from improv.theory.tunes import Tune

log = logging.getLogger(__name__)

MARKER = "1r34LbKcu7"
_URL_RE = re.compile(r"irealb(?:ook)?://[^\s\"'<>]+")
_MAX_BARS = 2000


class ChartError(InputError):
    """An iReal chart that cannot be read (the message says why and where)."""


@dataclass(frozen=True)
class IrealSong:
    """One song of a playlist, its chart unscrambled but not yet interpreted."""

    title: str
    composer: str
    style: str
    key: str
    chart: str
    bpm: int = 0
    repeats: int = 0


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


# ---------------------------------------------------------------- URLs and fields


def _shuffle(text: str) -> str:
    """The block permutation of the ``irealb`` obfuscation (its own inverse)."""
    swaps = [*range(5), *range(10, 24)]
    out: list[str] = []
    rest = text
    while len(rest) > 51:
        block = list(rest[:50])
        for i in swaps:
            block[i], block[49 - i] = rest[49 - i], rest[i]
        out.append("".join(block))
        rest = rest[50:]
    out.append(rest)
    return "".join(out)


def unscramble(body: str) -> str:
    """Undo the ``irealb`` obfuscation of a chart (the text after :data:`MARKER`)."""
    text = _shuffle(body)
    return text.replace("XyQ", "   ").replace("LZ", " |").replace("Kcl", "| x")


def scramble(chart: str) -> str:
    """Obfuscate a chart as iReal Pro exports it (marker included); ``unscramble`` reads it."""
    return MARKER + _shuffle(chart)


def make_url(songs: list[IrealSong], name: str | None = None) -> str:
    """An ``irealb://`` URL (percent-encoded) for songs; a playlist when ``name`` is given."""
    body = "===".join(
        f"{s.title}={s.composer}=={s.style}={s.key}=={scramble(s.chart)}=={s.bpm}={s.repeats}" for s in songs
    )
    if name is not None:
        body += f"==={name}"
    return "irealb://" + urllib.parse.quote(body, safe="=")


def find_urls(text: str) -> list[str]:
    """All ``irealb://``/``irealbook://`` URLs in a text or an HTML page, percent-decoded."""
    return [urllib.parse.unquote(html.unescape(m.group(0))) for m in _URL_RE.finditer(text)]


def parse_url(url: str, where: str = "") -> tuple[list[IrealSong], str | None]:
    """The songs of one decoded URL and the playlist name (``None`` for a single song)."""
    place = f" in {where}" if where else ""
    if url.startswith("irealbook://"):
        return _parse_irealbook(url[len("irealbook://") :], place)
    if not url.startswith("irealb://"):
        raise InputError(f"not an iReal Pro URL{place}: {url[:40]!r}")
    fields = url[len("irealb://") :].split("=")
    starts = [i for i, f in enumerate(fields) if f.startswith(MARKER)]
    if not starts:
        raise InputError(f"malformed iReal Pro URL{place}: no chart (no {MARKER!r} marker) found")
    songs = []
    for n, i in enumerate(starts, 1):
        if i < 5:
            raise InputError(
                f"malformed iReal Pro URL{place}: song {n} lacks title/composer/"
                "style/key fields before its chart"
            )
        title = fields[i - 6] if i >= 6 else fields[0]
        tail = fields[i + 1 : i + 4] + ["", "", ""]
        songs.append(
            IrealSong(
                title=title.strip(),
                composer=fields[i - 5].strip(),
                style=fields[i - 3].strip(),
                key=fields[i - 2].strip(),
                chart=unscramble(fields[i][len(MARKER) :]),
                bpm=_int(tail[1]),
                repeats=_int(tail[2]),
            )
        )
    trailer = [f for f in fields[starts[-1] + 4 :] if f.strip()]
    name = trailer[-1].strip() if len(starts) > 1 and trailer else None
    return songs, name


def _parse_irealbook(body: str, place: str) -> tuple[list[IrealSong], str | None]:
    fields = body.split("=")
    if len(fields) < 6:
        raise InputError(
            f"malformed irealbook:// URL{place}: expected title=composer=style=key=n="
            f"chart, got {len(fields)} field(s)"
        )
    songs = []
    whole = len(fields) - len(fields) % 6
    for i in range(0, whole, 6):
        title, composer, style, key, _n, chart = fields[i : i + 6]
        songs.append(IrealSong(title.strip(), composer.strip(), style.strip(), key.strip(), chart))
    name = fields[-1].strip() if len(fields) % 6 == 1 and fields[-1].strip() else None
    return songs, name


def _int(text: str) -> int:
    return int(text) if text.strip().isdigit() else 0


# ---------------------------------------------------------------- chart tokens -> bars

_CHORD_RE = re.compile(
    r"(?P<root>[A-G][b#]?|W)(?P<custom>\*[^*]{0,16}\*)?"
    r"(?P<quality>(?:sus|alt|add|6/9|[-^ohø+0-9b#])*)(?P<bass>/[A-G][b#]?)?"
)
_TIME_UNITS = {"12": (12, 8)}
# iReal qualities parse_chord cannot express, and what we read instead (documented choice):
# 7sus with an added third ("7susadd3") is read as 7sus (same mixolydian scale).
_NORMALISE = (("susadd3", "sus"), ("add3sus", "sus"))


def parse_chart(chart: str, where: str = "") -> list[Bar]:
    """Split an unscrambled chart into bars (blank filler bars dropped)."""
    bars: list[Bar] = []
    bar = Bar()
    time = (4, 4)
    pos = 0
    n = len(chart)

    def close(repeat_end: bool = False, final: bool = False) -> None:
        nonlocal bar
        if not bar.is_blank:
            bar.repeat_end = bar.repeat_end or repeat_end
            bar.final = bar.final or final
            bars.append(bar)
            bar = Bar(time=time)
            return
        # a blank filler bar: its closing mark belongs to the bar before, its opening marks
        # (section, ending, repeat start, coda, comments) to the next one
        if bars:
            bars[-1].repeat_end = bars[-1].repeat_end or repeat_end
            bars[-1].final = bars[-1].final or final
        bar = Bar(
            time=time,
            section=bar.section,
            ending=bar.ending,
            repeat_start=bar.repeat_start,
            coda=bar.coda,
            coda_at_start=bar.coda_at_start,
            comments=bar.comments,
        )

    while pos < n:
        ch = chart[pos]
        if ch == "<":
            end = chart.find(">", pos)
            if end < 0:
                raise ChartError(f"unterminated comment '<' at character {pos}{_at(where)}")
            comment = chart[pos + 1 : end]
            if re.match(r"\*\d\d", comment):  # '*yy': a vertical offset, not text
                comment = comment[3:]
            bar.comments.append(comment.strip())
            pos = end + 1
        elif ch == "(":
            end = chart.find(")", pos)
            if end < 0:
                raise ChartError(f"unterminated alternate chord '(' at character {pos}{_at(where)}")
            pos = end + 1  # alternate chords are ignored
        elif ch == "T" and pos + 2 < n and chart[pos + 1 : pos + 3].isdigit():
            time = _time_signature(chart[pos + 1 : pos + 3], pos, where)
            bar.time = time
            pos += 3
        elif ch == "*" and pos + 1 < n:
            bar.section = chart[pos + 1]
            pos += 2
        elif ch == "N" and pos + 1 < n and chart[pos + 1].isdigit():
            bar.ending = int(chart[pos + 1])
            pos += 2
        elif ch in "{[":
            if not bar.is_blank:
                close()
            if ch == "{":
                bar.repeat_start = True
            pos += 1
        elif ch in "|]}Z":
            close(repeat_end=ch == "}", final=ch == "Z")
            pos += 1
        elif ch == "Q":
            bar.coda = True
            bar.coda_at_start = all(c == "" for c in bar.cells)
            pos += 1
        elif ch in "SYUfsl,":
            pos += 1
        elif ch == " ":
            bar.cells.append("")
            pos += 1
        elif ch in "xrpn":
            bar.cells.append(ch)
            pos += 1
        else:
            match = _CHORD_RE.match(chart, pos)
            if not match or match.end() == pos:
                raise ChartError(
                    f"unexpected {ch!r} at character {pos}{_at(where)}: "
                    f"...{chart[max(0, pos - 10) : pos + 10]}..."
                )
            custom = (match.group("custom") or "").strip("*")
            bar.cells.append(
                match.group("root") + custom + match.group("quality") + (match.group("bass") or "")
            )
            pos = match.end()
    close()
    if not any(not b.is_blank for b in bars):
        raise ChartError(f"no chords in the chart{_at(where)}")
    return bars


def _time_signature(digits: str, pos: int, where: str) -> tuple[int, int]:
    if digits in _TIME_UNITS:
        return _TIME_UNITS[digits]
    num, den = int(digits[0]), int(digits[1])
    if num == 0 or den not in (2, 4, 8):
        raise ChartError(f"unknown time signature T{digits} at character {pos}{_at(where)}")
    return num, den


def _at(where: str) -> str:
    return f" in {where}" if where else ""


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
            raise ChartError(f"the form does not end (over {_MAX_BARS} bars){_at(where)}")
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
            raise ChartError(f"'r' (repeat two bars) before two bars were played{_at(where)}")
        return [_copy(played[-2], bar), _copy(played[-1], bar)]
    if "x" in cells:
        if not played:
            raise ChartError(f"'x' (repeat the bar) in the first bar{_at(where)}")
        return [_copy(played[-1], bar)]
    return [bar]


def _copy(source: Bar, marks: Bar) -> Bar:
    return Bar(cells=list(source.cells), time=marks.time, section=marks.section)


# ---------------------------------------------------------------- bars -> (symbol, ticks)


def bar_chords(bar: Bar) -> list[tuple[str, int]]:
    """The chords of one (expanded) bar as (iReal symbol or ``""`` = previous chord goes on,
    ticks). ``n`` becomes ``"NC"``; ``p`` and ``W`` continue the previous chord. A bar lasts
    ``beats_per_bar(time)`` beats, as :mod:`improv.theory.progression` counts them."""
    num, den = bar.time
    unit = beats_per_bar(num, den) * TICKS_PER_BEAT // num
    cells = bar.cells
    events = [i for i, c in enumerate(cells) if c != ""]
    if not events:
        return [("", num * unit)]
    if len(cells) == num:
        starts = events
    elif len(events) <= num:
        share, extra = divmod(num, len(events))
        starts, at = [], 0
        for k in range(len(events)):
            starts.append(at)
            at += share + (1 if k < extra else 0)
    else:
        shares = even_split(len(events), num * unit)
        return _merge([(_symbol(cells[e]), ticks) for e, ticks in zip(events, shares, strict=True)])
    out: list[tuple[str, int]] = []
    if starts[0] > 0:
        out.append(("", starts[0] * unit))
    for k, e in enumerate(events):
        end = starts[k + 1] if k + 1 < len(starts) else num
        out.append((_symbol(cells[e]), (end - starts[k]) * unit))
    return _merge(out)


def _symbol(cell: str) -> str:
    if cell == "n":
        return "NC"
    if cell == "p" or cell == "W":
        return ""
    for written, read in _NORMALISE:
        cell = cell.replace(written, read)
    return cell


def _merge(chords: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """Fold continuation entries (``""``) into the chord before them within the bar."""
    out: list[tuple[str, int]] = []
    for symbol, ticks in chords:
        if symbol == "" and out:
            out[-1] = (out[-1][0], out[-1][1] + ticks)
        else:
            out.append((symbol, ticks))
    return out


# ---------------------------------------------------------------- songs -> tunes

# iReal style -> (feel, default tempo); the first matching word wins, else swing at 140.
_STYLES: tuple[tuple[str, str, float], ...] = (
    ("bossa", "bossa", 130.0),
    ("samba", "bossa", 180.0),
    ("baiao", "bossa", 140.0),
    ("waltz", "waltz", 150.0),
    ("up tempo", "swing", 240.0),
    ("medium up", "swing", 200.0),
    ("medium", "swing", 140.0),
    ("slow", "swing", 90.0),
    ("ballad", "swing", 70.0),
    ("latin", "straight", 160.0),
    ("even", "straight", 140.0),
    ("afro", "straight", 150.0),
    ("rock", "straight", 120.0),
    ("pop", "straight", 110.0),
    ("funk", "straight", 100.0),
    ("rnb", "straight", 100.0),
    ("soul", "straight", 100.0),
    ("reggae", "straight", 80.0),
    ("bolero", "straight", 90.0),
    ("cha", "straight", 120.0),
    ("tango", "straight", 120.0),
    ("shuffle", "swing", 120.0),
    ("swing", "swing", 160.0),
)


def style_feel(style: str, bpm: int = 0) -> tuple[str, float]:
    """The feel (swing/straight/bossa/waltz) and tempo of an iReal style name."""
    lowered = style.casefold().replace("ã", "a")
    feel, tempo = "swing", 140.0
    for word, style_feel_name, style_tempo in _STYLES:
        if word in lowered:
            feel, tempo = style_feel_name, style_tempo
            break
    if 20 <= bpm <= 400:
        tempo = float(bpm)
    return feel, tempo


def song_to_tune(song: IrealSong, where: str = "", *, place: str | None = None) -> Tune:
    """One iReal song as a Tune (main chorus, see the module docstring). Errors name ``place``
    (default: ``where`` and the title); ``place=""`` leaves it to a caller that names the song."""
    if place is None:
        place = f"{where}: {song.title}" if where else song.title
    bars = expand_form(parse_chart(song.chart, place), place)
    chords = [bar_chords(bar) for bar in bars]
    meter = most_common_meter([bar.time for bar in bars])
    beats = beats_per_bar(*meter)
    key = _key(song.key)
    progression = build_progression(chords, beats, title=song.title, key=key, where=place)
    feel, tempo = style_feel(song.style, song.bpm)
    if meter[0] == 3 and feel == "swing":
        feel = "waltz"
    return Tune(
        title=song.title,
        composer=song.composer,
        key=key or "",
        form=_form(bars),
        tempo=tempo,
        feel=feel,
        time=f"{meter[0]}/{meter[1]}",
        changes=changes_text(progression, [sum(t for _, t in bar) for bar in chords]),
        progression=progression,
        style=song.style,
    )


def load_playlist(text: str, where: str = "", errors: list[LoadFailure] | None = None) -> list[Tune]:
    """Every tune of every iReal URL in ``text``. A song that cannot be read is skipped and
    reported in ``errors`` (InputError if ``errors`` is None); a malformed URL is an InputError."""
    urls = find_urls(text)
    if not urls:
        raise InputError(f"no irealb:// or irealbook:// URL found{_at(where)}")
    tunes: list[Tune] = []
    for url in urls:
        songs, name = parse_url(url, where)
        log.debug("iReal playlist %r: %d songs", name, len(songs))
        for song in songs:
            try:
                tunes.append(song_to_tune(song, where, place="" if errors is not None else None))
            except InputError as exc:
                if errors is None:
                    raise
                errors.append(LoadFailure(f"{where}: {song.title}" if where else song.title, str(exc)))
    return tunes


def _form(bars: list[Bar]) -> str:
    """Section letters in order, e.g. ``AABA`` (empty when the chart has no sections)."""
    return "".join(bar.section for bar in bars if bar.section and bar.section.isalpha())


def _key(text: str) -> str | None:
    """iReal key ``G-`` -> ``Gm``; ``None`` when absent."""
    text = text.strip()
    if not text:
        return None
    return text[:-1] + "m" if text.endswith("-") else text


# ---------------------------------------------------------------- the importer (improv.charts.library)

KIND = "iReal Pro playlist"


def claims(chart: ChartFile) -> bool:
    """A text or HTML file holding an ``irealb://`` or ``irealbook://`` URL."""
    return chart.path.is_file() and ("irealb://" in chart.text or "irealbook://" in chart.text)


def load(chart: ChartFile, failures: list[LoadFailure]) -> list[Tune]:
    """Every tune of the playlist; unreadable ones go to ``failures``."""
    return load_playlist(chart.text, str(chart.path), failures)
