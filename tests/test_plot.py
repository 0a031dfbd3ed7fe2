"""The piano roll as a musician reads it: systems of bars, bar numbers, note names, chords that never
overlap."""

from __future__ import annotations

import random
import struct
from pathlib import Path

import pytest

from improv.errors import InputError
from improv.improviser import TimedNote
from improv.theory.progression import parse_progression
from improv.theory.tunes import find_tune

plot = pytest.importorskip("improv.plot")
pytest.importorskip("matplotlib")

GIANT_STEPS = find_tune("Giant Steps").progression
F_BLUES = find_tune("F Blues").progression
CROWDED = parse_progression("Am7b5 D7b9 Gm7 C7alt | Ebmaj7#11 Ab7#11 Dbmaj7 Gb7b9b13 | Am7b5 D7b9 | C7sus4")


def line(bars: int, beats_per_bar: int = 4, seed: int = 0) -> list[TimedNote]:
    """An eighth-note line over ``bars`` bars (a stand-in solo)."""
    rng = random.Random(seed)
    pitch, notes = 64, []
    for k in range(bars * beats_per_bar * 2):
        pitch = min(84, max(52, pitch + rng.choice((-2, -1, 1, 2, 3, -3))))
        notes.append(TimedNote(k * 0.5, 0.45, pitch, rng.randint(60, 110)))
    return notes


def png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


def texts(fig) -> list:
    return [t for ax in fig.axes for t in ax.texts]


def overlapping(boxes) -> list[tuple]:
    return [(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1:] if a[1].overlaps(b[1])]


def test_display_symbols_read_like_a_lead_sheet():
    assert plot.display_symbol("Bb7") == "B♭7"
    assert plot.display_symbol("F#m7b5") == "F♯m7♭5"
    assert plot.display_symbol("B^7") == "BΔ7"
    assert plot.display_symbol("Bh7") == "Bø7" and plot.display_symbol("Ebh7") == "E♭ø7"
    assert plot.display_symbol("Co7") == "C°7"
    assert plot.display_symbol("D7b9#11") == "D7♭9♯11"
    assert plot.display_symbol("N.C.") == "N.C."


def test_systems_follow_the_form():
    assert plot.system_size(F_BLUES) == 4  # the blues in three lines of four
    assert plot.system_size(GIANT_STEPS) == 8
    assert plot.system_size(find_tune("Autumn Leaves").progression) == 8
    assert plot.system_size(parse_progression("time=3/4 " + "| C " * 16 + "|")) == 8


def test_chords_are_written_where_they_change_and_at_each_system_start():
    marks = plot.chord_marks(F_BLUES, 24, 4)
    beats = {beat for beat, _ in marks}
    assert (0.0, "F7") in marks and (4.0, "Bb7") in marks
    assert all(b in beats for b in range(0, 96, 16))  # each line names its chord
    assert (48.0, "F7") in marks  # the second chorus starts again with F7
    giant = plot.chord_marks(GIANT_STEPS, 16, 8)
    assert giant[:4] == [(0.0, "Bmaj7"), (2.0, "D7"), (4.0, "Gmaj7"), (6.0, "Bb7")]


def test_placed_chords_never_overlap_and_are_never_cut():
    fig = plot.render([], CROWDED, 4)
    width = plot._text_width(fig)
    rng = random.Random(3)
    symbols = ["Am7b5", "D7b9", "Ebmaj7#11", "Gb7b9b13", "C7alt", "F#m7b5", "Bbm6", "G13sus4"]
    for _ in range(60):
        beat, marks = 0.0, []
        while beat < 16:
            marks.append((beat, rng.choice(symbols)))
            beat += rng.choice((0.5, 1.0, 1.0, 2.0, 4.0))
        placed = plot.place_chords(marks, plot.BEAT_PX, 16, width)
        assert [label.text for label in placed] == [text for _, text in marks]
        for row in (0, 1):
            spans = [(label.beat * plot.BEAT_PX, label.beat * plot.BEAT_PX + width(label.text, label.size))
                     for label in placed if label.row == row]
            assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:], strict=False)), spans
        assert all(label.beat >= beat - 1e-9 for label, (beat, _) in zip(placed, marks, strict=True))


@pytest.mark.parametrize(
    ("progression", "bars"), [(F_BLUES, 12), (GIANT_STEPS, 16), (CROWDED, 4), (F_BLUES, 64)]
)
def test_rendered_page_text_never_overlaps(progression, bars):
    fig = plot.render(line(bars), progression, bars, "t", subtitle="s")
    try:
        renderer = fig.canvas.get_renderer()
        boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in texts(fig) if t.get_text()]
        boxes += [(t.get_text(), t.get_window_extent(renderer)) for t in fig.texts]
        assert not overlapping(boxes)
    finally:
        import matplotlib.pyplot as plt

        plt.close(fig)


def test_page_has_bar_numbers_note_names_and_wraps(tmp_path):
    out = plot.piano_roll(line(64), F_BLUES, 64, tmp_path / "blues.png", "F Blues")
    width, height = png_size(out)
    assert width <= 1000 and height > width  # a page of 16 lines of 4 bars, not a 4608 px strip
    fig = plot.render(line(64), F_BLUES, 64, "F Blues")
    try:
        shown = [t.get_text() for t in texts(fig)]
        numbers = [int(t.split()[0]) for t in shown if t.split() and t.split()[0].isdigit()]
        assert sorted(numbers) == list(range(1, 65))
        assert "13  chorus 2" in shown
        rolls = [ax for ax in fig.axes if ax.axison and ax.get_yticklabels()]
        names = {label.get_text() for ax in rolls for label in ax.get_yticklabels()}
        assert {"C4", "E4", "G4", "C5"} <= names and not any(n.isdigit() for n in names)
        assert len(rolls) == 16  # 16 systems
    finally:
        import matplotlib.pyplot as plt

        plt.close(fig)


def test_lanes_and_section_marks(tmp_path):
    comp = [TimedNote(b * 4.0, 3.9, p, 64) for b in range(32) for p in (57, 60, 64)]
    bass = [TimedNote(b * 4.0, 3.9, 41, 80) for b in range(32)]
    lanes = [plot.Lane("comp", comp), plot.Lane("bass", bass), plot.Lane("empty", [])]
    tune = find_tune("Autumn Leaves")
    from improv.theory.tunes import form_sections

    sections = form_sections(tune.form, tune.progression.bar_count)
    fig = plot.render(line(32), tune.progression, 32, lanes=lanes, sections=sections)
    try:
        lane_names = [ax.get_ylabel() for ax in fig.axes if ax.get_ylabel()]
        assert lane_names == ["comp", "bass"] * 4  # 4 systems; an empty lane is left out
        letters = [t.get_text() for t in texts(fig) if t.get_bbox_patch() is not None]
        assert letters == ["A", "A", "B", "C"]
    finally:
        import matplotlib.pyplot as plt

        plt.close(fig)


def test_unwritable_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="cannot write"):
        plot.piano_roll(line(4), F_BLUES, 4, tmp_path / "no" / "dir" / "x.png")


def test_generate_plot_draws_comping_and_bass_lanes(tmp_path, tiny_model, capsys):
    from improv.cli import main

    out = tmp_path / "gs.png"
    code = main(["generate", "--tune", "Giant Steps", "--bars", "16", "--seed", "1", "--model",
                 str(tiny_model), "--out", str(tmp_path / "gs.mid"), "--plot", str(out)])
    assert code == 0, capsys.readouterr().err
    width, height = png_size(out)
    assert 1000 <= width <= 1600 and 500 <= height <= 1200  # two systems of 8 bars with their lanes


def test_too_many_bars_to_plot_is_refused_before_generating(tmp_path, capsys):
    from improv.cli import main

    out = tmp_path / "long.mid"
    assert main(["generate", "--bars", "5000", "--out", str(out), "--plot", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert "--bars (with --plot) 5000 is out of range 1..256" in err and not out.exists()
    with pytest.raises(InputError, match="1..256 bars"):
        plot.render([], F_BLUES, 257)
