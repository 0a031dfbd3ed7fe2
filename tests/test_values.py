"""The values grammar: encode/decode, rests, onsets by running sum, vocabulary."""

from __future__ import annotations

import numpy as np
import pytest
from modelkit import chord, scale_line

from improv.errors import InputError
from improv.theory.progression import parse_progression
from improv.theory.values import (
    DURATIONS,
    Line,
    Note,
    Value,
    Vocabulary,
    classify,
    decode,
    encode,
)


def line_of(notes, changes="Cmaj7"):
    prog = parse_progression(changes)
    return Line("t", [Note(*n) for n in notes], prog.chord_at, 4)


def test_classify_uses_pitch_classes_against_the_chord():
    c7 = chord("C7")
    assert classify(64, c7) == "C"  # E, the third
    assert classify(62, c7) == "S"  # D, ninth of mixolydian
    assert classify(61, c7) == "A"  # Db, a semitone from C
    assert classify(66, chord("Cmaj7")) == "A"  # F# is a semitone from G, not in ionian
    assert classify(63, chord("Cmaj7")) == "A"
    assert classify(61, chord("Cmaj7")) == "A"


def test_onsets_are_the_running_sum_and_rests_are_values():
    # quarter, eighth, (quarter rest), eighth: onsets 0, 12, 30 (after the rest)
    tokens = encode(line_of([(0, 12, 60), (12, 6, 64), (30, 6, 67)]))
    kinds = [t.value.kind for t in tokens]
    assert kinds == ["C", "C", "R", "C"]
    onsets = [t.onset for t in tokens]
    assert onsets == [0, 12, 18, 30]
    for a, b in zip(tokens, tokens[1:], strict=False):
        assert a.onset + a.value.duration == b.onset
    assert tokens[0].value.leap is None  # anchor
    assert tokens[1].value.leap == 4 and tokens[3].value.leap == 3  # rests do not reset the leap


def test_short_gaps_are_articulation_and_long_rests_start_a_phrase():
    tokens = encode(line_of([(0, 4, 60), (6, 6, 62), (48 + 6, 6, 64)]))
    assert [t.value.kind for t in tokens[:2]] == ["C", "S"]
    assert tokens[0].value.duration == 6  # staccato eighth still lasts to the next onset
    assert tokens[-1].value.leap is None  # after a rest of more than two beats: a new anchor


def test_running_sum_never_drifts_on_a_long_line():
    line = scale_line(bars=32, seed=3)
    tokens = encode(line)
    last = line.notes[-1]
    end = tokens[-1].onset + tokens[-1].value.duration
    assert abs(end - (last.onset + last.duration)) <= 6
    assert all(t.value.duration in DURATIONS for t in tokens)


def test_value_text_round_trips():
    for v in (Value("C", 3, -2), Value("R", 24), Value("S", 4, None), Value("X", 48, 12)):
        assert Value.parse(str(v)) == v
    assert str(Value("C", 3, -2)) == "C,0.250,-2"
    with pytest.raises(InputError):
        Value.parse("Q,1.0")


def test_decode_follows_the_leap_and_the_kind():
    rng = np.random.default_rng(0)
    c7 = chord("C7")
    for _ in range(50):
        pitch = decode(Value("C", 6, 4), c7, 60, rng, low=48, high=84)
        assert classify(pitch, c7) == "C" and abs(pitch - 64) <= 3
    assert decode(Value("R", 6), c7, 60, rng) is None


def test_decode_keeps_the_register():
    rng = np.random.default_rng(1)
    c = chord("Cmaj7")
    pitch = 80
    for _ in range(200):
        pitch = decode(Value("C", 6, 5), c, pitch, rng, low=52, high=84, centre=68)
        assert 52 <= pitch <= 84


def test_decode_is_deterministic_for_a_seed():
    def run(seed):
        rng = np.random.default_rng(seed)
        return [decode(Value("S", 6, 2), chord("Dm7"), 62, rng) for _ in range(20)]

    assert run(5) == run(5)


def test_vocabulary_is_sorted_saved_and_maps_rare_values(tmp_path):
    values = [Value("C", 6, 2)] * 5 + [Value("C", 6, -1)] * 5 + [Value("C", 6, 3)] + [Value("R", 12)] * 4
    vocab, rare = Vocabulary.build(values, min_count=2)
    assert rare == 1 and len(vocab) == 3
    assert vocab.values == sorted(vocab.values, key=lambda v: v.sort_key)
    assert vocab.nearest(Value("C", 6, 3)) == Value("C", 6, 2)
    assert vocab.index(Value("R", 9)) == vocab.index(Value("R", 12))
    vocab.save(tmp_path / "vocab.json")
    loaded, meta = Vocabulary.load(tmp_path / "vocab.json")
    assert loaded.values == vocab.values and meta["version"] == 1


def test_vocabulary_refuses_a_foreign_file(tmp_path):
    (tmp_path / "vocab.json").write_text('{"format": "other"}')
    with pytest.raises(InputError, match="not an improv vocabulary"):
        Vocabulary.load(tmp_path / "vocab.json")
