"""TOML configuration for ``improv play``: load, check key names and types, merge with the CLI.

A config file has one ``[play]`` table whose keys are the long option names of ``improv play`` with
``_`` for ``-`` (``count_in``, ``latency_offset``, ...). Options given on the command line win.
Relative paths in a config are relative to the config file's directory.
``configs/default.toml`` documents every key.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from improv.errors import InputError, excerpt

# key -> accepted TOML types
PLAY_KEYS: dict[str, tuple[type, ...]] = {
    "tempo": (int, float),
    "swing": (bool, int, float),
    "tune": (str,),
    "changes": (str,),
    "library": (str,),
    "model": (str,),
    "seed": (int,),
    "temperature": (int, float),
    "channel": (int,),
    "velocity": (int,),
    "range": (str,),
    "bars": (int,),
    "choruses": (int,),
    "count_in": (int,),
    "latency_offset": (int, float),
    "clock_out": (bool,),
    "record": (str,),
    "port": (str,),
    "virtual": (str, bool),
    "api": (str,),
    "json_events": (str,),
    "lookahead": (int, float),
    "input": (str,),
    "virtual_input": (str, bool),
    "input_channel": (int,),
    "passthrough": (bool,),
    "mode": (str,),
    "gate": (int, float),
    "response_bars": (int,),
    "reseed_weight": (int, float),
    "chords_from": (str,),
    "split": (str, int),
    "chords_channel": (int,),
    "clock": (str,),
    "device": (str,),
    "session_log": (str,),
    "synth": (bool, str),
    "audio_driver": (str,),
    "band": (str, bool, list),
    "band_channels": (str, dict),
    "band_ports": (dict, list),
    "link": (bool,),
}
PATH_KEYS = ("library", "model", "record", "json_events", "session_log")
_TYPE_NAMES = {bool: "true/false", int: "an integer", float: "a number", str: "a string", list: "a list",
               dict: "a table"}


def load_play_config(path: str | Path) -> dict[str, Any]:
    """The ``[play]`` table of a config file, keys checked; InputError naming the key and file."""
    file = Path(path)
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"--config: {file} does not exist") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"--config: {file} is not UTF-8 text (offset {exc.start})") from None
    except OSError as exc:
        raise InputError(f"--config: cannot read {file}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"--config: {file} is not valid TOML: {str(exc)[:120]}") from None
    for key in data:
        if key != "play":
            raise InputError(f"{file}: unknown key {excerpt(key)} (expected a [play] table)")
    table = data.get("play", {})
    if not isinstance(table, dict):
        raise InputError(f"{file}: 'play' must be a table ([play])")
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key not in PLAY_KEYS:
            raise InputError(f"{file}: unknown key {excerpt(key)} in [play]")
        kinds = PLAY_KEYS[key]
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            wanted = " or ".join(_TYPE_NAMES[k] for k in kinds)
            raise InputError(f"{file}: [play] {key} must be {wanted}, not {excerpt(value)}")
        if key in PATH_KEYS:
            value = str((file.parent / value).expanduser()) if value else value
        values[key] = value
    return values


def merge(cli: dict[str, Any], config: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    """Per key: the command line if given (not None), else the config, else the default."""
    keys = set(defaults) | set(config) | set(cli)
    merged = {}
    for key in keys:
        if cli.get(key) is not None:
            merged[key] = cli[key]
        elif config.get(key) is not None:
            merged[key] = config[key]
        else:
            merged[key] = defaults.get(key)
    return merged


def origin(key: str, cli: dict[str, Any], config_file: str | Path | None) -> str:
    """Where a value came from, for error messages: ``--count-in`` or ``count_in in FILE``."""
    if cli.get(key) is not None or config_file is None:
        return "--" + key.replace("_", "-")
    return f"{key} in {config_file}"
