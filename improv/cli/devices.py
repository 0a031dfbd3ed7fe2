"""`improv devices`: list device profiles, or show and check one."""

from __future__ import annotations

import argparse
import json
import logging
import re
import time

from improv import devices
from improv.cli.option import command
from improv.errors import InputError, RuntimeFailure
from improv.midi.messages import CC_SUSTAIN, CONTROL

log = logging.getLogger(__name__)

DESCRIPTION = "List the device profiles (controllers and MIDI setups), or show one."
EPILOG = """examples:
  improv devices                       every profile findable by name
  improv devices generic-keyboard      one profile in full (TOML)
  improv devices ./my-pads.toml        check a profile file and show it
  improv devices --json                machine-readable
  improv devices --learn temperature --device my-keys --input "MPK mini"
                                       map the next knob moved to a parameter and save it

Profiles are looked up in $IMPROV_DEVICES, ~/.config/improv/devices and the shipped devices/.
Use one with `improv play --device NAME`.
"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = command(subparsers, "devices", run=run, help="list device profiles (ports, channel, CC map)",
                     description=DESCRIPTION, example=EPILOG)
    parser.add_argument("name", nargs="?", help="a profile name or a .toml file to show")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.add_argument("--learn", metavar="PARAM",
                        help=f"map the next controller moved to PARAM ({', '.join(devices.PARAMETERS)})"
                             " and save the --device profile")
    parser.add_argument("--device", metavar="NAME", help="the profile --learn writes")
    parser.add_argument("--input", metavar="PORT", help="the input --learn listens to")
    parser.add_argument("--api", metavar="NAME", help="MIDI API (default: env IMPROV_MIDI_API)")
    parser.add_argument("--timeout", type=float, default=60.0, metavar="S",
                        help="give up --learn after S seconds (default 60)")


def run(args: argparse.Namespace) -> int:
    if args.learn:
        if not args.device or not args.input:
            raise InputError("--learn needs --device NAME (the profile to write) and --input PORT")
        from improv.live import ports

        learn(ports.resolve_api(args.api), args.learn, args.device, port=args.input,
              timeout=args.timeout)
        return 0
    if args.name:
        profile = devices.load_device(args.name)
        if args.json:
            print(json.dumps(_entry(profile), indent=2))
        else:
            print(f"# {profile.path}")
            print(profile.to_toml(), end="")
        return 0
    profiles = devices.available_devices()
    if args.json:
        print(json.dumps([_entry(p) for p in profiles], indent=2))
        return 0
    platform = devices.current_platform()
    for profile in profiles:
        print(f"{profile.name}: {profile.description}")
        source = f"virtual input {profile.virtual!r}" if profile.virtual else None
        patterns = profile.port_patterns(platform)
        if source is None and patterns:
            source = ", ".join(patterns)
        elif source is None and profile.ports:
            others = "; ".join(f"{k}: {', '.join(v)}" for k, v in profile.ports.items())
            source = f"none for {platform} ({others})"
        elif source is None:
            source = "any (choose with --input NAME)"
        print(f"    input ({platform}): {source}")
        if profile.output_patterns(platform):
            print(f"    output ({platform}): {', '.join(profile.output_patterns(platform))}")
        controls = [f"CC{n} {p}" for p, n in profile.cc.items()]
        if profile.gate_cc is not None:
            controls.append(f"CC{profile.gate_cc} end of call")
        if profile.sustain_ends_call:
            controls.append("sustain release ends a call")
        print(f"    controls: {', '.join(controls)}")
        print(f"    clock: {profile.clock}")
    if not profiles:
        print("no device profiles found")
    return 0


def _entry(profile: devices.DeviceProfile) -> dict:
    entry = profile.as_dict()
    entry["path"] = str(profile.path) if profile.path else None
    return entry


def learn(api: int, param: str, device: str, *, port: str | None = None,
          virtual: str | None = None, timeout: float = 60.0) -> devices.DeviceProfile:
    """Map the next controller moved on the input to ``param``; save and return the profile.

    The profile is read by name (or started empty) and written to the first directory of
    $IMPROV_DEVICES, else ~/.config/improv/devices. The sustain pedal (CC64) is not learnt.
    """
    from improv.live.midi_input import MidiInput

    if param not in devices.PARAMETERS:
        raise InputError(f"--learn: unknown parameter {param!r} (use "
                         f"{', '.join(devices.PARAMETERS)})")
    try:
        profile = devices.load_device(device)
    except InputError:
        if not re.fullmatch(r"[a-z0-9][a-z0-9._-]*", device):
            raise InputError(f"--device: {device!r} is not a profile name (lower-case letters, "
                             "digits, '-', '_', '.')") from None
        profile = devices.DeviceProfile(name=device, description="learnt with improv --learn")
    print(f"move a controller for {param} (on {port or virtual}) ...", flush=True)
    number = None
    with MidiInput(api, port=port, virtual=virtual, client_name="improv-learn") as midi_in:
        deadline = time.monotonic() + timeout
        while number is None and time.monotonic() < deadline:
            midi_in.wait(0.1)
            for data, _ in midi_in.drain():
                if len(data) == 3 and data[0] & 0xF0 == CONTROL and data[1] != CC_SUSTAIN:
                    number = data[1]
                    break
    if number is None:
        raise RuntimeFailure(f"--learn: no controller moved in {timeout:g} s")
    cc = {p: n for p, n in profile.cc.items() if p != param and n != number}
    if param == "gate":
        profile.gate_cc = number
    else:
        cc[param] = number
        if profile.gate_cc == number:
            profile.gate_cc = None
    profile.cc = cc
    folder = devices.search_dirs()[0]
    path = devices.save_device(profile, folder / f"{profile.name}.toml")
    print(f"mapped CC{number} to {param} in {path}")
    return profile
