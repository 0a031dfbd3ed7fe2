"""Bad options and input: one short line, exit 2, the input quoted only as an excerpt."""

from __future__ import annotations

import os
import urllib.parse
from pathlib import Path

import pytest

from improv.charts import ireal_url
from improv.cli import main
from improv.errors import closest, excerpt

SHARED = Path(os.environ.get("IMPROV_SHARED") or Path(__file__).resolve().parents[2] / "shared")
JAZZ1460 = SHARED / "data" / "ireal-jazz1460" / "jazz1460.txt"


def _run(capsys, *argv: str) -> tuple[int, str]:
    """main() as the console script runs it: argparse's exit becomes the exit code."""
    try:
        code = main(list(argv))
    except SystemExit as exc:
        code = int(exc.code or 0)
    return code, capsys.readouterr().err


def test_excerpt_and_closest():
    assert excerpt("Dm7 G7") == "'Dm7 G7'"
    assert excerpt("x" * 1000) == repr("x" * 60) + "... (1000 characters)"
    assert excerpt(7) == "7" and excerpt(list(range(100)), 10) == "[0, 1, 2, ..."
    titles = [f"Tune {n}" for n in range(100)] + ["Autumn Leaves"]
    assert closest("autum leaves", titles).startswith("the 5 closest of 101 titles: 'Autumn Leaves', ")
    assert closest("x", ["A", "B"]) == "titles: 'A', 'B'"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["generate", "--seed", "-1"], "improv generate: error: argument --seed: -1 is outside 0..2**63-1 "
                                       "(see improv generate --help)"),
        (["generate", "--changes", ""], 'improv: error: --changes is empty: give chords, e.g. "Dm7 G7 | '
                                        'Cmaj7", or a file'),
        (["generate", "--range", ""], "improv: error: --range: '' is not LOW..HIGH (e.g. E3..C6 or 52..84)"),
        (["play", "--range", "", "--virtual"], "--range: '' is not LOW..HIGH"),
        (["play", "--channel", "x"], "improv play: error: argument --channel: invalid int value: 'x' "
                                     "(see improv play --help)"),
        (["generate", "--changes", "C7(((("], "unknown chord symbol 'C7((((' at bar 1, chord 1 (nested '('"),
        (["generate", "--changes", "time=256/4 C7"], "time signature '256/4' has 256 beats a bar (1..32)"),
        (["changes", "time=99999/4 C7"], "time signature '99999/4' has 99999 beats a bar (1..32)"),
    ],
)
def test_one_line_exit_2(tmp_path, capsys, argv, message):
    if argv[0] == "generate":
        argv = [*argv, "--out", str(tmp_path / "x.mid"), "--bars", "1"]
    code, err = _run(capsys, *argv)
    assert code == 2
    assert err.count("\n") == 1 and message in err, err


def test_a_changes_file_that_is_not_utf8(tmp_path, capsys):
    path = tmp_path / "tune.txt"
    path.write_bytes(b"Dm7 G7 | C\xe9maj7")
    code, err = _run(capsys, "generate", "--changes", str(path), "--out", str(tmp_path / "x.mid"))
    assert code == 2 and f"{path}: not UTF-8 text (byte 0xe9 at offset 10)" in err


def test_100_kb_of_changes_is_not_echoed(tmp_path, capsys):
    text = "Dm7 G7 | " * 11_000 + "C7sus4sus4"
    code, err = _run(capsys, "generate", "--changes", text, "--out", str(tmp_path / "x.mid"))
    assert code == 2 and len(err) < 300 and "'sus4' repeated" in err
    code, err = _run(capsys, "changes", "time=4/4 " + "x" * 100_000)
    assert code == 2 and len(err) < 300


def test_an_ireal_playlist_with_only_bad_songs_says_it_once(tmp_path, capsys):
    songs = [("Broken One", "[T44C7   |E7b   |F7   |C7   Z"), ("Broken Two", "[T44Cq7   |F7   Z")]
    fields = []
    for title, chart in songs:
        fields += [title, "Me", "", "Medium Swing", "C", "n", ireal_url.scramble(chart), "0", "0", "0"]
    url = "irealb://" + "=".join([*fields, "My List"])
    path = tmp_path / "bad.html"
    path.write_text(f'<a href="{urllib.parse.quote(url, safe=":/=")}">x</a>')
    code, err = _run(capsys, "generate", "--library", str(path), "--out", str(tmp_path / "x.mid"))
    assert code == 2 and err.count("\n") == 1
    assert err.count(str(path)) == 1 and err.count("E7b") == 1
    assert "(2 failed; the first: Broken One: unknown chord symbol 'E7b' at bar 2, chord 1" in err


@pytest.mark.shared
def test_an_unknown_title_in_a_big_library_lists_five(tmp_path, capsys):
    if not JAZZ1460.exists():
        pytest.skip(f"shared corpus not found at {JAZZ1460} (set IMPROV_SHARED)")
    code, err = _run(capsys, "generate", "--library", str(JAZZ1460), "--tune", "autum leaves",
                     "--out", str(tmp_path / "x.mid"))
    assert code == 2 and len(err) < 400
    assert "the 5 closest of 1460 titles: 'Autumn Leaves'" in err
    code, err = _run(capsys, "changes", str(JAZZ1460))
    assert code == 2 and len(err) < 400, err[:400]


LEADSHEET = Path(__file__).parent / "data" / "leadsheet.musicxml"


@pytest.mark.parametrize("beats", ["99999", "33", "3+99999"])
def test_musicxml_meters_are_bounded_before_music21_reads_them(tmp_path, capsys, beats):
    path = tmp_path / "big.musicxml"
    path.write_text(LEADSHEET.read_text().replace("<beats>4</beats>", f"<beats>{beats}</beats>"))
    code, err = _run(capsys, "generate", "--library", str(path), "--out", str(tmp_path / "x.mid"))
    assert code == 2 and "<time>: time signature" in err and "beats a bar (1..32)" in err
    assert main(["corpus", "--no-cache", str(path)]) == 2


def test_jcpc_time_signature_is_bounded(tmp_path, capsys):
    path = tmp_path / "t.txt"
    path.write_text("Title = T\nTimeSig = 99999 4\n| C7 | F7 |\n")
    code, err = _run(capsys, "generate", "--library", str(path), "--out", str(tmp_path / "x.mid"))
    assert code == 2 and "TimeSig: time signature '99999/4' has 99999 beats a bar (1..32)" in err


def test_a_config_with_a_huge_key_or_value_is_quoted_short(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("IMPROV_MIDI_API", "nosuchapi")
    for body in (f"[play]\n{'k' * 10_000} = 1\n", f"[play]\ntempo = \"{'9' * 10_000}\"\n"):
        path = tmp_path / "c.toml"
        path.write_text(body)
        code, err = _run(capsys, "play", "--config", str(path))
        assert code == 2 and len(err) < 300 and err.count("\n") == 1, err[:300]
