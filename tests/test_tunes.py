"""The tune library, tune files, find_tune, and the `improv changes` / `improv tunes` commands."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from improv.errors import InputError
from improv.theory.timing import TICKS_PER_BEAT
from improv.theory.tunes import DEFAULT_TUNE, FEELS, Tune, builtin_tunes, find_tune, load_tune

REQUIRED_TITLES = [
    "F Blues",
    "Bb Blues",
    "C Minor Blues",
    "Rhythm Changes in Bb",
    "Major ii-V-I in All 12 Keys",
    "Minor ii-V-i in All 12 Keys",
    "Autumn Leaves",
    "All the Things You Are",
    "So What",
    "Giant Steps",
    "Blue Bossa",
    "Solar",
    "Footprints",
    "Take the A Train",
    "Stella by Starlight",
    "Metheny Loop",
]

# title -> (bars, first chords)
KNOWN_FORMS = {
    "F Blues": (12, ["F7", "Bb7", "F7"]),
    "Autumn Leaves": (32, ["Cm7", "F7", "Bbmaj7", "Ebmaj7"]),
    "All the Things You Are": (36, ["Fm7", "Bbm7", "Eb7", "Abmaj7"]),
    "Giant Steps": (16, ["Bmaj7", "D7", "Gmaj7", "Bb7", "Ebmaj7"]),
    "Rhythm Changes in Bb": (32, ["Bb6", "G7", "Cm7", "F7"]),
    "So What": (32, ["Dm7"] * 16 + ["Ebm7"]),
    "Major ii-V-I in All 12 Keys": (48, ["Dm7", "G7", "Cmaj7", "Cmaj7", "Gm7"]),
}

GOOD = """
title = "Test Tune"
composer = "Me"
key = "C"
form = "4 bars"
tempo = 100
feel = "straight"
time = "3/4"
changes = "| C | Dm7 G7:2 | C |"
"""


def test_library_has_the_required_tunes() -> None:
    titles = [tune.title for tune in builtin_tunes()]
    assert len(titles) >= 16
    assert len(set(titles)) == len(titles)
    for title in REQUIRED_TITLES:
        assert title in titles


@pytest.mark.parametrize("tune", builtin_tunes(), ids=lambda tune: tune.title)
def test_every_builtin_tune_is_complete(tune: Tune) -> None:
    assert tune.composer and tune.form and tune.key
    assert 40 <= tune.tempo <= 320
    assert tune.feel in FEELS
    assert tune.swing is None or 0 <= tune.swing <= 0.75
    progression = tune.progression
    assert progression.title == tune.title
    assert progression.length == tune.bars * progression.bar_ticks
    assert tune.bars >= 8
    assert str(progression.beats_per_bar) == tune.time.split("/")[0]
    assert tune.path is not None and tune.path.suffix == ".toml"


@pytest.mark.parametrize("title", sorted(KNOWN_FORMS))
def test_known_forms(title: str) -> None:
    bars, first = KNOWN_FORMS[title]
    tune = find_tune(title)
    assert tune.bars == bars
    assert [span.chord.symbol for span in tune.progression.spans[: len(first)]] == first


def test_default_tune_exists() -> None:
    assert find_tune(DEFAULT_TUNE).title == DEFAULT_TUNE


def test_find_tune_rules() -> None:
    assert find_tune("autumn leaves").title == "Autumn Leaves"
    assert find_tune("  GIANT ").title == "Giant Steps"
    # "F Blues" is exact even though "Bb Blues"/"C Minor Blues" contain "blues"
    assert find_tune("f blues").title == "F Blues"
    with pytest.raises(InputError, match=r"ambiguous.*'Bb Blues'.*'C Minor Blues'"):
        find_tune("blues")
    with pytest.raises(InputError, match=r"no tune called 'Moonlight'; the 5 closest of \d+ titles: .*'Sol"):
        find_tune("Moonlight")
    with pytest.raises(InputError):
        find_tune("")


def test_find_tune_in_a_given_list(tmp_path: Path) -> None:
    path = tmp_path / "t.toml"
    path.write_text(GOOD, encoding="utf-8")
    tune = load_tune(path)
    assert find_tune("test", [tune]) is tune
    with pytest.raises(InputError, match="titles: 'Test Tune'$"):
        find_tune("F Blues", [tune])


def test_load_tune(tmp_path: Path) -> None:
    path = tmp_path / "t.toml"
    path.write_text(GOOD, encoding="utf-8")
    tune = load_tune(path)
    assert tune.title == "Test Tune" and tune.tempo == 100 and tune.swing is None
    assert tune.progression.beats_per_bar == 3
    assert tune.bars == 3
    assert tune.progression.spans[1].length == TICKS_PER_BEAT
    assert tune.progression.key == "C"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('title = "Test Tune"\n', ""), r"missing key 'title'"),
        (("tempo = 100", 'tempo = "fast"'), r"key 'tempo' must be a number, not 'fast'"),
        (("tempo = 100", "tempo = true"), r"key 'tempo' must be a number"),
        (("tempo = 100", "tempo = 1000"), r"key 'tempo' must be between 20 and 400"),
        (('key = "C"', "key = 3"), r"key 'key' must be a string"),
        (('key = "C"', 'key = "Q"'), r"key 'key': key 'Q'"),
        (('feel = "straight"', 'feel = "funk"'), r"key 'feel' must be one of"),
        (('feel = "straight"', 'feel = "swing"\nswing = 0.9'), r"key 'swing' must be between"),
        (('time = "3/4"', 'time = "3/5"'), r"key 'time': time signature '3/5'"),
        (('composer = "Me"', 'composr = "Me"'), r"unknown key 'composr'"),
        (("Dm7 G7:2", "Dm7:2 G7:2"), r"key 'changes': bar 2: explicit beats add up to 4, not 3"),
        (("Dm7", "Dq7"), r"unknown chord symbol 'Dq7' at bar 2, chord 1 of .*t.toml key 'changes'"),
        (("title =", "title"), r"is not valid TOML"),
    ],
)
def test_load_tune_errors_name_file_and_key(tmp_path: Path, change: tuple[str, str], message: str) -> None:
    path = tmp_path / "t.toml"
    path.write_text(GOOD.replace(*change), encoding="utf-8")
    with pytest.raises(InputError, match=message) as info:
        load_tune(path)
    assert str(path) in str(info.value)


def test_load_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read tune file"):
        load_tune(tmp_path / "nope.toml")


def improv(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "improv", *args], capture_output=True, text=True, timeout=60)


def test_cli_tunes() -> None:
    result = improv("tunes")
    assert result.returncode == 0, result.stderr
    assert "Autumn Leaves" in result.stdout and "Joseph Kosma" in result.stdout
    listed = json.loads(improv("tunes", "--json").stdout)
    assert {row["title"] for row in listed} >= set(REQUIRED_TITLES)
    blues = next(row for row in listed if row["title"] == "F Blues")
    assert blues["bars"] == 12 and blues["feel"] == "swing" and blues["key"] == "F"


def test_cli_changes_text_and_json() -> None:
    result = improv("changes", "Dm7 G7 | Cmaj7 %")
    assert result.returncode == 0, result.stderr
    assert "dorian" in result.stdout and "D F A C" in result.stdout
    data = json.loads(improv("changes", "time=3/4 Dm7:2 G7:1 | N.C.", "--json").stdout)
    assert data["beats_per_bar"] == 3 and data["bar_count"] == 2
    first = data["bars"][0][0]
    assert first["symbol"] == "Dm7" and first["beats"] == 2 and first["tones"] == [0, 2, 5, 9]
    assert data["bars"][1][0]["quality"] == "nc"


def test_cli_changes_files_and_tunes(tmp_path: Path) -> None:
    toml = tmp_path / "t.toml"
    toml.write_text(GOOD, encoding="utf-8")
    assert improv("changes", str(toml)).returncode == 0
    text = tmp_path / "song.txt"
    text.write_text("| C7 | F7 |\n| C7 | G7 |\n", encoding="utf-8")
    result = improv("changes", str(text), "--transpose", "5")
    assert result.returncode == 0 and "F7" in result.stdout and "C7" in result.stdout
    assert improv("changes", "--tune", "giant").returncode == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("changes", "Dm7 | Cq7"), "unknown chord symbol 'Cq7' at bar 2, chord 1"),
        (("changes", "% | C"), "bar 1: '%' with no previous bar"),
        (("changes", "--tune", "blues"), "ambiguous"),
        (("changes", "missing.toml"), "file not found: 'missing.toml'"),
        (("changes",), "nothing to read"),
        (("changes", "C", "--tune", "F Blues"), "not both"),
    ],
)
def test_cli_changes_errors_exit_2(args: tuple[str, ...], message: str) -> None:
    result = improv(*args)
    assert result.returncode == 2
    assert result.stderr.startswith("improv: error: ")
    assert message in result.stderr
    assert "Traceback" not in result.stderr
