"""improv.theory.pitch: the one pair of pitch-name functions (pitch -> name, name -> pitch)."""

from __future__ import annotations

import pytest

from improv.cli.options import parse_pitch as option_pitch
from improv.errors import InputError
from improv.theory.pitch import parse_pitch, pitch_name


@pytest.mark.parametrize(
    ("pitch", "name", "sharp", "pretty"),
    [(60, "C4", "C4", "C4"), (63, "Eb4", "D#4", "E♭4"), (21, "A0", "A0", "A0"), (0, "C-1", "C-1", "C-1"),
     (127, "G9", "G9", "G9"), (82, "Bb5", "A#5", "B♭5"), (54, "Gb3", "F#3", "G♭3")],
)
def test_pitch_names_flat_sharp_and_pretty(pitch, name, sharp, pretty):
    assert pitch_name(pitch) == name
    assert pitch_name(pitch, sharps=True) == sharp
    assert pitch_name(pitch, pretty=True) == pretty
    assert parse_pitch(name) == parse_pitch(sharp) == parse_pitch(pretty) == pitch


def test_every_midi_pitch_round_trips():
    for pitch in range(128):
        for sharps in (False, True):
            for pretty in (False, True):
                assert parse_pitch(pitch_name(pitch, sharps=sharps, pretty=pretty)) == pitch


def test_pitch_classes_and_double_accidentals():
    assert pitch_name(13, octave=False) == "Db"
    assert pitch_name(6, octave=False, sharps=True) == "F#"
    assert parse_pitch("f#", octave=False) == 6
    assert parse_pitch("Cb4") == 59 and parse_pitch("B#3") == 60
    assert parse_pitch("Bbb3") == 57 and parse_pitch("F##4") == 67


@pytest.mark.parametrize("text", ["H3", "E", "C#", "", "C4x", "60", "Eb#4", "C123"])
def test_not_a_name_with_octave(text):
    with pytest.raises(ValueError):
        parse_pitch(text)


def test_pitch_class_needs_no_octave():
    with pytest.raises(ValueError):
        parse_pitch("C4", octave=False)


def test_range_option_reads_names_and_numbers_and_names_the_option():
    assert option_pitch("E3") == 52 and option_pitch(" 84 ") == 84 and option_pitch("B♭5") == 82
    with pytest.raises(InputError, match="--range: 'A9' is outside"):
        option_pitch("A9")
    with pytest.raises(InputError, match="--range: 'H3' is not a pitch"):
        option_pitch("H3")
