"""The Impro-Visor leadsheet reader: tokens, chords, choruses, the loader, bad input, the real folder."""

from __future__ import annotations

import os
from collections import Counter
from fractions import Fraction
from pathlib import Path

import pytest

from improv.corpus.impro_visor import parse_duration, parse_note, read_impro_visor
from improv.corpus.loader import kind_of, load
from improv.errors import InputError

SHEET = """(title Test Tune)
(composer Somebody)
(meter 4 4)
(key 0)
(tempo 180.0)
(part
    (type chords)
    (title Test Tune)
)
(section (style swing))
Dm7 G7 | CM7 / / A7 |
(part
    (type melody)
    (title Chorus 1)
    (composer Somebody)
)
 c+4 b4 r2
 g8/3 a8/3 b8/3 c+4+8 r8 r4
(part
    (type melody)
    (title Chorus 2)
)
 f4 e1+2+4
"""


def write(path: Path, text: str = SHEET) -> Path:
    path.write_text(text)
    return path


def test_tokens():
    assert parse_note("c#+8") == (73, Fraction(1, 2))
    assert parse_note("bb-4") == (58, Fraction(1))
    assert parse_note("r2") == (None, Fraction(2))
    assert parse_note("eb++16") == (87, Fraction(1, 4))
    assert parse_duration("4+8") == Fraction(3, 2)
    assert parse_duration("8/3") == Fraction(1, 3)
    assert parse_duration("16/5") == Fraction(1, 5)
    for bad in ("h4", "c", "c0", "c4x", "c8/0"):
        with pytest.raises(ValueError):
            parse_note(bad)


def test_leadsheet_to_line(tmp_path):
    result = read_impro_visor(write(tmp_path / "t.ls"))
    [line] = result.lines
    assert line.meta["tempo"] == 180.0 and line.meta["title"] == "Test Tune" and line.meta["choruses"] == 2
    notes = [(n.onset, n.duration, n.pitch) for n in line.notes]
    # chorus 1: C5 quarter, B4 quarter, rest; triplet G A B on beat 5, dotted quarter C5
    assert notes[:6] == [(0, 12, 72), (12, 12, 71), (48, 4, 67), (52, 4, 69), (56, 4, 71), (60, 18, 72)]
    # chorus 2 starts after chorus 1's 2 bars: F4 at bar 3
    assert notes[6:] == [(96, 12, 65), (108, 84, 64)]
    symbols = [line.chord_at(t).symbol for t in (0, 24, 48, 84, 96, 120, 180)]
    assert symbols == ["Dm7", "G7", "CM7", "A7", "Dm7", "G7", "A7"]  # the chord part loops per chorus


def test_loader_dispatch_and_directory(tmp_path):
    folder = tmp_path / "sheets" / "player"
    folder.mkdir(parents=True)
    write(folder / "a.ls")
    write(folder / "b.ls", SHEET.replace("Test Tune", "Other"))
    assert kind_of(folder / "a.ls") == "impro-visor" and kind_of(tmp_path / "sheets") == "impro-visor"
    result = load(tmp_path / "sheets")
    assert [line.meta["path"] for line in result.lines] == ["player/a.ls", "player/b.ls"]
    assert result.notes_read == 16 and result.notes_kept == 16


def test_bad_input_is_one_input_error(tmp_path):
    with pytest.raises(InputError, match="no chord part"):
        read_impro_visor(write(tmp_path / "x.ls", "(meter 4 4)\n(part (type melody)) c4 d4"))
    with pytest.raises(InputError, match="meter"):
        read_impro_visor(write(tmp_path / "y.ls", SHEET.replace("(meter 4 4)", "(meter x 4)")))
    with pytest.raises(InputError, match="no melody"):
        read_impro_visor(write(tmp_path / "z.ls", SHEET.split("(part\n    (type melody)")[0]))
    nested = "(" * 100_000 + ")" * 100_000
    deep = f"(meter 4 4)\n(part (type chords)) {nested} Dm7 |\n(part (type melody)) c4"
    assert len(read_impro_visor(write(tmp_path / "d.ls", deep)).lines[0].notes) == 1  # one pass, no blow-up
    result = read_impro_visor(write(tmp_path / "w.ls", SHEET.replace("b4 r2", "b4 zz9 r2")))
    assert result.skipped == Counter({"unparsable token": 1})


def test_the_real_transcriptions():
    root = Path(os.environ.get("IMPROV_SHARED", Path(__file__).resolve().parents[2] / "shared"))
    folder = root / "data" / "impro-visor-solos" / "transcriptions"
    if not folder.is_dir():
        pytest.skip(f"Impro-Visor transcriptions not found at {folder} (set IMPROV_SHARED)")
    result = load(folder)
    assert len(result.lines) == 77 and 30_000 < result.notes_read < 36_000
    for line in result.lines:
        pitches = [n.pitch for n in line.notes]
        assert 28 <= min(pitches) and max(pitches) <= 108, line.name
        onsets = [n.onset for n in line.notes]
        assert onsets == sorted(set(onsets)), line.name
