"""`improv devices`: list device profiles, or show and check one."""

from __future__ import annotations

import argparse
import json

from improv import devices

EPILOG = """examples:
  improv devices                       every profile findable by name
  improv devices generic-keyboard      one profile in full (TOML)
  improv devices ./my-pads.toml        check a profile file and show it
  improv devices --json                machine-readable

Profiles are looked up in $IMPROV_DEVICES, ~/.config/improv/devices and the shipped devices/.
Use one with `improv play --device NAME`.
"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "devices",
        help="list device profiles (ports, channel, CC map)",
        description="List the device profiles (controllers and MIDI setups), or show one.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("name", nargs="?", help="a profile name or a .toml file to show")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
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
