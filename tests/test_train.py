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


def _corpus(tmp_path, pieces=4):
    files = []
    for i in range(pieces):
        files.append(tmp_path / f"piece{i}.mid")
        write_midi(files[-1], scale_line(f"piece{i}", bars=16, seed=i))
    return [str(f) for f in files]


TINY = ["--epochs", "2", "--units", "8", "--window", "16", "--val-split", "0.25", "--min-count", "1",
        "--batch-size", "8"]


def test_train_a_stacked_degree_model_with_version_2_conditioning(tmp_path):
    pytest.importorskip("keras", reason="training needs the [train] extra")
    out = tmp_path / "model"
    result = run_improv("train", "--corpus", *_corpus(tmp_path), "--out", str(out), *TINY, "--layers", "2")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "epoch 2/2 done" in result.stderr  # the progress lines
    card = json.loads((out / "card.json").read_text())
    vocab = json.loads((out / "vocab.json").read_text())
    assert card["layers"] == 2 and card["vocabulary"] == "degree" and vocab["version"] == 2
    assert vocab["conditioning"]["version"] == 2 and card["distribute"] == {"strategy": "none", "replicas": 1}
    assert card["validation"]["nll_per_note"] >= card["validation"]["nll"]  # rests' NLL spread over notes
    assert any("+chord+next+beat" in key for key in card["ngram_baseline"]["nll_by_model"])
    with np.load(out / "cell.npz") as w:
        assert w["kernel_1"].shape == (8, 32) and w["recurrent_1"].shape == (8, 32)
    gen = run_improv("generate", "--out", str(tmp_path / "s.mid"), "--model", str(out), "--bars", "4")
    assert gen.returncode == 0, gen.stderr


@pytest.mark.slow
def test_train_mirrored_over_two_logical_cpu_devices(tmp_path):
    pytest.importorskip("keras", reason="training needs the [train] extra")
    out = tmp_path / "model"
    result = run_improv(
        "train", "--corpus", *_corpus(tmp_path), "--out", str(out), *TINY,
        "--distribute", "mirrored", "--cpu-devices", "2",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    card = json.loads((out / "card.json").read_text())
    assert card["distribute"] == {"strategy": "mirrored", "replicas": 2}
    assert card["epochs_run"] == 2 and card["validation"]["nll"] > 0


def _free_ports(n):
    import socket

    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


@pytest.mark.slow
def test_train_multiworker_with_two_worker_processes_on_localhost(tmp_path):
    pytest.importorskip("keras", reason="training needs the [train] extra")
    import os
    import subprocess
    import sys

    corpus = _corpus(tmp_path)
    workers = [f"127.0.0.1:{p}" for p in _free_ports(2)]
    procs = []
    for index in range(2):
        env = dict(os.environ, TF_CONFIG=json.dumps(
            {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}))
        out = tmp_path / f"model{index}"
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "improv", "train", "--corpus", *corpus, "--out", str(out), *TINY,
             "--distribute", "multiworker"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        ))
    results = [p.communicate(timeout=600) for p in procs]
    for proc, (_, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err[-2000:]
    card = json.loads((tmp_path / "model0" / "card.json").read_text())
    assert card["distribute"] == {"strategy": "multiworker", "replicas": 2}
    assert not (tmp_path / "model1").exists()  # only the chief writes the model
    assert "worker done" in results[1][0]
