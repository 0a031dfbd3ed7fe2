"""`improv play`'s sound and band options: --synth, --audio-driver, --band, --band-channels, --band-port.

The synth is an output like a port (``improv.live.synth.SynthSink``); with --port/--virtual as well, both get
every message. The band is ``improv.perform.band`` fed by ``improv.live.bandfeed`` on the solo's emitter.
``--band-port PART=NAME`` sends a part's channel to its own existing MIDI port instead
(``improv.live.router.ChannelRouter``). A device profile's band keys fill what the command line and the config
left open (``from_profile``).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from improv.errors import InputError

DEFAULTS: dict[str, Any] = {"synth": None, "audio_driver": None, "band": None, "band_channels": None,
                            "band_ports": None, "link": False}
BAND_KEYS = ("band", "band_channels", "band_ports")  # what a device profile may set
HELP_EXAMPLES = """  improv play --synth --band all             # a quartet: solo, bass, comping, drums
  improv play --synth FluidR3_GM.sf2 --audio-driver jack --band bass,drums
  improv play --virtual --band all --band-channels bass=5,comp=6   # the band on channels 5, 6, 10
  improv play --synth --band all --band-port drums="Drum Machine"  # drums to their own MIDI port
  improv play --synth --band all --link      # tempo and bar phase from Ableton Link (Live, Bitwig...)"""


def add_options(p: argparse.ArgumentParser) -> None:
    """The 'sound and band' option group."""
    group = p.add_argument_group("sound, band and Link")
    group.add_argument("--synth", metavar="SF2", nargs="?", const=True,
                       help="play through FluidSynth with a General MIDI soundfont (default: the system's, "
                       "e.g. /usr/share/sounds/sf2/FluidR3_GM.sf2); alone it replaces the MIDI port")
    group.add_argument("--audio-driver", metavar="NAME",
                       help="FluidSynth's audio driver: jack, pulseaudio, pipewire, alsa, coreaudio, ... "
                       "(default: FluidSynth's for the platform)")
    group.add_argument("--band", metavar="LIST",
                       help="a rhythm section: bass, comp, drums (comma-separated) or all (default: none)")
    group.add_argument("--band-channels", metavar="PART=CH,...",
                       help="MIDI channels 1..16 of the band's parts (default bass=2,comp=3,drums=10)")
    group.add_argument("--band-port", metavar="PART=NAME", action="append", dest="band_ports",
                       help="send a band part (bass, comp, drums) to its own existing MIDI output (part of "
                       "its name) instead of the main output; repeat for more parts")
    group.add_argument("--link", action=argparse.BooleanOptionalAction, default=None,
                       help="join an Ableton Link session: its tempo and bar phase (needs aalink)")


def from_profile(values: dict[str, Any], profile) -> None:
    """Fill the band keys the command line and the config left open from the device profile (checked when
    it was loaded); errors about them then name the profile."""
    if profile is None:
        return
    for key in BAND_KEYS:
        given = getattr(profile, key, None)
        if values.get(key) is None and given is not None:
            values[key] = given
            values.setdefault("band_sources", {})[key] = f"{key} in {profile.path or profile.name}"


def validate(values: dict[str, Any], where_given) -> dict[str, Any]:
    """Checked sound options: parts (tuple), channels (BandChannels, the solo's --channel included),
    ports ({part: port name})."""
    from improv.perform.band import BandChannels, parse_band_channels, parse_band_ports, parse_parts

    def where(key: str) -> str:
        given = values.get("band_sources", {}).get(key) or where_given(key)
        return "--band-port" if given == "--band-ports" else given  # the option, not the key

    band = values["band"]
    if isinstance(band, bool):
        band = "all" if band else None
    parts = parse_parts(band, where("band"))
    base = BandChannels(solo=int(values["channel"] or 1) - 1)
    try:
        channels = parse_band_channels(values["band_channels"], where("band_channels"), base,
                                       unique=bool(parts))
    except InputError as exc:
        raise InputError(f"{exc} (the solo plays on --channel)") from None
    ports = parse_band_ports(values["band_ports"], where("band_ports"))
    idle = [part for part in ports if part not in parts]
    if idle:
        raise InputError(f"{where('band_ports')}: {idle[0]} is not playing (add it to --band)")
    synth = values["synth"]
    if synth is False or synth == "":
        synth = None
    link = bool(values["link"])
    if link and values["clock"]:
        raise InputError(f"{where('link')}: choose one of --link or --clock, not both")
    return {"band": parts, "band_channels": channels, "band_ports": ports, "synth": synth,
            "audio_driver": values["audio_driver"], "link": link}


def link_clock(opts: dict[str, Any], beats_per_bar: int):
    """The Ableton Link clock for --link (None without it)."""
    if not opts["link"]:
        return None
    from improv.live.link import LinkClock

    return LinkClock(opts["tempo"], opts["latency_offset"], quantum=beats_per_bar)


def wants_midi(opts: dict[str, Any]) -> bool:
    """Whether the session needs a MIDI system: a port to play on, or anything to listen to."""
    listening = ("input", "virtual_input", "clock", "chords_from", "band_ports")
    return opts["synth"] is None or not opts["port_from_default"] or any(opts[k] for k in listening)


def open_output(opts: dict[str, Any], api: int | None):
    """(sink, watched port or None): the synth, the MIDI port, or both; with --band-port, routed."""
    sink, watched = _main_output(opts, api)
    if not opts["band_ports"]:
        return sink, watched
    try:
        return _route_band(opts, api, sink, watched)
    except BaseException:
        sink.close()
        raise


def _route_band(opts: dict[str, Any], api: int | None, main, watched):
    """The main output with each --band-port part's channel routed to its own MIDI port."""
    from improv.live import ports
    from improv.live.router import ChannelRouter, PortGroup

    opened: dict[str, Any] = {}  # port query (case-folded) -> OutputPort
    routes, names = {}, {}
    try:
        for part, name in opts["band_ports"].items():
            if name.casefold() not in opened:
                try:
                    opened[name.casefold()] = ports.OutputPort(api, port=name)
                except InputError as exc:
                    raise InputError(str(exc).replace("--port", f"--band-port {part}", 1)) from None
            channel = opts["band_channels"].of(part)
            routes[channel], names[channel] = opened[name.casefold()], part
    except BaseException:
        for port in opened.values():
            port.close()
        raise
    group = PortGroup([p for p in (watched, *opened.values()) if p is not None])
    return ChannelRouter(main, routes, names), group


def _main_output(opts: dict[str, Any], api: int | None):
    """(sink, watched port or None): the synth, the MIDI port, or both."""
    from improv.live import ports

    port = None
    if opts["synth"] is None or not opts["port_from_default"]:
        port = ports.OutputPort(api, port=opts["port"], virtual=opts["virtual"])
    if opts["synth"] is None:
        return port, port
    from improv.live.synth import SynthSink

    try:
        synth = SynthSink(None if opts["synth"] is True else opts["synth"], driver=opts["audio_driver"],
                          programs=synth_programs(opts))
    except BaseException:
        if port is not None:
            port.close()
        raise
    return (synth, None) if port is None else (Tee((port, synth)), port)


def synth_programs(opts: dict[str, Any]) -> dict[int, int]:
    """The synth's General MIDI program per channel (0-based): the instruments `improv generate` writes
    (the solo's guitar, the acoustic bass, the piano comping; channel 10 is the drum kit)."""
    from improv.perform.band.band import PROGRAMS

    channels = opts["band_channels"]
    programs = {channels.of(part): PROGRAMS[part] for part in opts["band"] if part != "drums"}
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


def band_record(opts: dict[str, Any], changes) -> dict | None:
    """What the session log keeps of the band, for ``improv replay`` to play it again (None: no band)."""
    if not opts["band"]:
        return None
    from dataclasses import asdict

    return {"parts": list(opts["band"]), "channels": asdict(opts["band_channels"]), "swing": opts["swing"],
            "groove": changes.groove}


def band_feed(opts: dict[str, Any], changes, progression):
    """The live band (a BandFeed) for the options, or None."""
    if not opts["band"]:
        return None
    from improv.live.bandfeed import BandFeed
    from improv.perform.band import Band, Feel
    from improv.perform.band.band import band_rng

    def make() -> Band:
        feel = Feel(opts["tempo"], opts["swing"], changes.groove)
        return Band(progression, band_rng(opts["seed"]), feel=feel,
                    sections=changes.sections, parts=opts["band"], channels=opts["band_channels"])

    return BandFeed(make)
