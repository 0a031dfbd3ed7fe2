"""Options several commands share: which changes to play over, and the improviser's settings."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from improv.errors import InputError
from improv.theory.progression import Progression, parse_progression

FEEL_SWING = {"swing": 0.5, "straight": 0.0, "bossa": 0.0, "waltz": 0.4}
PITCH_NAMES = {"c": 0, "d": 2, "e": 4, "f": 5, "g": 7, "a": 9, "b": 11}


@dataclass(frozen=True)
class Changes:
    """What to play over: a progression with a title, a default tempo and a swing amount."""

    progression: Progression
    title: str
    tempo: float | None = None
    swing: float | None = None
    sections: tuple[str, ...] | None = None  # a form-section label per bar, when the tune names its form


def add_changes_options(p: argparse.ArgumentParser) -> None:
    """--tune / --changes / --library."""
    group = p.add_argument_group("changes (default: the tune 'F Blues')")
    group.add_argument("--tune", metavar="NAME", help="a tune by title (exact, else substring)")
    group.add_argument(
        "--changes", metavar="TEXT|FILE", help='a progression, e.g. "Dm7 G7 | Cmaj7 %%", or a file'
    )
    group.add_argument(
        "--library",
        metavar="FILE",
        type=Path,
        help="tunes to choose --tune from: an iReal Pro playlist, a JCPC song file/folder, MusicXML",
    )


def add_improviser_options(p: argparse.ArgumentParser) -> None:
    """--model, --seed, --temperature, --top-p, --range, --velocity, --swing."""
    p.add_argument("--model", metavar="DIR", type=Path, help="model directory (default: the shipped one)")
    p.add_argument("--seed", type=int, default=None, help="random seed: same seed, same notes")
    p.add_argument("--temperature", type=float, default=None, help="sampling temperature (default 0.9)")
    p.add_argument("--top-p", type=float, default=None, help="nucleus sampling mass, 0..1 (default 1)")
    p.add_argument(
        "--range",
        dest="range_",
        metavar="LOW..HIGH",
        default=None,
        help="register, note names or MIDI numbers (default E3..C6)",
    )
    p.add_argument("--velocity", type=int, default=None, help="base velocity 1..127 (default 90)")
    p.add_argument(
        "--swing",
        type=float,
        default=None,
        help="swing 0 (straight) .. 0.5 (triplet) .. 0.75 (dotted); default from the tune",
    )


def resolve_changes(args: argparse.Namespace) -> Changes:
    """The progression the options ask for (default: the built-in default tune)."""
    from improv.theory import tunes

    if getattr(args, "changes", None) and getattr(args, "tune", None):
        raise InputError("give either --changes or --tune, not both")
    if getattr(args, "changes", None):
        text = args.changes
        path = Path(text)
        title = "changes"
        if "|" not in text and path.suffix and path.is_file():
            text, title = path.read_text(), path.stem
        return Changes(parse_progression(text), title)
    candidates = None
    if getattr(args, "library", None):
        from improv.theory.library import load_library

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
    return Changes(tune.progression, tune.title, float(tune.tempo), swing, sections)


def parse_pitch(text: str) -> int:
    """A MIDI number or a note name with octave (C4 = 60): '52', 'E3', 'Bb5', 'F#2'."""
    text = text.strip()
    if text.lstrip("-").isdigit():
        value = int(text)
    else:
        if len(text) < 2 or text[0].lower() not in PITCH_NAMES:
            raise InputError(f"not a pitch: {text!r} (use a MIDI number or a name like E3, Bb5)")
        pc = PITCH_NAMES[text[0].lower()]
        rest = text[1:]
        while rest and rest[0] in "b#":
            pc += -1 if rest[0] == "b" else 1
            rest = rest[1:]
        try:
            value = (int(rest) + 1) * 12 + pc
        except ValueError as exc:
            raise InputError(f"not a pitch: {text!r} (use a MIDI number or a name like E3, Bb5)") from exc
    if not 0 <= value <= 127:
        raise InputError(f"pitch {text!r} is outside MIDI 0..127")
    return value


def parse_range(text: str) -> tuple[int, int]:
    """'E3..C6' or '52..84' -> (low, high), at least an octave apart."""
    if ".." not in text:
        raise InputError(f"--range {text!r}: expected LOW..HIGH, e.g. E3..C6 or 52..84")
    low_text, high_text = text.split("..", 1)
    low, high = parse_pitch(low_text), parse_pitch(high_text)
    if high - low < 12:
        raise InputError(f"--range {text!r}: must span at least an octave (low < high)")
    return low, high


def check_number(name: str, value: float | None, low: float, high: float) -> None:
    """InputError unless low <= value <= high (None passes)."""
    if value is not None and not low <= value <= high:
        raise InputError(f"{name} {value} is out of range {low}..{high}")
