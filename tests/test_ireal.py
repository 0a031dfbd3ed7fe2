"""iReal Pro playlists: URL fields, unscrambling, chart tokens, form expansion, tunes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from improv.charts import ireal, ireal_chart, ireal_url
from improv.charts.library import LoadFailure
from improv.errors import InputError
from improv.theory.timing import TICKS_PER_BEAT

DATA = Path(__file__).parent / "data" / "ireal"


def shared_dir() -> Path:
    env = os.environ.get("IMPROV_SHARED")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared"


def chords_of(tune) -> list[list[tuple[str, float]]]:
    """Bars of (symbol, beats) from a tune's progression (uniform meter)."""
    return [[(s.chord.symbol, s.length / TICKS_PER_BEAT) for s in bar] for bar in tune.progression.bars()]


def expand(chart: str) -> list[list[tuple[str, int]]]:
    return [ireal.bar_chords(bar) for bar in ireal_chart.expand_form(ireal_chart.parse_chart(chart))]


def test_scramble_round_trip_over_several_blocks():
    chart = "[T44" + "C^7   |A-7   |D-7   |G7   |" * 6 + "E-7 A7 Z"
    assert len(chart) > 3 * 50
    body = ireal_url.scramble(chart)
    assert body.startswith(ireal_url.MARKER)
    assert body[len(ireal_url.MARKER) :] != chart
    assert ireal_url.unscramble(body[len(ireal_url.MARKER) :]) == chart


def test_unscramble_expands_the_layout_codes():
    assert ireal_url.unscramble("C^7XyQLZD-7Kcl") == "C^7    |D-7| x"


def test_playlist_html_fields_and_failure_list():
    errors: list[LoadFailure] = []
    tunes = ireal.load_playlist((DATA / "playlist.html").read_text(), "playlist.html", errors)
    assert [t.title for t in tunes] == ["Test Blues", "Test Endings", "Test Waltz"]
    blues, endings, waltz = tunes
    assert (blues.composer, blues.key, blues.feel, blues.time) == ("Tester Ann", "F", "swing", "4/4")
    assert (endings.key, endings.feel) == ("Cm", "bossa")
    assert (waltz.time, waltz.feel, waltz.tempo) == ("3/4", "waltz", 160.0)
    assert len(errors) == 1
    assert errors[0].source == "playlist.html: Broken Chart"
    assert "'E7b'" in errors[0].reason and "bar 2" in errors[0].reason


def test_playlist_name_and_song_fields():
    songs, name = ireal_url.parse_url(ireal_url.find_urls((DATA / "playlist.html").read_text())[0])
    assert name == "Improv Tests"
    assert [s.style for s in songs[:3]] == ["Medium Swing", "Bossa Nova", "Jazz Waltz"]
    assert songs[2].bpm == 160


def test_repeat_is_played_twice():
    blues = ireal.load_playlist((DATA / "single.txt").read_text())[0]
    bars = chords_of(blues)
    assert len(bars) == 24
    assert bars[:4] == [[("F7", 4)], [("Bb7", 4)], [("F7", 4)], [("C-7", 2), ("F7", 2)]]
    assert bars[12:] == bars[:12]
    assert blues.progression.beats_per_bar == 4


def test_endings_x_r_w_and_coda():
    tunes = ireal.load_playlist((DATA / "playlist.html").read_text(), errors=[])
    bars = chords_of(tunes[1])
    first_pass = [[("C-7", 4)], [("C-7", 4)], [("F-7", 2), ("Bb7", 2)]]
    assert bars[:3] == first_pass and bars[4:7] == first_pass
    assert bars[3] == [("Dh7", 2), ("G7b9", 2)]  # 1st ending
    assert bars[7] == [("Ab7", 2), ("G7", 2)]  # 2nd ending
    assert bars[8:12] == [[("Eb^7", 4)], [("Ab7", 4)], [("Eb^7", 4)], [("Ab7", 4)]]  # r
    assert bars[13] == [("C-7/Bb", 4)]  # W/Bb: the chord before over a new bass
    assert bars[14] == [("Ab^7", 1), ("G7", 1), ("F-7", 1), ("G7", 1)]
    assert bars[15] == [("C-6", 4)]  # the coda after the final bar line is dropped
    assert len(bars) == 16
    assert tunes[1].form == "AAB"


def test_three_endings_and_slash_cells_in_three_four():
    waltz = ireal.load_playlist((DATA / "playlist.html").read_text(), errors=[])[2]
    bars = chords_of(waltz)
    assert len(bars) == 12
    assert bars[2] == [("C-7", 2), ("F7", 1)]  # 'p' keeps C-7 for a second beat
    assert bars[6:8] == [[("D-7", 3)], [("G7", 3)]]
    assert bars[10:] == [[("Eb^7", 3)], [("F7", 2), ("Bb^7", 1)]]


def test_cells_give_beats_when_they_fill_the_bar():
    assert expand("[T44Bb6  sBo,|lC-7 F7 Z") == [[("Bb6", 36), ("Bo", 12)], [("C-7", 24), ("F7", 24)]]


def test_three_chords_in_four_four_share_two_one_one():
    assert expand("[T44C^7 D-7 E-7|F^7   Z")[0] == [("C^7", 24), ("D-7", 12), ("E-7", 12)]


def test_no_chord_and_alternates_and_comments():
    assert expand("[T44C7(Db7) <D.C. al Fine>  |n   Z") == [[("C7", 48)], [("NC", 48)]]


def test_repeat_count_comment():
    assert len(expand("{T44C^7   |D-7 G7 <3x>}")) == 6
    assert len(expand("{T44C^7   |D-7 G7<*033X> }")) == 6  # '*03' is a vertical offset


def test_irealbook_url_in_clear():
    tunes = ireal.load_playlist((DATA / "irealbook.txt").read_text())
    assert [(t.title, t.composer, t.key, t.tempo) for t in tunes] == [("Test Book", "Tester Ed", "Eb", 240.0)]
    assert [bar[0][0] for bar in chords_of(tunes[0])] == ["Eb^7", "C-7", "F-7", "Bb7"]


def test_malformed_url_is_an_input_error():
    with pytest.raises(InputError, match="no chart"):
        ireal.load_playlist((DATA / "malformed.txt").read_text(), "malformed.txt")
    with pytest.raises(InputError, match="no irealb://"):
        ireal.load_playlist("just some text", "notes.txt")


@pytest.mark.parametrize(
    ("chart", "message"),
    [
        ("[T44C^7 |D-7 <oops", "unterminated comment"),
        ("[T44C^7 |(D-7 G7", "unterminated alternate"),
        ("[T44C^7 |D-7 k G7 Z", "unexpected 'k'"),
        ("[T44 x |C^7 Z", "'x'"),
        ("[T91C^7 Z", "time signature"),
        ("[T44    Z", "no chords"),
    ],
)
def test_bad_charts_name_the_problem(chart, message):
    song = ireal_url.IrealSong("Bad", "Nobody", "Medium Swing", "C", chart)
    with pytest.raises(InputError, match=message):
        ireal.song_to_tune(song)


def test_style_feel():
    assert ireal.style_feel("Up Tempo Swing") == ("swing", 240.0)
    assert ireal.style_feel("Bossa Nova", 120) == ("bossa", 120.0)
    assert ireal.style_feel("Even 8ths")[0] == "straight"
    assert ireal.style_feel("Something New") == ("swing", 140.0)


@pytest.mark.shared
def test_jazz1460_corpus_loads():
    path = shared_dir() / "data" / "ireal-jazz1460" / "jazz1460.txt"
    if not path.exists():
        pytest.skip(f"shared corpus not found at {path} (set IMPROV_SHARED)")
    text = path.read_text(encoding="utf-8")
    songs, name = ireal_url.parse_url(ireal_url.find_urls(text)[0])
    assert (len(songs), name) == (1460, "Jazz 1460")
    errors: list[LoadFailure] = []
    tunes = ireal.load_playlist(text, str(path), errors)
    assert len(tunes) + len(errors) == 1460
    assert len(tunes) >= 0.99 * 1460, [str(e) for e in errors[:10]]
    assert all(e.reason for e in errors)
    leaves = next(t for t in tunes if t.title == "Autumn Leaves")
    assert [bar[0][0] for bar in chords_of(leaves)[:4]] == ["C-7", "F7", "Bb^7", "Eb^7"]
    assert leaves.progression.bar_count == 32 and leaves.key == "Gm"
