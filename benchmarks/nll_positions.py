"""Why a model's Keras ``val_loss`` and its card's validation NLL differ: one model, three measurements.

``python -m benchmarks.nll_positions [MODEL_DIR] [--corpus WJAZZD]`` rebuilds the training run's split
(seed and validation share from the card), then measures on the validation solos with the exported
weights (numpy, no TensorFlow):

- ``keras``: what Keras' ``val_loss`` computes: 128-value windows (stride 64, so most values twice),
  each from a zero state, the loss summed and divided by every slot *including padding*;
- ``windows``: the same windows divided by the values they hold (the padding not counted);
- ``whole``: each solo from a zero state to its end with one state (the live cell; the card's ``nll``);

and the NLL by position in the solo (0-127, 128-255, 256-511, 512+) for ``whole`` and for ``windows``
(position inside the window). Prints JSON.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from improv.corpus.loader import load_many
from improv.generate import default_model_dir
from improv.model import forward
from improv.model.dataset import START, encode_lines, split_by_piece, subset, to_sequences
from improv.model.store import read_model_dir
from improv.reference import wjazzd_dir


def validation_set(model_dir: Path, corpus: list[str], limit: int = 0):
    """The model's files and its validation sequences, split as its training run split them."""
    files = read_model_dir(model_dir)
    card = files.card
    lines = [line for result in load_many(corpus) for line in result.lines]
    lines = lines[:limit] if limit else lines
    rng = np.random.default_rng(card.get("seed", 0))
    tokens = encode_lines(lines, card.get("vocabulary", "degree"))
    _, val_idx = split_by_piece(len(lines), card.get("val_split", 0.1), rng)
    version = int(files.meta.get("conditioning", {}).get("version", 1))
    seqs = to_sequences(lines, tokens, files.vocab, version)
    assert len(seqs.values) == len(lines), "a line without tokens would shift the split"
    return files, subset(seqs, val_idx)


def windowed(files, seqs, length: int = 128, stride: int = 64) -> dict:
    """Keras' windows: the loss per slot (padding counted) and per value, and NLL by window position."""
    values, conds, first = [], [], []
    for vals, hot in zip(seqs.values, seqs.conds, strict=True):
        for start in range(0, max(len(vals) - 8, 0) + 1, stride):
            stop = min(start + length, len(vals))
            if stop - start < 8:
                continue
            values.append(vals[start:stop]), conds.append(hot[start:stop])
            first.append(START if start == 0 else int(vals[start - 1]))
    run = forward.run(files.weights, len(files.vocab), values, conds, first=first)
    total = float(sum(x.sum() for x in run.nll))
    return {
        "windows": len(values),
        "keras_val_loss_emulated": total / (len(values) * length),
        "nll_per_value": forward.mean_nll(run.nll),
        "by_window_position": forward.by_position(run.nll, (32, 64, 96)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", type=Path, default=default_model_dir())
    parser.add_argument("--corpus", default=str(wjazzd_dir()), help="training corpus (default: %(default)s)")
    parser.add_argument("--limit", type=int, default=0)
    args = parser.parse_args(argv)
    files, val = validation_set(args.model, [args.corpus], args.limit)
    whole = forward.run(files.weights, len(files.vocab), val.values, val.conds)
    lengths = [len(v) for v in val.values]
    report = {
        "model": str(args.model),
        "card": {k: files.card.get("validation", {}).get(k) for k in ("nll", "keras_val_loss")},
        "solos": len(lengths),
        "values": int(sum(lengths)),
        "solo_length": {"median": float(np.median(lengths)), "max": int(max(lengths))},
        "whole": {"nll_per_value": forward.mean_nll(whole.nll),
                  "by_position": forward.by_position(whole.nll)},
        "windows_128_stride_64": windowed(files, val),
    }
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
