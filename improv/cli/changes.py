"""`improv changes`: show how a progression is read (bars, chords, chord tones, scales)."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from improv.charts.build import ChartFile
from improv.charts.library import MUSICXML_SUFFIXES, importer_for, load_library
from improv.cli.option import command
from improv.cli.options import existing_file
from improv.errors import InputError, excerpt
from improv.theory.harmony import Chord, scale_name
from improv.theory.pitch import pitch_name
from improv.theory.progression import Progression, parse_progression
from improv.theory.timing import TICKS_PER_BEAT
from improv.theory.tunes import find_tune, load_tune

log = logging.getLogger(__name__)

DESCRIPTION = """Parse a chord progression (text, a file, or a built-in tune) and print its bars with each
chord's tones and chord scale."""
EPILOG = """examples:
  improv changes "Dm7 G7 | Cmaj7 | %"          three bars, '%' repeats the bar before
  improv changes "time=3/4 |: Dm7:2 G7:1 | C6 :|"
  improv changes my_tune.toml                   a tune file (or a text file of changes)
  improv changes --tune "Autumn Leaves" --json  a built-in tune, as JSON
  improv changes jazz1460.txt --tune "Giant Steps"   a tune of an iReal Pro playlist
  improv changes songs/ --tune "Blue Bossa"     a Jazz Chord Progressions Corpus folder
  improv changes lead-sheet.musicxml            the chords of a MusicXML lead sheet

Bars are separated by '|'; chords in a bar share its beats unless written 'Dm7:3 G7:1';
'%' repeats the previous bar; '|: ... :|' plays the bars twice; 'N.C.' is no chord.
"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = command(subparsers, "changes", run=run, help="show how a chord progression is read",
                     description=DESCRIPTION, example=EPILOG)
    parser.add_argument(
        "source",
        nargs="?",
        metavar="TEXT|FILE",
        help="changes text, a tune .toml, a text file of changes, an iReal Pro playlist, a JCPC song "
        "file or folder, or a MusicXML lead sheet",
    )
    parser.add_argument(
        "--tune",
        metavar="NAME",
        help="a built-in tune instead (see improv tunes), or the tune of a library FILE to show",
    )
    parser.add_argument(
        "--transpose", type=int, default=0, metavar="N", help="move by N semitones (default 0)"
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


def run(args: argparse.Namespace) -> int:
    progression = _load(args.source, args.tune)
    if args.transpose:
        progression = progression.transposed(args.transpose)
    if args.json:
        print(json.dumps(progression_dict(progression), indent=2, ensure_ascii=False))
    else:
        print("\n".join(_text_lines(progression)))
    return 0


def _load(source: str | None, tune: str | None) -> Progression:
    """The progression from --tune, a file (a library: --tune picks its tune), or the text itself."""
    if source is None:
        if tune is None:
            raise InputError("nothing to read: give changes text, a file, or --tune NAME")
        return find_tune(tune).progression
    path = Path(source)
    if _looks_like_file(source) and (existing_file(source) or _is_folder(path)):
        return _from_file(path, tune)
    if tune is not None:
        raise InputError("give either changes TEXT or --tune, not both (--tune picks a tune of a FILE)")
    if _looks_like_file(source) and source.lower().endswith(FILE_SUFFIXES):
        raise InputError(f"file not found: {excerpt(source)}")
    return parse_progression(source)


FILE_SUFFIXES = (".toml", ".txt", ".html", *MUSICXML_SUFFIXES)


def _is_folder(path: Path) -> bool:
    try:
        return len(str(path)) <= 4096 and path.is_dir()
    except (OSError, ValueError):
        return False


def _from_file(path: Path, tune: str | None) -> Progression:
    """A tune file, a library (iReal playlist, JCPC file or folder, MusicXML) or a text of changes."""
    toml = path.suffix.lower() == ".toml"
    chart = ChartFile(path)
    if (path.is_dir() or not toml) and importer_for(chart) is not None:
        failures: list = []  # the other tunes of a playlist that cannot be read do not matter here
        tunes = load_library(chart, failures)
        if failures:
            log.info("%s: skipped %d unreadable tune(s), first: %s", path, len(failures), failures[0])
        if tune is not None:
            return find_tune(tune, tunes).progression
        if len(tunes) == 1:
            return tunes[0].progression
        raise InputError(
            f"{path} holds {len(tunes)} tunes: pick one with --tune NAME (list them with "
            f"`improv tunes --library {path}`)"
        )
    if tune is not None:
        raise InputError(f"--tune picks a tune of a playlist, song folder or lead sheet; {path} is not one")
    if toml:
        return load_tune(path).progression
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {path}: {exc}") from None
    return parse_progression(text, title=path.stem, source=str(path))


def _looks_like_file(source: str) -> bool:
    return "|" not in source and "\n" not in source


def chord_dict(chord: Chord) -> dict:
    """A JSON-ready description of one chord."""
    return {
        "symbol": chord.symbol,
        "root": chord.root,
        "quality": chord.quality,
        "tones": sorted(chord.tones),
        "tone_names": _names(chord, chord.tones),
        "tensions": sorted(chord.tensions),
        "bass": chord.bass,
        "scale": list(chord.scale),
        "scale_name": scale_name(chord),
    }


def progression_dict(progression: Progression) -> dict:
    """A JSON-ready description of a progression, bar by bar."""
    bars = []
    for bar in progression.bars():
        bars.append(
            [
                {
                    "start_beat": span.start / TICKS_PER_BEAT,
                    "beats": span.length / TICKS_PER_BEAT,
                    **chord_dict(span.chord),
                }
                for span in bar
            ]
        )
    return {
        "title": progression.title,
        "key": progression.key,
        "beats_per_bar": progression.beats_per_bar,
        "bar_count": progression.bar_count,
        "length_ticks": progression.length,
        "bars": bars,
    }


_SHARP_ROOTS = {"maj": {7, 2, 9, 4, 11}, "dom": {7, 2, 9, 4, 11}, "sus": {7, 2, 9, 4, 11},
                "aug": {7, 2, 9, 4, 11}, "min": {4, 9, 11}}  # fmt: skip


def _names(chord: Chord, pcs: frozenset[int] | tuple[int, ...]) -> list[str]:
    """Note names in order up from the root (display only: sharps in sharp keys, else flats)."""
    root = chord.root or 0
    sharp = chord.symbol[1:2] in ("#", "♯") or root in _SHARP_ROOTS.get(chord.quality, set())
    return [pitch_name(pc, octave=False, sharps=sharp) for pc in sorted(pcs, key=lambda pc: (pc - root) % 12)]


def _text_lines(progression: Progression) -> list[str]:
    head = progression.title or "progression"
    key = f", key {progression.key}" if progression.key else ""
    lines = [
        f"{head}{key}: {progression.bar_count} bars of {progression.beats_per_bar} beats",
        f"{'bar':>3}  {'beat':>4}  {'len':>4}  {'chord':<12} {'quality':<7} {'tones':<16} scale",
    ]
    bar_ticks = progression.bar_ticks
    for number, bar in enumerate(progression.bars(), start=1):
        for index, span in enumerate(bar):
            chord = span.chord
            beat = (span.start % bar_ticks) / TICKS_PER_BEAT + 1
            tones = " ".join(_names(chord, chord.tones)) or "-"
            if chord.tensions:
                tones += " (" + " ".join(_names(chord, chord.tensions)) + ")"
            scale = " ".join(_names(chord, chord.scale))
            scale_text = f"{scale_name(chord)}: {scale}" if chord.scale else "-"
            label = str(number) if index == 0 else ""
            lines.append(
                f"{label:>3}  {beat:>4g}  {span.length / TICKS_PER_BEAT:>4g}  "
                f"{chord.symbol:<12} {chord.quality:<7} {tones:<16} {scale_text}"
            )
    return lines
