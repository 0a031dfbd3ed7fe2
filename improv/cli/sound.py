"""`improv play`'s sound and band: the outputs (--synth, a port, both), the band, the Link clock (the options
are rows of `improv.cli.table`).

The synth is an output like a port (``improv.live.synth.SynthSink``); with --port/--virtual as well, both get
every message. The band is ``improv.perform.band`` fed by ``improv.live.bandfeed`` on the solo's emitter.
``--band-port PART=NAME`` sends a part's channel to its own existing MIDI port instead
(``improv.live.router.ChannelRouter``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from improv.cli.playoptions import PlayOptions

HELP_EXAMPLES = """  improv play --synth --band all             # a quartet: solo, bass, comping, drums
  improv play --synth FluidR3_GM.sf2 --audio-driver jack --band bass,drums
  improv play --virtual --band all --band-channels bass=5,comp=6   # the band on channels 5, 6, 10
  improv play --synth --band all --band-port drums="Drum Machine"  # drums to their own MIDI port
  improv play --synth --band all --link      # tempo and bar phase from Ableton Link (Live, Bitwig...)"""


def link_clock(opts: PlayOptions, beats_per_bar: int):
    """The Ableton Link clock for --link (None without it)."""
    if not opts.sound.link:
        return None
    from improv.live.link import LinkClock

    return LinkClock(opts.music.tempo, opts.output.latency_offset, quantum=beats_per_bar)


def wants_midi(opts: PlayOptions) -> bool:
    """Whether the session needs a MIDI system: a port to play on, or anything to listen to."""
    listening = ("input", "virtual_input", "clock", "chords_from", "band_ports")
    return opts.sound.synth is None or not opts.port_from_default or any(opts.value(k) for k in listening)


def open_output(opts: PlayOptions, api: int | None):
    """(sink, watched port or None): the synth, the MIDI port, or both; with --band-port, routed."""
    sink, watched = _main_output(opts, api)
    if not opts.sound.band_ports:
        return sink, watched
    try:
        return _route_band(opts, api, sink, watched)
    except BaseException:
        sink.close()
        raise


def _route_band(opts: PlayOptions, api: int | None, main, watched):
    """The main output with each --band-port part's channel routed to its own MIDI port."""
    from improv.errors import InputError
    from improv.live import ports
    from improv.live.router import ChannelRouter, PortGroup

    opened: dict[str, Any] = {}  # port query (case-folded) -> OutputPort
    routes, names = {}, {}
    try:
        for part, name in opts.sound.band_ports.items():
            if name.casefold() not in opened:
                try:
                    opened[name.casefold()] = ports.OutputPort(api, port=name)
                except InputError as exc:
                    raise InputError(str(exc).replace("--port", f"--band-port {part}", 1)) from None
            channel = opts.band_channels.of(part)
            routes[channel], names[channel] = opened[name.casefold()], part
    except BaseException:
        for port in opened.values():
            port.close()
        raise
    group = PortGroup([p for p in (watched, *opened.values()) if p is not None])
    return ChannelRouter(main, routes, names), group


def _main_output(opts: PlayOptions, api: int | None):
    """(sink, watched port or None): the synth, the MIDI port, or both."""
    from improv.live import ports

    port = None
    synth_file = opts.sound.synth
    if synth_file is None or not opts.port_from_default:
        port = ports.OutputPort(api, port=opts.output.port, virtual=opts.output.virtual)
    if synth_file is None:
        return port, port
    from improv.live.synth import SynthSink

    try:
        synth = SynthSink(None if synth_file is True else synth_file, driver=opts.sound.audio_driver,
                          programs=synth_programs(opts.band_channels, opts.sound.band or ()))
    except BaseException:
        if port is not None:
            port.close()
        raise
    return (synth, None) if port is None else (Tee((port, synth)), port)


def synth_programs(channels, parts: Sequence[str]) -> dict[int, int]:
    """The synth's General MIDI program per channel (0-based): the instruments `improv generate` writes
    (the solo's guitar, the acoustic bass, the piano comping; channel 10 is the drum kit)."""
    from improv.perform.band.band import PROGRAMS

    programs = {channels.of(part): PROGRAMS[part] for part in parts if part != "drums"}
    return {**programs, channels.solo: PROGRAMS["solo"]}  # the solo's channel is its own even with no band


class Tee:
    """A sink that sends every message to several sinks (a MIDI port and the synth)."""

    def __init__(self, sinks: Sequence) -> None:
        self.sinks = tuple(sinks)
        self.label = " + ".join(str(getattr(s, "label", s)) for s in self.sinks)

    def send(self, message: Sequence[int]) -> bool:
        results = [sink.send(message) for sink in self.sinks]
        return any(results)

    def close(self) -> None:
        for sink in self.sinks:
            sink.close()


def band_record(opts: PlayOptions, changes) -> dict | None:
    """What the session log keeps of the band, for ``improv replay`` to play it again (None: no band)."""
    if not opts.sound.band:
        return None
    from dataclasses import asdict

    return {"parts": list(opts.sound.band), "channels": asdict(opts.band_channels), "swing": opts.music.swing,
            "groove": changes.groove}


def band_maker(opts: PlayOptions, changes, progression):
    """What makes the live band for the options (a fresh Band each call), or None. ``progression`` is
    what the band reads: the tune's, or the engine's ChordFollower when the player's chords are followed."""
    if not opts.sound.band:
        return None
    from improv.generate import session_band

    def make():
        return session_band(progression, seed=opts.music.seed, tempo=opts.music.tempo, swing=opts.music.swing,
                            sections=changes.sections, parts=opts.sound.band, channels=opts.band_channels,
                            groove=changes.groove)

    return make
