"""Test helpers: small synthetic lines and model directories made at test time (no shared data)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from improv.model.conditioning import COND_SIZE, describe
from improv.theory.harmony import parse_chord
from improv.theory.progression import parse_progression
from improv.theory.values import Line, Note, Value, Vocabulary, encode


def scale_line(name: str = "line", bars: int = 8, seed: int = 0) -> Line:
    """A random but musical-ish line of eighths and quarters over ii-V-I, with a rest now and then."""
    rng = np.random.default_rng(seed)
    prog = parse_progression("Dm7 | G7 | Cmaj7 | Cmaj7")
    notes, tick, pitch = [], 0, 62
    while tick < bars * 48:
        dur = int(rng.choice([6, 6, 6, 12, 4, 3]))
        if rng.random() < 0.1:
            tick += 12
            continue
        pitch = int(np.clip(pitch + rng.choice([-3, -2, -1, 1, 2, 4]), 55, 79))
        notes.append(Note(tick, dur, pitch))
        tick += dur
    return Line(name, notes, prog.chord_at, 4)


def random_model_dir(path: Path, seed: int = 0, units: int = 16, cond: bool = True) -> Path:
    """A model directory with random weights over the values of a few synthetic lines."""
    rng = np.random.default_rng(seed)
    values = [t.value for i in range(4) for t in encode(scale_line(seed=i))]
    values += [Value("R", 12), Value("C", 6)]
    vocab = Vocabulary(values)
    n_in = len(vocab) + (COND_SIZE if cond else 0)
    path.mkdir(parents=True, exist_ok=True)
    np.savez(
        path / "cell.npz",
        kernel=rng.normal(0, 0.3, (n_in, 4 * units)).astype(np.float32),
        recurrent=rng.normal(0, 0.3, (units, 4 * units)).astype(np.float32),
        bias=np.zeros(4 * units, np.float32),
        dense_w=rng.normal(0, 0.5, (units, len(vocab))).astype(np.float32),
        dense_b=np.zeros(len(vocab), np.float32),
    )
    vocab.save(path / "vocab.json", {"conditioning": describe() if cond else {"size": 0}})
    (path / "card.json").write_text('{"name": "random test model"}\n')
    return path


def degree_model_dir(path: Path, seed: int = 0, units: int = 16, layers: int = 2,
                     cond_version: int = 2) -> Path:
    """A degree-values (version 2) model directory with random weights, version-2 (or 3) conditioning,
    stacked."""
    from improv.theory import degrees

    rng = np.random.default_rng(seed)
    values = [t.value for i in range(4) for t in degrees.encode(scale_line(seed=i))]
    values += [degrees.Degree(None, 12), degrees.Degree(4, 6, "+"), degrees.Degree(4, 3, "=")]
    vocab = degrees.DegreeVocabulary(values)
    n_in = len(vocab) + describe(cond_version)["size"]
    arrays = {
        "kernel": rng.normal(0, 0.3, (n_in, 4 * units)),
        "recurrent": rng.normal(0, 0.3, (units, 4 * units)),
        "bias": np.zeros(4 * units),
        "dense_w": rng.normal(0, 0.5, (units, len(vocab))),
        "dense_b": np.zeros(len(vocab)),
    }
    for k in range(1, layers):
        arrays[f"kernel_{k}"] = rng.normal(0, 0.3, (units, 4 * units))
        arrays[f"recurrent_{k}"] = rng.normal(0, 0.3, (units, 4 * units))
        arrays[f"bias_{k}"] = np.zeros(4 * units)
    path.mkdir(parents=True, exist_ok=True)
    np.savez(path / "cell.npz", **{k: v.astype(np.float32) for k, v in arrays.items()})
    vocab.save(path / "vocab.json", {"conditioning": describe(cond_version)})
    (path / "card.json").write_text('{"name": "random degree test model"}\n')
    return path


def chord(symbol: str):
    """Shorthand for parse_chord."""
    return parse_chord(symbol)


def run_improv(*args: str, timeout: float = 300, check: bool = False):
    """Run the `improv` command line in a subprocess, as a user would; returns the CompletedProcess."""
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "-m", "improv", *args], capture_output=True, text=True, timeout=timeout, check=check
    )
