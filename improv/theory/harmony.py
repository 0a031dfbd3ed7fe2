"""Chord symbols: parse a written chord into pitch classes, a quality and a chord scale.

``parse_chord`` reads the lead-sheet dialects found in practice and in the corpora:

* roots ``C``, ``Db``, ``F#``, ``B♭``, ``F♯`` (a lower-case first letter is accepted too);
* common notation: ``Cmaj7 CM7 C∆7 CΔ7 C^7 Cj7 C6 C69 C6/9 Cm7 C-7 Cmin7 Cm6 CmMaj7 C-j7 Cm7b5
  Cø Cø7 Cdim C°7 Co7 C7 C9 C13 C7b9 C7#9 C7#11 C7b13 C7alt C7(b9,#11) C7sus C7sus4 Csus2 C+ Caug
  C7#5 C/E``;
* Weimar Jazz Database syntax: ``j7`` major 7, ``-`` minor, ``o`` diminished, tensions written
  after the chord with the accidental *after* the number (``79b`` = 7(b9), ``7911#`` = 7(9,#11),
  ``79b13b`` = 7(b9,b13), ``6911#``, ``sus7913``);
* Impro-Visor / Jazz Chord Progressions Corpus syntax: ``M7 m7 m9 7b9 13b9 7#5#9 7+ 9+ m+ h7 oM7
  mM7 add9 madd9 add9no3 sus24 7susb9 67 7add6 mb6 5 2 4``;
* no chord: ``N.C.``, ``NC``, ``N.C``, ``n.c.`` all return :data:`NO_CHORD`.

Normalisations (what the parser decides for you):

* ``/X`` is a slash bass only when ``X`` is a note name; ``6/9`` reads as ``69``. The bass is
  kept in ``bass`` and is *not* added to ``tones``.
* Parentheses, commas and spaces are ignored: ``C7(b9,#11)`` = ``C7b9#11``.
* ``Δ``/``∆``/``^``/``j`` alone mean major 7; ``M``/``maj`` alone mean the major triad.
* ``9``, ``11``, ``13`` imply the seventh (``b7``, or ``maj7`` after a major marker). A 9 or 13
  on a dominant/major/minor chord is a *tension*; the plain dominant ``11`` (``C11``) is read as
  ``C9sus4`` (the jazz voicing) and gets quality ``sus``.
* ``+`` or ``#5`` with a dominant seventh (``C7#5``, ``C+7``, ``C9+``) is quality ``dom`` (whole
  tone scale); the triad ``C+`` and ``C+j7``/``CM7#5`` are ``aug``.
* A minor third with a diminished fifth is ``hdim`` with a minor seventh (``m7b5``, ``ø``, ``h7``,
  ``m9b5``) and ``dim`` otherwise (``o``, ``dim``, ``°7``, ``mb5``).
* ``alt`` = dominant seventh with tensions b9, #9, #11, b13 and no fifth in ``tones``.
* ``5`` is a power chord (quality ``maj``, tones root and fifth); ``2``/``4`` alone are sus2/sus4.
* ``tones`` = root, third (or the suspended note), fifth (altered if written so), sixth or seventh.
  ``tensions`` = 9/11/13 and their alterations (b9 #9 #11 b13 ...).
* ``scale`` is the chord scale an improviser uses for scale (S) tones, root first, always a superset
  of ``tones | tensions``: maj → ionian (lydian with #11/b5, lydian augmented with #5); min → dorian
  (aeolian with b6/b13, phrygian with b9, melodic minor with maj7); dom → mixolydian (altered for
  ``alt`` or #9 with #5/b13, half-whole diminished for b9 or #9, phrygian dominant for b9 with b13,
  lydian dominant for #11/b5, whole tone for #5, mixolydian b6 for b13); hdim → locrian (locrian
  natural 2 with a written 9); dim → whole-half diminished; aug → whole tone (lydian augmented with
  maj7); sus → mixolydian (phrygian with b9); nc → ``()``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from improv.errors import InputError, excerpt
from improv.theory.pitch import ACCIDENTALS, FLAT_NAMES, LETTERS
from improv.theory.scales import SCALES, chord_scale, scale_name

__all__ = ["NO_CHORD", "NOTE_NAMES", "QUALITIES", "SCALES", "Chord", "ChordSymbolError", "note_name",
           "parse_chord", "pitch_class", "scale_name", "transpose"]

QUALITIES = ("maj", "min", "dom", "hdim", "dim", "aug", "sus", "nc")

NOTE_NAMES = FLAT_NAMES  # one table of names: improv.theory.pitch
_LETTERS = LETTERS
_ACCIDENTALS = ACCIDENTALS

_NC_SPELLINGS = frozenset({"N.C.", "NC", "N.C", "NC.", "n.c.", "nc", "n.c", "N/C"})
_ROOT_RE = re.compile(r"([A-Ga-g])([b#♭♯]?)")
_NOTE_RE = re.compile(r"[A-Ga-g][b#♭♯]?")

# Tension degree (+ accidental) -> interval above the root.
_DEGREE = {2: 2, 4: 5, 5: 7, 6: 9, 9: 2, 11: 5, 13: 9}


class ChordSymbolError(InputError):
    """A chord symbol that cannot be read; the message names the symbol and where it was."""


@dataclass(frozen=True)
class Chord:
    """A parsed chord: absolute pitch classes (C = 0), quality and chord scale."""

    symbol: str
    root: int | None
    quality: str
    tones: frozenset[int]
    tensions: frozenset[int]
    bass: int | None
    scale: tuple[int, ...]

    def __str__(self) -> str:
        return self.symbol


NO_CHORD = Chord("N.C.", None, "nc", frozenset(), frozenset(), None, ())


def note_name(pc: int) -> str:
    """A display name for a pitch class (flats): 1 -> 'Db'."""
    return NOTE_NAMES[pc % 12]


def pitch_class(name: str) -> int:
    """The pitch class of a note name like 'Bb', 'F#', 'E♭'; raises ValueError if not a note."""
    match = _NOTE_RE.fullmatch(name.strip())
    if not match:
        raise ValueError(f"not a note name: {name!r}")
    return (_LETTERS[name.strip()[0].upper()] + _ACCIDENTALS[name.strip()[1:]]) % 12


def parse_chord(symbol: str, where: str = "") -> Chord:
    """Parse one chord symbol; ``where`` (e.g. "bar 3, chord 2") goes into the error message."""
    try:
        return _parse_cached(symbol)
    except _Unreadable as exc:
        location = f" at {where}" if where else ""
        raise ChordSymbolError(f"unknown chord symbol {excerpt(symbol)}{location} ({exc})") from None


def transpose(chord: Chord, semitones: int) -> Chord:
    """The same chord moved by ``semitones`` (the symbol is respelled with flat root names)."""
    if chord.root is None or semitones % 12 == 0:
        return chord
    text = chord.symbol.strip()
    root_match = _ROOT_RE.match(text)
    assert root_match is not None  # a parsed chord with a root starts with its root
    rest = text[root_match.end() :]
    body, bass_name = _split_bass(rest)
    new = note_name(chord.root + semitones) + body
    if bass_name is not None and chord.bass is not None:
        new += "/" + note_name(chord.bass + semitones)
    return parse_chord(new)


class _Unreadable(Exception):
    """Internal: why a symbol could not be read, and where (``pos``, 0-based, in the symbol)."""

    def __init__(self, reason: str, pos: int | None = None) -> None:
        super().__init__(reason)
        self.reason, self.pos = reason, pos

    def __str__(self) -> str:
        return self.reason if self.pos is None else f"{self.reason} at character {self.pos + 1}"


@lru_cache(maxsize=8192)
def _parse_cached(symbol: str) -> Chord:
    text = symbol.strip()
    if not text:
        raise _Unreadable("empty symbol")
    if text in _NC_SPELLINGS:
        return NO_CHORD
    root_match = _ROOT_RE.match(text)
    if not root_match:
        raise _Unreadable("no root note", 0)
    root = (_LETTERS[root_match.group(1).upper()] + _ACCIDENTALS[root_match.group(2)]) % 12
    lead = len(symbol) - len(symbol.lstrip())  # positions count in the symbol as given
    body, bass_name = _split_bass(text[root_match.end() :])
    if bass_name == "":
        raise _Unreadable("'/' with no bass note after it", lead + text.rindex("/"))
    bass = pitch_class(bass_name) if bass_name is not None else None
    shape = _read_body(body, lead + root_match.end())
    quality = shape.quality()
    tones = frozenset((root + i) % 12 for i in shape.tone_intervals())
    tensions = frozenset((root + i) % 12 for i in shape.tensions) - tones
    scale = tuple((root + i) % 12 for i in shape.scale(quality))
    return Chord(symbol.strip(), root, quality, tones, tensions, bass, scale)


def _split_bass(rest: str) -> tuple[str, str | None]:
    """Split 'm7/Bb' into ('m7', 'Bb'); a '/' before a non-note ('6/9') is dropped; a trailing '/'
    gives the bass '' (an error for the caller)."""
    if "/" in rest:
        head, _, tail = rest.rpartition("/")
        tail = tail.strip()
        if _NOTE_RE.fullmatch(tail) or not tail:
            return head.replace("/", ""), tail
        return rest.replace("/", ""), None
    return rest, None


_UNICODE = str.maketrans({"♭": "b", "♯": "#", "∆": "Δ", "–": "-", "−": "-", "º": "°"})
_TOKEN_RE = re.compile(
    r"""(?P<mmaj>mmaj|mMaj|mM|minmaj|minMaj|-maj|-Maj|-M|-j|-Δ|mΔ|m\^|-\^)
      | (?P<maj>maj|Maj|MAJ|ma(?!d)|Ma(?!d)|M|Δ|\^|j)
      | (?P<min>min|mi|m|-)
      | (?P<dim>dim|o|°)
      | (?P<hdim>ø|h)
      | (?P<aug>aug|\+)
      | (?P<sus>sus(?:24|42|2|4)?)
      | (?P<alt>alt)
      | (?P<add>add|ad)(?P<addacc>[b#+-]?)(?P<addnum>13|11|9|6|4|2)
      | (?P<no>no|omit)(?P<nonum>3|5)
      | (?P<acc>[b#])(?P<accnum>13|11|9|6|5|4)
      | (?P<num>13|11|69|67|9|7|6|5|4|2)
    """,
    re.VERBOSE,
)


class _Shape:
    """Intervals collected while reading the body of a chord symbol."""

    def __init__(self) -> None:
        self.third: int | None = 4
        self.fifth: int | None = 7
        self.seventh: int | None = None
        self.sixth = False
        self.maj_marker = False  # M / maj / j / Δ seen: a following 7/9/13 is a major seventh
        self.dim = False
        self.hdim = False
        self.alt = False
        self.power = False
        self.tensions: set[int] = set()

    def tone_intervals(self) -> set[int]:
        tones = {0}
        if self.third is not None:
            tones.add(self.third)
        if self.fifth is not None and not self.alt:
            tones.add(self.fifth)
        if self.sixth:
            tones.add(9)
        if self.seventh is not None:
            tones.add(self.seventh)
        return tones

    def quality(self) -> str:
        if self.power:
            return "maj"
        if self.third is None or self.third in (2, 5):
            return "sus"
        if self.third == 3:
            if self.fifth == 6:
                return "hdim" if self.seventh == 10 else "dim"
            return "min"
        if self.seventh == 10:
            return "dom"
        if self.fifth == 8:
            return "aug"
        return "maj"

    def scale(self, quality: str) -> tuple[int, ...]:
        return chord_scale(self, quality)


def _read_body(body: str, offset: int = 0) -> _Shape:
    """Read everything after the root (and before a slash bass) into a _Shape.

    ``offset`` is where ``body`` starts in the symbol, for the position an error names.
    """
    kept = _check_parentheses(body.translate(_UNICODE), offset)
    text = "".join(char for char, _ in kept)
    try:
        return _read_tokens(text)
    except _Unreadable as exc:
        if exc.pos is None:
            raise
        where = kept[exc.pos][1] if exc.pos < len(kept) else offset + len(body)
        raise _Unreadable(exc.reason, where) from None


def _check_parentheses(text: str, offset: int) -> list[tuple[str, int]]:
    """The characters that carry meaning, with their positions in the symbol; parentheses must pair
    up, one level deep (``7(b9,#11)``), and commas and spaces are dropped."""
    kept: list[tuple[str, int]] = []
    depth = 0
    for index, char in enumerate(text):
        if char == "(":
            depth += 1
            if depth > 1:
                raise _Unreadable("nested '('", offset + index)
        elif char == ")":
            depth -= 1
            if depth < 0:
                raise _Unreadable("')' without '('", offset + index)
        elif char not in ", ":
            kept.append((char, offset + index))
    if depth:
        raise _Unreadable("'(' never closed", offset + text.rindex("("))
    return kept


def _read_tokens(text: str) -> _Shape:
    """Read the body's tokens (parentheses, commas and spaces removed) into a _Shape."""
    shape = _Shape()
    if text == "5":
        shape.third, shape.power = None, True
        return shape
    if text in ("2", "4"):
        shape.third = 2 if text == "2" else 5
        return shape
    state = _ReadState()
    pos = 0
    while pos < len(text):
        pos = _read_token(shape, state, text, pos)
        state.head = False
    if shape.maj_marker and shape.seventh is None and state.extension_seen and not shape.sixth:
        shape.seventh = 11
    if shape.tensions & {1, 3}:
        shape.tensions.discard(2)  # a written b9/#9 replaces the 9 implied by 11/13
    if 3 in shape.tensions and 8 in shape.tensions and shape.fifth == 7:
        shape.fifth = None  # 7#9b13 is an altered voicing: no perfect fifth
    return shape


@dataclass
class _ReadState:
    head: bool = True  # at the start, where '-' means minor and '+' means augmented
    extension_seen: bool = False  # the first number (6, 7, 9, 11, 13, 69) has been read
    postfix: bool = False  # WJazzD style: accidentals follow the tension (79b = 7(b9))
    last_tension: int | None = None
    seen: set[tuple] = field(default_factory=set)  # tokens read so far: none may come twice


def _token_key(groups: dict[str, str | None]) -> tuple:
    """What a token says, for refusing it twice (``maj7maj7``, ``sus4sus4``, ``7777``)."""
    name = next(name for name in _TOKEN_KINDS if groups[name])
    if name in ("add", "acc", "no", "num"):
        return tuple(groups[key] for key in _TOKEN_PARTS[name])
    return (name,)


_TOKEN_KINDS = ("mmaj", "maj", "min", "dim", "hdim", "aug", "sus", "alt", "add", "no", "acc", "num")
_TOKEN_PARTS = {"add": ("add", "addacc", "addnum"), "acc": ("acc", "accnum"), "no": ("no", "nonum"),
                "num": ("num",)}

_SIGNED_RE = re.compile(r"([+-])(13|11|9|5)")


def _read_token(shape: _Shape, state: _ReadState, text: str, pos: int) -> int:
    """Read one token at ``pos`` into ``shape``; return the position after it."""
    char = text[pos]
    if state.postfix and char in "b#" and state.last_tension is not None:
        _alter_last(shape, state.last_tension, char)
        state.last_tension = None
        return pos + 1
    if not state.head and char in "+-":
        signed = _SIGNED_RE.match(text, pos)
        if signed:  # '+9' / '-9' after the head: sharp / flat alterations
            _alteration(shape, "#" if char == "+" else "b", int(signed.group(2)))
            return signed.end()
        if char == "+":
            shape.fifth = 8
            return pos + 1
    match = _TOKEN_RE.match(text, pos)
    if not match:
        raise _Unreadable(f"cannot read {excerpt(text[pos:], 20)}", pos)
    end = match.end()
    groups = _once(match, state, pos)
    if groups["mmaj"]:
        shape.third, shape.maj_marker = 3, True
        _maj_alone(shape, text, end)
    elif groups["maj"]:
        shape.maj_marker = True
        if groups["maj"] in ("Δ", "^", "j") or not state.head:
            _maj_alone(shape, text, end)
    elif groups["min"]:
        if not state.head:
            raise _Unreadable(f"cannot read {excerpt(text[pos:], 20)}", pos)
        shape.third = 3
    elif groups["dim"] or groups["hdim"]:
        end = _diminished(shape, state, bool(groups["dim"]), text, end)
    elif groups["aug"]:
        shape.fifth = 8
    elif groups["sus"]:
        _suspend(shape, groups["sus"][3:])
    elif groups["alt"]:
        shape.alt = True
        if shape.seventh is None:
            shape.seventh = 10
        shape.tensions |= {1, 3, 6, 8}
    elif groups["add"]:
        _add(shape, groups["addacc"], int(groups["addnum"]))
    elif groups["no"]:
        if groups["nonum"] == "3":
            shape.third = None
        else:
            shape.fifth = None
    elif groups["acc"]:
        _alteration(shape, groups["acc"], int(groups["accnum"]))
        state.last_tension = None
    else:
        _number(shape, state, text, pos, int(groups["num"]))
    return end


def _once(match: re.Match, state: _ReadState, pos: int) -> dict[str, str | None]:
    """The token's groups; a token read twice (``maj7maj7``, ``sus4sus4``, ``7777``) is refused."""
    groups = match.groupdict()
    key = _token_key(groups)
    if key in state.seen:
        raise _Unreadable(f"{match.group(0)!r} repeated", pos)
    state.seen.add(key)
    return groups


def _diminished(shape: _Shape, state: _ReadState, dim: bool, text: str, end: int) -> int:
    """``o``/``dim``/``°`` (``dim``) or ``ø``/``h``, with an optional ``7`` right after."""
    shape.third, shape.fifth = 3, 6
    shape.dim, shape.hdim = dim, not dim
    shape.seventh = None if dim else 10
    if text.startswith("7", end):
        shape.seventh = 9 if dim else 10
        state.extension_seen = True
        end += 1
    return end


def _number(shape: _Shape, state: _ReadState, text: str, pos: int, number: int) -> None:
    """A bare number: the first one is the extension, later ones add tensions or tones."""
    if not state.extension_seen:
        _extension(shape, number)
        state.extension_seen = True
    elif number in (9, 11, 13):
        # a tension right after a number ('79', '7911') is WJazzD's postfix style
        state.postfix = state.postfix or text[pos - 1].isdigit()
        shape.tensions.add(_DEGREE[number])
        state.last_tension = number
    elif number == 7:
        shape.seventh = 11 if shape.maj_marker else 10
    elif number == 6:
        shape.sixth = True
    elif number in (2, 4):
        shape.tensions.add(_DEGREE[number])
    else:
        raise _Unreadable(f"cannot read {excerpt(text[pos:], 20)}", pos)


def _suspend(shape: _Shape, kind: str) -> None:
    """sus, sus4, sus2, sus24: the third is replaced."""
    shape.third = 5
    if kind == "2":
        shape.third = 2
    elif kind in ("24", "42"):
        shape.tensions.add(2)


def _add(shape: _Shape, acc: str, number: int) -> None:
    """add9, add6, add13, addb9, add#9, add4, add11, add2."""
    if acc:
        _alteration(shape, "#" if acc in "#+" else "b", number)
    elif number == 6:
        shape.sixth = True
    else:
        shape.tensions.add(_DEGREE[number])


def _next_is_digit(text: str, pos: int) -> bool:
    return pos < len(text) and text[pos].isdigit()


def _maj_alone(shape: _Shape, text: str, end: int) -> None:
    """After Δ/^/j/mM: a major seventh unless a number follows (which then sets it)."""
    if not _next_is_digit(text, end):
        shape.seventh = 11


# The first number of a chord -> (it adds a sixth, its seventh, the tensions it adds); the seventh is an
# interval, None (no seventh) or _MARKED: what the chord's marks make it (maj: 11, dim: 9, else 10).
_MARKED = -1
_EXTENSIONS: dict[int, tuple[bool, int | None, tuple[int, ...]]] = {
    6: (True, None, ()), 69: (True, None, (2,)), 67: (False, 10, (9,)), 7: (False, _MARKED, ()),
    9: (False, _MARKED, (2,)), 11: (False, _MARKED, (2, 5)), 13: (False, _MARKED, (2, 9)),
}


def _extension(shape: _Shape, number: int) -> None:
    """The first number of a chord: 6, 69, 67, 7, 9, 11, 13 (2/4/5 handled before)."""
    if number not in _EXTENSIONS:
        raise _Unreadable(f"unexpected number {number}")
    sixth, seventh, tensions = _EXTENSIONS[number]
    if seventh == _MARKED:
        seventh = 11 if shape.maj_marker else (9 if shape.dim and not shape.hdim else 10)
    if sixth:
        shape.sixth = True
    if seventh is not None:
        shape.seventh = seventh
    shape.tensions.update(tensions)
    if number == 11 and shape.third == 4 and seventh == 10:
        shape.third = 5  # C11 = C9sus4 in jazz usage


def _alteration(shape: _Shape, acc: str, number: int) -> None:
    """b5 #5 b9 #9 #11 b13 (also b6 = b13, #4 = #11)."""
    step = 1 if acc in "#+" else -1
    if number == 5:
        shape.fifth = 7 + step
    elif number in (9, 11, 13, 6, 4, 2):
        base = _DEGREE[number]
        shape.tensions.add((base + step) % 12)
    else:
        raise _Unreadable(f"cannot alter {number}")


def _alter_last(shape: _Shape, number: int, acc: str) -> None:
    """WJazzD postfix accidental: '9b' turns the 9 just read into b9."""
    base = _DEGREE[number]
    shape.tensions.discard(base)
    shape.tensions.add((base + (1 if acc == "#" else -1)) % 12)
