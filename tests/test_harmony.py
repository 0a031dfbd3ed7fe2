"""Chord symbols: every supported notation, the corpora's dialects, scales and errors."""

from __future__ import annotations

import csv
import glob
import os
from pathlib import Path

import pytest

from improv.errors import InputError
from improv.theory.harmony import (
    NO_CHORD,
    QUALITIES,
    SCALES,
    ChordSymbolError,
    parse_chord,
    scale_name,
    transpose,
)


def shared_dir() -> Path:
    """../shared beside the checkout, or $IMPROV_SHARED."""
    env = os.environ.get("IMPROV_SHARED")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared"


def intervals(chord, pcs) -> list[int]:
    return sorted((pc - chord.root) % 12 for pc in pcs)


MAJ7, MIN7, DOM7 = [0, 4, 7, 11], [0, 3, 7, 10], [0, 4, 7, 10]

# symbol -> (quality, chord-tone intervals, tension intervals)
NOTATIONS = {
    "Cmaj7": ("maj", MAJ7, []),
    "CM7": ("maj", MAJ7, []),
    "C∆7": ("maj", MAJ7, []),
    "CΔ7": ("maj", MAJ7, []),
    "C^7": ("maj", MAJ7, []),
    "Cj7": ("maj", MAJ7, []),
    "C6": ("maj", [0, 4, 7, 9], []),
    "C69": ("maj", [0, 4, 7, 9], [2]),
    "C6/9": ("maj", [0, 4, 7, 9], [2]),
    "Cm7": ("min", MIN7, []),
    "C-7": ("min", MIN7, []),
    "Cmin7": ("min", MIN7, []),
    "Cm6": ("min", [0, 3, 7, 9], []),
    "CmMaj7": ("min", [0, 3, 7, 11], []),
    "C-j7": ("min", [0, 3, 7, 11], []),
    "Cm7b5": ("hdim", [0, 3, 6, 10], []),
    "Cø": ("hdim", [0, 3, 6, 10], []),
    "Cø7": ("hdim", [0, 3, 6, 10], []),
    "Cdim": ("dim", [0, 3, 6], []),
    "C°7": ("dim", [0, 3, 6, 9], []),
    "Co7": ("dim", [0, 3, 6, 9], []),
    "C7": ("dom", DOM7, []),
    "C9": ("dom", DOM7, [2]),
    "C13": ("dom", DOM7, [2, 9]),
    "C7b9": ("dom", DOM7, [1]),
    "C7#9": ("dom", DOM7, [3]),
    "C7#11": ("dom", DOM7, [6]),
    "C7b13": ("dom", DOM7, [8]),
    "C7alt": ("dom", [0, 4, 10], [1, 3, 6, 8]),
    "C7(b9,#11)": ("dom", DOM7, [1, 6]),
    "C7sus": ("sus", [0, 5, 7, 10], []),
    "C7sus4": ("sus", [0, 5, 7, 10], []),
    "Csus2": ("sus", [0, 2, 7], []),
    "C+": ("aug", [0, 4, 8], []),
    "Caug": ("aug", [0, 4, 8], []),
    "C7#5": ("dom", [0, 4, 8, 10], []),
    "C/E": ("maj", [0, 4, 7], []),
    # WJazzD dialect
    "C": ("maj", [0, 4, 7], []),
    "C-": ("min", [0, 3, 7], []),
    "C-6": ("min", [0, 3, 7, 9], []),
    "Co": ("dim", [0, 3, 6], []),
    "C+7": ("dom", [0, 4, 8, 10], []),
    "Csus": ("sus", [0, 5, 7], []),
    "Csus7": ("sus", [0, 5, 7, 10], []),
    "C79b": ("dom", DOM7, [1]),
    "C79#": ("dom", DOM7, [3]),
    "C7911#": ("dom", DOM7, [2, 6]),
    "C7913": ("dom", DOM7, [2, 9]),
    "C79b13": ("dom", DOM7, [1, 9]),
    "C7913b": ("dom", DOM7, [2, 8]),
    "C79b13b": ("dom", DOM7, [1, 8]),
    "Cj7911#": ("maj", MAJ7, [2, 6]),
    "C6911#": ("maj", [0, 4, 7, 9], [2, 6]),
    "C-7911": ("min", MIN7, [2, 5]),
    "C+j7": ("aug", [0, 4, 8, 11], []),
    # Impro-Visor / JCPC dialect
    "Cm9": ("min", MIN7, [2]),
    "C13b9": ("dom", DOM7, [1, 9]),
    "C7#5#9": ("dom", [0, 4, 8, 10], [3]),
    "C7+": ("dom", [0, 4, 8, 10], []),
    "CmM7": ("min", [0, 3, 7, 11], []),
    "Ch7": ("hdim", [0, 3, 6, 10], []),
    "Cm9b5": ("hdim", [0, 3, 6, 10], [2]),
    "CoM7": ("dim", [0, 3, 6, 11], []),
    "Cadd9": ("maj", [0, 4, 7], [2]),
    "Cmadd9": ("min", [0, 3, 7], [2]),
    "C7susb9": ("sus", [0, 5, 7, 10], [1]),
    "C9sus4": ("sus", [0, 5, 7, 10], [2]),
    "CM": ("maj", [0, 4, 7], []),
    "Cm": ("min", [0, 3, 7], []),
    "C5": ("maj", [0, 7], []),
    "C11": ("sus", [0, 5, 7, 10], [2]),
    "Cm11": ("min", MIN7, [2, 5]),
    "C7b5": ("dom", [0, 4, 6, 10], []),
    "CM7#11": ("maj", MAJ7, [6]),
    "Cmb5": ("dim", [0, 3, 6], []),
    "C67": ("dom", DOM7, [9]),
}


@pytest.mark.parametrize("symbol", sorted(NOTATIONS))
def test_notation(symbol: str) -> None:
    quality, tones, tensions = NOTATIONS[symbol]
    chord = parse_chord(symbol)
    assert chord.root == 0
    assert chord.symbol == symbol
    assert chord.quality == quality
    assert intervals(chord, chord.tones) == tones
    assert intervals(chord, chord.tensions) == tensions
    assert chord.scale[0] == 0
    assert chord.tones | chord.tensions <= set(chord.scale)


@pytest.mark.parametrize(
    ("symbol", "root", "bass"),
    [
        ("Bb7", 10, None),
        ("B♭7", 10, None),
        ("F#m7", 6, None),
        ("F♯m7", 6, None),
        ("Db", 1, None),
        ("Cb", 11, None),
        ("E#", 5, None),
        ("C/E", 0, 4),
        ("Dm7/C", 2, 0),
        ("F/Eb", 5, 3),
        ("Ab-7/Gb", 8, 6),
        ("ebm7", 3, None),
    ],
)
def test_roots_and_bass(symbol: str, root: int, bass: int | None) -> None:
    chord = parse_chord(symbol)
    assert chord.root == root
    assert chord.bass == bass
    assert chord.root in chord.tones


def test_slash_bass_is_not_a_chord_tone() -> None:
    chord = parse_chord("D/C")
    assert chord.bass == 0
    assert 0 not in chord.tones


@pytest.mark.parametrize(
    ("symbol", "scale"),
    [
        ("Cmaj7", "ionian"),
        ("Cmaj7#11", "lydian"),
        ("Cm7", "dorian"),
        ("Cm6", "dorian"),
        ("CmMaj7", "melodic minor"),
        ("C7", "mixolydian"),
        ("C7alt", "altered"),
        ("C7b9", "half-whole diminished"),
        ("C7b9b13", "phrygian dominant"),
        ("C7#11", "lydian dominant"),
        ("C7#5", "whole tone"),
        ("C7#5#9", "altered"),
        ("Cm7b5", "locrian"),
        ("Cm9b5", "locrian natural 2"),
        ("Cdim7", "whole-half diminished"),
        ("Caug", "whole tone"),
        ("C7sus4", "mixolydian"),
        ("C7susb9", "phrygian"),
    ],
)
def test_chord_scales(symbol: str, scale: str) -> None:
    chord = parse_chord(symbol)
    assert scale_name(chord) == scale
    assert tuple(sorted(chord.scale)) == SCALES[scale]


def test_scale_is_absolute_and_root_first() -> None:
    chord = parse_chord("F7")
    assert chord.scale == (5, 7, 9, 10, 0, 2, 3)


@pytest.mark.parametrize("symbol", ["N.C.", "NC", "N.C", "n.c."])
def test_no_chord(symbol: str) -> None:
    chord = parse_chord(symbol)
    assert chord is NO_CHORD
    assert chord.quality == "nc"
    assert chord.root is None and chord.bass is None
    assert chord.tones == frozenset() and chord.scale == ()


def test_qualities_are_stable() -> None:
    assert QUALITIES == ("maj", "min", "dom", "hdim", "dim", "aug", "sus", "nc")


@pytest.mark.parametrize("symbol", ["Cq7", "H7", "", "   ", "7", "C7/X", "Cm7m", "Cmaj7b"])
def test_unknown_symbols_raise_input_error(symbol: str) -> None:
    with pytest.raises(ChordSymbolError) as info:
        parse_chord(symbol, "bar 3, chord 2")
    assert isinstance(info.value, InputError)
    assert repr(symbol) in str(info.value)
    assert "at bar 3, chord 2" in str(info.value)


@pytest.mark.parametrize(
    ("symbol", "reason"),
    [
        ("C7((((", "nested '(' at character 4"),
        ("C7)", "')' without '(' at character 3"),
        ("C7(b9", "'(' never closed at character 3"),
        ("C/", "'/' with no bass note after it at character 2"),
        ("Cmaj7maj7maj7", "'maj' repeated at character 6"),
        ("C7sus4sus4", "'sus4' repeated at character 7"),
        ("C7777", "'7' repeated at character 3"),
        ("C7b9b9", "'b9' repeated at character 5"),
        (" Cq7", "cannot read 'q7' at character 3"),
    ],
)
def test_junk_is_refused_with_its_position(symbol: str, reason: str) -> None:
    with pytest.raises(ChordSymbolError) as info:
        parse_chord(symbol, "bar 1, chord 1")
    assert str(info.value) == f"unknown chord symbol {symbol!r} at bar 1, chord 1 ({reason})"


def test_a_long_symbol_is_quoted_short() -> None:
    with pytest.raises(ChordSymbolError) as info:
        parse_chord("C" + "7" * 100_000)
    assert len(str(info.value)) < 200 and "(100001 characters)" in str(info.value)


def test_error_message_without_where() -> None:
    with pytest.raises(ChordSymbolError, match=r"^unknown chord symbol 'Cq7' \("):
        parse_chord("Cq7")


def test_transpose_respells_and_moves_bass() -> None:
    moved = transpose(parse_chord("Dm7b5/Ab"), 2)
    assert moved.symbol == "Em7b5/Bb"
    assert moved.root == 4 and moved.bass == 10 and moved.quality == "hdim"
    assert transpose(NO_CHORD, 5) is NO_CHORD


MUSIC21_AGREES = ["Cmaj7", "Cm7", "C7", "Cm7b5", "Cdim7", "C6", "Cm6", "C9", "C7b9", "C7#9",
                  "C7#11", "C7b13", "Caug", "Csus4", "C7sus4", "Cm9", "C/E", "F#m7", "Cdim",
                  "C7#5", "Cm11", "B-7", "E-m7"]  # fmt: skip


def test_pitch_classes_agree_with_music21() -> None:
    harmony21 = pytest.importorskip("music21.harmony")
    for symbol in MUSIC21_AGREES:
        theirs = {pitch.pitchClass for pitch in harmony21.ChordSymbol(symbol).pitches}
        chord = parse_chord(symbol.replace("-", "b", 1) if symbol[1:2] == "-" else symbol)
        assert set(chord.tones | chord.tensions) == theirs, symbol


def _wjazzd_symbols() -> set[str]:
    folder = shared_dir() / "data" / "wjazzd"
    files = [folder / "wjazzd_notes_with_chords.csv", folder / "wjazzd_beats.csv"]
    if not all(path.is_file() for path in files):
        pytest.skip(f"WJazzD CSVs not found under {folder} (set IMPROV_SHARED)")
    symbols: set[str] = set()
    for path in files:
        with path.open(newline="", encoding="utf-8") as handle:
            symbols.update(row["chord"] for row in csv.DictReader(handle))
    symbols.discard("")  # beats before the first annotated chord
    return symbols


@pytest.mark.shared
def test_every_wjazzd_symbol_parses() -> None:
    symbols = _wjazzd_symbols()
    assert len(symbols) >= 410
    for symbol in symbols:
        chord = parse_chord(symbol)
        assert chord.tones | chord.tensions <= set(chord.scale), symbol


def _jcpc_symbols() -> set[str]:
    folder = shared_dir() / "data" / "jazz-chord-progressions" / "songs"
    files = glob.glob(str(folder / "*.txt"))
    if not files:
        pytest.skip(f"Jazz Chord Progressions Corpus not found under {folder}")
    symbols: set[str] = set()
    for name in files:
        with open(name, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if "=" not in line:
                    symbols.update(line.replace("|", " ").split())
    return symbols


@pytest.mark.shared
def test_jcpc_symbols_parse() -> None:
    symbols = _jcpc_symbols()
    failures = []
    for symbol in symbols:
        try:
            parse_chord(symbol)
        except ChordSymbolError:
            failures.append(symbol)
    assert len(symbols) >= 1536
    assert not failures, sorted(failures)
