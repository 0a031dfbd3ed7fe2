"""`improv tunes --library` and `improv changes FILE` over iReal playlists, JCPC songs and MusicXML."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from improv.charts.ireal_url import IrealSong, make_url
from improv.cli import main

DATA = Path(__file__).parent / "data"
PLAYLIST = DATA / "ireal" / "playlist.html"


def shared_dir() -> Path:
    env = os.environ.get("IMPROV_SHARED")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared"


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def playlist(tmp_path: Path, count: int, broken: int = 0) -> Path:
    """A playlist of ``count`` readable blues choruses (titles 'Tune 0'...) and ``broken`` unreadable ones."""
    chart = "[T44F7 |Bb7 |F7 |F7 |Bb7 |Bb7 |F7 |D7 |G-7 |C7 |F7 D7 |G-7 C7 Z"
    songs = [IrealSong(f"Tune {k}", f"Composer {k}", "Medium Swing", "F", chart) for k in range(count)]
    songs += [IrealSong(f"Broken {k}", "Nobody", "Ballad", "C", "[T44Qq7 Z") for k in range(broken)]
    path = tmp_path / "list.txt"
    path.write_text(make_url(songs, "Test List") + "\n", encoding="utf-8")
    return path


def test_tunes_library_lists_an_ireal_playlist(capsys):
    code, out, err = run(capsys, "tunes", "--library", str(PLAYLIST))
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["title", "composer", "key", "time"]
    assert "style" in lines[0] and "bars" in lines[0]
    rows = {line.split("  ")[0]: line for line in lines[1:]}
    assert set(rows) == {"Test Blues", "Test Endings", "Test Waltz"}
    assert "skipped 1 unreadable tune(s)" in err and "Broken Chart" in err and "E7b" in err
    assert "Tester Ann" in rows["Test Blues"] and "Medium Swing" in rows["Test Blues"]
    assert "Bossa Nova" in rows["Test Endings"] and " Cm " in rows["Test Endings"]


def test_tunes_library_json_has_title_composer_key_bars_style(capsys):
    code, out, _ = run(capsys, "tunes", "--library", str(PLAYLIST), "--json")
    assert code == 0
    rows = {row["title"]: row for row in json.loads(out)}
    blues = rows["Test Blues"]
    assert (blues["composer"], blues["key"], blues["style"], blues["time"]) == (
        "Tester Ann", "F", "Medium Swing", "4/4")
    assert blues["bars"] == 24  # the repeated 12 bars, played twice
    assert rows["Test Waltz"]["time"] == "3/4" and rows["Test Waltz"]["style"] == "Jazz Waltz"
    assert rows["Test Endings"]["style"] == "Bossa Nova"


def test_tunes_library_jcpc_folder_and_file_and_lead_sheet(capsys):
    code, out, _ = run(capsys, "tunes", "--library", str(DATA / "jcpc"), "--json")
    assert code == 0
    titles = [row["title"] for row in json.loads(out)]
    assert len(titles) == 2
    waltz = DATA / "jcpc" / "TestMinorWaltz.txt"
    code, out, _ = run(capsys, "tunes", "--library", str(waltz), "--json")
    (row,) = json.loads(out)
    assert row["time"] == "3/4" and row["style"] == "waltz" and row["bars"] > 0
    code, out, _ = run(capsys, "tunes", "--library", str(DATA / "leadsheet.musicxml"), "--json")
    (row,) = json.loads(out)
    assert code == 0 and row["title"] and row["bars"] > 0


def test_tunes_library_counts_unreadable_tunes_in_one_short_line(tmp_path, capsys):
    code, out, err = run(capsys, "tunes", "--library", str(playlist(tmp_path, 3, broken=5)))
    assert code == 0
    assert len(out.splitlines()) == 1 + 3
    assert err.count("\n") == 1 and "skipped 5 unreadable tune(s)" in err and "(and 2 more)" in err
    assert len(err) < 600


def test_tunes_library_errors_exit_2(tmp_path, capsys):
    code, _, err = run(capsys, "tunes", "--library", str(tmp_path / "nope.txt"))
    assert code == 2 and "does not exist" in err
    junk = tmp_path / "junk.txt"
    junk.write_text("just some words\n")
    code, _, err = run(capsys, "tunes", "--library", str(junk))
    assert code == 2 and "iReal Pro playlist or JCPC" in err


def test_changes_reads_a_playlist_and_picks_with_tune(tmp_path, capsys):
    big = playlist(tmp_path, 300)
    code, _, err = run(capsys, "changes", str(big))
    assert code == 2 and "holds 300 tunes: pick one with --tune NAME" in err
    assert len(err) < 400  # never the playlist itself
    code, out, err = run(capsys, "changes", str(big), "--tune", "Tune 7", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["title"] == "Tune 7" and data["bar_count"] == 12
    assert [span["symbol"] for span in data["bars"][10]] == ["F7", "D7"]
    code, out, _ = run(capsys, "changes", str(PLAYLIST), "--tune", "endings")
    assert code == 0 and out.startswith("Test Endings, key Cm")


def test_changes_reads_jcpc_files_folders_and_lead_sheets(capsys):
    code, out, err = run(capsys, "changes", str(DATA / "jcpc" / "TestRhythm.txt"))
    assert code == 0, err
    assert "bars of 4 beats" in out.splitlines()[0]
    code, out, err = run(capsys, "changes", str(DATA / "jcpc"), "--tune", "waltz")
    assert code == 0, err
    assert "bars of 3 beats" in out.splitlines()[0]
    code, out, err = run(capsys, "changes", str(DATA / "leadsheet.musicxml"), "--json")
    assert code == 0, err
    assert json.loads(out)["bar_count"] > 0


def test_changes_tune_with_a_plain_file_or_text_is_a_usage_error(tmp_path, capsys):
    text = tmp_path / "song.txt"
    text.write_text("| C7 | F7 |\n", encoding="utf-8")
    code, _, err = run(capsys, "changes", str(text), "--tune", "x")
    assert code == 2 and "is not one" in err
    code, _, err = run(capsys, "changes", "C7 | F7", "--tune", "x")
    assert code == 2 and "not both" in err
    code, out, _ = run(capsys, "changes", str(text))
    assert code == 0 and "C7" in out  # a text file of changes is still read as changes


def test_changes_jazz1460_playlist_from_shared_data(capsys):
    path = shared_dir() / "data" / "ireal-jazz1460" / "jazz1460.txt"
    if not path.is_file():
        pytest.skip(f"iReal Jazz 1460 playlist not found at {path} (set IMPROV_SHARED)")
    code, _, err = run(capsys, "changes", str(path))
    assert code == 2 and "holds 1460 tunes" in err and len(err) < 400
    code, out, err = run(capsys, "changes", str(path), "--tune", "Giant Steps", "--json")
    assert code == 0, err
    first = [span["symbol"] for span in json.loads(out)["bars"][0]]
    assert first == ["B^7", "D7"]
    code, out, _ = run(capsys, "tunes", "--library", str(path), "--json")
    assert code == 0 and len(json.loads(out)) == 1460
