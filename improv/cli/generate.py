"""`improv generate`: write an improvised solo over the changes to a MIDI file (and a picture of it)."""

from __future__ import annotations

import argparse
import logging

from improv.cli import table
from improv.cli.option import add_arguments, command
from improv.cli.options import Changes, check_number, resolve_changes
from improv.errors import InputError
from improv.theory.timing import DEFAULT_TEMPO

log = logging.getLogger(__name__)

DESCRIPTION = """Improvise over a tune or a progression and write a type-1 MIDI file: the solo on one track,
the rhythm section (comping, walking bass, swing drums) on others, and with --audio a WAV rendered through
FluidSynth. The same seed and arguments give a byte-identical file."""
EPILOG = """examples:
  improv generate --out solo.mid --tune "Autumn Leaves" --choruses 2 --seed 7
  improv generate --out iivi.mid --changes "Dm7 G7 | Cmaj7 %" --bars 16 --plot iivi.png
  improv generate --out blues.mid --audio blues.wav --band all --seed 3
  improv generate --out duo.mid --band bass --band-channels bass=5 --audio duo.wav
  improv generate --out raw.mid --tune "Solar" --choruses 4 --no-shaping"""


def add_parser(subparsers) -> None:
    """Register `improv generate`."""
    p = command(subparsers, "generate", run=run, help="write a solo to a MIDI file",
                description=DESCRIPTION, example=EPILOG)
    add_arguments(p, table.rows(table.GENERATE), table.TITLES)


def _shaping(opts: dict, tempo: float, choruses: float):
    """The shaping the options ask for: the arc spans the solo's choruses; the density follows the tempo."""
    from dataclasses import replace

    from improv.shaping import Shaping

    if opts["no_shaping"]:
        return Shaping.off()
    return replace(Shaping(), arc_choruses=max(1, round(choruses)), tempo=tempo, nudges=not opts["no_nudges"])


def _options(args: argparse.Namespace) -> tuple[dict, Changes]:
    """The checked options (the table's rows), what they play over, and what the tune decides: the bars,
    the tempo, the swing, the seed (0) and the band (none with --no-comp)."""
    from improv.cli.option import given

    opts = table.checked(table.GENERATE, given(args, table.rows(table.GENERATE)))
    changes = resolve_changes(argparse.Namespace(**opts))
    if opts["bars"] is not None and opts["choruses"] is not None:
        raise InputError("give either --bars or --choruses, not both")
    bar_count = changes.progression.bar_count
    bars = opts["bars"] if opts["choruses"] is None else opts["choruses"] * bar_count
    opts["bars"] = table.checked_value(table.GENERATE, "bars", bars if bars is not None else bar_count)
    if opts["plot"]:
        from improv.plot import MAX_BARS

        check_number("--bars (with --plot)", opts["bars"], 1, MAX_BARS)
    if opts["tempo"] is None:
        opts["tempo"] = table.checked_value(table.GENERATE, "tempo", changes.tempo or DEFAULT_TEMPO)
    if opts["swing"] is None:
        opts["swing"] = table.checked_value(table.GENERATE, "swing", changes.swing or 0.0)
    opts["seed"] = 0 if opts["seed"] is None else opts["seed"]
    opts["band"] = () if opts["no_comp"] else opts["band"]
    return opts, changes


def run(args: argparse.Namespace) -> int:
    """Generate and write the file."""
    from improv.generate import band_notes, build_improviser, generate_solo, solo_to_midi
    from improv.motifs import MotifSettings
    from improv.perform.band import parse_band_channels

    opts, changes = _options(args)
    progression, bars, tempo, parts = changes.progression, opts["bars"], opts["tempo"], opts["band"]
    channels = parse_band_channels(opts["band_channels"])
    loader = None
    if opts["audio"]:  # the soundfont and the instruments load while the notes are made
        from improv.cli.sound import synth_programs
        from improv.synth import SynthLoader

        loader = SynthLoader(opts["soundfont"], programs=synth_programs(channels, parts))
    improviser = build_improviser(progression, table.improviser_settings(opts), model_dir=opts["model"],
                                  sections=changes.sections, tempo=tempo,
                                  shaping=_shaping(opts, tempo, bars / max(1, progression.bar_count)),
                                  motifs=MotifSettings.off() if opts["no_shaping"] or opts["no_motifs"]
                                  else None)
    notes = generate_solo(improviser, bars)
    band = band_notes(progression, bars, seed=opts["seed"], tempo=tempo, swing=opts["swing"],
                      sections=changes.sections, parts=parts, channels=channels, groove=changes.groove)
    mid = solo_to_midi(notes, progression, tempo=tempo, bars=bars, title=changes.title, band=band,
                       channels=channels)
    try:
        mid.save(opts["out"])
    except OSError as exc:
        raise InputError(f"cannot write {opts['out']}: {exc}") from exc
    with_band = f" with {', '.join(parts)}" if parts else ""
    print(f"wrote {opts['out']}: {len(notes)} notes, {bars} bars of {changes.title} at {tempo:g} BPM"
          f"{with_band}")
    if loader is not None:
        from improv.synth import render_midi

        seconds = render_midi(mid, opts["audio"], synth=loader.result())
        print(f"wrote {opts['audio']}: {seconds:.1f} s of audio")
    if opts["plot"]:
        _plot(opts, changes, notes, band)
    return 0


def _plot(opts: dict, changes: Changes, notes: list, band: dict) -> None:
    """The piano roll of the solo and its band."""
    from improv.plot import Lane, piano_roll

    progression, bars = changes.progression, opts["bars"]
    lanes = [Lane(part, band[part]) for part in ("comp", "bass") if band.get(part)] or None
    key = f"key {progression.key} · " if progression.key else ""
    subtitle = (f"{key}{progression.beats_per_bar} beats a bar · {bars} bars at {opts['tempo']:g} BPM · "
                f"seed {opts['seed']}")
    piano_roll(notes, progression, bars, opts["plot"], title=changes.title, lanes=lanes,
               subtitle=subtitle, sections=changes.sections)
    print(f"wrote {opts['plot']}")
