"""`improv generate`: write an improvised solo over the changes to a MIDI file (and a picture of it)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from improv.cli.options import (
    DEFAULT_TEMPERATURE,
    add_changes_options,
    add_improviser_options,
    check_number,
    parse_range,
    resolve_changes,
)
from improv.errors import InputError

log = logging.getLogger(__name__)


def add_parser(subparsers) -> None:
    """Register `improv generate`."""
    p = subparsers.add_parser(
        "generate",
        help="write a solo to a MIDI file",
        description="Improvise over a tune or a progression and write a type-1 MIDI file: the solo on one "
        "track, the chords voiced on others. The same seed and arguments give a byte-identical file.",
        epilog='examples:\n  improv generate --out solo.mid --tune "Autumn Leaves" --choruses 2 --seed 7\n'
        '  improv generate --out iivi.mid --changes "Dm7 G7 | Cmaj7 %" --bars 16 --plot iivi.png',
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--out", required=True, type=Path, metavar="FILE.mid", help="MIDI file to write")
    p.add_argument("--bars", type=int, default=None, help="bars to play (default: one chorus)")
    p.add_argument("--choruses", type=int, default=None, help="choruses of the form to play")
    p.add_argument("--tempo", type=float, default=None, help="BPM (default: the tune's, else 120)")
    p.add_argument("--plot", type=Path, metavar="FILE.png", help="also draw a piano roll")
    p.add_argument("--no-comp", action="store_true", help="solo track only, no chords/bass")
    add_changes_options(p)
    add_improviser_options(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Generate and write the file."""
    from improv.generate import build_improviser, generate_solo, solo_to_midi

    changes = resolve_changes(args)
    if args.bars is not None and args.choruses is not None:
        raise InputError("give either --bars or --choruses, not both")
    bars = args.bars
    if args.choruses is not None:
        check_number("--choruses", args.choruses, 1, 1000)
        bars = args.choruses * changes.progression.bar_count
    bars = bars if bars is not None else changes.progression.bar_count
    check_number("--bars", bars, 1, 100000)
    tempo = args.tempo if args.tempo is not None else (changes.tempo or 120.0)
    check_number("--tempo", tempo, 20, 400)
    temperature = DEFAULT_TEMPERATURE if args.temperature is None else args.temperature
    check_number("--temperature", temperature, 0, 5)
    top_p = 1.0 if args.top_p is None else args.top_p
    check_number("--top-p", top_p, 0.01, 1)
    swing = args.swing if args.swing is not None else (changes.swing or 0.0)
    check_number("--swing", swing, 0, 0.75)
    velocity = 90 if args.velocity is None else args.velocity
    check_number("--velocity", velocity, 1, 127)
    low, high = parse_range(args.range_) if args.range_ else (52, 84)
    improviser = build_improviser(
        changes.progression,
        model_dir=args.model,
        seed=0 if args.seed is None else args.seed,
        temperature=temperature,
        top_p=top_p,
        low=low,
        high=high,
        velocity=velocity,
        swing=swing,
        sections=changes.sections,
        tempo=tempo,
    )
    notes = generate_solo(improviser, bars)
    mid = solo_to_midi(
        notes, changes.progression, tempo=tempo, bars=bars, title=changes.title, comp=not args.no_comp
    )
    try:
        mid.save(args.out)
    except OSError as exc:
        raise InputError(f"cannot write {args.out}: {exc}") from exc
    print(f"wrote {args.out}: {len(notes)} notes, {bars} bars of {changes.title} at {tempo:g} BPM")
    if args.plot:
        from improv.plot import piano_roll

        piano_roll(notes, changes.progression, bars, args.plot, title=changes.title)
        print(f"wrote {args.plot}")
    return 0
