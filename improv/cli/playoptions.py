"""``improv play``'s options as one typed object: read from the command line and a TOML config (the
command line wins), checked by the option table's rows (`improv.cli.table`), then the rules between
options. ``PlayOptions`` has one dataclass per --help section (``opts.music.tempo``,
``opts.listening.mode``), made from the table's rows: a new row is a new field, nothing else to edit.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass, field, make_dataclass
from typing import Any

from improv import config as cfg
from improv.cli import table
from improv.cli.option import KINDS, Option, config_keys, given, path_keys
from improv.errors import InputError

ROWS = table.rows(table.PLAY)
GROUP_NAMES = ("general", "output", "music", "session", "listening", "sound")  # general: the row group ""


def _group(name: str, rows: list[Option]) -> type:
    """A dataclass with a field per row (typed by the row's kind; a row with a check may hold more)."""
    fields = [(row.name, Any if row.check else KINDS[row.kind][2] | None, field(default=None))
              for row in rows]
    return make_dataclass(f"{name.capitalize()}Options", fields, slots=True)


GROUPS: dict[str, type] = {name: _group(name, [r for r in ROWS if (r.group or "general") == name])
                           for name in GROUP_NAMES}
DEFAULTS: dict[str, Any] = {row.name: row.default for row in ROWS}
CONFIG_KEYS = config_keys(ROWS)


@dataclass
class PlayOptions:
    """Checked play options, by --help section; ``value(name)`` reads one by its table name."""

    general: Any  # config, the file they were read from
    output: Any
    music: Any
    session: Any
    listening: Any
    sound: Any
    port_from_default: bool = False  # no --port and no named --virtual: a device profile may choose the port
    band_channels: Any = None  # BandChannels (the solo's --channel included)

    def value(self, name: str) -> Any:
        return getattr(getattr(self, _GROUP_OF[name]), name)


_GROUP_OF = {row.name: row.group or "general" for row in ROWS}


def read(args: argparse.Namespace) -> tuple[dict[str, Any], Callable[[str], str]]:
    """(values, where): the command line over the config file over the defaults, by table name, and where
    each came from (``--count-in`` or ``count_in in FILE``), for messages."""
    cli = given(args, ROWS)
    config_file = cli["config"]
    from_file = cfg.load_play_config(config_file, CONFIG_KEYS, path_keys(ROWS)) if config_file else {}
    values = cfg.merge(cli, from_file, DEFAULTS)

    def where(key: str) -> str:
        said = cfg.origin(key, cli, config_file)
        return _FLAGS.get(key, said) if said.startswith("--") else said

    return values, where


_FLAGS = {row.name: row.flag for row in ROWS}
BAND_KEYS = ("band", "band_channels", "band_ports")  # what a device profile may set


def from_profile(values: dict[str, Any], profile, where: Callable[[str], str]) -> Callable[[str], str]:
    """Fill the band keys the command line and the config left open from the device profile (checked when
    it was loaded); the returned ``where`` names the profile for them."""
    filled: dict[str, str] = {}
    for key in BAND_KEYS if profile is not None else ():
        given_there = getattr(profile, key, None)
        if values.get(key) is None and given_there is not None:
            values[key] = given_there
            filled[key] = f"{key} in {profile.path or profile.name}"
    return (lambda key: filled.get(key) or where(key)) if filled else where


def validate(values: dict[str, Any], where: Callable[[str], str]) -> PlayOptions:
    """Every row's check, then the rules between options; InputError (one line, naming the option)."""
    checked = table.checked(table.PLAY, values, where)
    if checked["bars"] is not None and checked["choruses"] is not None:
        raise InputError("choose one of --bars or --choruses, not both")
    if checked["port"] is not None and checked["virtual"] is not None:
        raise InputError("choose one of --port NAME or --virtual [NAME], not both")
    if checked["port"] is None and checked["virtual"] is None:
        checked["virtual"] = "improv"
    if checked["tune"] and checked["changes"]:
        raise InputError("choose one of --tune or --changes, not both")
    if checked["link"] and checked["clock"]:
        raise InputError(f"{where('link')}: choose one of --link or --clock, not both")
    groups = {name: GROUPS[name](**{key: value for key, value in checked.items() if _GROUP_OF[key] == name})
              for name in GROUP_NAMES}
    opts = PlayOptions(**groups)
    opts.port_from_default = values["port"] is None and values["virtual"] in (None, "improv")
    opts.band_channels = band_channels(checked["band_channels"], checked["channel"] - 1,
                                       checked["band"] or (), where("band_channels"))
    idle = [part for part in checked["band_ports"] or {} if part not in (checked["band"] or ())]
    if idle:
        raise InputError(f"{where('band_ports')}: {idle[0]} is not playing (add it to --band)")
    return opts


def band_channels(text: str | None, solo: int, parts: tuple[str, ...], where: str):
    """The band's channels over the solo's (0-based); two parts on one channel is an error with a band."""
    from improv.perform.band import BandChannels, parse_band_channels

    try:
        return parse_band_channels(text, where, BandChannels(solo=solo), unique=bool(parts))
    except InputError as exc:
        raise InputError(f"{exc} (the solo plays on --channel)") from None


def note_options(opts: PlayOptions) -> dict[str, Any]:
    """The options that decide the notes, as the session log keeps them (``range`` as low and high)."""
    record: dict[str, Any] = {}
    for row in ROWS:
        if row.logged:
            value = opts.value(row.name)
            record.update(zip(row.logged, value, strict=True) if len(row.logged) > 1 else {row.name: value})
    return record
