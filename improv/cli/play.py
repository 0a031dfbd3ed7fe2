"""`improv play`: improvise live over a tune on a MIDI port until stopped (or for --bars)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from improv import config as cfg
from improv.cli.options import DEFAULT_RANGE, DEFAULT_TEMPERATURE, Changes, parse_range, resolve_changes
from improv.errors import InputError

log = logging.getLogger(__name__)

DEFAULT_TEMPO = 120.0
DEFAULTS: dict[str, Any] = {
    "tempo": None, "swing": None, "tune": None, "changes": None, "library": None, "model": None,
    "seed": None, "temperature": None, "channel": 1, "velocity": None, "range": None,
    "bars": None, "count_in": 0, "latency_offset": 0.0, "clock_out": False, "record": None,
    "port": None, "virtual": None, "api": None, "json_events": None, "lookahead": 1.0,
}

EPILOG = """examples:
  improv play --virtual --changes "Dm7 | G7 | Cmaj7 | %" --tempo 140
  improv play --port "IAC Bus" --tune "Autumn Leaves" --swing --bars 32 --record solo.mid
  improv play --api jack --virtual improv --config configs/default.toml --seed 7

Stop with Ctrl-C (or SIGTERM): every sounding note gets its note-off, then All Notes Off and All
Sound Off are sent. Options can live in a TOML file (--config, see configs/default.toml); the
command line wins. MIDI API: --api or env IMPROV_MIDI_API (alsa, jack, coremidi, winmm).
"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "play",
        help="improvise live on a MIDI port",
        description="Play the improviser live, on time, to a synth or DAW over MIDI.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--config", metavar="FILE.toml", help="read options from a TOML file")
    out = p.add_argument_group("output")
    out.add_argument("--port", metavar="NAME", help="open an existing MIDI output (part of its name)")
    out.add_argument("--virtual", metavar="NAME", nargs="?", const="improv",
                     help="create a virtual output others connect to (default name: improv)")
    out.add_argument("--api", metavar="NAME",
                     help="MIDI API: alsa, jack, coremidi, winmm (default: env IMPROV_MIDI_API)")
    out.add_argument("--channel", type=int, metavar="1..16", help="MIDI channel (default 1)")
    out.add_argument("--velocity", type=int, metavar="1..127",
                     help="base velocity (default 90; accents are shaped around it)")
    out.add_argument("--latency-offset", type=float, metavar="MS",
                     help="send every message MS milliseconds later (negative: earlier)")
    out.add_argument("--clock-out", action=argparse.BooleanOptionalAction, default=None,
                     help="send MIDI clock, Start and Stop so hardware can follow")
    music = p.add_argument_group("music")
    music.add_argument("--tempo", type=float, metavar="BPM", help="tempo (default 120)")
    music.add_argument("--swing", type=float, nargs="?", const=0.5, metavar="AMOUNT",
                       help="swing the eighths: 0 straight, 0.5 triplet (the default with no "
                            "amount), 0.75 dotted")
    music.add_argument("--tune", metavar="NAME", help="a tune from the library")
    music.add_argument("--changes", metavar="TEXT", help='chord changes, e.g. "Dm7 G7 | Cmaj7 %%"')
    music.add_argument(
        "--library", metavar="FILE",
        help="tunes for --tune: an iReal Pro playlist, a JCPC song file or folder, a MusicXML lead sheet",
    )
    music.add_argument("--model", metavar="DIR", help="model directory (default: the shipped one)")
    music.add_argument("--seed", type=int, metavar="N", help="random seed (default: random)")
    music.add_argument("--temperature", type=float, metavar="T", help="sampling temperature")
    music.add_argument("--range", metavar="LOW..HIGH", help="register, e.g. E3..C6 or 52..84")
    session = p.add_argument_group("session")
    session.add_argument("--bars", type=int, metavar="N", help="stop after N bars (default: never)")
    session.add_argument("--count-in", type=int, metavar="BARS",
                         help="bars of clicks (channel 10) before the first note")
    session.add_argument("--lookahead", type=float, metavar="BEATS",
                         help="how far generation runs ahead of playback (default 1 beat)")
    session.add_argument("--record", metavar="FILE.mid", help="also write what was played")
    session.add_argument("--json-events", metavar="FILE",
                         help="one JSON line per message sent (scheduled and actual time)")
    p.set_defaults(run=run)


KEYS = tuple(DEFAULTS)


def run(args: argparse.Namespace) -> int:
    _single_threaded_math()
    cli = {key: getattr(args, key, None) for key in KEYS}
    from_file = cfg.load_play_config(args.config) if args.config else {}
    values = cfg.merge(cli, from_file, DEFAULTS)
    opts = validate(values, cli, args.config)
    changes = _changes(opts)
    progression = changes.progression
    if opts["tempo"] is None:
        opts["tempo"] = changes.tempo or DEFAULT_TEMPO
    if opts["swing"] is None:
        opts["swing"] = changes.swing or 0.0

    from improv.live import ports
    from improv.live.engine import Engine, EngineOptions, PortWatch

    api = ports.resolve_api(opts["api"])
    port = ports.OutputPort(api, port=opts["port"], virtual=opts["virtual"])
    watch = None
    try:
        log.info("playing on %s (%s)", port.label, ports.api_name(api))
        improviser = _improviser(opts, changes)
        heartbeat = ports.JackHeartbeat() if api == ports.rtmidi.API_UNIX_JACK else None
        watch = PortWatch(port, heartbeat)
        engine = Engine(
            improviser, port,
            EngineOptions(
                tempo=opts["tempo"], channel=opts["channel"] - 1, bars=opts["bars"],
                beats_per_bar=progression.beats_per_bar, count_in=opts["count_in"],
                lookahead=opts["lookahead"], latency_offset_ms=opts["latency_offset"],
                clock_out=opts["clock_out"], json_events=opts["json_events"],
                record=opts["record"],
            ),
            chord_at=lambda beat: _chord_symbol(progression, beat),
            watch=watch,
        )
        result = engine.run()
    finally:
        port.close()
        if watch is not None:
            watch.close()
    log.info("ended (%s): %d notes, %d messages, %d late, %d dropped, %d rests for lateness",
             result.reason, result.notes, result.sent, result.late, result.dropped,
             result.rests_for_lateness)
    return 0


# ---------------------------------------------------------------------------------- validation
def validate(values: dict[str, Any], cli: dict[str, Any], config_file: str | None) -> dict:
    """Checked, typed options; InputError (one line, naming the option) for anything wrong."""
    def where(key: str) -> str:
        return cfg.origin(key, cli, config_file)

    def number(key: str, low: float, high: float, kind: type = float) -> Any:
        value = values[key]
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InputError(f"{where(key)}: expected a number, got {value!r}")
        if kind is int and value != int(value):
            raise InputError(f"{where(key)}: expected a whole number, got {value!r}")
        if not low <= value <= high:
            raise InputError(f"{where(key)}: {value:g} is outside {low:g}..{high:g}")
        return kind(value)

    opts = dict(values)
    opts["tempo"] = number("tempo", 20, 400)
    opts["channel"] = number("channel", 1, 16, int)
    opts["velocity"] = number("velocity", 1, 127, int)
    opts["temperature"] = number("temperature", 0.05, 5.0)
    if opts["temperature"] is None:
        opts["temperature"] = DEFAULT_TEMPERATURE
    opts["seed"] = number("seed", 0, 2**63 - 1, int)
    opts["bars"] = number("bars", 1, 1_000_000, int)
    opts["count_in"] = number("count_in", 0, 16, int)
    opts["latency_offset"] = number("latency_offset", -500, 1000)
    opts["lookahead"] = number("lookahead", 0.25, 8)
    swing = values["swing"]
    if isinstance(swing, bool):
        swing = 0.5 if swing else 0.0
    opts["swing"] = swing
    opts["swing"] = number("swing", 0.0, 0.75) if swing is not None else None
    opts["low"], opts["high"] = parse_range(str(values["range"] or DEFAULT_RANGE), where("range"))
    opts["clock_out"] = bool(values["clock_out"])
    virtual = values["virtual"]
    if virtual is True:
        virtual = "improv"
    elif virtual is False or virtual == "":
        virtual = None
    if opts["port"] is not None and virtual is not None:
        raise InputError("choose one of --port NAME or --virtual [NAME], not both")
    if opts["port"] is None and virtual is None:
        virtual = "improv"
    opts["virtual"] = virtual
    if opts["tune"] and opts["changes"]:
        raise InputError("choose one of --tune or --changes, not both")
    for key in ("record", "json_events"):
        if values[key]:
            opts[key] = _writable(Path(values[key]), where(key))
    if values["model"] and not Path(values["model"]).is_dir():
        raise InputError(f"{where('model')}: model directory {values['model']} does not exist")
    return opts


def _writable(path: Path, where: str) -> Path:
    if path.is_dir():
        raise InputError(f"{where}: {path} is a directory")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(f"{where}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise InputError(f"{where}: directory {parent} is not writable")
    return path


# ---------------------------------------------------------------------------------- music
def _changes(opts: dict) -> Changes:
    """What to play over: --tune (from the built-in tunes or --library), --changes, or the default tune."""
    return resolve_changes(
        SimpleNamespace(tune=opts["tune"], changes=opts["changes"], library=opts["library"])
    )


def _improviser(opts: dict, changes: Changes):
    """The real improviser (imported lazily: the live path never loads TensorFlow)."""
    from improv.generate import build_improviser

    kwargs: dict[str, Any] = dict(
        model_dir=opts["model"], seed=opts["seed"], temperature=opts["temperature"],
        low=opts["low"], high=opts["high"], swing=opts["swing"], sections=changes.sections,
    )
    if opts["velocity"] is not None:
        kwargs["velocity"] = opts["velocity"]
    return build_improviser(changes.progression, **kwargs)


def _chord_symbol(progression, beat: float) -> str:
    from improv.theory.timing import beats_to_ticks

    return progression.chord_at(beats_to_ticks(beat)).symbol


def _single_threaded_math() -> None:
    """One BLAS/OpenMP thread for the live process, so a core stays free for the emitter."""
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, "1")
    if "numpy" in sys.modules:
        log.debug("numpy was imported before play started; BLAS thread count unchanged")
