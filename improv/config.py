"""TOML configuration for ``improv play``: load, check key names and types, merge with the CLI.

A config file has one ``[play]`` table whose keys are the long option names of ``improv play`` with
``_`` for ``-`` (``count_in``, ``latency_offset``, ...): the option table (`improv.cli.table`) gives the
keys and their TOML types. Options given on the command line win.
Relative paths in a config are relative to the config file's directory.
``configs/default.toml`` documents every key.
"""

from __future__ import annotations

import tomllib
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from improv.errors import InputError, excerpt

_TYPE_NAMES = {bool: "true/false", int: "an integer", float: "a number", str: "a string", list: "a list",
               dict: "a table"}


def load_play_config(path: str | Path, keys: Mapping[str, tuple[type, ...]],
                     path_keys: Collection[str] = ()) -> dict[str, Any]:
    """The ``[play]`` table of a config file, each key one of ``keys`` (key -> accepted TOML types) and
    of its types; the ``path_keys`` relative to the file. InputError naming the key and file."""
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
        if key not in keys:
            raise InputError(f"{file}: unknown key {excerpt(key)} in [play]")
        kinds = keys[key]
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            wanted = " or ".join(_TYPE_NAMES[k] for k in kinds)
            raise InputError(f"{file}: [play] {key} must be {wanted}, not {excerpt(value)}")
        if key in path_keys:
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
