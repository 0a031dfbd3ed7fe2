"""iReal Pro URLs (``irealb://`` and ``irealbook://``) to songs: the fields and the chart's
obfuscation, undone (and done, for tests and examples). The chart text itself is read by
:mod:`improv.charts.ireal_chart`. Pure functions; no threads.

Format (public descriptions of the iReal Pro URL format):

* a URL holds ``=``-separated fields; in ``irealb://`` each song is ``title=composer==style=key=
  transpose=1r34LbKcu7<chart>=comp style=bpm=repeats`` and a playlist ends with its name; in
  ``irealbook://`` each song is the six fields ``title=composer=style=key=n=chart`` (chart in clear);
* the ``irealb`` chart is obfuscated: after the ``1r34LbKcu7`` marker it is cut in 50-character
  blocks (while more than 51 characters remain) and in each block the characters at positions
  0-4 and 10-23 are swapped with their mirror ``49 - i``; then ``XyQ`` is three empty cells,
  ``LZ`` a bar line ``" |"`` and ``Kcl`` a repeated bar ``"| x"``.
"""

from __future__ import annotations

import html
import re
import urllib.parse
from dataclasses import dataclass

from improv.charts.build import in_where
from improv.errors import InputError

MARKER = "1r34LbKcu7"
_URL_RE = re.compile(r"irealb(?:ook)?://[^\s\"'<>]+")


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
    place = in_where(where)
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
