"""The degree vocabulary (values version 2): which chord tone, which way; decoding leaves no random choice."""

from __future__ import annotations

import json

import pytest
from modelkit import chord, random_model_dir, scale_line

from improv.errors import InputError
from improv.theory import degrees
from improv.theory.degrees import Degree, DegreeVocabulary, decode, encode, load_vocabulary
from improv.theory.progression import parse_progression
from improv.theory.values import Line, Note, Vocabulary
from improv.theory.values import encode as encode_kind


def line_of(notes, changes="Cmaj7"):
    prog = parse_progression(changes)
    return Line("t", [Note(*n) for n in notes], prog.chord_at, 4)


def test_a_value_names_the_degree_above_the_chord_root():
    # over Dm7: C is the b7, F the minor 3rd, B the 13th (the dorian 6)
    line = line_of([(0, 12, 72), (12, 12, 65), (24, 12, 71)], "Dm7 | G7")
    values = [t.value for t in encode(line)]
    assert [v.kind for v in values] == ["b7", "b3", "6"]
    line = line_of([(0, 24, 72), (48, 12, 71)], "Dm7 | G7")
    values = [t.value for t in encode(line) if t.value.kind != "R"]
    assert [v.kind for v in values] == ["b7", "3"]  # the 7th of the ii falls to the 3rd of the V


def test_moves_and_anchors():
    line = line_of([(0, 6, 60), (6, 6, 64), (12, 6, 62), (18, 6, 62), (48, 6, 67)])
    values = [t.value for t in encode(line)]
    assert [v.move for v in values if v.kind != "R"] == [None, "+", "-", "=", None]  # after a rest: anchor


def test_the_timing_is_the_kind_vocabularys():
    line = scale_line(bars=16, seed=3)
    ours, theirs = encode(line), encode_kind(line)
    assert [(t.onset, t.value.duration) for t in ours] == [(t.onset, t.value.duration) for t in theirs]
    assert [t.value.kind == "R" for t in ours] == [t.value.kind == "R" for t in theirs]


def test_decode_replays_the_line_exactly_inside_the_register():
    line = scale_line(bars=24, seed=5)
    tokens = encode(line)
    pitches = iter(n.pitch for n in sorted(line.notes, key=lambda n: n.onset))
    prev = None
    for token in tokens:
        if token.value.kind == "R":
            continue
        want = next(pitches)
        got = decode(token.value, token.chord, prev, low=40, high=100, centre=want)
        assert got == want, (token.value, prev)
        prev = got


def test_decode_folds_at_the_register_and_never_draws():
    g7 = chord("G7")
    up_to_b = Degree(4, 6, "+")  # the 3rd of G7, upwards
    assert decode(up_to_b, g7, 70, low=52, high=84) == 71
    assert decode(up_to_b, g7, 83, low=52, high=84) == 71  # 95 would leave the range: the line turns
    assert decode(Degree(7, 6, "-"), g7, 55, low=52, high=84) == 62  # D below 55 is 50: turn up

    assert decode(Degree(None, 12), g7, 70) is None
    anchor = decode(Degree(10, 12), g7, None, low=52, high=84, centre=66)
    assert anchor % 12 == 5 and abs(anchor - 66) <= 6  # the b7 of G (F) nearest the centre


def test_text_round_trips_and_bad_text_is_an_input_error():
    for value in (Degree(4, 3, "+"), Degree(0, 12), Degree(None, 24), Degree(11, 2, "=")):
        assert Degree.parse(str(value)) == value
    for bad in ("3", "Q,0.25", "3,abc", "R,0.250,+", "3,0.250,?"):
        with pytest.raises(InputError):
            Degree.parse(bad)


def test_vocabulary_saves_loads_and_old_vocabularies_still_load(tmp_path):
    values = [t.value for t in encode(scale_line(bars=16))]
    vocab, rare = DegreeVocabulary.build(values, min_count=2)
    assert rare >= 0 and len(vocab) > 5
    vocab.save(tmp_path / "vocab.json", {"conditioning": {"size": 0}})
    again, meta = load_vocabulary(tmp_path / "vocab.json")
    assert isinstance(again, DegreeVocabulary) and again.values == vocab.values
    assert meta["version"] == degrees.VOCAB_VERSION
    unseen = Degree(7, 9, "+")
    assert vocab.values[vocab.index(unseen)].move == "+"
    old = random_model_dir(tmp_path / "old")
    v1, _ = load_vocabulary(old / "vocab.json")
    assert isinstance(v1, Vocabulary)


def test_unsorted_or_foreign_vocabularies_are_refused(tmp_path):
    path = tmp_path / "vocab.json"
    path.write_text(json.dumps({"format": degrees.VOCAB_FORMAT, "version": 2, "ticks_per_beat": 12,
                                "values": ["3,0.500", "1,0.250"]}))
    with pytest.raises(InputError, match="sorted"):
        load_vocabulary(path)
    path.write_text("[1, 2]")
    with pytest.raises(InputError):
        load_vocabulary(path)
