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
from improv.theory.pitch import DEFAULT_REGISTER
from improv.theory.timing import DEFAULT_TEMPO

log = logging.getLogger(__name__)


def add_parser(subparsers) -> None:
    """Register `improv generate`."""
    p = subparsers.add_parser(
        "generate",
        help="write a solo to a MIDI file",
        description="Improvise over a tune or a progression and write a type-1 MIDI file: the solo on one "
        "track, the rhythm section (comping, walking bass, swing drums) on others, and with --audio a WAV "
        "rendered through FluidSynth. The same seed and arguments give a byte-identical file.",
        epilog='examples:\n  improv generate --out solo.mid --tune "Autumn Leaves" --choruses 2 --seed 7\n'
        '  improv generate --out iivi.mid --changes "Dm7 G7 | Cmaj7 %" --bars 16 --plot iivi.png\n'
        '  improv generate --out blues.mid --audio blues.wav --band all --seed 3\n'
        '  improv generate --out duo.mid --band bass --band-channels bass=5 --audio duo.wav\n'
        '  improv generate --out raw.mid --tune "Solar" --choruses 4 --no-shaping',
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--out", required=True, type=Path, metavar="FILE.mid", help="MIDI file to write")
    p.add_argument("--bars", type=int, default=None, help="bars to play (default: one chorus)")
    p.add_argument("--choruses", type=int, default=None, help="choruses of the form to play")
    p.add_argument("--tempo", type=float, default=None, help="BPM (default: the tune's, else 120)")
    p.add_argument("--plot", type=Path, metavar="FILE.png", help="also draw a piano roll")
    p.add_argument("--band", metavar="LIST", default=None,
                   help="rhythm-section parts: bass, comp, drums (comma-separated), all, none (default all)")
    p.add_argument("--no-comp", action="store_true", help="solo track only (the same as --band none)")
    p.add_argument("--band-channels", metavar="PART=CH,...", default=None,
                   help="MIDI channels 1..16 per part (default solo=1,bass=2,comp=3,drums=10)")
    p.add_argument("--audio", type=Path, metavar="FILE.wav",
                   help="also render the file to audio through FluidSynth (no audio device needed)")
    p.add_argument("--soundfont", type=Path, metavar="FILE.sf2",
                   help="General MIDI soundfont for --audio (default: the system's, e.g. FluidR3_GM)")
    p.add_argument("--no-shaping", action="store_true",
                   help="the version-1 improviser: hard register walls, no arc, no nudges, no rhythm biases")
    p.add_argument("--no-nudges", action="store_true",
                   help="keep the shaping but let avoid notes hang (to measure what the model chooses)")
    p.add_argument("--no-motifs", action="store_true",
                   help="no motif memory: never restate a recent cell (the improviser of version 2)")
    add_changes_options(p)
    add_improviser_options(p)
    p.set_defaults(run=run)


def _shaping(args: argparse.Namespace, tempo: float, choruses: float):
    """The shaping the options ask for: the arc spans the solo's choruses; the density follows the tempo."""
    from dataclasses import replace

    from improv.shaping import Shaping

    if args.no_shaping:
        return Shaping.off()
    return replace(Shaping(), arc_choruses=max(1, round(choruses)), tempo=tempo, nudges=not args.no_nudges)


def run(args: argparse.Namespace) -> int:
    """Generate and write the file."""
    from improv.generate import band_notes, build_improviser, generate_solo, solo_to_midi
    from improv.motifs import MotifSettings
    from improv.perform.band import parse_band_channels, parse_parts

    changes = resolve_changes(args)
    if args.bars is not None and args.choruses is not None:
        raise InputError("give either --bars or --choruses, not both")
    bars = args.bars
    if args.choruses is not None:
        check_number("--choruses", args.choruses, 1, 1000)
        bars = args.choruses * changes.progression.bar_count
    bars = bars if bars is not None else changes.progression.bar_count
    check_number("--bars", bars, 1, 100000)
    if args.plot:
        from improv.plot import MAX_BARS

        check_number("--bars (with --plot)", bars, 1, MAX_BARS)
    tempo = args.tempo if args.tempo is not None else (changes.tempo or DEFAULT_TEMPO)
    check_number("--tempo", tempo, 20, 400)
    temperature = DEFAULT_TEMPERATURE if args.temperature is None else args.temperature
    check_number("--temperature", temperature, 0, 5)
    top_p = 1.0 if args.top_p is None else args.top_p
    check_number("--top-p", top_p, 0.01, 1)
    swing = args.swing if args.swing is not None else (changes.swing or 0.0)
    check_number("--swing", swing, 0, 0.75)
    velocity = 90 if args.velocity is None else args.velocity
    check_number("--velocity", velocity, 1, 127)
    low, high = parse_range(args.range_) if args.range_ is not None else DEFAULT_REGISTER
    parts = () if args.no_comp else parse_parts(args.band if args.band is not None else "all")
    channels = parse_band_channels(args.band_channels)
    seed = 0 if args.seed is None else args.seed
    improviser = build_improviser(
        changes.progression,
        model_dir=args.model,
        seed=seed,
        temperature=temperature,
        top_p=top_p,
        low=low,
        high=high,
        velocity=velocity,
        swing=swing,
        sections=changes.sections,
        shaping=_shaping(args, tempo, bars / max(1, changes.progression.bar_count)),
        tempo=tempo,
        motifs=MotifSettings.off() if args.no_shaping or args.no_motifs else None,
    )
    notes = generate_solo(improviser, bars)
    band = band_notes(changes.progression, bars, seed=seed, tempo=tempo, swing=swing,
                      sections=changes.sections, parts=parts, channels=channels)
    mid = solo_to_midi(notes, changes.progression, tempo=tempo, bars=bars, title=changes.title, band=band,
                       channels=channels)
    try:
        mid.save(args.out)
    except OSError as exc:
        raise InputError(f"cannot write {args.out}: {exc}") from exc
    with_band = f" with {', '.join(parts)}" if parts else ""
    print(f"wrote {args.out}: {len(notes)} notes, {bars} bars of {changes.title} at {tempo:g} BPM{with_band}")
    if args.audio:
        from improv.synth import render_midi

        seconds = render_midi(mid, args.audio, args.soundfont)
        print(f"wrote {args.audio}: {seconds:.1f} s of audio")
    if args.plot:
        from improv.plot import Lane, piano_roll

        lanes = [Lane(part, band[part]) for part in ("comp", "bass") if band.get(part)] or None
        key = f"key {changes.progression.key} · " if changes.progression.key else ""
        subtitle = (f"{key}{changes.progression.beats_per_bar} beats a bar · {bars} bars at {tempo:g} BPM · "
                    f"seed {0 if args.seed is None else args.seed}")
        piano_roll(notes, changes.progression, bars, args.plot, title=changes.title, lanes=lanes,
                   subtitle=subtitle, sections=changes.sections)
        print(f"wrote {args.plot}")
    return 0
