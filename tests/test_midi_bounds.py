"""MIDI files that cost time, not music: work bounded by the notes; corpus and evaluate agree on errors."""

from __future__ import annotations

import struct

import mido
import pytest

from improv.cli import main
from improv.corpus import loader
from improv.corpus import midi_reader as midi
from improv.corpus.loader import load, split_long_rests
from improv.theory.values import Line, Note, encode

HUGE = 0x0FFFFFFF  # the largest delta time a MIDI file can hold (559,240 beats at 480 per beat)


def _save(path, events, division: int | None = None):
    """A type-0 file from (kind, note, delta) events; ``division`` overwrites the header's."""
    mid = mido.MidiFile(type=0, ticks_per_beat=480)
    track = mido.MidiTrack()
    mid.tracks.append(track)
    for kind, note, delta in events:
        track.append(mido.Message(kind, note=note, velocity=90 if kind == "note_on" else 0, time=delta))
    mid.save(path)
    if division is not None:
        data = bytearray(path.read_bytes())
        data[12:14] = struct.pack(">H", division)
        path.write_bytes(bytes(data))
    return path


def _melody(gap: int, count: int = 50):
    events = []
    for i in range(count):
        events += [("note_on", 60 + i % 12, gap if i else 0), ("note_off", 60 + i % 12, 240)]
    return events


@pytest.mark.parametrize(("division", "what"), [(0, "0 ticks per beat"), (0xE728, "SMPTE timing")])
def test_corpus_and_evaluate_refuse_a_file_without_ticks_per_beat(tmp_path, capsys, division, what):
    path = _save(tmp_path / "t.mid", _melody(0, 8), division)
    messages = []
    for command in (["corpus", "--no-cache"], ["evaluate"]):
        assert main([*command, str(path)]) == 2
        messages.append(capsys.readouterr().err)
    expected = f"improv: error: {path}: MIDI file without a metrical time base ({what})\n"
    assert messages[0] == messages[1] == expected


def test_huge_gaps_cost_what_the_notes_cost(tmp_path):
    """50 notes 559,240 beats apart: the lines start at their notes, rests stay bounded."""
    path = _save(tmp_path / "gaps.mid", _melody(HUGE))
    assert path.stat().st_size < 800
    result = load(path, use_cache=False)
    assert sum(len(line.notes) for line in result.lines) == 50
    tokens = [token for line in result.lines for token in encode(line)]
    assert len(tokens) <= 50 * (loader.MAX_REST_BARS + 2)
    assert all(line.notes[0].onset < line.beats_per_bar * 12 for line in result.lines)


def test_chords_are_read_only_where_notes_change(tmp_path):
    events = []
    for i in range(30):
        events += [("note_on", 48, HUGE if i else 0), ("note_on", 52, 0), ("note_on", 55, 0),
                   ("note_off", 48, 480), ("note_off", 52, 0), ("note_off", 55, 0)]
    path = _save(tmp_path / "chords.mid", events)
    parts = midi.open_midi(path).parts
    last = max(n.end for p in parts for n in p.notes) // 480 + 1
    beats = midi._changing_beats(parts, 480, 0, last)
    assert len(beats) <= 4 * 30
    chords = midi.beat_chords(parts, 480, 0, last)
    assert {symbol for _, symbol in chords} == {"C"} and 30 <= len(chords) <= 60  # a chord spans 2 beats


def test_beat_chords_agree_with_every_beat_read(tmp_path):
    """Reading only the beats where notes change gives the chords reading every beat gives."""
    events = [("note_on", 48, 0), ("note_on", 52, 0), ("note_on", 55, 120), ("note_off", 55, 1500),
              ("note_on", 58, 0), ("note_off", 48, 700), ("note_off", 52, 0), ("note_off", 58, 2000),
              ("note_on", 50, 5000), ("note_on", 53, 0), ("note_on", 57, 0), ("note_off", 50, 3000),
              ("note_off", 53, 10), ("note_off", 57, 500)]
    parts = midi.open_midi(_save(tmp_path / "c.mid", events)).parts
    every = [(b, s) for b in range(0, 40) for _, s in midi.beat_chords(parts, 480, b, b + 1)]

    def steps(changes):
        out = []
        for beat, symbol in changes:
            if not out or out[-1][1] != symbol:
                out.append((beat, symbol))
        return out

    assert steps(midi.beat_chords(parts, 480, 0, 40)) == steps(every)


def test_split_keeps_the_chords_under_each_piece():
    chords = loader.StepChords([(0, "C7"), (48 * 40, "F7")])
    notes = [Note(0, 12, 60), Note(48 * 40 + 12, 12, 65)]
    pieces = split_long_rests(Line("solo", notes, chords))
    assert [p.name for p in pieces] == ["solo (1)", "solo (2)"]
    assert pieces[1].notes == [Note(12, 12, 65)] and pieces[1].chord_at(12) == "F7"
    assert pieces[1].meta["from_bar"] == 41
    short = Line("solo", [Note(0, 12, 60), Note(48 * 10, 12, 62)], chords)
    assert split_long_rests(short) == [short]


def test_evaluate_refuses_a_huge_silence_and_caps_a_huge_note(tmp_path, capsys):
    assert main(["evaluate", str(_save(tmp_path / "gaps.mid", _melody(HUGE)))]) == 2
    err = capsys.readouterr().err
    assert "note 2 starts 559241 beats after note 1 (at most 64 beats" in err and err.count("\n") == 1
    held = _save(tmp_path / "held.mid", [("note_on", 60, 0), ("note_off", 60, HUGE)])
    assert main(["evaluate", str(held)]) == 0


@pytest.mark.parametrize("value", ["nan", "inf", "-1", "1e300"])
def test_corpus_window_must_be_finite_beats(tmp_path, capsys, value):
    path = _save(tmp_path / "t.mid", _melody(0, 8))
    with pytest.raises(SystemExit) as info:
        main(["corpus", "--start", value, str(path)])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "argument --start:" in err and "see improv corpus --help" in err
