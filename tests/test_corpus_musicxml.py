"""MusicXML lead-sheet reader: notes, rests, ties, pickup, chord symbols and the error cases."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from improv.cli import main
from improv.corpus.loader import load
from improv.corpus.musicxml import read_musicxml
from improv.errors import InputError

LEADSHEET = Path(__file__).parent / "data" / "leadsheet.musicxml"


@pytest.fixture(autouse=True)
def _private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMPROV_CACHE", str(tmp_path / "cache"))


def test_reads_lead_sheet() -> None:
    result = read_musicxml(LEADSHEET)
    (line,) = result.lines
    assert line.meta["title"] == "Test Lead Sheet"
    assert line.beats_per_bar == 4
    # pickup of two eighths on beat 4 of bar 0; the rest on beat 2 is a gap; the tie is one note
    assert [(n.onset, n.duration, n.pitch) for n in line.notes] == [
        (36, 6, 67),
        (42, 6, 69),
        (48, 12, 70),
        (72, 36, 74),
        (108, 12, 72),
        (120, 24, 69),
    ]


def test_chord_symbols() -> None:
    (line,) = read_musicxml(LEADSHEET).lines
    bb7 = line.chord_at(48)
    assert (bb7.root, bb7.quality) == (10, "dom")  # B-flat dominant, not B minor
    assert line.chord_at(0) == bb7  # before the first symbol: the first chord
    c7b9 = line.chord_at(72)
    assert (c7b9.root, c7b9.quality) == (0, "dom") and 1 in c7b9.tensions
    fmaj7 = line.chord_at(96)
    assert (fmaj7.root, fmaj7.quality) == (5, "maj") and 4 in fmaj7.tones
    assert line.chord_at(1000) == fmaj7


def test_loader_dispatch() -> None:
    result = load(LEADSHEET)
    assert result.kind == "musicxml" and result.notes_kept == 6


def _variant(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_no_chord_symbols(tmp_path: Path) -> None:
    text = re.sub(r"<harmony>.*?</harmony>", "", LEADSHEET.read_text(), flags=re.S)
    path = _variant(tmp_path, "bare.musicxml", text)
    with pytest.raises(InputError, match=r"bare\.musicxml: no chord symbols"):
        read_musicxml(path)


def test_no_notes(tmp_path: Path) -> None:
    text = re.sub(r"<pitch>.*?</pitch>", "<rest/>", LEADSHEET.read_text(), flags=re.S)
    path = _variant(tmp_path, "rests.musicxml", text)
    with pytest.raises(InputError, match=r"rests\.musicxml: no notes"):
        read_musicxml(path)


def test_corrupt_xml(tmp_path: Path) -> None:
    path = _variant(tmp_path, "broken.xml", LEADSHEET.read_text()[:700])
    with pytest.raises(InputError, match=r"broken\.xml' is not well-formed XML"):
        read_musicxml(path)


@pytest.mark.parametrize("case", ["no chords", "no notes", "corrupt"])
def test_cli_errors_exit_2(case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = LEADSHEET.read_text()
    if case == "no chords":
        text = re.sub(r"<harmony>.*?</harmony>", "", text, flags=re.S)
    elif case == "no notes":
        text = re.sub(r"<pitch>.*?</pitch>", "<rest/>", text, flags=re.S)
    else:
        text = "<score-partwise><part id="
    path = _variant(tmp_path, "case.musicxml", text)
    assert main(["corpus", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("improv: error: ") and str(path) in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_cli_summary(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["corpus", str(LEADSHEET)]) == 0
    out = capsys.readouterr().out
    assert "notes: 6\n" in out and "bars: 3\n" in out
