"""Training end to end on a corpus made at test time: fit, export, load in numpy, generate."""

from __future__ import annotations

import json
from pathlib import Path

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


def test_train_version_3_conditioning_shared_features_dropouts_and_a_falling_rate(tmp_path):
    pytest.importorskip("keras", reason="training needs the [train] extra")
    out = tmp_path / "model"
    result = run_improv("train", "--corpus", *_corpus(tmp_path), "--out", str(out), *TINY, "--layers", "2",
                        "--conditioning-version", "3", "--output-dropout", "0.3", "--lr-plateau", "0.5",
                        "--recurrent-dropout", "0.2", "--carry-state", "--shared-features")
    assert result.returncode == 0, result.stderr[-2000:]
    card = json.loads((out / "card.json").read_text())
    vocab = json.loads((out / "vocab.json").read_text())
    assert vocab["conditioning"]["version"] == 3
    assert vocab["conditioning"]["groups"][-1] == ["prev_degree", 13]
    assert card["output_dropout"] == 0.3 and card["lr_plateau"] == 0.5 and card["shared_features"] is True
    assert card["recurrent_dropout"] == 0.2 and card["cell_step"] == 2
    assert any(key.endswith("+prev") for key in card["ngram_baseline"]["nll_by_model"])
    with np.load(out / "cell.npz") as w:
        assert w["kernel"].shape[0] == len(vocab["values"]) + vocab["conditioning"]["size"]
    gen = run_improv("generate", "--out", str(tmp_path / "s.mid"), "--model", str(out), "--bars", "4")
    assert gen.returncode == 0, gen.stderr
    keras = pytest.importorskip("keras")
    from improv.model import train

    saved = keras.saving.load_model(out / "model.keras")  # the shared layers load back and fold the same
    with np.load(out / "cell.npz") as w:
        assert np.allclose(train.cell_arrays(saved)["dense_w"], w["dense_w"])
    bad = run_improv("train", "--corpus", *_corpus(tmp_path), "--out", str(out), "--lr-plateau", "1.5")
    assert bad.returncode == 2 and "--lr-plateau" in bad.stderr and "Traceback" not in bad.stderr


def test_train_with_carried_state_reports_stages_and_nll_by_position(tmp_path):
    pytest.importorskip("keras", reason="training needs the [train] extra")
    out = tmp_path / "model"
    result = run_improv("train", "--corpus", *_corpus(tmp_path), "--out", str(out), *TINY, "--layers", "2",
                        "--carry-state")
    assert result.returncode == 0, result.stderr[-2000:]
    for stage in ("stage 1/6 corpus", "stage 2/6 encode", "stage 3/6 n-gram baselines", "stage 4/6 fit",
                  "stage 5/6 validation", "stage 6/6 export"):
        assert f"{stage} done in" in result.stderr
    assert "validation NLL" in result.stderr
    card = json.loads((out / "card.json").read_text())
    assert card["carry_state"] is True and card["validation"]["keras_val_loss"] is None
    assert set(card["stage_seconds"]) == {"corpus", "encode", "n-gram baselines", "fit", "validation"}
    by_position = card["validation"]["nll_by_position"]
    assert sum(b["values"] for b in by_position.values()) == card["tokens"]["validation"]
    assert len(card["history"]["val_nll"]) == card["epochs_run"]
    keras = pytest.importorskip("keras")
    from improv.model import train

    exported = keras.saving.load_model(out / "model.keras")  # the state table is training's only
    assert [i.name for i in exported.inputs] == ["prev", "cond"]
    assert not any(layer.name == train.STATE_TABLE for layer in exported.layers)
    gen = run_improv("generate", "--out", str(tmp_path / "s.mid"), "--model", str(out), "--bars", "4")
    assert gen.returncode == 0, gen.stderr


def test_a_carried_window_computes_what_the_whole_solo_computes_there():
    """The state table makes window k start where its solo's run from the beginning is: Keras over the
    window gives the NLL the numpy forward pass gives at those positions of the whole solo."""
    keras = pytest.importorskip("keras", reason="training needs the [train] extra")
    from improv.model import forward, train
    from improv.model.dataset import to_sequences, window_spans
    from improv.theory import degrees

    lines = [scale_line(f"l{i}", bars=24, seed=i) for i in range(3)]
    toks = [degrees.encode(line) for line in lines]
    vocab, _ = degrees.DegreeVocabulary.build([t.value for ts in toks for t in ts], 1)
    seqs = to_sequences(lines, toks, vocab, version=2)
    config = train.TrainConfig(units=8, layers=2, window=16, carry_state=True)
    spans = window_spans(seqs, 16)
    keras.utils.set_random_seed(0)
    model = train.build_model(len(vocab), config.cond_size, 8, 2, windows=len(spans))
    carry = train.CarryState(seqs.values, seqs.conds, len(vocab), spans, train.cell_arrays, train.STATE_TABLE)
    carry.set_model(model)
    carry.on_epoch_begin(0)
    inputs, target, weight = train._arrays(seqs, config, 2, 16)
    logits = keras.ops.convert_to_numpy(model(inputs, training=False))
    whole = forward.run(train.cell_arrays(model), len(vocab), seqs.values, seqs.conds).nll
    log_p = logits - logits.max(-1, keepdims=True)
    log_p -= np.log(np.exp(log_p).sum(-1, keepdims=True))
    for row, (n, start, stop) in enumerate(spans):
        ours = -log_p[row, np.arange(stop - start), target[row, : stop - start]]
        assert np.abs(ours - whole[n][start:stop]).max() < 1e-4, (row, start)
    assert any(start > 0 for _, start, _ in spans)
    plain = train.plain_model(model)  # the exported model: no table, the same weights
    assert len(plain.inputs) == 2 and train.plain_model(plain) is plain
    prev = np.concatenate([[-1], seqs.values[0][:-1]]).astype(np.int32)[None]
    cond = np.zeros((1, len(prev[0]), config.cond_size), np.float32)
    cond[0, np.arange(len(prev[0]))[:, None], seqs.conds[0]] = 1.0
    logits = keras.ops.convert_to_numpy(plain({"prev": prev, "cond": cond}, training=False))[0]
    log_p = logits - logits.max(-1, keepdims=True)
    log_p -= np.log(np.exp(log_p).sum(-1, keepdims=True))
    assert np.abs(-log_p[np.arange(len(prev[0])), seqs.values[0]] - whole[0]).max() < 1e-4


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


def test_train_options_come_from_the_table_and_build_the_config_they_name(tmp_path):
    pytest.importorskip("keras", reason="training needs the [train] extra")
    import argparse

    from improv.cli import table
    from improv.cli import train as train_cli
    from improv.model import train

    parser = argparse.ArgumentParser()
    train_cli.add_parser(parser.add_subparsers())
    args = parser.parse_args([
        "train", "--corpus", "a b.mid", "c", "--out", str(tmp_path / "m"), "--units", "32", "--layers", "2",
        "--dropout", "0.1", "--output-dropout", "0.2", "--recurrent-dropout", "0.3", "--vocabulary", "kind",
        "--conditioning-version", "3", "--carry-state", "--seed", "7", "--lr-plateau", "0.5",
    ])
    opts = train_cli._options(args)
    assert opts["corpus"] == (Path("a b.mid"), Path("c"))  # a path with a space
    config = train_cli._config(opts, train)
    assert (config.units, config.layers, config.design) == (32, 2, "kind")
    assert (config.cond_version, config.seed) == (3, 7)
    assert config.dropout == train.Dropout(0.1, 0.2, 0.3) and config.carry_state and config.lr_plateau == 0.5
    used = set(train_cli.CONFIG_FIELDS) | {"corpus", "out", "limit", "cpu_devices", "no_conditioning",
                                          "conditioning_version", "vocabulary", "dropout", "output_dropout",
                                          "recurrent_dropout"}
    assert {row.name for row in table.rows(table.TRAIN)} == used  # every row goes somewhere
    (tmp_path / "a file").write_text("")
    for bad, flag in ((["--epochs", "0"], "--epochs"), (["--vocabulary", "nope"], "--vocabulary"),
                      (["--val-split", "0.9"], "--val-split"), (["--distribute", "tpu"], "--distribute"),
                      (["--out", str(tmp_path / "a file")], "--out")):  # refused before the corpus is read
        result = run_improv("train", "--corpus", str(tmp_path), "--out", str(tmp_path / "m"), *bad)
        assert result.returncode == 2 and result.stderr.startswith(f"improv: error: {flag}:"), result.stderr
        assert "Traceback" not in result.stderr


def test_a_share_of_the_training_solos_keeps_the_same_validation_solos(tmp_path):
    pytest.importorskip("keras", reason="training needs the [train] extra")
    from improv.model.dataset import share_of, split_by_piece

    train_idx, val_idx = split_by_piece(20, 0.25, np.random.default_rng(0))
    part = share_of(train_idx, 0.5, np.random.default_rng(1))
    assert len(part) == 8 and set(part) <= set(train_idx) and part == sorted(part)
    assert share_of(train_idx, 0.01, np.random.default_rng(1)) != []  # at least one
    out = tmp_path / "model"
    corpus = _corpus(tmp_path, pieces=6)
    args = [*TINY, "--epochs", "1", "--val-split", "0.2"]
    result = run_improv("train", "--corpus", *corpus, "--out", str(out), *args, "--train-share", "0.5")
    assert result.returncode == 0, result.stderr[-2000:]
    card = json.loads((out / "card.json").read_text())
    assert card["pieces"] == {"train": 2, "validation": 1} and card["train_share"] == 0.5
