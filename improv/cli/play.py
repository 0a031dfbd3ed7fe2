"""`improv play`: improvise live over a tune on a MIDI port until stopped (or for --bars)."""

from __future__ import annotations

import argparse
import logging
import secrets
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from improv import config as cfg
from improv.cli import sound
from improv.cli.options import (
    DEFAULT_RANGE,
    DEFAULT_TEMPERATURE,
    Changes,
    parse_pitch,
    parse_range,
    resolve_changes,
    writable_file,
)
from improv.errors import InputError
from improv.perform.modes import DEFAULT_MODE, MODES, Trade, mode_help, parse_mode
from improv.theory.timing import DEFAULT_TEMPO

log = logging.getLogger(__name__)

# 0.7: the call steers the answer (its contour, register and rhythm come through in the state)
# while 30 % of the improviser's own line survives, so an answer is a reply, not an echo, and
# the solo keeps one thread through the whole session. 1.0 makes answers imitations.
DEFAULT_RESEED_WEIGHT = 0.7
DEFAULTS: dict[str, Any] = {
    "tempo": None,
    "swing": None,
    "tune": None,
    "changes": None,
    "library": None,
    "model": None,
    "seed": None,
    "temperature": None,
    "channel": 1,
    "velocity": None,
    "range": None,
    "bars": None,
    "choruses": None,
    "count_in": 0,
    "latency_offset": 0.0,
    "clock_out": False,
    "record": None,
    "port": None,
    "virtual": None,
    "api": None,
    "json_events": None,
    "lookahead": 1.0,
    "input": None,
    "virtual_input": None,
    "input_channel": None,
    "passthrough": False,
    "mode": DEFAULT_MODE.name,
    "gate": 2.0,
    "response_bars": None,
    "reseed_weight": DEFAULT_RESEED_WEIGHT,
    "chords_from": None,
    "split": None,
    "chords_channel": None,
    "clock": None,
    "device": None,
    "session_log": None,
    **sound.DEFAULTS,
}

EPILOG = """examples:
  improv play --virtual --changes "Dm7 | G7 | Cmaj7 | %" --tempo 140
  improv play --port "IAC Bus" --tune "Autumn Leaves" --swing --bars 32 --record solo.mid
  improv play --api jack --virtual improv --config configs/default.toml --seed 7
  improv play --input keystation --mode respond --gate 1.5 --passthrough
  improv play --device daw-clock --clock input --mode trade 4 --tune "Blue Bossa"
  improv play --input "MPK" --chords-from "MPK" --split C4 --device generic-keyboard
{sound}

Stop with Ctrl-C (or SIGTERM): every sounding note gets its note-off, then All Notes Off and All
Sound Off are sent. Options can live in a TOML file (--config, see configs/default.toml); the
command line wins. MIDI API: --api or env IMPROV_MIDI_API (alsa, jack, coremidi, winmm).
""".replace("{sound}", sound.HELP_EXAMPLES)


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
    out.add_argument(
        "--virtual",
        metavar="NAME",
        nargs="?",
        const="improv",
        help="create a virtual output others connect to (default name: improv)",
    )
    out.add_argument(
        "--api", metavar="NAME", help="MIDI API: alsa, jack, coremidi, winmm (default: env IMPROV_MIDI_API)"
    )
    out.add_argument("--channel", type=int, metavar="1..16", help="MIDI channel (default 1)")
    out.add_argument(
        "--velocity",
        type=int,
        metavar="1..127",
        help="base velocity (default 90; accents are shaped around it)",
    )
    out.add_argument(
        "--latency-offset",
        type=float,
        metavar="MS",
        help="send every message MS milliseconds later (negative: earlier)",
    )
    out.add_argument(
        "--clock-out",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="send MIDI clock, Start and Stop so hardware can follow",
    )
    music = p.add_argument_group("music")
    music.add_argument("--tempo", type=float, metavar="BPM", help="tempo (default: the tune's, else 120)")
    music.add_argument(
        "--swing",
        type=float,
        nargs="?",
        const=0.5,
        metavar="AMOUNT",
        help="swing the eighths: 0 straight, 0.5 triplet (the default with no amount), 0.75 dotted",
    )
    music.add_argument(
        "--tune", metavar="NAME", help="a tune by title, exact or a unique part (default: F Blues)"
    )
    music.add_argument("--changes", metavar="TEXT", help='chord changes, e.g. "Dm7 G7 | Cmaj7 %%"')
    music.add_argument(
        "--library",
        metavar="FILE",
        help="tunes for --tune: an iReal Pro playlist, a JCPC song file or folder, a MusicXML lead sheet",
    )
    music.add_argument("--model", metavar="DIR", help="model directory (default: the shipped one)")
    music.add_argument(
        "--seed",
        type=int,
        metavar="N",
        help="random seed: the same seed replays the same notes (default: random, logged)",
    )
    music.add_argument(
        "--temperature", type=float, metavar="T", help=f"sampling temperature (default {DEFAULT_TEMPERATURE})"
    )
    music.add_argument("--range", metavar="LOW..HIGH", help="register, e.g. E3..C6 or 52..84")
    session = p.add_argument_group("session")
    session.add_argument("--bars", type=int, metavar="N", help="stop after N bars (default: never)")
    session.add_argument(
        "--choruses", type=int, metavar="N", help="stop after N choruses of the form (instead of --bars)"
    )
    session.add_argument(
        "--count-in", type=int, metavar="BARS", help="bars of clicks (channel 10) before the first note"
    )
    session.add_argument(
        "--lookahead",
        type=float,
        metavar="BEATS",
        help="how far generation runs ahead of playback (default 1 beat)",
    )
    session.add_argument("--record", metavar="FILE.mid", help="also write what was played")
    session.add_argument(
        "--json-events",
        metavar="FILE",
        help="one JSON line per message sent (scheduled and actual time) and "
        "per parameter changed by a controller",
    )
    session.add_argument(
        "--session-log",
        metavar="FILE.jsonl",
        help="the session log for `improv replay` (default: a new file under "
        "$IMPROV_CACHE/sessions or ~/.cache/improv/sessions)",
    )
    listen = p.add_argument_group("listening")
    listen.add_argument("--input", metavar="NAME", help="the player's MIDI input (part of its name)")
    listen.add_argument(
        "--virtual-input",
        metavar="NAME",
        nargs="?",
        const="in",
        help="create a virtual input the player connects to (default name: in)",
    )
    listen.add_argument(
        "--input-channel", type=int, metavar="1..16", help="only listen to this channel (default: all)"
    )
    listen.add_argument(
        "--passthrough",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="echo the player's notes to the output",
    )
    listen.add_argument(
        "--mode",
        nargs="+",
        metavar="MODE",
        help=mode_help(),
    )
    listen.add_argument(
        "--gate", type=float, metavar="BEATS", help="beats of silence that end a call (default 2)"
    )
    listen.add_argument(
        "--response-bars", type=int, metavar="N", help="answers last N bars (default: as long as the call)"
    )
    listen.add_argument(
        "--reseed-weight",
        type=float,
        metavar="0..1",
        help=f"how much a call takes over the state (default {DEFAULT_RESEED_WEIGHT})",
    )
    listen.add_argument("--chords-from", metavar="NAME", help="follow the chords held on this MIDI input")
    listen.add_argument(
        "--split", metavar="NOTE", help="keys of the main input below NOTE are chords (e.g. C4)"
    )
    listen.add_argument(
        "--chords-channel",
        type=int,
        metavar="1..16",
        help="notes of the main input on this channel are chords",
    )
    listen.add_argument(
        "--clock", metavar="NAME", help="follow MIDI clock from this input ('input': the --input port)"
    )
    listen.add_argument("--device", metavar="NAME", help="a device profile (`improv devices` lists them)")
    listen.add_argument(
        "--learn",
        metavar="PARAM",
        help="map the next controller moved on the input to PARAM, save the --device profile, then play",
    )
    sound.add_options(p)
    p.set_defaults(run=run)


KEYS = tuple(DEFAULTS)


def run(args: argparse.Namespace) -> int:
    cli = {key: getattr(args, key, None) for key in KEYS}
    if cli["mode"] is not None:
        cli["mode"] = " ".join(cli["mode"])
    from_file = cfg.load_play_config(args.config) if args.config else {}
    values = cfg.merge(cli, from_file, DEFAULTS)
    profile = _device(values["device"], learning=bool(getattr(args, "learn", None)))
    opts = validate(values, cli, args.config)
    changes = _changes(opts)
    if opts["tempo"] is None:
        opts["tempo"] = changes.tempo or DEFAULT_TEMPO
    if opts["swing"] is None:
        opts["swing"] = changes.swing or 0.0
    if opts["seed"] is None:
        opts["seed"] = secrets.randbelow(2**31)
    if opts["choruses"] is not None:
        opts["bars"] = opts["choruses"] * changes.progression.bar_count

    from improv.live import ports

    if profile is None:
        _check_listening(opts)  # before looking for a MIDI system: a usage error comes first
    midi = sound.wants_midi(opts) or profile is not None
    api = ports.resolve_api(opts["api"] or (profile.api if profile else None)) if midi else None
    _apply_profile(opts, profile, api)
    _check_listening(opts)
    if getattr(args, "learn", None):
        from improv.cli.devices import learn

        profile = learn(
            api,
            args.learn,
            opts["device"] or "my-controller",
            port=opts["input"],
            virtual=opts["virtual_input"],
        )
    port, watched = sound.open_output(opts, api)
    inputs: list = []
    try:
        log.info("playing on %s%s", port.label, f" ({ports.api_name(api)})" if api is not None else "")
        result = _play(opts, changes, profile, api, (port, watched), inputs)
    finally:
        for item in inputs:
            item.close()
        port.close()
    log.info(
        "ended (%s): %d notes, %d messages, %d late, %d dropped, %d rests for lateness",
        result.reason,
        result.notes,
        result.sent,
        result.late,
        result.dropped,
        result.rests_for_lateness,
    )
    return 0


def _play(opts: dict, changes: Changes, profile, api: int | None, output: tuple, inputs: list):
    """Open the inputs, build the performer, the listeners and the engine, and play."""
    from dataclasses import asdict

    from improv.live import ports
    from improv.live.engine import Engine, EngineOptions
    from improv.live.health import PortWatch
    from improv.live.listener import ChordFollower
    from improv.perform.log import SessionLog, default_log_path
    from improv.perform.performer import Performer, PerformerSettings

    progression = changes.progression
    follow = bool(opts["chords_from"] or opts["split"] is not None or opts["chords_channel"] is not None)
    chords = ChordFollower(progression, sticky=changes.title == "N.C.") if follow else None
    improviser = _improviser(opts, changes, chords)
    mode, trade_bars = opts["mode"]
    settings = PerformerSettings(
        mode=mode,
        trade_bars=trade_bars or Trade.DEFAULT_BARS,
        response_bars=opts["response_bars"],
        reseed_weight=opts["reseed_weight"],
    )
    performer = Performer(improviser, settings, chords=chords)
    listening = _listening(opts, profile, api, inputs)
    session_log = SessionLog(opts["session_log"] or default_log_path())
    performer.journal = session_log.write  # which cell of a call each answer developed
    end = (opts["bars"] * progression.beats_per_bar) if opts["bars"] else None
    from improv.generate import model_version
    from improv.improviser import IMPROVISER_VERSION
    from improv.model.store import model_hash
    from improv.perform.log import progression_record

    model_dir = _model_dir(opts)
    session_log.header(
        seed=opts["seed"],
        improviser_version=IMPROVISER_VERSION,
        model=str(model_dir),
        model_hash=model_hash(model_dir),
        model_version=model_version(model_dir),
        progression=progression_record(progression, changes.sections),
        follow_chords=follow,
        chords_sticky=bool(chords and chords.sticky),
        performer=asdict(settings),
        channel=opts["channel"] - 1,
        end=end,
        tempo=opts["tempo"],
        options={k: opts[k] for k in NOTE_KEYS},
        band=sound.band_record(opts),
    )
    log.info("session log: %s", session_log.path)
    port, watched = output
    heartbeat = ports.JackWatch() if watched and api == ports.rtmidi.API_UNIX_JACK else None
    watch = PortWatch(watched, heartbeat) if watched is not None else None
    clock = sound.link_clock(opts, progression.beats_per_bar)
    try:
        engine = Engine(
            performer,
            port,
            EngineOptions(
                tempo=opts["tempo"],
                channel=opts["channel"] - 1,
                bars=opts["bars"],
                beats_per_bar=progression.beats_per_bar,
                count_in=opts["count_in"],
                lookahead=opts["lookahead"],
                latency_offset_ms=opts["latency_offset"],
                clock_out=opts["clock_out"],
                json_events=opts["json_events"],
                record=opts["record"],
                announce=_announce(opts, changes, port, api),
            ),
            chord_at=lambda beat: _chord_symbol(chords or progression, beat),
            watch=watch,
            listening=listening,
            session_log=session_log,
            band=sound.band_feed(opts, changes, progression),
            clock=clock,
        )
        return engine.run()
    finally:
        if watch is not None:
            watch.close()
        if clock is not None:
            clock.close()


def _listening(opts: dict, profile, api: int, inputs: list):
    """The inputs to open and how to listen to them (None: nothing to listen to). --clock NAME and
    --chords-from NAME work with or without a player's --input; every opened input goes in ``inputs``."""
    from improv.live.engine import InputSource, Listening
    from improv.live.listener import Listener, ListenerConfig
    from improv.live.midi_input import MidiInput
    from improv.live.midiclock import MidiClock

    if not (opts["input"] or opts["virtual_input"] or opts["clock"] or opts["chords_from"]):
        return None
    sources = []
    if opts["input"] or opts["virtual_input"]:
        main = MidiInput(api, port=opts["input"], virtual=opts["virtual_input"], client_name="improv-in")
        inputs.append(main)
        log.info("listening on %s", main.label)
        sources.append(InputSource(main, "player", clock=opts["clock"] == "input"))
    if opts["clock"] not in (None, "input"):
        _check_input_name(api, opts["clock"], "--clock")
        clock_in = MidiInput(api, port=opts["clock"], client_name="improv-clock")
        inputs.append(clock_in)
        log.info("following the MIDI clock on %s", clock_in.label)
        sources.append(InputSource(clock_in, "clock", clock=True))
    chord_listener = None
    if opts["chords_from"]:
        _check_input_name(api, opts["chords_from"], "--chords-from")
        chord_in = MidiInput(api, port=opts["chords_from"], client_name="improv-chords")
        log.info("following the chords played on %s", chord_in.label)
        inputs.append(chord_in)
        sources.append(InputSource(chord_in, "chords"))
        chord_listener = Listener(lambda t: 0.0, ListenerConfig(chords_only=True))
    overrides = dict(
        gate=opts["gate"],
        split=opts["split"],
        chord_channel=None if opts["chords_channel"] is None else opts["chords_channel"] - 1,
        channel=None if opts["input_channel"] is None else opts["input_channel"] - 1,
    )
    config = ListenerConfig.from_device(profile, **overrides) if profile else ListenerConfig(**overrides)
    return Listening(
        sources,
        Listener(lambda t: 0.0, config),
        chord_listener,
        MidiClock() if opts["clock"] else None,
        bool(opts["passthrough"]),
    )


# options that decide the notes (kept in the session log)
NOTE_KEYS = (
    "tempo",
    "swing",
    "tune",
    "changes",
    "temperature",
    "velocity",
    "low",
    "high",
    "bars",
    "count_in",
    "channel",
    "mode",
    "gate",
    "response_bars",
    "reseed_weight",
    "split",
    "chords_channel",
    "lookahead",
)


def _announce(opts: dict, changes: Changes, port, api: int) -> str:
    """The one line printed when playing starts: what, how fast, where, how to hear it, how to stop."""
    from improv.live import ports

    tempo = "following the MIDI clock" if opts["clock"] else f"at {opts['tempo']:g} BPM"
    midi = hasattr(port, "virtual")  # a MIDI port (not only the synth)
    where = f"on {port.label}" + (f" ({ports.api_name(api)})" if midi else "")
    hint = ports.connect_hint(api, port.label) + "; " if getattr(port, "virtual", None) is not None else ""
    return f'improv: playing "{changes.title}" {tempo} {where}; {hint}Ctrl-C stops'


def _device(name: str | None, learning: bool = False):
    """The --device profile; with --learn a profile that does not exist yet is created by learning."""
    if not name:
        return None
    from improv.devices import load_device

    try:
        return load_device(name)
    except InputError:
        if learning:
            return None
        raise


def _apply_profile(opts: dict, profile, api: int) -> None:
    """Fill options the command line left open from the device profile."""
    if profile is None:
        return
    import rtmidi

    from improv.live import ports

    if not opts["input"] and not opts["virtual_input"]:
        if profile.virtual:
            opts["virtual_input"] = profile.virtual
        else:
            opts["input"] = _first_matching(profile.port_patterns(), api, rtmidi.MidiIn, ports)
    if opts["input_channel"] is None and profile.channel is not None:
        opts["input_channel"] = profile.channel
    if opts["clock"] is None and profile.clock != "internal":
        opts["clock"] = profile.clock
    if opts["port_from_default"] and profile.output_patterns():
        found = _first_matching(profile.output_patterns(), api, rtmidi.MidiOut, ports)
        if found:
            opts["port"], opts["virtual"] = found, None


def _check_input_name(api: int, query: str, option: str) -> None:
    """InputError naming ``option`` unless ``query`` names exactly one input port."""
    import rtmidi

    from improv.live import ports

    client = rtmidi.MidiIn(api, name="improv-probe")
    try:
        names = list(client.get_ports())
    finally:
        client.delete()
    ports.find_port(query, names, ports.api_name(api), what="input", option=option)


def _first_matching(patterns: list[str], api: int, kind, ports) -> str | None:
    """The first pattern that names exactly one existing port, as that port's full name."""
    if not patterns:
        return None
    import rtmidi

    client = kind(api, name="improv-probe")
    try:
        names = list(client.get_ports())
    finally:
        client.delete()
    if kind is rtmidi.MidiIn:
        names = [names[i] for i in ports.input_names(names)]  # never improv's own outputs
    for pattern in patterns:
        hits = ports.match_ports(pattern, names, ports.api_name(api))
        if len(hits) == 1:
            return names[hits[0]]
    return None


def _check_listening(opts: dict) -> None:
    """Options that listen to the player's input need one; --clock NAME and --chords-from NAME
    name their own port (only --clock input means the --input port)."""
    listening = opts["input"] or opts["virtual_input"]
    if opts["input"] and opts["virtual_input"]:
        raise InputError("choose one of --input NAME or --virtual-input [NAME], not both")
    needs = [key for key in ("passthrough", "split", "chords_channel") if opts[key] not in (None, False)]
    if opts["clock"] == "input":
        needs.insert(0, "clock")
    if MODES[opts["mode"][0]].listens:
        needs.append("mode")
    if needs and not listening:
        what = "--clock input" if needs[0] == "clock" else f"--{needs[0].replace('_', '-')}"
        raise InputError(f"{what} needs an input: --input NAME or --virtual-input [NAME]")
    if opts["clock"] and opts["count_in"]:
        raise InputError("--count-in cannot be used with --clock (the clock's Start starts)")
    if opts["clock"] and opts["clock_out"]:
        raise InputError("--clock-out cannot be used with --clock (follow or lead, not both)")


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
    opts["choruses"] = number("choruses", 1, 100_000, int)
    if opts["bars"] is not None and opts["choruses"] is not None:
        raise InputError("choose one of --bars or --choruses, not both")
    opts["count_in"] = number("count_in", 0, 16, int)
    opts["latency_offset"] = number("latency_offset", -500, 1000)
    opts["lookahead"] = number("lookahead", 0.25, 8)
    swing = values["swing"]
    if isinstance(swing, bool):
        swing = 0.5 if swing else 0.0
    opts["swing"] = swing
    opts["swing"] = number("swing", 0.0, 0.75) if swing is not None else None
    opts["low"], opts["high"] = parse_range(
        DEFAULT_RANGE if values["range"] is None else str(values["range"]), where("range"))
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
            opts[key] = writable_file(Path(values[key]), where(key))
    opts["input_channel"] = number("input_channel", 1, 16, int)
    opts["chords_channel"] = number("chords_channel", 1, 16, int)
    opts["gate"] = number("gate", 0.25, 32)
    opts["response_bars"] = number("response_bars", 1, 64, int)
    opts["reseed_weight"] = number("reseed_weight", 0.0, 1.0)
    opts["mode"] = parse_mode(str(values["mode"] or DEFAULT_MODE.name), where("mode"))
    if values["split"] is not None:
        opts["split"] = parse_pitch(str(values["split"]), where("split"))
    opts["passthrough"] = bool(values["passthrough"])
    vin = values["virtual_input"]
    opts["virtual_input"] = "in" if vin is True else (vin or None)
    opts["port_from_default"] = values["port"] is None and values["virtual"] in (None, "improv")
    if values["session_log"]:
        opts["session_log"] = writable_file(Path(values["session_log"]), where("session_log"))
    if values["model"] and not Path(values["model"]).is_dir():
        raise InputError(f"{where('model')}: model directory {values['model']} does not exist")
    opts.update(sound.validate(values, where))
    return opts


# ---------------------------------------------------------------------------------- music
def _changes(opts: dict) -> Changes:
    """What to play over: --tune (from the built-in tunes or --library), --changes, or the default tune.

    Following the player's chords with no tune or changes given: N.C. until the player comps.
    """
    following = opts["chords_from"] or opts["split"] is not None or opts["chords_channel"]
    if following and not (opts["tune"] or opts["changes"] or opts["library"]):
        from improv.theory.progression import parse_progression

        return Changes(parse_progression("N.C."), "N.C.")
    return resolve_changes(
        SimpleNamespace(tune=opts["tune"], changes=opts["changes"], library=opts["library"])
    )


def _improviser(opts: dict, changes: Changes, progression=None):
    """The real improviser (imported lazily: the live path never loads TensorFlow)."""
    from improv.generate import build_improviser

    kwargs: dict[str, Any] = dict(
        model_dir=opts["model"],
        seed=opts["seed"],
        temperature=opts["temperature"],
        low=opts["low"],
        high=opts["high"],
        swing=opts["swing"],
        sections=changes.sections,
        tempo=float(opts["tempo"] or 120.0),
    )
    if opts["velocity"] is not None:
        kwargs["velocity"] = opts["velocity"]
    from improv.improviser import IMPROVISER_VERSION, settings_for_version

    # replay rebuilds them from the log's version
    kwargs["shaping"], kwargs["motifs"] = settings_for_version(IMPROVISER_VERSION, opts["tempo"])
    return build_improviser(progression or changes.progression, **kwargs)


def _model_dir(opts: dict) -> Path:
    from improv.generate import default_model_dir

    return Path(opts["model"]).resolve() if opts["model"] else default_model_dir()


def _chord_symbol(progression, beat: float) -> str:
    from improv.theory.timing import beats_to_ticks

    return progression.chord_at(beats_to_ticks(beat)).symbol
