"""Training end to end on a corpus made at test time: fit, export, load in numpy, generate."""

from __future__ import annotations

import json

import mido
import numpy as np
import pytest
from modelkit import run_improv, scale_line

pytestmark = pytest.mark.train


def write_midi(path, line, tempo=120):
    """A two-track MIDI file: a melody track and a chord track (whole-note shells of the changes)."""
    mid = mido.MidiFile(type=1, ticks_per_beat=96)
    melody, chords = mido.MidiTrack(), mido.MidiTrack()
    melody.append(mido.MetaMessage("track_name", name="Melody"))
    chords.append(mido.MetaMessage("track_name", name="Piano"))
    events = []
    for n in line.notes:
        events += [(n.onset * 8, 1, n.pitch), ((n.onset + n.duration) * 8, 0, n.pitch)]
    now = 0
    for tick, on, pitch in sorted(events, key=lambda e: (e[0], e[1])):
        melody.append(
            mido.Message(
                "note_on" if on else "note_off", note=pitch, velocity=80 if on else 0, time=tick - now
            )
        )
        now = tick
    bars = max(n.onset for n in line.notes) // 48 + 1
    now = 0
    for bar in range(bars):
        chord = line.chord_at(bar * 48)
        pitches = sorted(48 + pc for pc in chord.tones)
        for i, p in enumerate(pitches):
            chords.append(mido.Message("note_on", note=p, velocity=60, time=bar * 384 - now if i == 0 else 0))
            now = bar * 384
        for i, p in enumerate(pitches):
            chords.append(
                mido.Message("note_off", note=p, velocity=0, time=(bar + 1) * 384 - 8 - now if i == 0 else 0)
            )
            now = (bar + 1) * 384 - 8
    mid.tracks += [melody, chords]
    mid.save(path)


def test_train_command_writes_a_model_directory_that_generates(tmp_path):
    pytest.importorskip("keras", reason="training needs the [train] extra")
    files = []
    for i in range(4):
        files.append(tmp_path / f"piece{i}.mid")
        write_midi(files[-1], scale_line(f"piece{i}", bars=16, seed=i))
    out = tmp_path / "model"
    args = ["--epochs", "2", "--units", "8", "--window", "16", "--val-split", "0.25", "--min-count", "1"]
    result = run_improv("train", "--corpus", *map(str, files), "--out", str(out), *args)
    assert result.returncode == 0, result.stderr[-2000:]
    assert {p.name for p in out.iterdir()} >= {"model.keras", "cell.npz", "vocab.json", "card.json"}
    card = json.loads((out / "card.json").read_text())
    assert card["pieces"] == {"train": 3, "validation": 1}
    assert card["units"] == 8 and card["epochs_run"] == 2
    assert card["ngram_baseline"]["nll"] > 0 and card["validation"]["nll"] > 0
    assert "attribution" not in card  # no WJazzD in this corpus
    assert card["command"].startswith("improv train") or "train" in card["command"]
    with np.load(out / "cell.npz") as w:
        assert w["recurrent"].shape == (8, 32)
    gen = run_improv("generate", "--out", str(tmp_path / "s.mid"), "--model", str(out), "--bars", "4")
    assert gen.returncode == 0, gen.stderr


def test_train_refuses_a_corpus_with_one_piece(tmp_path):
    write_midi(tmp_path / "one.mid", scale_line(bars=4))
    result = run_improv("train", "--corpus", str(tmp_path / "one.mid"), "--out", str(tmp_path / "m"))
    assert result.returncode == 2 and "at least two pieces" in result.stderr
