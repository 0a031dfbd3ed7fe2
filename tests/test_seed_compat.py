"""Seed-compatible mode: the legacy MIDI importer and the spelled grammar reproduce the seed corpus.

The expected corpus (seed spec Appendix B), values with counts (Appendix A) and training window
starts (Appendix D) are facts stated by the spec, embedded here so the test does not read it.
"""

from __future__ import annotations

import os
from collections import Counter
from fractions import Fraction
from pathlib import Path

import mido
import numpy as np
import pytest

from improv.corpus.legacy_midi import (
    LegacyChord,
    LegacyMidi,
    LegacyNote,
    RawNote,
    build_chords,
    pair_notes,
    quantize,
    read_track,
)
from improv.corpus.seed import seed_corpus
from improv.errors import InputError
from improv.theory.seed_grammar import (
    classify,
    interval_pair,
    seed_training_arrays,
    seed_window_starts,
)

# Appendix B: the 193 tokens, bars separated by "|"
APPENDIX_B = """
    C,0.500 C,0.333,<P1,d-5> C,0.250,<M-2,m-6> C,0.250,<M3,d-3> C,0.250,<d6,m2>
    C,0.250,<d5,P1> C,0.667,<M2,d-4> C,0.250,<d1,P-5> C,0.250,<P-4,d-8> S,0.250,<d4,M-2>
    S,0.250,<P5,A1> C,0.250,<d5,P1> | C,0.500 S,0.250,<m2,P-4> C,0.250,<P4,m-2>
    A,0.250,<P4,m-2> S,0.500,<d1,P-5> C,0.250,<P1,d-5> C,0.250,<m2,P-4> A,0.250,<m2,P-4>
    C,0.250,<M2,d-4> A,0.250,<d4,M-2> C,0.250,<P4,m-2> C,0.250,<P4,m-2> | C,0.250
    C,0.250,<d2,A-4> A,0.250,<m-2,d-6> C,0.250,<d3,M-3> A,0.250,<M3,d-3> C,0.250,<d6,m2>
    C,0.250,<A4,d-2> C,0.250,<d3,M-3> C,0.250,<m2,P-4> A,0.250,<m2,P-4> S,0.250,<P1,d-5>
    C,0.250,<m2,P-4> C,0.250,<P1,d-5> C,0.250,<m2,P-4> A,0.250,<m2,P-4> | C,0.250
    S,0.250,<d6,m2> X,0.250,<A4,d-2> S,0.250,<dd5,d1> C,0.250,<P4,m-2> C,0.250,<M3,d-3>
    C,0.250,<dd5,d1> S,0.250,<P4,m-2> C,0.250,<P4,m-2> C,0.250,<M3,d-3> C,0.250,<dd5,d1>
    A,0.250,<M3,d-3> | C,0.500 A,0.333,<M2,d-4> C,0.250,<d4,M-2> A,0.333,<M2,d-4>
    C,0.250,<m2,P-4> C,0.250,<A-4,P-8> C,0.250,<P4,m-2> A,0.250,<P4,m-2> S,0.250,<d5,P1>
    A,0.333,<P1,d-5> C,0.250,<d4,M-2> C,0.250,<P5,A1> | C,0.250 S,0.250,<d4,M-2>
    A,0.250,<m-2,d-6> C,0.250,<d5,P1> A,0.250,<P1,d-5> C,0.250,<d5,P1> C,0.250,<d1,P-5>
    A,0.333,<A4,d-2> | S,0.333 C,0.500,<m2,P-4> S,0.250,<P1,d-5> C,0.250,<m2,P-4>
    C,0.250,<P4,m-2> C,0.250,<m3,m-3> S,0.250,<m2,P-4> C,0.500,<m6,M2> C,0.250,<P1,d-5>
    C,0.250,<m7,M3> C,0.250,<d4,M-2> | C,0.250 C,0.333,<d1,P-5> S,0.250,<M-2,m-6>
    C,0.250,<P11,M7> C,0.250,<M-2,m-6> S,0.333,<d7,m3> C,0.667,<M2,d-4> | C,0.250
    C,0.250,<d5,P1> C,0.250,<m7,M3> C,0.250,<m2,P-4> C,0.250,<P5,A1> C,0.750,<m3,m-3> |
    S,0.250 C,0.250,<m2,P-4> C,0.250,<M2,d-4> C,0.250,<m2,P-4> A,0.250,<M2,d-4>
    A,0.250,<m2,P-4> C,0.250,<m2,P-4> A,0.333,<M2,d-4> C,0.250,<d3,M-3> X,0.250,<d1,P-5>
    S,0.250,<A4,d-2> S,0.250,<d1,P-5> | C,0.250 C,0.250,<P1,d-5> C,0.333,<m3,m-3>
    S,0.333,<m2,P-4> C,0.333,<m2,P-4> C,0.250,<m3,m-3> C,0.250,<P1,d-5> C,0.333,<m3,m-3>
    C,0.250,<d5,P1> C,0.250,<P5,A1> | S,0.250 S,0.250,<P1,d-5> C,0.333,<m7,M3>
    S,0.333,<d1,P-5> S,0.500,<m7,M3> C,0.250,<P1,d-5> S,0.250,<m3,m-3> A,0.250,<P-4,d-8>
    C,0.250,<d4,M-2> C,0.250,<d5,P1> C,0.250,<P5,A1> | S,0.250 S,0.250,<d1,P-5>
    S,0.750,<m3,m-3> C,0.250,<P1,d-5> S,0.750,<d5,P1> C,0.250,<P1,d-5> C,0.250,<m3,m-3>
    S,0.250,<d5,P1> C,0.250,<P4,m-2> C,0.250,<d5,P1> | C,0.500 C,0.250,<d4,M-2>
    C,0.333,<M2,d-4> S,0.250,<d1,P-5> C,0.333,<P5,A1> S,0.250,<d1,P-5> C,0.333,<m3,m-3>
    C,0.250,<P1,d-5> | S,0.333 S,0.250,<d1,P-5> C,0.250,<P1,d-5> S,0.500,<m7,M3>
    S,0.250,<d1,P-5> C,0.250,<P4,m-2> C,0.250,<m3,m-3> C,0.250,<m-2,d-6> C,0.250,<d2,A-4>
    C,0.250,<P4,m-2> S,0.667,<d5,P1> C,0.250,<P1,d-5> | C,0.250 X,0.250,<A4,d-2>
    C,0.250,<d2,A-4> S,0.250,<P4,m-2> A,0.250,<P1,d-5> A,0.250,<P4,m-2> S,0.250,<d2,A-4>
    C,0.250,<P4,m-2> X,0.250,<A4,d-2> C,0.250,<d2,A-4> C,0.250,<m-2,d-6> A,0.250,<d5,P1>
    C,0.250,<d1,P-5> S,0.250,<d5,P1> A,0.250,<m-2,d-6> A,0.250,<d5,P1> S,0.250,<d1,P-5>
    C,0.250,<P4,m-2> A,0.250,<P1,d-5> | C,0.500 C,0.250,<P4,m-2> C,0.250,<M3,d-3>
    S,0.250,<dd5,d1> C,0.500,<P4,m-2> C,0.333,<A4,d-2> C,0.667,<d6,m2> C,0.500,<m2,P-4> |
    S,0.250 S,0.667,<m3,m-3> C,0.250,<M3,d-3> X,0.250,<d2,A-4> X,0.250,<m6,M2>
    X,0.250,<M-2,m-6> C,0.250,<m7,M3> S,0.250,<P4,m-2>
"""

# Appendix A: the 78 sorted values, each "value*count"
APPENDIX_A = """
    A,0.250,<M2,d-4>*1 A,0.250,<M3,d-3>*2 A,0.250,<P-4,d-8>*1 A,0.250,<P1,d-5>*3
    A,0.250,<P4,m-2>*3 A,0.250,<d4,M-2>*1 A,0.250,<d5,P1>*2 A,0.250,<m-2,d-6>*3
    A,0.250,<m2,P-4>*4 A,0.333,<A4,d-2>*1 A,0.333,<M2,d-4>*3 A,0.333,<P1,d-5>*1 C,0.250*7
    C,0.250,<A-4,P-8>*1 C,0.250,<A4,d-2>*1 C,0.250,<M-2,m-6>*2 C,0.250,<M2,d-4>*2
    C,0.250,<M3,d-3>*5 C,0.250,<P-4,d-8>*1 C,0.250,<P1,d-5>*11 C,0.250,<P11,M7>*1
    C,0.250,<P4,m-2>*13 C,0.250,<P5,A1>*4 C,0.250,<d1,P-5>*3 C,0.250,<d2,A-4>*4
    C,0.250,<d3,M-3>*3 C,0.250,<d4,M-2>*5 C,0.250,<d5,P1>*8 C,0.250,<d6,m2>*2
    C,0.250,<dd5,d1>*2 C,0.250,<m-2,d-6>*2 C,0.250,<m2,P-4>*10 C,0.250,<m3,m-3>*4
    C,0.250,<m7,M3>*3 C,0.333,<A4,d-2>*1 C,0.333,<M2,d-4>*1 C,0.333,<P1,d-5>*1
    C,0.333,<P5,A1>*1 C,0.333,<d1,P-5>*1 C,0.333,<m2,P-4>*1 C,0.333,<m3,m-3>*3
    C,0.333,<m7,M3>*1 C,0.500*5 C,0.500,<P4,m-2>*1 C,0.500,<m2,P-4>*2 C,0.500,<m6,M2>*1
    C,0.667,<M2,d-4>*2 C,0.667,<d6,m2>*1 C,0.750,<m3,m-3>*1 S,0.250*4 S,0.250,<A4,d-2>*1
    S,0.250,<M-2,m-6>*1 S,0.250,<P1,d-5>*3 S,0.250,<P4,m-2>*3 S,0.250,<P5,A1>*1
    S,0.250,<d1,P-5>*7 S,0.250,<d2,A-4>*1 S,0.250,<d4,M-2>*2 S,0.250,<d5,P1>*3
    S,0.250,<d6,m2>*1 S,0.250,<dd5,d1>*2 S,0.250,<m2,P-4>*2 S,0.250,<m3,m-3>*1 S,0.333*2
    S,0.333,<d1,P-5>*1 S,0.333,<d7,m3>*1 S,0.333,<m2,P-4>*1 S,0.500,<d1,P-5>*1
    S,0.500,<m7,M3>*2 S,0.667,<d5,P1>*1 S,0.667,<m3,m-3>*1 S,0.750,<d5,P1>*1
    S,0.750,<m3,m-3>*1 X,0.250,<A4,d-2>*3 X,0.250,<M-2,m-6>*1 X,0.250,<d1,P-5>*1
    X,0.250,<d2,A-4>*1 X,0.250,<m6,M2>*1
"""

# Appendix D: variant K window starts (numpy legacy seed 0, 60 draws from [0, 163))
APPENDIX_D = [
    47, 117, 67, 103, 9, 21, 36, 87, 70, 88, 140, 58, 39, 87, 88, 81, 25, 77, 72, 9, 148, 115,
    79, 82, 99, 29, 147, 147, 142, 32, 9, 127, 32, 31, 151, 114, 28, 34, 128, 128, 53, 133, 38,
    17, 79, 132, 105, 42, 31, 120, 1, 65, 57, 35, 102, 119, 11, 82, 91, 128,
]  # fmt: skip

EXPECTED_BARS = [bar.split() for bar in APPENDIX_B.split("|")]
EXPECTED_VALUES = {v: int(n) for v, n in (item.rsplit("*", 1) for item in APPENDIX_A.split())}


def _shared() -> Path:
    env = os.environ.get("IMPROV_SHARED")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared"


SEED_MIDI = _shared() / "data" / "original_metheny.mid"
_skip_without_seed = pytest.mark.skipif(
    not SEED_MIDI.is_file(),
    reason=f"seed MIDI file not found at {SEED_MIDI} (set IMPROV_SHARED to the shared folder)",
)


def needs_seed(test):
    """Mark a test as needing the shared seed MIDI file, skipping it when absent."""
    return pytest.mark.shared(_skip_without_seed(test))


@pytest.fixture(scope="module")
def corpus():
    """The seed corpus built once for the module."""
    if not SEED_MIDI.is_file():
        pytest.skip(f"seed MIDI file not found at {SEED_MIDI}")
    return seed_corpus(SEED_MIDI)


def _write_midi(path: Path, tracks: dict[str, list[mido.Message]], tpq: int = 96) -> Path:
    midi = mido.MidiFile(type=1, ticks_per_beat=tpq)
    for name, messages in tracks.items():
        track = mido.MidiTrack([mido.MetaMessage("track_name", name=name, time=0)])
        track.extend(messages)
        midi.tracks.append(track)
    midi.save(path)
    return path


def _on(key: int, dt: int = 0, ch: int = 0, vel: int = 80) -> mido.Message:
    return mido.Message("note_on", note=key, velocity=vel, channel=ch, time=dt)


def _off(key: int, dt: int = 0, ch: int = 0) -> mido.Message:
    return mido.Message("note_off", note=key, velocity=0, channel=ch, time=dt)


# --- the seed corpus -------------------------------------------------------------------------


def test_appendix_facts_are_consistent():
    assert len(EXPECTED_BARS) == 18
    assert sum(len(b) for b in EXPECTED_BARS) == 193 == sum(EXPECTED_VALUES.values())
    assert len(EXPECTED_VALUES) == 78


@needs_seed
def test_seed_corpus_matches_appendix_b_token_for_token(corpus):
    assert len(corpus.bars) == 18
    assert len(corpus.tokens) == 193
    assert corpus.bars == EXPECTED_BARS
    assert corpus.bar_indices == list(range(119, 137))


@needs_seed
def test_seed_values_match_appendix_a(corpus):
    assert len(corpus.values) == 78
    assert corpus.values == list(EXPECTED_VALUES)  # sorted order, value for value
    assert Counter(corpus.tokens) == Counter(EXPECTED_VALUES)


@needs_seed
def test_seed_type_counts(corpus):
    assert Counter(t.split(",")[0] for t in corpus.tokens) == {"C": 117, "S": 44, "A": 25, "X": 7}


@needs_seed
def test_seed_piano_voicings_keep_the_legacy_double_absorption():
    # Appendix C bar 4: C#4 sounds in both voicings at beat 0 (a legacy importer quirk)
    piano = read_track(SEED_MIDI, name="Piano")
    bar4 = [e for e in piano.window(488, 488) if isinstance(e, LegacyChord)]
    assert [e.pitches for e in bar4] == [(56, 61, 53), (63, 61, 60)]


@needs_seed
def test_unknown_track_name_lists_the_tracks():
    with pytest.raises(InputError, match="no track named 'Sax'.*'Guitar'"):
        read_track(SEED_MIDI, name="Sax")


@needs_seed
def test_select_by_channel_equals_select_by_name():
    by_name = read_track(SEED_MIDI, name="Guitar")
    by_channel = read_track(SEED_MIDI, channel=6)
    assert by_channel.elements == by_name.elements


@needs_seed
def test_window_with_unequal_bar_counts_is_an_input_error():
    # keeping the last chord group (a chord at exactly 548) gives 19 chord bars for 18 melody bars
    with pytest.raises(InputError, match="18 melody bars but 19 chord bars"):
        seed_corpus(SEED_MIDI, drop_last_chord_group=False)


# --- spelled theory --------------------------------------------------------------------------


def test_spelled_classification_examples():
    d_minor = (38, 60, 52, 53, 57)  # D2 C4 E3 F3 A3 -> G Dorian
    assert classify(62, d_minor) == "C"  # D
    assert classify(70, d_minor) == "S"  # B- is in G Dorian
    assert classify(71, d_minor) == "A"  # B is not, but it is a semitone below C
    assert classify(66, d_minor) == "A"  # F# = F + 1
    other = (63, 67, 60, 58, 44)  # E-4 G4 C4 B-3 G#2 -> B- Dorian spelled with A-
    assert classify(68, other) == "C"  # G# is a chord name
    assert classify(61, other) == "A"  # C# (C + 1) is not in a scale spelled with D-
    assert classify(71, (56, 61, 53)) == "X"  # B over G#3 C#4 F3: no chord, scale or approach


def test_interval_pairs_are_spelled():
    assert interval_pair(75, 72) == "<P1,d-5>"  # E-5 -> C5, a minor third down
    assert interval_pair(60, 62) == "<P4,m-2>"
    assert interval_pair(60, 60) == "<m3,m-3>"


# --- training windows ------------------------------------------------------------------------


def test_seed_window_starts_match_appendix_d():
    assert seed_window_starts(193, m=60, tx=30, seed=0) == APPENDIX_D


def test_seed_training_arrays_layout():
    values = [f"v{i}" for i in range(40)]
    tokens = [values[i % 40] for i in range(100)]
    x, y = seed_training_arrays(tokens, values, m=7, tx=10, seed=3)
    assert x.shape == (7, 10, 40) and y.shape == (10, 7, 40)
    assert not x[:, 0].any() and not y[-1].any()
    assert (x[:, 1:].sum(axis=-1) == 1).all() and (y[:-1].sum(axis=-1) == 1).all()
    starts = seed_window_starts(100, m=7, tx=10, seed=3)
    for i, s in enumerate(starts):
        assert np.argmax(x[i, 1:], axis=-1).tolist() == [(s + t) % 40 for t in range(1, 10)]
        assert np.argmax(y[:-1, i], axis=-1).tolist() == [(s + t) % 40 for t in range(1, 10)]


def test_training_arrays_reject_tokens_outside_the_vocabulary():
    with pytest.raises(InputError, match="not in the vocabulary"):
        seed_training_arrays(["a"] * 40, ["b"], m=2, tx=30)


# --- legacy import rules ---------------------------------------------------------------------


def test_quantize_grid_rules():
    assert quantize(Fraction(0)) == 0
    assert quantize(Fraction(1, 10)) == Fraction(0)  # 0.1: 0 (err .1) beats 1/4 and 1/3
    assert quantize(Fraction(1, 8)) == 0  # exact half of 1/4 rounds down; 1/3 grid also gives 0
    assert quantize(Fraction(7, 24)) == Fraction(1, 4)  # tie between 1/4 and 1/3 keeps the smaller
    assert quantize(Fraction(30, 96)) == Fraction(1, 3)
    assert quantize(Fraction(479, 96)) == 5


def test_pair_notes_is_fifo_per_channel_and_key_and_drops_unclosed():
    msgs = [_on(60), _on(60, 10), _on(64, 0, ch=1), _off(60, 10), _on(60, 5, vel=0), _on(67, 5)]
    ticks = [0, 10, 10, 20, 25, 30]
    notes = pair_notes(zip(ticks, msgs, strict=True))
    assert notes == [RawNote(0, 20, 60), RawNote(10, 25, 60)]  # 64 and 67 never close


def test_build_chords_tolerance_is_a_sixteenth_of_a_quarter():
    tpq = 96
    notes = [RawNote(0, 96, 60), RawNote(6, 100, 64), RawNote(7, 96, 67), RawNote(3, 150, 70)]
    out = build_chords(notes, tpq)
    # 64 joins (on +6, off +4); 67 is outside the onset window, which also ends the scan
    assert out[0] == LegacyChord(Fraction(0), Fraction(1), (60, 64))
    assert out[1] == LegacyNote(Fraction(0), Fraction(1), 67)
    assert out[2] == LegacyNote(Fraction(0), Fraction(3, 2), 70)


def test_zero_durations_are_allowed():
    assert build_chords([RawNote(0, 5, 60)], 96) == [LegacyNote(Fraction(0), Fraction(0), 60)]


def test_track_by_name_and_channel(tmp_path):
    path = _write_midi(
        tmp_path / "two.mid",
        {"Lead": [_on(72, 0, ch=2), _off(72, 48, ch=2)], "Keys": [_on(60), _off(60, 96)]},
    )
    midi = LegacyMidi.open(path)
    assert midi.track_names == ["Lead", "Keys"]
    assert midi.track("lead").elements == (LegacyNote(Fraction(0), Fraction(1, 2), 72),)
    assert midi.track(channel=1).elements == (LegacyNote(Fraction(0), Fraction(1), 60),)
    with pytest.raises(InputError, match="'Keys \\(channel 3\\)' has no notes"):
        midi.track("Keys", channel=3)


# --- errors ----------------------------------------------------------------------------------


@needs_seed
def test_truncated_midi_is_an_input_error(tmp_path):
    cut = tmp_path / "cut.mid"
    cut.write_bytes(SEED_MIDI.read_bytes()[:5000])
    with pytest.raises(InputError, match="cut.mid.*corrupt or truncated"):
        seed_corpus(cut)


def test_garbage_file_is_an_input_error(tmp_path):
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"MThd\x00\x00")
    with pytest.raises(InputError, match="bad.mid"):
        LegacyMidi.open(bad)


def test_file_without_notes_is_an_input_error(tmp_path):
    path = _write_midi(tmp_path / "empty.mid", {"Guitar": [], "Piano": []})
    with pytest.raises(InputError, match="empty.mid: the MIDI file contains no notes"):
        seed_corpus(path)


def test_missing_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        LegacyMidi.open(tmp_path / "nope.mid")
