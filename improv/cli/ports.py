"""`improv ports`: list MIDI inputs and outputs per MIDI API."""

from __future__ import annotations

import argparse
import json
import os

from improv.cli.option import command
from improv.errors import InputError
from improv.live import ports

DESCRIPTION = "List the MIDI inputs and outputs of each MIDI API available here."
EPILOG = """examples:
  improv ports                 every API compiled in (ALSA, JACK, CoreMIDI, Windows MM)
  improv ports --api jack      only JACK
  improv ports --json          machine-readable

Outputs are what `improv play --port NAME` can open, inputs what --input/--clock/--chords-from can
read (a case-insensitive part of the name is enough). With no MIDI system running, use
`scripts/with-midi improv ports` (a private JACK server for one command).
"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = command(subparsers, "ports", run=run, help="list MIDI ports",
                     description=DESCRIPTION, example=EPILOG)
    parser.add_argument("--api", metavar="NAME", default=None,
                        help=f"one MIDI API: {', '.join(ports.API_NAMES)} "
                             f"(default: env {ports.API_ENV}, else all)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


NO_MIDI_HINT = (
    "scripts/with-midi runs a command with a private JACK server, as `make play` does "
    "(scripts/with-midi .venv/bin/improv ports), or start one: `jackd -d dummy &` or `sudo modprobe snd-seq`"
)


def run(args: argparse.Namespace) -> int:
    apis = _apis(args.api)
    listings = [ports.list_ports(ports.API_NAMES[name]) for name in apis]
    if args.json:
        print(json.dumps([item.as_dict() for item in listings], indent=2))
    if all(item.error for item in listings):
        reasons = "; ".join(f"{item.api}: {_reason(item.error)}" for item in listings)
        raise InputError(f"no MIDI system is running here ({reasons}). {NO_MIDI_HINT}")
    if not args.json:
        print("\n".join(_text(listings)))
    return 0


def _text(listings: list[ports.PortList]) -> list[str]:
    lines = []
    for item in listings:
        lines.append(f"{item.api}:")
        if item.error:
            lines.append(f"  unavailable: {_reason(item.error)}")
            continue
        lines.append("  outputs (improv play --port):")
        lines += [f"    {name}" for name in item.outputs or ["(none)"]]
        lines.append("  inputs (improv play --input, --clock, --chords-from):")
        for name in item.inputs or ["(none)"]:
            own = "    (improv's own output: not offered as an input)" if ports.is_own_output(name) else ""
            lines.append(f"    {name}{own}")
    return lines


def _reason(error: str | None) -> str:
    """rtmidi's reason without its C++ function prefix ('MidiInJack::initialize: ...')."""
    text = (error or "").strip()
    head, sep, rest = text.partition(": ")
    return (rest if sep and "::" in head else text)[:160]


def _apis(name: str | None) -> list[str]:
    """The API names to list: the one asked for (option or env), else all compiled in."""
    source = "--api"
    if not name:
        name = os.environ.get(ports.API_ENV) or None
        source = ports.API_ENV
    compiled = ports.compiled_apis()
    if not name:
        if not compiled:
            raise InputError("no MIDI API compiled into python-rtmidi")
        return compiled
    key = name.strip().lower()
    if key not in ports.API_NAMES:
        raise InputError(f"{source}: unknown MIDI API {name!r} "
                         f"(choose from {', '.join(ports.API_NAMES)})")
    if key not in compiled:
        raise InputError(f"{source}: MIDI API {key!r} is not compiled into python-rtmidi here "
                         f"(available: {', '.join(compiled) or 'none'})")
    return [key]
