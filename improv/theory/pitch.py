"""Pitch names: the one place that turns MIDI numbers and pitch classes into names and back.

Units: a pitch is a MIDI note number 0..127 with C4 = 60 (scientific pitch notation, middle C);
a pitch class is 0..11 with C = 0. Names use flats by default (``Eb``), sharps on request
(``D#``); ``pretty`` writes the accidental as ``♭``/``♯`` for display (the piano roll).
Reading accepts ``b # ♭ ♯``, double accidentals (``Bbb``, ``F##``) and a lower-case letter.

Pure functions, no state: safe from any thread.
"""

from __future__ import annotations

import re

FLAT_NAMES = ("C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B")
SHARP_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
DEFAULT_REGISTER = (52, 84)  # MIDI pitches E3..C6: the improviser's default range, the one definition
LETTERS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
ACCIDENTALS = {"": 0, "b": -1, "#": 1, "♭": -1, "♯": 1, "bb": -2, "##": 2, "♭♭": -2, "♯♯": 2}
_PRETTY = str.maketrans({"b": "♭", "#": "♯"})
_NAME_RE = re.compile(r"([A-Ga-g])(bb|##|♭♭|♯♯|[b#♭♯]?)(-?\d{1,2})?")


def pitch_name(pitch: int, *, octave: bool = True, sharps: bool = False, pretty: bool = False) -> str:
    """The name of a MIDI pitch (``63 -> 'Eb4'``), or of a pitch class with ``octave=False``
    (``3 -> 'Eb'``); ``sharps`` spells black keys with sharps, ``pretty`` with ``♭``/``♯``."""
    name = (SHARP_NAMES if sharps else FLAT_NAMES)[pitch % 12]
    if pretty:
        name = name.translate(_PRETTY)
    return f"{name}{pitch // 12 - 1}" if octave else name


def parse_pitch(text: str, *, octave: bool = True) -> int:
    """The MIDI pitch of a name with octave (``'E3' -> 52``, ``'B♭5' -> 82``), or with
    ``octave=False`` the pitch class of a note name without one (``'F#' -> 6``).
    Raises ValueError for anything else; the caller checks the range it needs (``G9`` = 127 is
    the top of MIDI, ``A9`` is 129)."""
    match = _NAME_RE.fullmatch(text.strip())
    if not match or (match.group(3) is None) == octave:
        wanted = "a note name with octave like E3, F#4, Bb5" if octave else "a note name like Bb or F#"
        raise ValueError(f"{text.strip()[:20]!r} is not {wanted}")
    letter, accidental, number = match.groups()
    pc = LETTERS[letter.upper()] + ACCIDENTALS[accidental]
    if not octave:
        return pc % 12
    return (int(number) + 1) * 12 + pc
