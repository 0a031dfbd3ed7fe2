"""Jazz Chord Progressions Corpus files: header, bars, shared beats, key, errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from improv.charts import jcpc
from improv.charts.library import LoadFailure
from improv.errors import InputError
from improv.theory.timing import TICKS_PER_BEAT

DATA = Path(__file__).parent / "data" / "jcpc"


def shared_dir() -> Path:
    env = os.environ.get("IMPROV_SHARED")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared"


def beats(tune) -> list[list[tuple[str, float]]]:
    return [[(s.chord.symbol, s.length / TICKS_PER_BEAT) for s in bar] for bar in tune.progression.bars()]


def test_header_and_bars():
    tune = jcpc.load_file(DATA / "TestRhythm.txt")
    assert (tune.title, tune.composer, tune.key, tune.time) == ("Test Rhythm", "Tester Fay", "Bb", "4/4")
    bars = beats(tune)
    assert len(bars) == 8
    assert bars[0] == [("BbM7", 2), ("G7", 2)]
    assert bars[3] == [("Cm7", 2), ("F7", 1), ("Bb/D", 1)]
    assert bars[6] == [("N.C.", 4)]
    assert tune.progression.spans[8].chord.bass == 2  # Bb/D: bass D
    assert tune.progression.spans[11].chord.quality == "dim"  # Eo7


def test_three_four_and_relative_minor_key():
    tune = jcpc.load_file(DATA / "TestMinorWaltz.txt")
    assert (tune.time, tune.feel, tune.key) == ("3/4", "waltz", "Gm")
    assert tune.progression.beats_per_bar == 3
    assert beats(tune)[1] == [("Am7b5", 2), ("D7b9", 1)]
    assert beats(tune)[3] == [("Am7b5", 1), ("D7alt", 1), ("Gm6", 1)]


def test_directory_sorted_and_failures_listed():
    errors: list[LoadFailure] = []
    tunes = jcpc.load_directory(DATA, errors)
    assert [t.title for t in tunes] == ["Test Minor Waltz", "Test Rhythm"]
    assert errors == []
    tunes = jcpc.load_directory(DATA / "broken", errors)
    assert tunes == []
    reasons = {Path(e.source).name: e.reason for e in errors}
    assert "'Gxyz'" in reasons["BadChord.txt"] and "bar 2, chord 2" in reasons["BadChord.txt"]
    assert "bar 2 is empty" in reasons["EmptyBar.txt"]


def test_first_failure_raises_without_an_error_list():
    with pytest.raises(InputError, match="Gxyz"):
        jcpc.load_directory(DATA / "broken")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Title = X\nTimeSig = 4 4\n C | D7\n", "does not end with '|'"),
        ("Title = X\nTimeSig = four\n C |\n", "TimeSig"),
        ("Title = X\nTimeSig = 4 4\n", "no bars"),
        ("Title = X\n C |\nBars = 1\n", "after the bars"),
    ],
)
def test_bad_files_name_the_problem(text, message):
    with pytest.raises(InputError, match=message):
        jcpc.parse_song(text, "x.txt")


def test_missing_title_uses_the_file_name_and_bad_key_is_ignored():
    tune = jcpc.parse_song("DBKeySig = U\nTimeSig = 4 4\n C7 |\n", "songs/SomeTune.txt")
    assert (tune.title, tune.key) == ("SomeTune", "")


def test_looks_like_jcpc():
    assert jcpc.looks_like_jcpc((DATA / "TestRhythm.txt").read_text())
    assert not jcpc.looks_like_jcpc("irealb://x")


@pytest.mark.shared
def test_jcpc_corpus_loads():
    folder = shared_dir() / "data" / "jazz-chord-progressions" / "songs"
    if not folder.is_dir():
        pytest.skip(f"shared corpus not found at {folder} (set IMPROV_SHARED)")
    errors: list[LoadFailure] = []
    tunes = jcpc.load_directory(folder, errors)
    assert len(tunes) + len(errors) == 2614
    assert len(tunes) >= 0.99 * 2614, [str(e) for e in errors[:10]]
    assert all(e.reason for e in errors)
    leaves = next(t for t in tunes if t.title == "Autumn Leaves")
    assert (leaves.progression.bar_count, leaves.key) == (32, "Gm")
    assert beats(leaves)[26] == [("Gm7", 2), ("C7", 2)]
