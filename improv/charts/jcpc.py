"""Jazz Chord Progressions Corpus (JCPC) song files to tunes.

A file is a header of ``Key = value`` lines (``Title``, ``ComposedBy``, ``DBKeySig``,
``TimeSig = 4 4``, ``Bars``) and then the bars, written out in full (repeats already expanded),
each ending with ``|``. Chords in a bar share it: whole beats when they fit, the first chords
taking the remainder (see :func:`improv.charts.library.split_bar`); ``NC`` is no chord. Chord
symbols are Impro-Visor's (``M7 m7 m7b5 o7 7b9 7+ /bass``) and go to ``parse_chord``.

Choices: ``DBKeySig`` is a key *signature*; the tune's key is its relative minor (``Bb`` ->
``Gm``) when the last chord of the form is a minor chord on that note, else the signature. The
``Bars`` header is advisory (three corpus files miscount); the written bars win. A header key
ending in ``Title`` (one file has ``mpTitle``) is the title; without one, the file name is.
Feel: ``waltz`` in 3/4, else ``swing``; tempo 140 (the corpus has no tempo or style).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from improv.charts.build import ChartFile, LoadFailure, build_progression, changes_text, split_bar
from improv.errors import InputError
from improv.theory.harmony import note_name, parse_chord, pitch_class
from improv.theory.progression import check_key, time_signature_beats
from improv.theory.timing import TICKS_PER_BEAT
from improv.theory.tunes import Tune

log = logging.getLogger(__name__)

_HEADER_RE = re.compile(r"^\s*([A-Za-z][A-Za-z ]*?)\s*=\s*(.*?)\s*$")
DEFAULT_TEMPO = 140.0


def looks_like_jcpc(text: str) -> bool:
    """A JCPC song: a ``... = ...`` header line and at least one ``|`` bar line."""
    head = text.lstrip()[:400]
    return bool(_HEADER_RE.match(head.split("\n", 1)[0])) and "|" in text


def parse_song(text: str, where: str = "") -> Tune:
    """One JCPC song file's text as a Tune; InputError (naming ``where``) if unreadable."""
    prefix = f"{where}: " if where else ""
    header: dict[str, str] = {}
    body: list[str] = []
    for number, line in enumerate(text.splitlines(), 1):
        match = _HEADER_RE.match(line)
        if match and not body:
            header[match.group(1).replace(" ", "").casefold()] = match.group(2)
        elif line.strip():
            if match:
                raise InputError(f"{prefix}line {number}: header line {line.strip()!r} after the bars")
            body.append(line)
    title = next((v for k, v in header.items() if k.endswith("title") and v), "")
    if not title:
        title = Path(where).stem if where else "untitled"
    time = _time(header.get("timesig", "4 4"), prefix)
    beats = time_signature_beats(time, f"{prefix}TimeSig: ")
    bars = _bars(" ".join(body), prefix)
    chords = [
        [(symbol, ticks) for symbol, ticks in zip(bar, split_bar(len(bar), beats), strict=True)]
        for bar in bars
    ]
    declared = header.get("bars", "")
    if declared.isdigit() and int(declared) != len(bars):
        log.debug("%sheader says %s bars, %d are written", prefix, declared, len(bars))
    signature = header.get("dbkeysig") or header.get("dbkey") or ""
    key = _key(signature, bars, prefix)
    progression = build_progression(chords, beats, title=title, key=key, where=where or title)
    return Tune(
        title=title,
        composer=header.get("composedby", ""),
        key=key or "",
        form="",
        tempo=DEFAULT_TEMPO,
        feel="waltz" if time.startswith("3/") else "swing",
        time=time,
        changes=changes_text(progression, [beats * TICKS_PER_BEAT] * len(bars)),
        progression=progression,
    )


def load_file(path: str | Path) -> Tune:
    """One JCPC ``.txt`` file as a Tune."""
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise InputError(f"cannot read {source}: {exc.strerror}") from None
    return parse_song(text, str(source))


def load_directory(folder: str | Path, errors: list[LoadFailure] | None = None) -> list[Tune]:
    """Every ``*.txt`` song of a JCPC folder, sorted by file name; failures go to ``errors``
    (InputError on the first one if ``errors`` is None)."""
    files = sorted(Path(folder).glob("*.txt"))
    if not files:
        raise InputError(f"no JCPC song files (*.txt) in directory {str(folder)!r}")
    tunes = []
    for path in files:
        try:
            tunes.append(load_file(path))
        except InputError as exc:
            if errors is None:
                raise
            errors.append(LoadFailure(str(path), str(exc)))
    return tunes


def _time(text: str, prefix: str) -> str:
    parts = text.replace("/", " ").split()
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise InputError(f"{prefix}TimeSig {text!r} is not like '4 4'")
    return f"{parts[0]}/{parts[1]}"


def _bars(body: str, prefix: str) -> list[list[str]]:
    if "|" not in body:
        raise InputError(f"{prefix}no bars (no '|') after the header")
    pieces = body.split("|")
    if pieces[-1].strip():
        raise InputError(f"{prefix}the last bar {pieces[-1].strip()!r} does not end with '|'")
    bars = []
    for number, piece in enumerate(pieces[:-1], 1):
        symbols = piece.split()
        if not symbols:
            raise InputError(f"{prefix}bar {number} is empty")
        bars.append(symbols)
    return bars


def _key(signature: str, bars: list[list[str]], prefix: str) -> str | None:
    """The tune's key from the key signature: its relative minor when, reading the last two
    bars backwards, the first major or minor chord on either tonic is the minor one."""
    if not signature:
        return None
    try:
        key = check_key(signature, f"{prefix}DBKeySig: ")
        tonic = pitch_class(key)
    except (InputError, ValueError):
        log.debug("%signoring key signature %r", prefix, signature)
        return None
    relative = (tonic + 9) % 12
    for symbol in reversed([s for bar in bars[-2:] for s in bar]):
        try:
            chord = parse_chord(symbol)
        except InputError:
            continue
        if chord.root == relative and chord.quality == "min":
            return note_name(relative) + "m"
        if chord.root in (tonic, relative) and chord.quality in ("maj", "min"):
            break
    return key


__all__ = ["load_directory", "load_file", "looks_like_jcpc", "parse_song"]


# ---------------------------------------------------------------- the importer (improv.charts.library)

KIND = "JCPC song file or folder"


def claims(chart: ChartFile) -> bool:
    """A directory (of JCPC songs) or a text with a ``Title = ...`` header and ``|`` bars."""
    return chart.path.is_dir() or looks_like_jcpc(chart.text)


def load(chart: ChartFile, failures: list[LoadFailure]) -> list[Tune]:
    """The folder's songs (failures go to ``failures``) or the one song of the file."""
    if chart.path.is_dir():
        return load_directory(chart.path, failures)
    return [parse_song(chart.text, str(chart.path))]
