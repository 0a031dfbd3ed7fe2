"""Progressions: bars, beats, repeats, headers, looping and every error case."""

from __future__ import annotations

import pytest

from improv.errors import InputError
from improv.theory.harmony import NO_CHORD, parse_chord
from improv.theory.progression import (
    ChordSpan,
    Progression,
    check_key,
    parse_progression,
    time_signature_beats,
)
from improv.theory.timing import TICKS_PER_BEAT as T


def layout(progression: Progression) -> list[tuple[str, int, int]]:
    return [(span.chord.symbol, span.start, span.length) for span in progression.spans]


def test_bars_share_beats_equally() -> None:
    progression = parse_progression("Dm7 G7 | Cmaj7")
    assert layout(progression) == [("Dm7", 0, 2 * T), ("G7", 2 * T, 2 * T), ("Cmaj7", 4 * T, 4 * T)]
    assert progression.length == 8 * T
    assert progression.bar_count == 2
    assert progression.beats_per_bar == 4


def test_three_chords_in_a_bar_round_to_ticks() -> None:
    progression = parse_progression("C D E")
    assert [span.length for span in progression.spans] == [16, 16, 16]
    uneven = parse_progression("C D E F G")
    assert sum(span.length for span in uneven.spans) == 4 * T
    assert all(span.length in (9, 10) for span in uneven.spans)


def test_explicit_beats() -> None:
    progression = parse_progression("Dm7:3 G7:1 | C:1.5 D")
    assert layout(progression) == [
        ("Dm7", 0, 3 * T),
        ("G7", 3 * T, T),
        ("C", 4 * T, 18),
        ("D", 4 * T + 18, 30),
    ]


def test_percent_repeats_previous_bar() -> None:
    progression = parse_progression("Dm7 G7 | % | C")
    assert [span.chord.symbol for span in progression.spans] == ["Dm7", "G7", "Dm7", "G7", "C"]
    assert progression.bar_count == 3


def test_percent_or_slash_next_to_chords_continue_the_chord() -> None:
    assert layout(parse_progression("Dm7 G7 | Cmaj7 %")) == [
        ("Dm7", 0, 2 * T),
        ("G7", 2 * T, 2 * T),
        ("Cmaj7", 4 * T, 4 * T),
    ]
    assert layout(parse_progression("C / / F | / G7")) == [
        ("C", 0, 3 * T),
        ("F", 3 * T, T),
        ("F", 4 * T, 2 * T),
        ("G7", 6 * T, 2 * T),
    ]


def test_repeat_signs_play_twice() -> None:
    progression = parse_progression("|: C | F :| G7 | C")
    assert [span.chord.symbol for span in progression.spans] == ["C", "F", "C", "F", "G7", "C"]
    twice = parse_progression("|: C :|:  D :|")
    assert [span.chord.symbol for span in twice.spans] == ["C", "C", "D", "D"]


def test_bar_lines_newlines_and_comments() -> None:
    text = """
    # a comment line
    || F#7 | Bb7 |   # F#7 is a chord, this is a comment
    | C7 ||
    """
    progression = parse_progression(text)
    assert [span.chord.symbol for span in progression.spans] == ["F#7", "Bb7", "C7"]


def test_header_tokens() -> None:
    waltz = parse_progression("time=3/4 key=F Dm7 G7 C | C")
    assert waltz.beats_per_bar == 3 and waltz.key == "F"
    assert [span.length for span in waltz.spans] == [T, T, T, 3 * T]
    bracket = parse_progression("[6/8] C | D")
    assert bracket.beats_per_bar == 6 and bracket.length == 12 * T
    assert parse_progression("C", beats_per_bar=5, key="Gm").length == 5 * T
    assert parse_progression("C", key="Gm").key == "Gm"


def test_no_chord_bar() -> None:
    progression = parse_progression("N.C. | NC | C7")
    assert progression.spans[0].chord is NO_CHORD
    assert progression.chord_at(5 * T) is NO_CHORD
    assert progression.chord_at(8 * T).symbol == "C7"


def test_chord_at_loops_over_the_form() -> None:
    progression = parse_progression("C | F | G7:2 C:2")
    length = progression.length
    assert progression.chord_at(0).symbol == "C"
    assert progression.chord_at(4 * T - 1).symbol == "C"
    assert progression.chord_at(4 * T).symbol == "F"
    assert progression.chord_at(9 * T).symbol == "G7"
    assert progression.chord_at(10 * T).symbol == "C"
    for tick in (0, 50, 4 * T, 9 * T + 3, length - 1):
        assert progression.chord_at(tick + 3 * length) == progression.chord_at(tick)
    assert progression.span_at(length + 9 * T).start == 8 * T


def test_bars_helper() -> None:
    bars = parse_progression("Dm7 G7 | C | % ").bars()
    assert [[span.chord.symbol for span in bar] for bar in bars] == [["Dm7", "G7"], ["C"], ["C"]]


def test_transposed() -> None:
    progression = parse_progression("key=F F7 | C7/E", title="blues").transposed(-5)
    assert [span.chord.symbol for span in progression.spans] == ["C7", "G7/B"]
    assert progression.key == "C" and progression.title == "blues"


def test_progression_validates_spans() -> None:
    chord = parse_chord("C")
    with pytest.raises(InputError):
        Progression((), 4)
    with pytest.raises(ValueError):
        Progression((ChordSpan(chord, 0, 12), ChordSpan(chord, 13, 12)), 4)


def test_time_and_key_helpers() -> None:
    assert time_signature_beats("4/4") == 4
    assert time_signature_beats("3/4") == 3
    assert time_signature_beats("2/2") == 4
    assert check_key("Bb") == "Bb"
    with pytest.raises(InputError):
        time_signature_beats("4/5")
    with pytest.raises(InputError):
        check_key("H")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Dm7 | Cq7 G7", r"unknown chord symbol 'Cq7' at bar 2, chord 1"),
        ("Dm7 | | G7", r"bar 2 is empty"),
        ("Dm7:3 G7:2", r"bar 1: explicit beats add up to 5, not 4"),
        ("C | Dm7:2 G7:1", r"bar 2: explicit beats add up to 3, not 4"),
        ("C | Dm7:4 G7", r"bar 2: explicit beats \(4\) leave no room"),
        ("C | Dm7:0 G7", r"bar 2: 'Dm7:0' must last more than 0 beats"),
        ("C | Dm7:0.01 G7", r"bar 2: 'Dm7:0.01' needs a whole number of ticks"),
        ("% | C", r"bar 1: '%' with no previous bar"),
        ("/ C | D", r"bar 1: '/' with no chord before it"),
        ("C | D :|", r"bar 2: ':\|' without a matching '\|:'"),
        ("C |: D | E", r"'\|:' at bar 2 is never closed"),
        ("|: C |: D :| :|", r"nested '\|:'"),
        ("time=5/3 C", r"time signature '5/3'"),
        ("key=Q C", r"key 'Q'"),
        ("C | key=F D", r"bar 2: header 'key=F' must come before the first chord"),
        ("tempo=120 C", r"unknown header 'tempo=120'"),
        ("", r"no chords"),
        ("| | |", r"bar 1 is empty"),
    ],
)
def test_errors_name_the_bar(text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_progression(text)


def test_source_prefixes_errors() -> None:
    with pytest.raises(InputError, match=r"^song.txt: bar 1: '%'"):
        parse_progression("% | C", source="song.txt")
    with pytest.raises(InputError, match=r"at bar 1, chord 1 of song.txt"):
        parse_progression("Xq", source="song.txt")
