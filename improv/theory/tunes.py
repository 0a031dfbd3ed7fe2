"""Tunes: TOML lead sheets (metadata + changes) and the built-in library in ``improv/data/tunes``.

A tune file::

    title = "F Blues"
    composer = "Traditional"
    key = "F"
    form = "12-bar blues"
    tempo = 120            # default BPM
    feel = "swing"         # swing | straight | bossa | waltz
    swing = 0.5            # optional, 0..0.75 (0 straight, 0.5 triplet, 0.75 dotted; see
                           # improv.theory.timing.swing_beats); absent = the player's default
    time = "4/4"
    changes = "| F7 | Bb7 | F7 | Cm7 F7 | ..."   # see improv.theory.progression

``time`` and ``key`` are passed to the progression parser (header tokens inside ``changes`` may
override them).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

from improv.errors import InputError, closest, excerpt
from improv.theory.progression import (
    Progression,
    check_key,
    parse_progression,
    time_signature_beats,
)

DEFAULT_TUNE = "F Blues"
FEELS = ("swing", "straight", "bossa", "waltz")
MAX_SWING = 0.75

# field -> (type, required)
_FIELDS: dict[str, tuple[type | tuple[type, ...], bool]] = {
    "title": (str, True),
    "composer": (str, False),
    "key": (str, True),
    "form": (str, False),
    "tempo": ((int, float), True),
    "feel": (str, True),
    "swing": ((int, float), False),
    "time": (str, False),
    "changes": (str, True),
}


@dataclass(frozen=True)
class Tune:
    """A tune: metadata and its parsed progression."""

    title: str
    composer: str
    key: str
    form: str
    tempo: float
    feel: str
    time: str
    changes: str
    progression: Progression
    swing: float | None = None
    path: Path | None = None
    style: str = ""  # the source's own style name when it has one (iReal: "Medium Swing")

    @property
    def bars(self) -> int:
        """Bars in one chorus."""
        return self.progression.bar_count


def load_tune(path: str | Path) -> Tune:
    """Read one tune file; InputError names the file and the bad key."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"cannot read tune file {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise InputError(f"tune file {path} is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"tune file {path} is not valid TOML: {exc}") from None
    return tune_from_dict(data, str(path), path)


def tune_from_dict(data: dict, source: str, path: Path | None = None) -> Tune:
    """Validate a tune table (as read from TOML); ``source`` names it in errors."""
    for name in data:
        if name not in _FIELDS:
            known = ", ".join(_FIELDS)
            raise InputError(f"{source}: unknown key {name!r} (known keys: {known})")
    for name, (kind, required) in _FIELDS.items():
        if name not in data:
            if required:
                raise InputError(f"{source}: missing key {name!r}")
            continue
        value = data[name]
        if isinstance(value, bool) or not isinstance(value, kind):
            wanted = "a number" if kind == (int, float) else "a string"
            raise InputError(f"{source}: key {name!r} must be {wanted}, not {value!r}")
    tempo = float(data["tempo"])
    if not 20 <= tempo <= 400:
        raise InputError(f"{source}: key 'tempo' must be between 20 and 400 BPM, not {tempo:g}")
    feel = data["feel"]
    if feel not in FEELS:
        raise InputError(f"{source}: key 'feel' must be one of {', '.join(FEELS)}, not {feel!r}")
    swing = data.get("swing")
    if swing is not None and not 0 <= swing <= MAX_SWING:
        raise InputError(f"{source}: key 'swing' must be between 0 and {MAX_SWING}, not {swing}")
    time = data.get("time", "4/4")
    beats_per_bar = time_signature_beats(time, f"{source}: key 'time': ")
    key = check_key(data["key"], f"{source}: key 'key': ")
    progression = parse_progression(
        data["changes"],
        beats_per_bar,
        title=data["title"],
        key=key,
        source=f"{source} key 'changes'",
    )
    return Tune(
        title=data["title"],
        composer=data.get("composer", ""),
        key=key,
        form=data.get("form", ""),
        tempo=tempo,
        feel=feel,
        time=time,
        changes=data["changes"],
        progression=progression,
        swing=None if swing is None else float(swing),
        path=path,
    )


@lru_cache(maxsize=1)
def _builtin() -> tuple[Tune, ...]:
    folder = resources.files("improv.data") / "tunes"
    tunes = []
    for entry in sorted(folder.iterdir(), key=lambda item: item.name):
        if entry.name.endswith(".toml"):
            with resources.as_file(entry) as file_path:
                tunes.append(load_tune(file_path))
    return tuple(tunes)


def builtin_tunes() -> list[Tune]:
    """The tunes shipped with improv, sorted by file name."""
    return list(_builtin())


def find_tune(name: str, tunes: list[Tune] | None = None) -> Tune:
    """The tune called ``name``: an exact title (any case) wins, else a unique substring match."""
    pool = builtin_tunes() if tunes is None else tunes
    wanted = name.strip().casefold()
    exact = [tune for tune in pool if tune.title.casefold() == wanted]
    if len(exact) == 1:
        return exact[0]
    matches = exact or [tune for tune in pool if wanted and wanted in tune.title.casefold()]
    if len(matches) == 1:
        return matches[0]
    if matches:
        titles = closest(name, [tune.title for tune in matches], "matching titles")
        raise InputError(f"tune name {excerpt(name)} is ambiguous: {titles}")
    raise InputError(f"no tune called {excerpt(name)}; {closest(name, [tune.title for tune in pool])}")


def form_sections(form: str, bar_count: int) -> tuple[str, ...]:
    """A section label for every bar of a chorus, from the form written in a tune or a corpus.

    Section lengths are read from the form when it gives them: ``"A8 A8 B8 A12"`` (a tune file, iReal),
    or WJazzD's ``"(A1,8), (A2,8), (B1,8), (A3,12)"``. Letters alone share the chorus evenly when that
    gives sections of a multiple of 4 bars (``"AABA 32"``: 8 each); otherwise every section takes the
    largest multiple of 4 bars that fits and the last one takes the rest (``"AABA 36"``, All the Things
    You Are: 8 8 8 12, not 9 each). Repeated letters are numbered
    (A1 A2 B A3). A form with no letters, or lengths that overrun the chorus, gives ``"A"`` for every bar.
    """
    sections = _written_sections(form) or _even_sections(form, bar_count)
    if not sections or sum(n for _, n in sections) > bar_count:
        return ("A",) * bar_count
    letter, size = sections[-1]
    sections[-1] = (letter, size + bar_count - sum(n for _, n in sections))  # a tag extends the last
    letters = [letter for letter, _ in sections]
    seen: dict[str, int] = {}
    labels: list[str] = []
    for letter, size in sections:
        seen[letter] = seen.get(letter, 0) + 1
        labels += [f"{letter}{seen[letter]}" if letters.count(letter) > 1 else letter] * size
    return tuple(labels)


_WJAZZD_PART = re.compile(r"\(\s*([A-Za-z])[A-Za-z]*\d*\s*,\s*(\d+)\s*\)")
_SIZED_PART = re.compile(r"([A-Z])(\d+)")


def _written_sections(form: str) -> list[tuple[str, int]]:
    """(letter, bars) pairs the form spells out, or [] when it gives no lengths."""
    parts = [(m.group(1).upper(), int(m.group(2))) for m in _WJAZZD_PART.finditer(form)]
    if parts:
        return [(letter, n) for letter, n in parts if letter != "I"]  # WJazzD's intro is not in the chorus
    words = form.split()
    sized = [_SIZED_PART.fullmatch(w) for w in words]
    if words and all(sized):
        return [(m.group(1), int(m.group(2))) for m in sized if m]
    return []


def _even_sections(form: str, bar_count: int) -> list[tuple[str, int]]:
    """(letter, bars) for a form of letters alone (``AABA``), sized as ``form_sections`` explains."""
    letters = [ch for ch in (form.split() or [""])[0] if ch.isalpha() and ch.isupper()]
    if not letters or bar_count < len(letters):
        return []
    even = bar_count // len(letters)
    if bar_count % len(letters) == 0 and (even % 4 == 0 or even < 4):
        return [(letter, even) for letter in letters]
    size = even // 4 * 4 or even
    return [(letter, size) for letter in letters]
