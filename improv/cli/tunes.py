"""`improv tunes`: list the built-in tunes, or the tunes of a library file (iReal, JCPC, MusicXML)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from improv.cli.option import command
from improv.theory.tunes import DEFAULT_TUNE, Tune, builtin_tunes

DESCRIPTION = """List tunes: title, composer, key, time, default tempo, feel or style, length in bars and
form. Without --library: the tunes that ship with improv."""
EPILOG = f"""examples:
  improv tunes                                  a table of the built-in tunes
  improv tunes --json                           machine-readable
  improv tunes --library jazz1460.txt           the tunes of an iReal Pro playlist
  improv tunes --library songs/ --json          a folder of Jazz Chord Progressions Corpus files
  improv tunes --library blue-bossa.musicxml    a MusicXML lead sheet

Pick one with `improv play --tune NAME` (a unique part of the title is enough; default
{DEFAULT_TUNE!r}), from a library with `improv play --library FILE --tune NAME`, and see its
changes with `improv changes --tune NAME` or `improv changes FILE --tune NAME`.
"""

TITLE_WIDTH = 40  # longer titles and composers are cut with '…' in the table (never in --json)
COMPOSER_WIDTH = 28
MAX_SKIPPED_SHOWN = 3


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = command(subparsers, "tunes", run=run,
                     help="list the built-in tunes, or the tunes of a playlist / song folder / lead sheet",
                     description=DESCRIPTION, example=EPILOG)
    parser.add_argument(
        "--library",
        metavar="FILE",
        type=Path,
        help="an iReal Pro playlist, a JCPC song file or folder, or a MusicXML lead sheet",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


def tune_row(tune: Tune) -> dict:
    """A JSON-ready summary of one tune (what the table shows)."""
    return {
        "title": tune.title,
        "composer": tune.composer,
        "key": tune.key,
        "time": tune.time,
        "tempo": tune.tempo,
        "feel": tune.feel,
        "style": tune.style or tune.feel,
        "swing": tune.swing,
        "bars": tune.bars,
        "form": tune.form,
    }


def run(args: argparse.Namespace) -> int:
    if args.library is None:
        tunes = builtin_tunes()
    else:
        tunes = _library(args.library)
    rows = [tune_row(tune) for tune in tunes]
    if args.json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
    else:
        print("\n".join(table(rows)))
    return 0


def _library(path: Path) -> list[Tune]:
    """The tunes of a library file; tunes that cannot be read are counted on stderr (a few named)."""
    from improv.charts.library import LoadFailure, load_library

    failures: list[LoadFailure] = []
    tunes = load_library(path, failures)
    if failures:
        shown = "; ".join(_short(str(f), 120) for f in failures[:MAX_SKIPPED_SHOWN])
        more = f" (and {len(failures) - MAX_SKIPPED_SHOWN} more)" if len(failures) > MAX_SKIPPED_SHOWN else ""
        print(f"improv: skipped {len(failures)} unreadable tune(s): {shown}{more}", file=sys.stderr)
    return tunes


def table(rows: list[dict]) -> list[str]:
    """The rows as aligned text lines, a header first."""
    title_width = min(TITLE_WIDTH, max([5] + [len(row["title"]) for row in rows]))
    composer_width = min(COMPOSER_WIDTH, max([8] + [len(row["composer"]) for row in rows]))
    style_width = min(16, max([5] + [len(row["style"]) for row in rows]))
    lines = [
        f"{'title':<{title_width}}  {'composer':<{composer_width}}  {'key':<4}  {'time':<4}  "
        f"{'tempo':>5}  {'style':<{style_width}}  {'bars':>4}  form"
    ]
    for row in rows:
        lines.append(
            f"{_short(row['title'], title_width):<{title_width}}  "
            f"{_short(row['composer'], composer_width):<{composer_width}}  {row['key'] or '-':<4}  "
            f"{row['time']:<4}  {row['tempo']:>5g}  {_short(row['style'], style_width):<{style_width}}  "
            f"{row['bars']:>4}  {row['form']}"
        )
    return lines


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
