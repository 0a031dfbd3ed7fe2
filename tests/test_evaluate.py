"""Metrics of `improv.evaluate` on hand-made solos with known answers, and `improv evaluate` itself."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import mido
import numpy as np
import pytest
from modelkit import random_model_dir

from improv.cli import main
from improv.evaluate import (
    CorpusIndex,
    Histograms,
    chord_tone_ratio,
    distinct_ngram_ratio,
    evaluate_line,
    js_distance,
    line_from_timed,
    longest_repeat,
    mean_abs_interval,
    note_density,
    octave_leap_share,
    pitch_range,
    repeated_phrases,
    rest_ratio,
    scale_tone_ratio,
    strong_beats,
)
from improv.generate import solo_to_midi
from improv.improviser import TimedNote
from improv.model.ngram import NGram
from improv.theory.progression import parse_progression
from improv.theory.values import Line, Note, Value, encode

ROOT = Path(__file__).resolve().parents[1]
CMAJ = parse_progression("Cmaj7 | Cmaj7 | Cmaj7 | Cmaj7")


def line_of(pitches_onsets: list[tuple[int, int, int]], prog=CMAJ) -> Line:
    """A Line from (onset, duration, pitch) in ticks."""
    return Line("t", [Note(o, d, p) for o, d, p in pitches_onsets], prog.chord_at, prog.beats_per_bar)


def quarters(pitches: list[int], prog=CMAJ) -> Line:
    return line_of([(12 * i, 12, p) for i, p in enumerate(pitches)], prog)


# -- harmony ---------------------------------------------------------------------------------------
def test_all_chord_tones_give_ratio_one():
    line = quarters([60, 64, 67, 71, 72, 76, 79, 83])
    assert chord_tone_ratio(line) == 1.0
    assert chord_tone_ratio(line, strong_only=True) == 1.0
    assert scale_tone_ratio(line) == 1.0


def test_strong_beats_count_only_onsets_on_one_and_three():
    # beats 1 and 3 chord tones (C, G), beats 2 and 4 not (C#, F#); bar 2 the other way round
    line = quarters([60, 61, 67, 66, 61, 64, 66, 67])
    assert chord_tone_ratio(line) == 0.5
    assert chord_tone_ratio(line, strong_only=True) == 0.5
    line = quarters([60, 61, 67, 66])
    assert chord_tone_ratio(line, strong_only=True) == 1.0
    assert chord_tone_ratio(line) == 0.5
    assert strong_beats(4) == (0, 24)
    assert strong_beats(3) == (0,)


def test_scale_tones_and_no_chord():
    line = quarters([62, 65, 69, 61])  # D, F, A are C ionian scale tones; C# is not
    assert chord_tone_ratio(line) == 0.0
    assert scale_tone_ratio(line) == 0.75
    nc = quarters([60, 62], parse_progression("N.C. | N.C."))
    assert chord_tone_ratio(nc) is None and scale_tone_ratio(nc) is None


def test_chord_follows_the_changes():
    prog = parse_progression("Dm7 | G7")
    line = quarters([62, 65, 69, 72, 67, 71, 74, 77], prog)  # chord tones of Dm7 then G7
    assert chord_tone_ratio(line) == 1.0
    shifted = quarters([67, 71, 74, 77, 62, 65, 69, 72], prog)  # G7 tones over Dm7, Dm7 tones over G7
    assert chord_tone_ratio(shifted) == 0.5


# -- pitch and time --------------------------------------------------------------------------------
def test_range_intervals_and_leaps():
    line = quarters([60, 62, 76, 64])
    assert pitch_range(line) == 16
    assert mean_abs_interval(line) == pytest.approx((2 + 14 + 12) / 3)
    assert octave_leap_share(line) == pytest.approx(1 / 3)
    assert mean_abs_interval(quarters([60])) is None


def test_rest_ratio_and_density():
    half = line_of([(0, 12, 60), (12, 12, 62)])  # two beats of notes in a 4-beat bar
    assert rest_ratio(half) == 0.5
    assert note_density(half) == 0.5
    legato = line_of([(0, 10, 60), (12, 10, 62), (24, 10, 64), (36, 12, 65)])  # 2-tick gaps: articulation
    assert rest_ratio(legato) == 0.0
    assert rest_ratio(half, length=96) == 0.75


# -- repetition ------------------------------------------------------------------------------------
def test_longest_repeat_does_not_overlap():
    assert longest_repeat("abcXabcYab") == 3
    assert longest_repeat("abcd") == 0
    assert longest_repeat("aaaaa") == 2
    assert longest_repeat([Value("C", 6, 2)] * 3) == 1


def eight_bars(first: list[int], second: list[int]) -> Line:
    """Eighth notes: 4 bars of ``first`` pitches then 4 bars of ``second`` (cycled to 32 notes each)."""
    prog = parse_progression("Cmaj7 | Cmaj7 | Cmaj7 | Cmaj7 | Cmaj7 | Cmaj7 | Cmaj7 | Cmaj7")
    pitches = [first[i % len(first)] for i in range(32)] + [second[i % len(second)] for i in range(32)]
    return line_of([(6 * i, 6, p) for i, p in enumerate(pitches)], prog)


def test_repeated_four_bar_phrase_is_found():
    phrase = [60, 62, 64, 65, 67, 69, 71, 72, 74, 72, 71, 69, 67, 65, 64, 62,
              60, 64, 67, 64, 60, 64, 67, 72, 71, 67, 62, 59, 60, 62, 63, 64]
    line = eight_bars(phrase, phrase)
    tokens = encode(line)
    assert repeated_phrases(tokens, 48) == 1
    assert repeated_phrases(tokens, 48, chorus_ticks=4 * 48) == 0  # each half is its own chorus
    other = [p + (i % 3) for i, p in enumerate(phrase)]
    assert repeated_phrases(encode(eight_bars(phrase, other)), 48) == 0
    assert evaluate_line(line, chorus_ticks=8 * 48)["longest_repeat"] >= 31


def test_distinct_ngram_ratio():
    assert distinct_ngram_ratio("abcdefg") == 1.0
    assert distinct_ngram_ratio("aaaaa") == 0.5
    assert distinct_ngram_ratio("abc") is None
    # two chunks of 8: the first all distinct, the second one symbol repeated (1 of 5)
    assert distinct_ngram_ratio("abcdefghzzzzzzzz", chunk=8) == pytest.approx((1.0 + 0.2) / 2)


def test_longest_copy_is_exact():
    vals = [Value("C", 6, i) for i in range(20)]
    index = CorpusIndex([vals[:10], vals[5:15]])
    assert index.tokens == 20
    query = vals[3:18]
    assert index.longest_copy(query) == 10  # vals[5:15]
    assert index.longest_copy(query, exclude=1) == 7  # vals[3:10] from the first sequence
    assert index.longest_copy(query, exclude=0) == 10
    # never across two corpus sequences: vals[8:12] spans the end of one and the start of the other
    assert CorpusIndex([vals[:10], vals[10:20]]).longest_copy(vals[8:12]) == 2
    assert index.longest_copy([Value("R", 48)] * 3) == 0
    assert index.longest_copy([]) == 0
    long = [Value("S", 3, i % 7) for i in range(300)]
    assert CorpusIndex([long]).longest_copy(long[40:257]) == 217


def test_longest_copy_agrees_with_brute_force():
    rng = np.random.default_rng(1)
    alphabet = [Value("C", 6, i) for i in range(3)]
    corpus = [[alphabet[i] for i in rng.integers(0, 3, 40)] for _ in range(5)]
    index = CorpusIndex(corpus)
    for _ in range(10):
        query = [alphabet[i] for i in rng.integers(0, 3, 30)]
        best = 0
        for seq in corpus:
            for i in range(len(query)):
                for j in range(len(seq)):
                    k = 0
                    while i + k < len(query) and j + k < len(seq) and query[i + k] == seq[j + k]:
                        k += 1
                    best = max(best, k)
        assert index.longest_copy(query) == best


# -- histograms ------------------------------------------------------------------------------------
def test_histograms_and_js_distance():
    prog = parse_progression("G7")
    hist = Histograms.of([line_of([(0, 6, 67), (6, 6, 71), (18, 6, 43)], prog)])
    assert hist.pitch_class[0] == 2 and hist.pitch_class[4] == 1  # G twice, B once over the root G
    assert hist.interval[24 + 4] == 1 and hist.interval[0] == 1  # +4 and -28 clipped to -24
    assert hist.ioi[5] == 1 and hist.ioi[11] == 1  # 6 and 12 ticks
    assert js_distance(hist.pitch_class, hist.pitch_class) == 0.0
    assert js_distance([1, 0], [0, 1]) == pytest.approx(1.0)
    assert js_distance([0, 0], [1, 1]) is None
    distances = hist.distances(hist)
    assert set(distances) == {"js_pitch_class", "js_interval", "js_ioi"}


def test_line_from_timed_snaps_to_the_grid():
    notes = [TimedNote(0.5, 0.46, 64, 90), TimedNote(0.0, 0.46, 60, 90)]
    line = line_from_timed(notes, CMAJ.chord_at)
    assert [(n.onset, n.duration, n.pitch) for n in line.notes] == [(0, 6, 60), (6, 6, 64)]


# -- the benchmark's stand-in for the cell ---------------------------------------------------------
def test_ngram_cell_matches_ngram_probabilities():
    spec = importlib.util.spec_from_file_location("bench_music", ROOT / "benchmarks" / "bench_music.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    ngram = NGram(3, 6).fit([[0, 1, 2, 3, 1, 2, 4], [5, 1, 2, 3]])
    cell = bench.NGramCell(ngram)
    first = np.exp(cell.step_logits(None))
    assert np.allclose(first, ngram.distribution([]))
    cell.step_logits(1)
    after = np.exp(cell.step_logits(2))
    assert np.allclose(after, ngram.distribution([1, 2]))
    assert after.sum() == pytest.approx(1.0)


# -- the command -----------------------------------------------------------------------------------
def write_solo(path: Path, notes: list[TimedNote], prog=CMAJ) -> Path:
    solo_to_midi(notes, prog, tempo=120, bars=prog.bar_count).save(path)
    return path


def test_cli_measures_the_improv_track(tmp_path, capsys):
    notes = [TimedNote(i * 1.0, 0.9, p, 90) for i, p in enumerate([60, 64, 67, 71] * 4)]
    midi = write_solo(tmp_path / "solo.mid", notes)
    code = main(["evaluate", str(midi), "--changes", "Cmaj7 | Cmaj7 | Cmaj7 | Cmaj7", "--json"])
    assert code == 0
    [result] = json.loads(capsys.readouterr().out)
    assert result["notes"] == 16  # the comp and bass tracks are not the solo
    assert result["chord_tone"] == 1.0 and result["chord_tone_strong"] == 1.0
    assert result["range"] == 11
    assert main(["evaluate", str(midi), "--changes", "Dbmaj7"]) == 0
    table = capsys.readouterr().out
    assert "chord-tone ratio" in table and "solo.mid" in table


def test_cli_takes_the_first_track_with_notes(tmp_path, capsys):
    mid = mido.MidiFile(type=1, ticks_per_beat=96)
    empty, melody = mido.MidiTrack(), mido.MidiTrack()
    empty.append(mido.MetaMessage("track_name", name="conductor", time=0))
    for pitch in (62, 65, 69):
        melody.append(mido.Message("note_on", note=pitch, velocity=80, time=0))
        melody.append(mido.Message("note_off", note=pitch, velocity=0, time=96))
    mid.tracks += [empty, melody]
    mid.save(tmp_path / "other.mid")
    assert main(["evaluate", str(tmp_path / "other.mid"), "--changes", "Dm7", "--json"]) == 0
    [result] = json.loads(capsys.readouterr().out)
    assert result["notes"] == 3 and result["chord_tone"] == 1.0 and result["rest_ratio"] == 0.25


def test_swing_is_undone_when_asked(tmp_path, capsys):
    from improv.cli.evaluate import read_solo, unswing_beats
    from improv.theory.timing import swing_beats

    for beats in (0.0, 0.25, 0.5, 0.75, 3.5, 7.9):
        assert unswing_beats(swing_beats(beats, 0.5), 0.5) == pytest.approx(beats)
    swung = [TimedNote(swing_beats(i * 0.5, 0.5), 0.3, 60, 90) for i in range(8)]
    midi = write_solo(tmp_path / "swung.mid", swung)
    assert [n.onset for n in read_solo(midi, 0.5)] == [6 * i for i in range(8)]
    assert [n.onset for n in read_solo(midi)][:2] == [0, 8]  # as written: a triplet offbeat
    assert main(["evaluate", str(midi), "--changes", "C", "--swing", "0.9"]) == 2


def test_cli_generated_solo_end_to_end(tmp_path, capsys):
    model = random_model_dir(tmp_path / "model")
    out = tmp_path / "gen.mid"
    args = ["generate", "--out", str(out), "--tune", "F Blues", "--model", str(model), "--seed", "2"]
    assert main(args) == 0
    capsys.readouterr()
    assert main(["evaluate", str(out), "--tune", "F Blues", "--json"]) == 0
    [result] = json.loads(capsys.readouterr().out)
    assert result["notes"] > 10
    assert 0.0 <= result["chord_tone"] <= 1.0 and 0.0 <= result["rest_ratio"] < 1.0


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda d: d / "missing.mid", "no such file"),
        (lambda d: _write(d / "junk.mid", b"this is not midi"), "corrupt or truncated MIDI file"),
        (lambda d: _truncated(d), "corrupt or truncated MIDI file"),
        (lambda d: _no_notes(d), "no notes"),
    ],
)
def test_cli_bad_files_exit_2(tmp_path, capsys, make, message):
    path = make(tmp_path)
    assert main(["evaluate", str(path), "--changes", "Cmaj7"]) == 2
    err = capsys.readouterr().err
    assert message in err and str(path.name) in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_cli_bad_options_exit_2(tmp_path, capsys):
    midi = write_solo(tmp_path / "solo.mid", [TimedNote(0.0, 1.0, 60, 90)])
    assert main(["evaluate", str(midi), "--tune", "no such tune"]) == 2
    assert main(["evaluate", str(midi), "--tune", "F Blues", "--changes", "C7"]) == 2
    assert main(["evaluate", str(midi), "--changes", "Hmaj7"]) == 2
    assert main(["evaluate", str(midi), "--changes", "C7", "--reference", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 4


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _truncated(folder: Path) -> Path:
    whole = write_solo(folder / "whole.mid", [TimedNote(i * 0.5, 0.5, 60 + i, 90) for i in range(32)])
    return _write(folder / "cut.mid", whole.read_bytes()[:60])


def _no_notes(folder: Path) -> Path:
    mid = mido.MidiFile(type=1)
    track = mido.MidiTrack()
    track.append(mido.MetaMessage("track_name", name="improv", time=0))
    mid.tracks.append(track)
    mid.save(folder / "silent.mid")
    return folder / "silent.mid"


def test_cli_musicianship_table_with_and_without_references(tmp_path, capsys, monkeypatch):
    notes = [TimedNote(i * 1.0, 0.9, p, 90) for i, p in enumerate([60, 64, 67, 71] * 4)]
    midi = write_solo(tmp_path / "solo.mid", notes)
    monkeypatch.setenv("IMPROV_SHARED", str(tmp_path / "nothing"))
    assert main(["evaluate", str(midi), "--changes", "Cmaj7 | Cmaj7 | Cmaj7 | Cmaj7"]) == 0
    out = capsys.readouterr().out
    assert "b7 -> 3rd by step" in out and "notes per beat (120-160 BPM)" in out
    assert "WJazzD not found" in out and "Impro-Visor not found" in out
    assert main(["evaluate", str(midi), "--changes", "Cmaj7 | Cmaj7 | Cmaj7 | Cmaj7", "--json"]) == 0
    [result] = json.loads(capsys.readouterr().out)
    assert result["musicianship"]["range"] == 11 and result["musicianship"]["tempo"] == pytest.approx(120)
    assert result["bands"] == {}
