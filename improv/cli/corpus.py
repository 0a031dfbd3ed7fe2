"""`improv corpus`: read corpus files, encode them as values and print what they hold."""

from __future__ import annotations

import argparse
import json
import logging
import math
import re
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any, TextIO

from improv.cli.option import command
from improv.errors import InputError, excerpt

log = logging.getLogger(__name__)

DESCRIPTION = """Read corpus files (WJazzD, MIDI, MusicXML), encode them as values and print files, bars,
notes, tokens, distinct values and rare values."""
EPILOG = """examples:
  improv corpus ../shared/data/wjazzd                 all 456 WJazzD solos
  improv corpus song.mid --melody Guitar --chords Piano --start 476 --end 548
  improv corpus leadsheet.musicxml --json
  improv corpus --seed-compat ../shared/data/original_metheny.mid   (18 bars, 193 tokens, 78 values)

PATH is a WJazzD directory (or its wjazzd_notes_with_chords.csv), a .mid/.midi file or a
.xml/.musicxml/.mxl lead sheet. Reads are cached in $IMPROV_CACHE (default ~/.cache/improv).
MIDI tracks are chosen by name, index or ch<N> (channel 1-16); without --melody/--chords they
are detected. Rare values (seen fewer than --min-count times) are mapped to their nearest frequent
value when training; the summary says how many.
"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = command(subparsers, "corpus", run=run,
                     help="read corpus files and print their size in bars, notes, tokens and values",
                     description=DESCRIPTION, example=EPILOG)
    parser.add_argument("paths", nargs="+", metavar="PATH", help="corpus files or folders")
    parser.add_argument(
        "--seed-compat",
        action="store_true",
        help="use the seed's spelled-name grammar on MIDI files (Guitar melody, Piano chords, "
        "quarters 476-548 unless --melody/--chords/--start/--end say otherwise)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.add_argument(
        "--min-count",
        type=int,
        default=3,
        metavar="N",
        help="values seen fewer than N times are rare (default 3)",
    )
    parser.add_argument("--melody", metavar="TRACK", help="MIDI melody: track name, index or ch<N>")
    parser.add_argument(
        "--chords", metavar="TRACKS", help="MIDI chord tracks, comma-separated (default: detect)"
    )
    parser.add_argument("--start", type=beats, metavar="BEAT", help="MIDI window start in beats")
    parser.add_argument("--end", type=beats, metavar="BEAT", help="MIDI window end in beats")
    parser.add_argument("--no-cache", action="store_true", help="read the files again")


MAX_BEATS = 1e7


def beats(text: str) -> float:
    """An argparse type: a window edge in beats, a finite number 0..1e7 (not nan, not inf)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{excerpt(text)} is not a number of beats") from None
    if not 0 <= value <= MAX_BEATS:  # nan fails every comparison
        raise argparse.ArgumentTypeError(f"{excerpt(text)} is not a beat in 0..{MAX_BEATS:g}")
    return value


class Status:
    """A one-line status on stderr, only on a terminal and only once work has taken a second."""

    def __init__(self, stream: TextIO | None = None, delay: float = 1.0) -> None:
        self.stream = stream or sys.stderr
        self.enabled = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.delay = delay
        self.started = time.monotonic()
        self.last = 0.0
        self.label = ""
        self.shown = False

    def begin(self, label: str) -> None:
        """Name the next phase (the one-second delay counts from the first phase)."""
        self.label = label

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if not self.enabled or now - self.started < self.delay:
            return
        if done < total and now - self.last < 0.1:
            return
        self.last = now
        width = 30
        filled = width * done // max(total, 1)
        bar = "#" * filled + "-" * (width - filled)
        self.stream.write(f"\r{self.label} [{bar}] {done}/{total}\033[K")
        self.stream.flush()
        self.shown = True

    def clear(self) -> None:
        if self.shown:
            self.stream.write("\r\033[K")
            self.stream.flush()
            self.shown = False


def run(args: argparse.Namespace) -> int:
    """Read, encode, summarise."""
    if args.min_count < 1:
        raise InputError(f"--min-count must be at least 1 (got {args.min_count})")
    if args.start is not None and args.end is not None and args.end <= args.start:
        raise InputError(f"--end ({args.end}) must be after --start ({args.start})")
    status = Status()
    try:
        summary = _seed_summary(args) if args.seed_compat else _summary(args, status)
    finally:
        status.clear()
    if args.json:
        print(json.dumps(summary, indent=1))
    else:
        _print(summary)
    return 0


def _midi_options(args: argparse.Namespace) -> dict[str, Any]:
    options = {"melody": args.melody, "chords": args.chords, "start": args.start, "end": args.end}
    return {k: v for k, v in options.items() if v is not None}


def _summary(args: argparse.Namespace, status: Status) -> dict[str, Any]:
    from improv.corpus.loader import kind_of, load
    from improv.theory.timing import TICKS_PER_BEAT
    from improv.theory.values import Vocabulary, encode

    files: list[dict[str, Any]] = []
    bars = notes = 0
    values: list = []
    for raw in args.paths:
        path = Path(raw)
        kind = kind_of(path)
        options = _midi_options(args) if kind == "midi" else {}
        if kind != "midi" and _midi_options(args):
            log.warning("%s: --melody/--chords/--start/--end apply to MIDI files only", path)
        status.begin(f"reading {path.name}")
        result = load(path, use_cache=not args.no_cache, progress=status, **options)
        status.begin(f"encoding {path.name}")
        file_values = []
        for i, line in enumerate(result.lines, start=1):
            file_values.extend(token.value for token in encode(line))
            status(i, len(result.lines))
        file_bars = sum(_bars(line, TICKS_PER_BEAT) for line in result.lines)
        files.append(
            {
                "path": result.source,
                "kind": result.kind,
                "lines": len(result.lines),
                "bars": file_bars,
                "notes_read": result.notes_read,
                "notes": result.notes_kept,
                "skipped": dict(result.skipped),
                "unparsed_chords": dict(result.unparsed_chords),
                "tokens": len(file_values),
            }
        )
        bars += file_bars
        notes += result.notes_kept
        values.extend(file_values)
    counts = Counter(values)
    vocab, rare = Vocabulary.build(values, args.min_count)
    rare_values = [v for v, n in counts.items() if n < args.min_count]
    same_kind = (  # nothing to map to when no value is frequent
        sum(1 for v in rare_values if vocab.nearest(v).kind == v.kind) if len(vocab) else None
    )
    return {
        "files": files,
        "bars": bars,
        "notes": notes,
        "tokens": len(values),
        "values": len(counts),
        "min_count": args.min_count,
        "rare_values": rare,
        "rare_tokens": sum(counts[v] for v in rare_values),
        "rare_same_kind": same_kind,
        "frequent_values": len(vocab),
    }


def _bars(line: Any, ticks_per_beat: int) -> int:
    """Bars spanned by a line, from the downbeat at tick 0 to the end of its last note."""
    if not line.notes:
        return 0
    end = max(n.onset + n.duration for n in line.notes)
    return math.ceil(end / (line.beats_per_bar * ticks_per_beat))


def _seed_summary(args: argparse.Namespace) -> dict[str, Any]:
    from improv.corpus.seed import seed_corpus

    options: dict[str, Any] = {}
    for role, value in (("melody", args.melody), ("chords", args.chords)):
        if value is None:
            continue
        channel = re.fullmatch(r"(?i)(?:ch|channel)\s*[:=]?\s*(\d+)", value.strip())
        if channel:
            options[role] = None
            options[f"{role}_channel"] = int(channel.group(1))
        else:
            options[role] = value
    if args.start is not None:
        options["start"] = args.start
    if args.end is not None:
        options["end"] = args.end
    files: list[dict[str, Any]] = []
    tokens: list[str] = []
    bars = 0
    for raw in args.paths:
        path = Path(raw)
        if path.suffix.lower() not in (".mid", ".midi"):
            raise InputError(f"{path}: --seed-compat reads MIDI files only")
        if not path.is_file():
            raise InputError(f"{path}: no such file")
        corpus = seed_corpus(path, **options)
        files.append(
            {
                "path": str(path),
                "kind": "midi (seed grammar)",
                "bars": len(corpus.bars),
                "tokens": len(corpus.tokens),
            }
        )
        bars += len(corpus.bars)
        tokens.extend(corpus.tokens)
    counts = Counter(tokens)
    rare = sum(1 for n in counts.values() if n < args.min_count)
    return {
        "files": files,
        "bars": bars,
        "notes": sum(1 for t in tokens if not t.startswith("R")),
        "tokens": len(tokens),
        "values": len(counts),
        "min_count": args.min_count,
        "rare_values": rare,
        "rare_tokens": sum(n for n in counts.values() if n < args.min_count),
        "rare_same_kind": None,
        "frequent_values": len(counts) - rare,
    }


def _print(summary: dict[str, Any]) -> None:
    print(f"files: {len(summary['files'])}")
    for f in summary["files"]:
        extra = ""
        if "notes_read" in f:
            skipped = ", ".join(f"{n} {why}" for why, n in f["skipped"].items()) or "none"
            extra = (
                f", {f['lines']} lines, {f['notes_read']} notes read, {f['notes']} kept (skipped: {skipped})"
            )
            if f["unparsed_chords"]:
                extra += f", chords read as N.C.: {', '.join(f['unparsed_chords'])}"
        print(f"  {f['path']} [{f['kind']}]: {f['bars']} bars, {f['tokens']} tokens{extra}")
    print(f"bars: {summary['bars']}")
    print(f"notes: {summary['notes']}")
    print(f"tokens: {summary['tokens']}")
    print(f"distinct values: {summary['values']}")
    mapped = (
        ""
        if summary["rare_same_kind"] is None
        else (f"; each maps to its nearest frequent value ({summary['rare_same_kind']} keep their kind)")
    )
    print(
        f"rare values (count < {summary['min_count']}): {summary['rare_values']}"
        f" in {summary['rare_tokens']} tokens{mapped}"
    )
    print(f"frequent values: {summary['frequent_values']}")
