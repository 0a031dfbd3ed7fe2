"""`improv play`'s sound and band options: --synth, --audio-driver, --band, --band-channels.

The synth is an output like a port (``improv.live.synth.SynthSink``); with --port/--virtual as well, both get
every message. The band is ``improv.perform.band`` fed by ``improv.live.bandfeed`` on the solo's emitter.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from improv.errors import InputError

DEFAULTS: dict[str, Any] = {"synth": None, "audio_driver": None, "band": None, "band_channels": None,
                            "link": False}
HELP_EXAMPLES = """  improv play --synth --band all             # a quartet: solo, bass, comping, drums
  improv play --synth FluidR3_GM.sf2 --audio-driver jack --band bass,drums
  improv play --virtual --band all --band-channels bass=5,comp=6   # the band on channels 5, 6, 10
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
    group.add_argument("--link", action=argparse.BooleanOptionalAction, default=None,
                       help="join an Ableton Link session: its tempo and bar phase (needs aalink)")


def validate(values: dict[str, Any], where) -> dict[str, Any]:
    """Checked sound options: parts (tuple), channels (BandChannels, the solo's --channel included)."""
    from improv.perform.band import BandChannels, parse_band_channels, parse_parts

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
    synth = values["synth"]
    if synth is False or synth == "":
        synth = None
    link = bool(values["link"])
    if link and values["clock"]:
        raise InputError(f"{where('link')}: choose one of --link or --clock, not both")
    return {"band": parts, "band_channels": channels, "synth": synth, "audio_driver": values["audio_driver"],
            "link": link}


def link_clock(opts: dict[str, Any], beats_per_bar: int):
    """The Ableton Link clock for --link (None without it)."""
    if not opts["link"]:
        return None
    from improv.live.link import LinkClock

    return LinkClock(opts["tempo"], opts["latency_offset"], quantum=beats_per_bar)


def wants_midi(opts: dict[str, Any]) -> bool:
    """Whether the session needs a MIDI system: a port to play on, or anything to listen to."""
    listening = ("input", "virtual_input", "clock", "chords_from")
    return opts["synth"] is None or not opts["port_from_default"] or any(opts[k] for k in listening)


def open_output(opts: dict[str, Any], api: int | None):
    """(sink, watched port or None): the synth, the MIDI port, or both."""
    from improv.live import ports

    port = None
    if opts["synth"] is None or not opts["port_from_default"]:
        port = ports.OutputPort(api, port=opts["port"], virtual=opts["virtual"])
    if opts["synth"] is None:
        return port, port
    from improv.live.synth import SynthSink

    try:
        synth = SynthSink(None if opts["synth"] is True else opts["synth"], driver=opts["audio_driver"])
    except BaseException:
        if port is not None:
            port.close()
        raise
    return (synth, None) if port is None else (Tee((port, synth)), port)


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


def band_record(opts: dict[str, Any]) -> dict | None:
    """What the session log keeps of the band, for ``improv replay`` to play it again (None: no band)."""
    if not opts["band"]:
        return None
    from dataclasses import asdict

    return {"parts": list(opts["band"]), "channels": asdict(opts["band_channels"]), "swing": opts["swing"]}


def band_maker(opts: dict[str, Any], changes, progression):
    """What makes the live band for the options (a fresh Band each call), or None. ``progression`` is
    what the band reads: the tune's, or the engine's ChordFollower when the player's chords are followed."""
    if not opts["band"]:
        return None
    from improv.perform.band import Band, Feel
    from improv.perform.band.band import band_rng

    def make() -> Band:
        return Band(progression, band_rng(opts["seed"]), feel=Feel(opts["tempo"], opts["swing"]),
                    sections=changes.sections, parts=opts["band"], channels=opts["band_channels"])

    return make
