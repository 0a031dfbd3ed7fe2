"""`improv play`: improvise live over a tune on a MIDI port until stopped (or for --bars).

The options are rows of the option table (`improv.cli.table`), read into a typed `PlayOptions`
(`improv.cli.playoptions`); here they become the performer, the listeners, the session log and the engine.
"""

from __future__ import annotations

import argparse
import logging
import secrets
from pathlib import Path
from types import SimpleNamespace

from improv.cli import playoptions, sound, table
from improv.cli.option import add_arguments, command
from improv.cli.options import Changes, resolve_changes
from improv.cli.playoptions import PlayOptions
from improv.errors import InputError
from improv.perform.modes import MODES, Trade
from improv.theory.timing import DEFAULT_TEMPO

log = logging.getLogger(__name__)

DESCRIPTION = "Play the improviser live, on time, to a synth or DAW over MIDI."
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
    p = command(subparsers, "play", run=run, help="improvise live on a MIDI port",
                description=DESCRIPTION, example=EPILOG)
    add_arguments(p, table.rows(table.PLAY), table.TITLES)


def run(args: argparse.Namespace) -> int:
    values, where = playoptions.read(args)
    learning = bool(values["learn"])
    profile = _device(values["device"], learning=learning)
    where = playoptions.from_profile(values, profile, where)  # its band keys, where nothing else said
    opts = playoptions.validate(values, where)
    changes = _changes(opts)
    _fill_from_tune(opts, changes)

    from improv.live import ports

    if profile is None:
        _check_listening(opts)  # before looking for a MIDI system: a usage error comes first
    midi = sound.wants_midi(opts) or profile is not None
    api = ports.resolve_api(opts.output.api or (profile.api if profile else None)) if midi else None
    _apply_profile(opts, profile, api)
    _check_listening(opts)
    if learning:
        from improv.cli.devices import learn

        listening = opts.listening
        profile = learn(api, listening.learn, listening.device or "my-controller", port=listening.input,
                        virtual=listening.virtual_input)
    port, watched = sound.open_output(opts, api)
    inputs: list = []
    graph = None
    try:
        graph = _graph_settle(api, watched)
        log.info("playing on %s%s", port.label, f" ({ports.api_name(api)})" if api is not None else "")
        result = _play(opts, changes, profile, api, (port, watched), (inputs, graph and graph.wait))
    finally:
        for item in inputs:
            item.close()  # each waits for the JACK graph to settle first (improv.live.jacksettle)
        port.close()
        if graph is not None:
            graph.close()
    log.info("ended (%s): %d notes, %d messages, %d late, %d dropped, %d rests for lateness", result.reason,
             result.notes, result.sent, result.late, result.dropped, result.rests_for_lateness)
    return 0


def _graph_settle(api: int | None, watched):
    """On JACK, what every port of ours (``watched``: the MIDI outputs) waits on before it closes (None
    elsewhere): libjack crashes when a port goes while the server's latency notifications still walk
    that client's ports."""
    from improv.live import ports

    if api != ports.rtmidi.API_UNIX_JACK:
        return None
    from improv.live.jacksettle import LazySettle

    graph = LazySettle()  # joins the graph only when a port is about to go: nothing woken while playing
    for output in getattr(watched, "ports", [watched]):
        if hasattr(output, "settle"):
            output.settle = graph.wait
    return graph


def _fill_from_tune(opts: PlayOptions, changes: Changes) -> None:
    """What the options left to the tune (tempo, swing, --choruses as bars) and a random seed, logged."""
    music = opts.music
    if music.tempo is None:
        music.tempo = changes.tempo or DEFAULT_TEMPO
    if music.swing is None:
        music.swing = changes.swing or 0.0
    if music.seed is None:
        music.seed = secrets.randbelow(2**31)
    if opts.session.choruses is not None:
        opts.session.bars = opts.session.choruses * changes.progression.bar_count


def _play(opts: PlayOptions, changes: Changes, profile, api: int | None, output: tuple, heard: tuple):
    """Open the inputs (``heard``: the list they go in, what they wait on before closing), build the
    performer, the listeners and the engine, and play."""
    from improv.live import ports
    from improv.live.health import PortWatch
    from improv.live.listener import ChordFollower

    progression = changes.progression
    listening = opts.listening
    follow = listening.chords_from or listening.split is not None or listening.chords_channel is not None
    chords = ChordFollower(progression, sticky=changes.title == "N.C.") if follow else None
    performer = _performer(opts, changes, chords)
    listened = _listening(opts, profile, api, *heard)
    session_log = _session_log(opts, changes, performer, chords)
    performer.journal = session_log.write  # which cell of a call each answer developed
    port, watched = output
    heartbeat = ports.JackWatch() if watched and api == ports.rtmidi.API_UNIX_JACK else None
    watch = PortWatch(watched, heartbeat) if watched is not None else None
    clock = sound.link_clock(opts, progression.beats_per_bar)
    try:
        engine = _engine(opts, changes, performer, port, api, chord_source=chords or progression, watch=watch,
                         listening=listened, session_log=session_log, clock=clock)
        return engine.run()
    finally:
        if watch is not None:
            watch.close()
        if clock is not None:
            clock.close()


def _engine(opts: PlayOptions, changes: Changes, performer, port, api: int | None, *, chord_source, watch,
            listening, session_log, clock):
    """The live engine for the options (its construction only: the engine owns its threads)."""
    from improv.live.build import build_engine
    from improv.live.engine import EngineOptions

    progression = changes.progression
    return build_engine(
        performer,
        port,
        EngineOptions(
            tempo=opts.music.tempo,
            channel=opts.output.channel - 1,
            bars=opts.session.bars,
            beats_per_bar=progression.beats_per_bar,
            count_in=opts.session.count_in,
            lookahead=opts.session.lookahead,
            latency_offset_ms=opts.output.latency_offset,
            clock_out=opts.output.clock_out,
            json_events=opts.session.json_events,
            record=opts.session.record,
            announce=_announce(opts, changes, port, api),
        ),
        chord_at=lambda beat: _chord_symbol(chord_source, beat),
        watch=watch,
        listening=listening,
        session_log=session_log,
        band=sound.band_maker(opts, changes, chord_source),
        clock=clock,
    )


def _performer(opts: PlayOptions, changes: Changes, chords):
    """The improviser and the performer that plays it in the options' mode."""
    from improv.perform.performer import Performer, PerformerSettings

    mode, trade_bars = opts.listening.mode
    settings = PerformerSettings(
        mode=mode,
        trade_bars=trade_bars or Trade.DEFAULT_BARS,
        response_bars=opts.listening.response_bars,
        reseed_weight=opts.listening.reseed_weight,
    )
    return Performer(_improviser(opts, changes, chords), settings, chords=chords)


def _session_log(opts: PlayOptions, changes: Changes, performer, chords):
    """The session log, its header written: what `improv replay` needs to play the session again."""
    from dataclasses import asdict

    from improv.generate import model_version
    from improv.improviser import IMPROVISER_VERSION
    from improv.model.store import model_hash
    from improv.perform.log import SessionLog, default_log_path, progression_record

    progression = changes.progression
    session_log = SessionLog(opts.session.session_log or default_log_path())
    model_dir = _model_dir(opts)
    bars = opts.session.bars
    session_log.header(
        seed=opts.music.seed,
        improviser_version=IMPROVISER_VERSION,
        model=str(model_dir),
        model_hash=model_hash(model_dir),
        model_version=model_version(model_dir),
        progression=progression_record(progression, changes.sections),
        follow_chords=chords is not None,
        chords_sticky=bool(chords and chords.sticky),
        performer=asdict(performer.settings),
        channel=opts.output.channel - 1,
        end=(bars * progression.beats_per_bar) if bars else None,
        tempo=opts.music.tempo,
        options=playoptions.note_options(opts),
        band=sound.band_record(opts, changes),
    )
    log.info("session log: %s", session_log.path)
    return session_log


def _listening(opts: PlayOptions, profile, api: int, inputs: list, settle=None):
    """The inputs to open and how to listen to them (None: nothing to listen to). --clock NAME and
    --chords-from NAME work with or without a player's --input; every opened input goes in ``inputs``."""
    from improv.live.engine import InputSource, Listening
    from improv.live.listener import ListenerConfig
    from improv.live.midi_input import MidiInput
    from improv.live.midiclock import MidiClock

    heard = opts.listening
    if not (heard.input or heard.virtual_input or heard.clock or heard.chords_from):
        return None
    sources = []
    if heard.input or heard.virtual_input:
        main = MidiInput(api, port=heard.input, virtual=heard.virtual_input, client_name="improv-in")
        main.settle = settle
        inputs.append(main)
        log.info("listening on %s", main.label)
        sources.append(InputSource(main, "player", clock=heard.clock == "input"))
    if heard.clock not in (None, "input"):
        _check_input_name(api, heard.clock, "--clock")
        clock_in = MidiInput(api, port=heard.clock, client_name="improv-clock")
        clock_in.settle = settle
        inputs.append(clock_in)
        log.info("following the MIDI clock on %s", clock_in.label)
        sources.append(InputSource(clock_in, "clock", clock=True))
    chord_config = None
    if heard.chords_from:
        _check_input_name(api, heard.chords_from, "--chords-from")
        chord_in = MidiInput(api, port=heard.chords_from, client_name="improv-chords")
        log.info("following the chords played on %s", chord_in.label)
        chord_in.settle = settle
        inputs.append(chord_in)
        sources.append(InputSource(chord_in, "chords"))
        chord_config = ListenerConfig(chords_only=True)
    overrides = dict(
        gate=heard.gate,
        split=heard.split,
        chord_channel=None if heard.chords_channel is None else heard.chords_channel - 1,
        channel=None if heard.input_channel is None else heard.input_channel - 1,
    )
    config = ListenerConfig.from_device(profile, **overrides) if profile else ListenerConfig(**overrides)
    midiclock = MidiClock() if heard.clock else None
    return Listening(sources, config, chord_config, midiclock, bool(heard.passthrough))


def _announce(opts: PlayOptions, changes: Changes, port, api: int) -> str:
    """The one line printed when playing starts: what, how fast, where, how to hear it, how to stop."""
    from improv.live import ports

    tempo = "following the MIDI clock" if opts.listening.clock else f"at {opts.music.tempo:g} BPM"
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


def _apply_profile(opts: PlayOptions, profile, api: int) -> None:
    """Fill options the command line left open from the device profile."""
    if profile is None:
        return
    import rtmidi

    from improv.live import ports

    heard = opts.listening
    if not heard.input and not heard.virtual_input:
        if profile.virtual:
            heard.virtual_input = profile.virtual
        else:
            heard.input = _first_matching(profile.port_patterns(), api, rtmidi.MidiIn, ports)
    if heard.input_channel is None and profile.channel is not None:
        heard.input_channel = profile.channel
    if heard.clock is None and profile.clock != "internal":
        heard.clock = profile.clock
    if opts.port_from_default and profile.output_patterns():
        found = _first_matching(profile.output_patterns(), api, rtmidi.MidiOut, ports)
        if found:
            opts.output.port, opts.output.virtual = found, None


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


def _check_listening(opts: PlayOptions) -> None:
    """Options that listen to the player's input need one; --clock NAME and --chords-from NAME
    name their own port (only --clock input means the --input port)."""
    heard = opts.listening
    if heard.input and heard.virtual_input:
        raise InputError("choose one of --input NAME or --virtual-input [NAME], not both")
    needs = [key for key in ("passthrough", "split", "chords_channel")
             if opts.value(key) not in (None, False)]
    if heard.clock == "input":
        needs.insert(0, "clock")
    if MODES[heard.mode[0]].listens:
        needs.append("mode")
    if needs and not (heard.input or heard.virtual_input):
        what = "--clock input" if needs[0] == "clock" else f"--{needs[0].replace('_', '-')}"
        raise InputError(f"{what} needs an input: --input NAME or --virtual-input [NAME]")
    if heard.clock and opts.session.count_in:
        raise InputError("--count-in cannot be used with --clock (the clock's Start starts)")
    if heard.clock and opts.output.clock_out:
        raise InputError("--clock-out cannot be used with --clock (follow or lead, not both)")


# ---------------------------------------------------------------------------------- music
def _changes(opts: PlayOptions) -> Changes:
    """What to play over: --tune (from the built-in tunes or --library), --changes, or the default tune.

    Following the player's chords with no tune or changes given: N.C. until the player comps.
    """
    heard, music = opts.listening, opts.music
    following = heard.chords_from or heard.split is not None or heard.chords_channel
    if following and not (music.tune or music.changes or music.library):
        from improv.theory.progression import parse_progression

        return Changes(parse_progression("N.C."), "N.C.")
    return resolve_changes(SimpleNamespace(tune=music.tune, changes=music.changes, library=music.library))


def _improviser(opts: PlayOptions, changes: Changes, progression=None):
    """The real improviser (imported lazily: the live path never loads TensorFlow)."""
    from improv.generate import build_improviser
    from improv.improviser import IMPROVISER_VERSION, settings_for_version

    settings = table.improviser_settings({row.name: opts.value(row.name) for row in playoptions.ROWS})
    # replay rebuilds them from the log's version
    shaping, motifs = settings_for_version(IMPROVISER_VERSION, opts.music.tempo)
    return build_improviser(progression or changes.progression, settings, model_dir=opts.music.model,
                            sections=changes.sections, shaping=shaping, motifs=motifs,
                            tempo=float(opts.music.tempo))


def _model_dir(opts: PlayOptions) -> Path:
    from improv.generate import default_model_dir

    return Path(opts.music.model).resolve() if opts.music.model else default_model_dir()


def _chord_symbol(progression, beat: float) -> str:
    from improv.theory.timing import beats_to_ticks

    return progression.chord_at(beats_to_ticks(beat)).symbol
