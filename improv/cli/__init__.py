"""The `improv` command: one sub-module per sub-command, each with `add_parser` and `run`.

Errors for users are `ImprovError`s: printed as one line, exit code 2 (usage/input) or 1 (runtime).
"""

from __future__ import annotations

import os
import sys

from improv.live import stopsignals  # improv/__init__ installed its handlers when this is the command

# One BLAS/OpenMP thread: the cell's products are small, and on a 2-core machine a second BLAS thread
# only competes with the live emitter (realtime.md 1b). Set before anything imports numpy.
for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import argparse  # noqa: E402
import faulthandler  # noqa: E402
import importlib  # noqa: E402
import logging  # noqa: E402
from typing import NoReturn  # noqa: E402

from improv.errors import ImprovError  # noqa: E402
from improv.live.stopsignals import SignalExit  # noqa: E402

# name -> module under improv.cli; each module defines add_parser(subparsers) and run(args) -> int
COMMANDS = (
    "corpus",
    "train",
    "generate",
    "changes",
    "tunes",
    "evaluate",
    "ports",
    "play",
    "devices",
    "replay",
)


MAX_USAGE_ERROR = 200  # characters of an argparse message (it quotes the user's value)


class Parser(argparse.ArgumentParser):
    """argparse with a one-line usage error: the message and where the help is, exit code 2."""

    def error(self, message: str) -> NoReturn:
        if len(message) > MAX_USAGE_ERROR:
            message = message[:MAX_USAGE_ERROR] + "..."
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every available sub-command (sub-parsers are :class:`Parser` too)."""
    parser = Parser(
        prog="improv",
        description="A real-time MIDI jazz improviser.",
        epilog='example: improv play --virtual --tune "Autumn Leaves" --tempo 140',
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=_version())
    _add_log_level(parser, default="WARNING")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"improv.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"improv.cli.{name}":
                continue  # command not built yet
            raise
        module.add_parser(subparsers)
    for sub in subparsers.choices.values():
        _add_log_level(sub, default=argparse.SUPPRESS)  # also accepted after the command
    return parser


def _add_log_level(parser: argparse.ArgumentParser, default: str) -> None:
    parser.add_argument(
        "--log-level",
        default=default,
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="logging level (default WARNING)",
    )


def _version() -> str:
    from improv import __version__

    return f"improv {__version__}"


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `improv` console script.

    A stop signal before the live engine plays exits 128 + signum without a word; once it plays,
    the engine stops cleanly and the command exits as usual (0). Called with ``argv`` (as a
    library), the previous signal handlers are put back on return.
    """
    previous = stopsignals.install()
    stopsignals.set_mode("raise")
    if not faulthandler.is_enabled():  # a crash in a C library (libjack, rtmidi) shows every thread's stack
        faulthandler.enable()
    try:
        return _main(argv)
    except SignalExit as exc:
        return exc.exit_code
    except Exception:
        signum = stopsignals.received()
        if stopsignals.mode() == "raised" and signum:
            # the SignalExit was turned into another error on its way out (a C extension's import
            # reports "could not import module" for it): it is still the signal that ends us
            return 128 + signum
        raise
    finally:
        if argv is not None:
            stopsignals.restore(previous)


def _main(argv: list[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, getattr(args, "log_level", "WARNING")),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    try:
        return int(args.run(args) or 0)
    except ImprovError as exc:
        print(f"improv: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
