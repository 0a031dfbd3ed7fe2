"""Device profiles: what a controller or a MIDI setup is called, and what its knobs do.

A profile is a small TOML file (see ``devices/*.toml``)::

    name = "generic-keyboard"
    description = "Any USB keyboard: mod wheel = temperature, sustain release ends the call"
    channel = 1                    # 1..16; leave out for all channels
    note_range = [21, 108]         # lowest and highest MIDI note the device plays
    clock = "internal"             # "internal", "input" (clock on this input) or a port pattern
    gate_cc = 67                   # a footswitch whose press ends a call (optional)
    sustain_ends_call = true       # releasing the sustain pedal ends a call
    api = "alsa"                   # optional: alsa, jack, coremidi, winmm
    virtual = "improv-in"          # optional: create this virtual input instead of opening one

    [ports]                        # input port name patterns per platform (any one may match)
    linux = ["keystation", "midi keyboard"]
    darwin = ["keystation"]
    windows = ["keystation"]

    [output]                       # optional output port patterns per platform
    darwin = ["iac bus 2"]

    [cc]                           # parameter = CC number
    temperature = 1

    band = "all"                   # optional: the rhythm section (as --band), a string or a list
    band_channels = { bass = 2 }   # optional: the parts' MIDI channels 1..16 (as --band-channels)
    [band_ports]                   # optional: a part to its own output port (as --band-port), any platform
    drums = "drum machine"

The band keys fill what the command line and the config file leave open (``improv.cli.sound.from_profile``).

Profiles are found by name in ``$IMPROV_DEVICES`` (directories separated by ``os.pathsep``), the
user's ``~/.config/improv/devices`` and the ``devices/`` directory shipped beside the package.
Errors name the file and the key.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from improv.errors import InputError

PARAMETERS = (
    "temperature",
    "density",
    "register_centre",
    "response_length",
    "mode",
    "reseed_weight",
    "panic",
    "gate",  # ends a call (the same as gate_cc)
)
PLATFORMS = ("linux", "darwin", "windows")
APIS = ("alsa", "jack", "coremidi", "winmm")
CLOCK_SOURCES = ("internal", "input")  # anything else is a port pattern
DEVICES_ENV = "IMPROV_DEVICES"
# the shipped profiles live in the repository's devices/; improv/data/devices links to it so that a
# built wheel carries them as package data
SHIPPED_DIR = Path(__file__).resolve().parent / "data" / "devices"
USER_DIR = Path("~/.config/improv/devices")
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_KEYS = (
    "name",
    "description",
    "channel",
    "note_range",
    "clock",
    "gate_cc",
    "sustain_ends_call",
    "api",
    "virtual",
    "ports",
    "output",
    "cc",
    "band",
    "band_channels",
    "band_ports",
)


@dataclass
class DeviceProfile:
    """One device or setup. ``channel`` is 1..16 as users write it (None: all channels)."""

    name: str
    description: str = ""
    channel: int | None = None
    note_range: tuple[int, int] | None = None
    clock: str = "internal"
    gate_cc: int | None = None
    sustain_ends_call: bool = True
    api: str | None = None
    virtual: str | None = None
    ports: dict[str, list[str]] = field(default_factory=dict)
    output: dict[str, list[str]] = field(default_factory=dict)
    cc: dict[str, int] = field(default_factory=dict)  # parameter -> CC number
    band: str | list[str] | None = None  # as --band (checked when loaded)
    band_channels: str | dict[str, int] | None = None  # as --band-channels, 1-based
    band_ports: dict[str, str] | None = None  # part -> output port name pattern, as --band-port
    path: Path | None = None

    def cc_map(self) -> dict[int, str]:
        """CC number -> parameter (what the listener needs)."""
        return {number: param for param, number in self.cc.items()}

    def port_patterns(self, platform: str | None = None) -> list[str]:
        """Input port patterns for ``platform`` (default: this machine's)."""
        return list(self.ports.get(platform or current_platform(), []))

    def output_patterns(self, platform: str | None = None) -> list[str]:
        """Output port patterns for ``platform`` (default: this machine's)."""
        return list(self.output.get(platform or current_platform(), []))

    def as_dict(self) -> dict[str, Any]:
        """The profile as TOML/JSON data (keys left out when unset)."""
        data: dict[str, Any] = {"name": self.name, "description": self.description}
        for key in ("channel", "clock", "gate_cc", "sustain_ends_call", "api", "virtual"):
            value = getattr(self, key)
            if value is not None:
                data[key] = value
        if self.note_range is not None:
            data["note_range"] = list(self.note_range)
        for key in ("band", "band_channels"):
            value = getattr(self, key)
            if value is not None:
                data[key] = dict(value) if isinstance(value, dict) else value
        for key in ("ports", "output", "cc", "band_ports"):
            table = getattr(self, key)
            if table:
                data[key] = {k: (list(v) if isinstance(v, list) else v) for k, v in table.items()}
        return data

    def to_toml(self) -> str:
        """The profile as TOML text that :func:`load_device` reads back."""
        return _dump_toml(self.as_dict())


def current_platform() -> str:
    """``linux``, ``darwin`` or ``windows`` for this machine."""
    if sys.platform.startswith("win"):
        return "windows"
    if sys.platform == "darwin":
        return "darwin"
    return "linux"


# ---------------------------------------------------------------------------------- loading


def search_dirs() -> list[Path]:
    """Where profiles are looked up by name, first match wins."""
    dirs = [Path(p) for p in os.environ.get(DEVICES_ENV, "").split(os.pathsep) if p]
    return [*dirs, USER_DIR.expanduser(), SHIPPED_DIR]


def builtin_devices() -> list[DeviceProfile]:
    """The profiles shipped in ``devices/``, sorted by name."""
    return [load_device(p) for p in sorted(SHIPPED_DIR.glob("*.toml"))]


def available_devices() -> list[DeviceProfile]:
    """Every profile findable by name (user profiles hide shipped ones of the same name)."""
    found: dict[str, DeviceProfile] = {}
    for folder in search_dirs():
        for path in sorted(folder.glob("*.toml")) if folder.is_dir() else []:
            if path.stem not in found:
                found[path.stem] = load_device(path)
    return [found[k] for k in sorted(found)]


def load_device(name_or_path: str | Path) -> DeviceProfile:
    """A profile by name (see :func:`search_dirs`) or from a ``.toml`` path; InputError if bad."""
    text = str(name_or_path)
    path = Path(text).expanduser()
    if isinstance(name_or_path, Path) or text.endswith(".toml") or os.sep in text or "/" in text:
        if not path.is_file():
            raise InputError(f"device profile {text}: no such file")
        return _load_file(path)
    for folder in search_dirs():
        candidate = folder / f"{text}.toml"
        if candidate.is_file():
            return _load_file(candidate)
    names = sorted({p.stem for d in search_dirs() if d.is_dir() for p in d.glob("*.toml")})
    raise InputError(f"no device profile named {text!r} (available: {', '.join(names) or 'none'})")


def _load_file(path: Path) -> DeviceProfile:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: invalid TOML: {exc}") from None
    profile = parse_device(data, str(path), default_name=path.stem)
    profile.path = path
    return profile


def parse_device(data: dict[str, Any], where: str, default_name: str = "") -> DeviceProfile:
    """Validate TOML data into a profile; errors read ``<where>: key <key>: <problem>``."""

    def fail(key: str, problem: str) -> InputError:
        return InputError(f"{where}: key {key!r}: {problem}")

    unknown = [k for k in data if k not in _KEYS]
    if unknown:
        raise fail(unknown[0], f"unknown key (known: {', '.join(_KEYS)})")
    name = data.get("name", default_name)
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise fail("name", "must be lower-case letters, digits, '-', '_' or '.'")
    description = data.get("description", "")
    if not isinstance(description, str):
        raise fail("description", "must be a string")
    profile = DeviceProfile(name=name, description=description)
    if "channel" in data:
        profile.channel = _int(data["channel"], 1, 16, lambda p: fail("channel", p))
    if "note_range" in data:
        rng = data["note_range"]
        if not (isinstance(rng, list) and len(rng) == 2):
            raise fail("note_range", "must be [lowest, highest] MIDI notes")
        low, high = (_int(v, 0, 127, lambda p: fail("note_range", p)) for v in rng)
        if low > high:
            raise fail("note_range", f"lowest {low} is above highest {high}")
        profile.note_range = (low, high)
    clock = data.get("clock", "internal")
    if not isinstance(clock, str) or not clock.strip():
        raise fail("clock", "must be 'internal', 'input' or a port name pattern")
    profile.clock = clock.strip()
    if "gate_cc" in data:
        profile.gate_cc = _int(data["gate_cc"], 0, 127, lambda p: fail("gate_cc", p))
    sustain = data.get("sustain_ends_call", True)
    if not isinstance(sustain, bool):
        raise fail("sustain_ends_call", "must be true or false")
    profile.sustain_ends_call = sustain
    if "api" in data:
        if data["api"] not in APIS:
            raise fail("api", f"must be one of {', '.join(APIS)}")
        profile.api = data["api"]
    if "virtual" in data:
        if not isinstance(data["virtual"], str) or not data["virtual"].strip():
            raise fail("virtual", "must be a port name")
        profile.virtual = data["virtual"].strip()
    profile.ports = _patterns(data.get("ports", {}), "ports", fail)
    profile.output = _patterns(data.get("output", {}), "output", fail)
    profile.cc = _cc_table(data.get("cc", {}), profile.gate_cc, fail)
    _band_keys(profile, data, where)
    return profile


def _band_keys(profile: DeviceProfile, data: dict[str, Any], where: str) -> None:
    """The band keys, checked as --band, --band-channels and --band-port check them."""
    from improv.perform.band import parse_band_channels, parse_band_ports, parse_parts

    kinds = {"band": (str, list), "band_channels": (str, dict), "band_ports": (dict,)}
    for key, types in kinds.items():
        if key in data and not isinstance(data[key], types):
            raise InputError(f"{where}: key {key!r}: must be {' or '.join(t.__name__ for t in types)}")
    if "band" in data:
        parse_parts(data["band"], f"{where}: key 'band'")
        profile.band = data["band"]
    if "band_channels" in data:
        parse_band_channels(data["band_channels"], f"{where}: key 'band_channels'", unique=False)
        profile.band_channels = data["band_channels"]
    if "band_ports" in data:
        profile.band_ports = parse_band_ports(data["band_ports"], f"{where}: key 'band_ports'")


def _int(value: Any, low: int, high: int, fail) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise fail(f"must be a whole number {low}..{high}, not {value!r}")
    if not low <= value <= high:
        raise fail(f"{value} is outside {low}..{high}")
    return value


def _patterns(table: Any, key: str, fail) -> dict[str, list[str]]:
    if not isinstance(table, dict):
        raise fail(key, "must be a table of platform = [patterns]")
    out: dict[str, list[str]] = {}
    for platform, patterns in table.items():
        sub = f"{key}.{platform}"
        if platform not in PLATFORMS:
            raise fail(sub, f"unknown platform (use {', '.join(PLATFORMS)})")
        if isinstance(patterns, str):
            patterns = [patterns]
        if not isinstance(patterns, list) or not all(isinstance(p, str) and p.strip() for p in patterns):
            raise fail(sub, "must be a port name pattern or a list of them")
        out[platform] = [p.strip() for p in patterns]
    return out


def _cc_table(table: Any, gate_cc: int | None, fail) -> dict[str, int]:
    if not isinstance(table, dict):
        raise fail("cc", "must be a table of parameter = CC number")
    out: dict[str, int] = {}
    seen: dict[int, str] = {}
    for param, number in table.items():
        sub = f"cc.{param}"
        if param not in PARAMETERS:
            raise fail(sub, f"unknown parameter (use {', '.join(PARAMETERS)})")
        number = _int(number, 0, 127, lambda p, sub=sub: fail(sub, p))
        if number in seen:
            raise fail(sub, f"CC {number} is already mapped to {seen[number]}")
        if number == gate_cc:
            raise fail(sub, f"CC {number} is the gate_cc")
        seen[number] = param
        out[param] = number
    return out


# ---------------------------------------------------------------------------------- saving


def save_device(profile: DeviceProfile, path: str | Path) -> Path:
    """Write ``profile`` as TOML to ``path`` (validated by reading it back); returns the path."""
    path = Path(path).expanduser()
    text = profile.to_toml()
    parse_device(tomllib.loads(text), str(path), default_name=profile.name)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    profile.path = path
    return path


def _dump_toml(data: dict[str, Any]) -> str:
    """TOML for our flat schema: scalars and lists first, then one level of tables."""
    lines: list[str] = []
    tables = {k: v for k, v in data.items() if isinstance(v, dict)}
    for key, value in data.items():
        if key not in tables:
            lines.append(f"{_toml_key(key)} = {_toml_value(value)}")
    for key, table in tables.items():
        lines.append("")
        lines.append(f"[{_toml_key(key)}]")
        for sub, value in table.items():
            lines.append(f"{_toml_key(sub)} = {_toml_value(value)}")
    return "\n".join(lines) + "\n"


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")
