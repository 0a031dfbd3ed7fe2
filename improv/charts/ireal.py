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

The reading is three modules: :mod:`improv.charts.ireal_url` (URLs, fields and the chart's
obfuscation), :mod:`improv.charts.ireal_chart` (chart tokens to bars, the form played once) and
this one (the chords of each bar, the song as a :class:`Tune`, the importer). Pure functions.

Form: the **main chorus** an improviser loops over (repeats and endings expanded, the coda
dropped; see :mod:`improv.charts.ireal_chart`). Chords in a bar: when the bar has exactly as many
cells as beats (units of the time signature's denominator), cells are beats; otherwise the chords
share the bar evenly in whole units, the first chords taking the remainder (three chords in 4/4
are 2+1+1 beats).
Meter changes inside a tune (19 of the 1,460) keep each bar's true length; the progression's
``beats_per_bar`` is the most common meter, so ``Progression.bars()`` is approximate there.
"""

from __future__ import annotations

import logging

from improv.charts.build import (
    ChartFile,
    LoadFailure,
    beats_per_bar,
    build_progression,
    changes_text,
    in_where,
    most_common_meter,
)
from improv.charts.ireal_chart import Bar, expand_form, parse_chart
from improv.charts.ireal_url import IrealSong, find_urls, parse_url
from improv.errors import InputError
from improv.theory.progression import even_split
from improv.theory.timing import TICKS_PER_BEAT
from improv.theory.tunes import Tune

log = logging.getLogger(__name__)

# iReal qualities parse_chord cannot express, and what we read instead (documented choice):
# 7sus with an added third ("7susadd3") is read as 7sus (same mixolydian scale).
_NORMALISE = (("susadd3", "sus"), ("add3sus", "sus"))


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
        raise InputError(f"no irealb:// or irealbook:// URL found{in_where(where)}")
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
