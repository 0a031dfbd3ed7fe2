"""load_library dispatch, MusicXML lead sheets, and the shared bar helpers."""

from __future__ import annotations

from pathlib import Path

import pytest

from improv.charts.build import LoadFailure, beats_per_bar, build_progression, split_bar
from improv.charts.library import load_library
from improv.errors import InputError
from improv.theory.progression import parse_progression
from improv.theory.tunes import find_tune

DATA = Path(__file__).parent / "data"


def harmony(step: str, kind: str, *, alter: int = 0, bass: str = "", degrees=(), text="") -> str:
    root = f"<root><root-step>{step}</root-step>"
    root += f"<root-alter>{alter}</root-alter></root>" if alter else "</root>"
    kind_xml = f'<kind text="{text}">{kind}</kind>' if text else f"<kind>{kind}</kind>"
    bass_xml = f"<bass><bass-step>{bass}</bass-step></bass>" if bass else ""
    degree_xml = "".join(
        f"<degree><degree-value>{v}</degree-value><degree-alter>{a}</degree-alter>"
        f"<degree-type>{t}</degree-type></degree>"
        for v, a, t in degrees
    )
    return f"<harmony>{root}{kind_xml}{bass_xml}{degree_xml}</harmony>"


def note(duration: int, step: str = "C") -> str:
    return (
        f"<note><pitch><step>{step}</step><octave>4</octave></pitch>"
        f"<duration>{duration}</duration><type>quarter</type></note>"
    )


def musicxml(measures: list[str], *, time: str = "3/4", title: str = "Lead Sheet Test") -> str:
    """A minimal MusicXML score (divisions 1 = quarter notes), one part."""
    beats, beat_type = time.split("/")
    body = []
    for number, content in enumerate(measures, 1):
        attributes = ""
        if number == 1:
            attributes = (
                f"<attributes><divisions>1</divisions><time><beats>{beats}</beats>"
                f"<beat-type>{beat_type}</beat-type></time><clef><sign>G</sign>"
                "<line>2</line></clef></attributes>"
                "<direction><direction-type><metronome><beat-unit>quarter</beat-unit>"
                "<per-minute>150</per-minute></metronome></direction-type>"
                '<sound tempo="150"/></direction>'
            )
        body.append(f'<measure number="{number}">{attributes}{content}</measure>')
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<score-partwise version="4.0">'
        f"<work><work-title>{title}</work-title></work>"
        '<identification><creator type="composer">Tester Jo</creator></identification>'
        '<part-list><score-part id="P1"><part-name>Lead</part-name></score-part></part-list>'
        f'<part id="P1">{"".join(body)}</part></score-partwise>\n'
    )


@pytest.fixture
def lead_sheet(tmp_path: Path) -> Path:
    measures = [
        harmony("D", "minor-seventh") + note(2) + harmony("G", "dominant") + note(1),
        harmony("C", "major-seventh") + note(3),
        harmony("B", "half-diminished", text="m7b5")
        + note(1)
        + harmony("E", "dominant", degrees=[(9, -1, "add")])
        + note(2),
        harmony("A", "minor", bass="G") + note(3),
        harmony("B", "dominant", alter=-1, degrees=[(11, 1, "add")])
        + note(1)
        + harmony("C", "none")
        + note(2),
        note(3),
    ]
    path = tmp_path / "lead.musicxml"
    path.write_text(musicxml(measures), encoding="utf-8")
    return path


def test_musicxml_lead_sheet(lead_sheet: Path):
    (tune,) = load_library(lead_sheet)
    assert (tune.title, tune.composer, tune.time, tune.tempo, tune.feel) == (
        "Lead Sheet Test",
        "Tester Jo",
        "3/4",
        150.0,
        "waltz",
    )
    prog = tune.progression
    assert prog.beats_per_bar == 3 and prog.bar_count == 6
    got = [(s.chord.symbol, s.start // 12, s.length // 12) for s in prog.spans]
    assert got == [
        ("Dm7", 0, 2),
        ("G7", 2, 1),
        ("Cmaj7", 3, 3),
        ("Bm7b5", 6, 1),
        ("E7b9", 7, 2),
        ("Am/G", 9, 3),
        ("Bb7#11", 12, 1),
        ("N.C.", 13, 5),  # the last chord lasts to the end
    ]
    assert prog.spans[3].chord.quality == "hdim"
    assert prog.spans[5].chord.bass == 7


def test_musicxml_without_chord_symbols_is_an_error(tmp_path: Path):
    path = tmp_path / "melody.musicxml"
    path.write_text(musicxml([note(3), note(3)]), encoding="utf-8")
    with pytest.raises(InputError, match="no chord symbols"):
        load_library(path)


def test_dispatch_by_content(tmp_path: Path):
    assert [t.title for t in load_library(DATA / "ireal" / "playlist.html", errors=[])] == [
        "Test Blues",
        "Test Endings",
        "Test Waltz",
    ]
    assert [t.title for t in load_library(DATA / "jcpc")] == ["Test Minor Waltz", "Test Rhythm"]
    assert [t.title for t in load_library(DATA / "jcpc" / "TestRhythm.txt")] == ["Test Rhythm"]
    renamed = tmp_path / "changes.dat"  # content decides, not the name
    renamed.write_text((DATA / "ireal" / "single.txt").read_text())
    assert [t.title for t in load_library(renamed)] == ["Test Blues"]


def test_failures_go_to_the_error_list_or_the_log(caplog):
    errors: list[LoadFailure] = []
    tunes = load_library(DATA / "ireal" / "playlist.html", errors=errors)
    assert len(tunes) == 3 and [e.source.rsplit(": ", 1)[-1] for e in errors] == ["Broken Chart"]
    assert "E7b" in str(errors[0])
    caplog.clear()
    load_library(DATA / "ireal" / "playlist.html")
    assert "Broken Chart" in caplog.text


def test_imported_tunes_work_with_find_tune():
    tunes = load_library(DATA / "ireal" / "playlist.html", errors=[])
    assert find_tune("endings", tunes).title == "Test Endings"


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.txt", None, "does not exist"),
        ("notes.txt", "just some words\n", "not a MusicXML lead sheet, iReal Pro playlist or JCPC"),
        ("bad.txt", "irealb://Title=Composer==Style=C==nothing", "no chart"),
    ],
)
def test_bad_libraries(tmp_path: Path, name, content, message):
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    with pytest.raises(InputError, match=message):
        load_library(path)


def test_nothing_loadable_is_an_error():
    with pytest.raises(InputError, match="no tune could be loaded.*Gxyz"):
        load_library(DATA / "jcpc" / "broken", errors=[])


def test_split_bar():
    assert split_bar(1, 4) == [48]
    assert split_bar(2, 4) == [24, 24]
    assert split_bar(3, 4) == [24, 12, 12]
    assert split_bar(2, 3) == [24, 12]
    assert split_bar(5, 4) == [10, 9, 10, 9, 10]
    assert beats_per_bar(2, 2) == 4 and beats_per_bar(6, 8) == 6


def test_build_progression_continuations():
    prog = build_progression([[("", 24), ("C7", 24)], [("F7", 48)], [("", 48)]], 4)
    assert [(s.chord.symbol, s.start, s.length) for s in prog.spans] == [
        ("F7", 0, 24),
        ("C7", 24, 24),
        ("F7", 48, 96),
    ]
    prog = build_progression([[("Cm7", 48)], [("W/Bb", 48)]], 4)
    assert prog.spans[1].chord.symbol == "Cm7/Bb"
    with pytest.raises(InputError, match="no chord before"):
        build_progression([[("W/Bb", 48)]], 4)
    with pytest.raises(InputError, match="no chords"):
        build_progression([[("", 48)]], 4)


def test_changes_text_reads_back_as_the_same_progression():
    tunes = load_library(DATA / "ireal" / "playlist.html", errors=[]) + load_library(DATA / "jcpc")
    for tune in tunes:
        again = parse_progression(tune.changes, tune.progression.beats_per_bar)
        assert [(s.chord.symbol, s.start, s.length) for s in again.spans] == [
            (s.chord.symbol, s.start, s.length) for s in tune.progression.spans
        ] or all(
            again.chord_at(t).symbol == tune.progression.chord_at(t).symbol
            for t in range(tune.progression.length)
        ), tune.title
