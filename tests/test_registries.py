"""Adding a corpus reader or a chart importer is one module plus one registry line (docs/ARCHITECTURE.md,
Extending): a reader or an importer registered only in `READERS` / `IMPORTERS` is dispatched to, cached,
named in messages and reached from the commands, with nothing else edited."""

from __future__ import annotations

import sys
import types
from collections import Counter
from pathlib import Path

import pytest

from improv.charts import library
from improv.charts.build import ChartFile, LoadFailure, build_progression, changes_text
from improv.cli import main
from improv.corpus import loader
from improv.corpus.base import ReadResult, StepChords
from improv.errors import InputError
from improv.theory.harmony import parse_chord
from improv.theory.timing import TICKS_PER_BEAT
from improv.theory.tunes import Tune
from improv.theory.values import Line, Note


def _read_pitches(path: Path) -> ReadResult:
    """A toy format: one MIDI pitch a line, each a quarter note over C7."""
    pitches = [int(word) for word in path.read_text().split()]
    notes = [Note(k * TICKS_PER_BEAT, TICKS_PER_BEAT, p) for k, p in enumerate(pitches)]
    line = Line(path.stem, notes, StepChords([(0, parse_chord("C7"))]), 4, {"source": "pitches"})
    return ReadResult(str(path), "pitches", [line], len(pitches), Counter())


@pytest.fixture
def pitches_reader(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    module = types.ModuleType("improv.corpus.pitches")
    calls = []

    def counted(path: Path, **options) -> ReadResult:
        calls.append(path)
        return _read_pitches(path)

    module.read_pitches = counted  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "improv.corpus.pitches", module)
    reader = loader.Reader("pitches", "pitches", "read_pitches", (".pitches",))
    monkeypatch.setattr(loader, "READERS", (*loader.READERS, reader))
    monkeypatch.setenv("IMPROV_CACHE", str(tmp_path / "cache"))
    return calls


def test_a_registered_reader_is_dispatched_to_and_cached(pitches_reader, tmp_path: Path) -> None:
    source = tmp_path / "solo.pitches"
    source.write_text("60 62 64 67\n")
    assert loader.kind_of(source) == "pitches"
    first = loader.load(source)
    assert [n.pitch for n in first.lines[0].notes] == [60, 62, 64, 67]
    again = loader.load(source)
    assert len(pitches_reader) == 1, "the second load comes from the cache"
    assert [n.pitch for n in again.lines[0].notes] == [60, 62, 64, 67]
    unknown = tmp_path / "notes.unknown"
    unknown.write_text("x")
    with pytest.raises(InputError, match=r"\.pitches"):  # the registry names it in the message
        loader.kind_of(unknown)


def test_a_registered_reader_reaches_the_corpus_command(pitches_reader, tmp_path: Path, capsys) -> None:
    source = tmp_path / "solo.pitches"
    source.write_text("60 62 64 67 69 71\n")
    assert main(["corpus", str(source)]) == 0
    assert "notes: 6" in capsys.readouterr().out


# ---------------------------------------------------------------- a chart importer

def _chords_claims(chart: ChartFile) -> bool:
    return chart.path.is_file() and chart.path.suffix == ".chords"


def _chords_load(chart: ChartFile, failures: list[LoadFailure]) -> list[Tune]:
    """A toy format: a title line, then one chord a bar."""
    title, *symbols = chart.text.split()
    bars = [[(symbol, 4 * TICKS_PER_BEAT)] for symbol in symbols]
    progression = build_progression(bars, 4, title=title, where=str(chart.path))
    changes = changes_text(progression, [4 * TICKS_PER_BEAT] * len(bars))
    return [Tune(title, "", "", "", 120.0, "swing", "4/4", changes, progression)]


@pytest.fixture
def chords_importer(monkeypatch: pytest.MonkeyPatch):
    module = types.ModuleType("improv.charts.chords")
    module.KIND = "chords file"  # type: ignore[attr-defined]
    module.claims = _chords_claims  # type: ignore[attr-defined]
    module.load = _chords_load  # type: ignore[attr-defined]
    monkeypatch.setattr(library, "IMPORTERS", (*library.IMPORTERS, module))
    return module


def test_a_registered_importer_loads_a_library(chords_importer, tmp_path: Path) -> None:
    source = tmp_path / "tune.chords"
    source.write_text("Vamp Dm7 G7 Cmaj7 Cmaj7\n")
    assert library.importer_for(ChartFile(source)) is chords_importer
    (tune,) = library.load_library(source)
    assert tune.title == "Vamp" and tune.bars == 4
    junk = tmp_path / "junk.txt"
    junk.write_text("nothing here\n")
    with pytest.raises(InputError, match="or chords file"):
        library.load_library(junk)


def test_a_registered_importer_reaches_the_commands(chords_importer, tmp_path: Path, capsys) -> None:
    source = tmp_path / "tune.chords"
    source.write_text("Vamp Dm7 G7 Cmaj7 Cmaj7\n")
    assert main(["tunes", "--library", str(source)]) == 0
    assert "Vamp" in capsys.readouterr().out
    assert main(["changes", str(source)]) == 0
    assert "G7" in capsys.readouterr().out
