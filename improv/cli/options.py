"""What several commands share about options: which changes to play over (`resolve_changes`), and the
parsers and checks the option table's rows use (`improv.cli.table`): pitches, ranges, seeds, files."""

from __future__ import annotations

import argparse
import os
import re
from dataclasses import dataclass
from pathlib import Path

from improv.errors import InputError, excerpt
from improv.theory.pitch import DEFAULT_REGISTER, pitch_name
from improv.theory.pitch import parse_pitch as _pitch_of_name
from improv.theory.progression import Progression, parse_progression

DEFAULT_RANGE = "..".join(pitch_name(p) for p in DEFAULT_REGISTER)  # E3..C6
FEEL_SWING = {"swing": 0.5, "straight": 0.0, "bossa": 0.0, "waltz": 0.4}


@dataclass(frozen=True)
class Changes:
    """What to play over: a progression with a title, a default tempo and a swing amount."""

    progression: Progression
    title: str
    tempo: float | None = None
    swing: float | None = None
    sections: tuple[str, ...] | None = None  # a form-section label per bar, when the tune names its form
    groove: str = "swing"  # the band's groove from the tune's feel and style (improv.perform.band.groove_of)


MAX_SEED = 2**63 - 1


def seed_number(text: str) -> int:
    """An argparse type: a seed is a whole number 0..2**63-1 (numpy's generators take no negatives)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{excerpt(text)} is not a whole number") from None
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"{value} is outside 0..2**63-1")
    return value


def resolve_changes(args: argparse.Namespace) -> Changes:
    """The progression the options ask for (default: the built-in default tune)."""
    from improv.theory import tunes

    text = getattr(args, "changes", None)
    if text is not None and getattr(args, "tune", None):
        raise InputError("give either --changes or --tune, not both")
    if text is not None:
        if not text.strip():
            raise InputError('--changes is empty: give chords, e.g. "Dm7 G7 | Cmaj7", or a file')
        path = existing_file(text)
        if path is not None and path.suffix:
            return Changes(parse_progression(read_text_file(path), source=str(path)), path.stem)
        return Changes(parse_progression(text), "changes")
    candidates = None
    if getattr(args, "library", None):
        from improv.charts.library import load_library

        candidates = load_library(args.library)
        if not candidates:
            raise InputError(f"{args.library}: no tune could be loaded")
    name = getattr(args, "tune", None)
    if name is None and candidates is not None:
        tune = candidates[0]
    else:
        tune = tunes.find_tune(name or tunes.DEFAULT_TUNE, candidates)
    swing = tune.swing if tune.swing is not None else FEEL_SWING.get(tune.feel, 0.0)
    sections = tunes.form_sections(tune.form, tune.progression.bar_count)
    from improv.perform.band import groove_of

    return Changes(tune.progression, tune.title, float(tune.tempo), swing, sections,
                   groove_of(tune.feel, tune.style))


def existing_file(text: str) -> Path | None:
    """``text`` as a path if it names an existing file; None for chord text, for a name too long
    for the file system or one with a NUL in it."""
    if "|" in text or "\n" in text or len(text) > 4096:
        return None
    try:
        path = Path(text)
        return path if path.is_file() else None
    except (OSError, ValueError):
        return None


def writable_file(path: Path, where: str) -> Path:
    """``path`` if a file can be written there (not a directory, in an existing writable one); else
    InputError naming the option ``where``."""
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise InputError(f"{where}: {path} is a directory; give a file name")
    if not parent.is_dir():
        raise InputError(f"{where}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise InputError(f"{where}: {path} cannot be written (permission denied)")
    return path


def writable_dir(path: Path, where: str) -> Path:
    """``path`` if a directory can be written there (it exists, or is made under its nearest existing
    ancestor, which must be a writable directory); else InputError naming the option ``where``."""
    if path.exists() and not path.is_dir():
        raise InputError(f"{where}: {path} is a file; give a directory")
    ancestor = path
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir() or not os.access(ancestor, os.W_OK):
        raise InputError(f"{where}: {path} cannot be written (no writable directory {ancestor})")
    return path


def read_text_file(path: Path) -> str:
    """A UTF-8 text file's contents; InputError naming the file if it cannot be read or decoded."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset "
                         f"{exc.start})") from None
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None


def parse_pitch(text: str, where: str = "--range") -> int:
    """A MIDI number or a note name with octave (C4 = 60): '52', 'E3', 'Bb5', 'F#2'."""
    text = text.strip()
    if re.fullmatch(r"\d{1,3}", text):
        value = int(text)
    else:
        try:
            value = _pitch_of_name(text)
        except ValueError:
            raise InputError(
                f"{where}: {excerpt(text)} is not a pitch (use a MIDI number or a name like E3, F#4, Bb5)"
            ) from None
    if not 0 <= value <= 127:
        raise InputError(f"{where}: {excerpt(text)} is outside MIDI pitches 0..127")
    return value


def parse_range(text: str, where: str = "--range") -> tuple[int, int]:
    """'E3..C6' or '52..84' -> (low, high), at least an octave apart."""
    parts = text.split("..")
    if len(parts) != 2:
        raise InputError(f"{where}: {excerpt(text)} is not LOW..HIGH (e.g. E3..C6 or 52..84)")
    low, high = (parse_pitch(part, where) for part in parts)
    if high - low < 12:
        raise InputError(f"{where}: {excerpt(text)} must span at least an octave, low to high")
    return low, high


def check_number(name: str, value: float | None, low: float, high: float) -> None:
    """InputError unless low <= value <= high (None passes)."""
    if value is not None and not low <= value <= high:
        raise InputError(f"{name} {value} is out of range {low}..{high}")
