"""One row of the option table (`improv.cli.table`) and what the rows generate: argparse arguments, the
TOML config keys of ``improv play --config`` and the checks, for every command that uses an option; and
``command``, the parser every sub-command starts from (help, description, example, run).

A value goes through the same ``Option.checked`` whether it came from the command line, a config file
or a session log, so every command bounds and converts an option one way, and every message names
where the value came from (``--count-in``, ``count_in in FILE``): one line, exit 2 (`InputError`).
Pure functions and frozen rows: no state, safe from any thread.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from improv.errors import InputError, excerpt

# kind -> (argparse type, TOML types, Python type of the checked value)
KINDS: dict[str, tuple[Callable | None, tuple[type, ...], Any]] = {
    "int": (int, (int,), int),
    "float": (float, (int, float), float),
    "text": (None, (str,), str),
    "path": (None, (str,), Path),  # relative to the config file's directory in a config
    "flag": (None, (bool,), bool),  # --x / --no-x
    "switch": (None, (), bool),  # --x only, command line only
}
Check = Callable[[Any, str], Any]  # (value, where) -> the checked value; InputError naming ``where``


@dataclass(frozen=True)
class Option:
    """One option: its name is the key (``count_in``: ``--count-in``, ``count_in`` in ``[play]``)."""

    name: str
    kind: str  # a key of KINDS
    help: str
    group: str  # the --help section; PlayOptions groups its fields the same way
    commands: frozenset[str]
    default: Any = None  # None: not given (the command decides, e.g. the tune's tempo)
    bounds: tuple[float, float] | None = None  # inclusive, for int and float
    metavar: str | None = None
    check: Check | None = None  # after the kind's conversion and bounds: the option's own rule
    toml: tuple[type, ...] = ()  # TOML types accepted besides the kind's (e.g. true for --virtual)
    config: bool = True  # a key of play's config file (play only; the others have none)
    logged: tuple[str, ...] = ()  # session-log option keys it is kept under (it decides the notes)
    improviser: bool = False  # an ImproviserSettings field of the same name (range: low, high)
    nargs: str | None = None
    const: Any = None
    arg_type: Callable | None = None  # argparse's type, when it must check as it parses (--seed)
    required: bool = False
    action: str | None = None  # argparse's action for a repeatable option ("append": a list of values)
    flag_name: str | None = None  # the command-line flag when it is not the name's (--band-port: band_ports)
    per_command: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # {command: {field: value}}

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"option {self.name}: kind {self.kind!r} is not one of {', '.join(KINDS)}")

    @property
    def flag(self) -> str:
        return self.flag_name or flag_of(self.name)

    def on(self, command: str) -> Option:
        """This row as ``command`` has it (its overrides applied)."""
        changes = self.per_command.get(command)
        return dataclasses.replace(self, per_command={}, **changes) if changes else self

    def checked(self, value: Any, where: str) -> Any:
        """``value`` (None: the default) converted to the kind and checked; InputError naming ``where``."""
        if value is None:
            value = self.default
        if isinstance(value, bool) and self.kind not in ("flag", "switch"):
            # true in a config is the option given alone (its const); false is 0 for a number, else none
            value = self.const if value else (0 if self.kind in ("int", "float") else None)
        if value is None:
            return None
        if self.kind in ("int", "float"):
            value = number(value, where, self.bounds, whole=self.kind == "int")
        elif self.kind in ("flag", "switch"):
            value = bool(value)
        elif self.kind == "path":
            if value == "":
                return None  # an empty path in a config: not given
            value = Path(value)
        return self.check(value, where) if self.check else value

    def add_to(self, parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
        """The argparse argument (default None: a value not given stays None, so a config can fill it)."""
        kwargs: dict[str, Any] = {"dest": self.name, "help": self.help, "default": None}
        if self.kind == "flag":
            kwargs["action"] = argparse.BooleanOptionalAction
        elif self.kind == "switch":
            kwargs.update(action="store_true", default=False)
        else:
            kwargs.update(metavar=self.metavar, type=self.arg_type or KINDS[self.kind][0], action=self.action)
            if self.nargs:
                kwargs.update(nargs=self.nargs, const=self.const)
            if self.required:
                kwargs["required"] = True
        parser.add_argument(self.flag, **{k: v for k, v in kwargs.items() if v is not None or k == "default"})

    @property
    def toml_types(self) -> tuple[type, ...]:
        return KINDS[self.kind][1] + self.toml


def number(value: Any, where: str, bounds: tuple[float, float] | None, *, whole: bool = False) -> Any:
    """A number (an int with ``whole``) within ``bounds``; InputError naming ``where``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(f"{where}: expected a number, got {excerpt(value, 30)}")
    if whole and value != int(value):
        raise InputError(f"{where}: expected a whole number, got {value!r}")
    if bounds is not None and not bounds[0] <= value <= bounds[1]:
        raise InputError(f"{where}: {value:g} is outside {_shown(bounds[0])}..{_shown(bounds[1])}")
    return int(value) if whole else float(value)


def _shown(bound: float) -> str:
    return str(bound) if isinstance(bound, int) else f"{bound:g}"


def rows_for(table: Iterable[Option], command: str) -> list[Option]:
    """The rows ``command`` uses, as it has them."""
    return [row.on(command) for row in table if command in row.commands]


def command(subparsers: argparse._SubParsersAction, name: str, *, help: str, description: str,
            example: str, run: Callable[[argparse.Namespace], int]) -> argparse.ArgumentParser:
    """``improv NAME``'s parser, as every command has it: its one-line ``help`` in ``improv --help``, the
    ``description`` (a paragraph: its white space folded, so it can be written as a block), ``example`` as
    the epilog shown as written (``examples:`` and a line ``improv NAME ...``, then any notes), and
    ``run(args) -> exit code``. The caller adds the arguments."""
    if f"improv {name}" not in example:
        raise ValueError(f"improv {name}: the example must show the command (improv {name} ...)")
    parser = subparsers.add_parser(name, help=help, description=" ".join(description.split()), epilog=example,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.set_defaults(run=run)
    return parser


def add_arguments(parser: argparse.ArgumentParser, rows: Iterable[Option], titles: Mapping[str, str]) -> None:
    """Every row as an argparse argument, in argument groups titled by ``titles`` (the row's group)."""
    groups: dict[str, Any] = {"": parser}  # group "": the parser's own options
    for row in rows:
        if row.group not in groups:
            groups[row.group] = parser.add_argument_group(titles.get(row.group, row.group))
        row.add_to(groups[row.group])


def given(args: argparse.Namespace, rows: Iterable[Option]) -> dict[str, Any]:
    """What the command line gave, per row (None: not given); ``nargs='+'`` words joined by spaces (an
    ``append`` or ``extend`` row keeps its list)."""
    values = {}
    for row in rows:
        value = getattr(args, row.name, None)
        joined = isinstance(value, list) and row.nargs and row.action != "extend"
        values[row.name] = " ".join(value) if joined else value
    return values


def config_keys(rows: Iterable[Option]) -> dict[str, tuple[type, ...]]:
    """The config file's keys: key -> accepted TOML types."""
    return {row.name: row.toml_types for row in rows if row.config}


def path_keys(rows: Iterable[Option]) -> tuple[str, ...]:
    """Config keys holding a path (relative to the config file)."""
    return tuple(row.name for row in rows if row.config and row.kind == "path")


def check_all(rows: Iterable[Option], values: Mapping[str, Any],
              where: Callable[[str], str]) -> dict[str, Any]:
    """Every row's checked value, by name; ``where(name)`` says where a value came from."""
    return {row.name: row.checked(values.get(row.name), where(row.name)) for row in rows}


def flag_of(name: str) -> str:
    """``count_in`` -> ``--count-in`` (where a command-line value is named)."""
    return "--" + name.replace("_", "-")
