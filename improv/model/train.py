"""Training: the only module that imports TensorFlow/Keras.

One fused ``LSTM`` layer over whole windows (not a cell unrolled by hand), a dense layer to logits, sparse
cross-entropy; validation split by piece; early stopping; seeded. ``export`` writes a model directory:
``model.keras``, ``cell.npz`` (numpy weights for ``improv.model.cell``), ``vocab.json`` and ``card.json``.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import shlex
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from improv.model import conditioning
from improv.model.dataset import (
    Sequences,
    all_values,
    encode_lines,
    split_by_piece,
    subset,
    to_sequences,
    windows,
)
from improv.model.ngram import best_ngram
from improv.theory.values import Line, Vocabulary

log = logging.getLogger(__name__)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402  (after the log-level variable)

WJAZZD_ATTRIBUTION = (
    "Contains information from the Weimar Jazz Database (Jazzomat Research Project, HfM Weimar), "
    "which is made available under the ODbL v1.0 (https://opendatacommons.org/licenses/odbl/1.0/). "
    "Pfleiderer, Frieler, Abesser, Zaddach, Burkhart (eds.), Inside the Jazzomat, Schott Campus, 2017."
)


@keras.saving.register_keras_serializable(package="improv")
class OneHot(keras.layers.Layer):
    """Integer value indices to one-hot vectors; index -1 (the start) gives all zeros."""

    def __init__(self, depth: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.depth = depth

    def call(self, inputs):
        return keras.ops.one_hot(inputs, self.depth)

    def get_config(self) -> dict:
        return {**super().get_config(), "depth": self.depth}


@dataclass
class TrainConfig:
    """Everything that decides a training run."""

    units: int = 64
    epochs: int = 30
    batch_size: int = 64
    window: int = 64
    learning_rate: float = 0.005
    val_split: float = 0.1
    patience: int = 3
    min_count: int = 3
    seed: int = 0
    conditioning: bool = True
    verbose: int = 1
    extra: dict = field(default_factory=dict)


def build_model(n_values: int, cond_size: int, units: int) -> keras.Model:
    """prev value index (+ conditioning) -> LSTM -> logits over the vocabulary, for whole windows."""
    prev = keras.Input(shape=(None,), dtype="int32", name="prev")
    inputs = [prev]
    x = OneHot(n_values, name="one_hot")(prev)
    if cond_size:
        cond = keras.Input(shape=(None, cond_size), name="cond")
        inputs.append(cond)
        x = keras.layers.Concatenate(name="with_cond")([x, cond])
    h = keras.layers.LSTM(units, return_sequences=True, name="lstm")(x)
    logits = keras.layers.Dense(n_values, name="dense")(h)
    return keras.Model(inputs, logits, name="improv_lstm")


def build_step_model(model: keras.Model) -> keras.Model:
    """A one-step stateful view of a trained model (same weights): (prev, cond, a, c) -> (logits, a, c).

    Used by the parity test and the latency benchmark as the Keras reference.
    """
    lstm = model.get_layer("lstm")
    dense = model.get_layer("dense")
    n_values = model.get_layer("one_hot").depth
    cond_size = model.input_shape[1][-1] if isinstance(model.input_shape, list) else 0
    prev = keras.Input(shape=(1,), dtype="int32", name="prev")
    a0 = keras.Input(shape=(lstm.units,), name="a0")
    c0 = keras.Input(shape=(lstm.units,), name="c0")
    inputs = [prev]
    x = OneHot(n_values)(prev)
    if cond_size:
        cond = keras.Input(shape=(1, cond_size), name="cond")
        inputs.append(cond)
        x = keras.layers.Concatenate()([x, cond])
    step_lstm = keras.layers.LSTM(lstm.units, return_state=True, name="lstm_step")
    h, a, c = step_lstm(x, initial_state=[a0, c0])
    step_dense = keras.layers.Dense(n_values, name="dense_step")
    logits = step_dense(h)
    step = keras.Model([*inputs, a0, c0], [logits, a, c])
    step_lstm.set_weights(lstm.get_weights())
    step_dense.set_weights(dense.get_weights())
    return step


def fit(lines: Sequence[Line], config: TrainConfig) -> tuple[keras.Model, Vocabulary, dict]:
    """Encode, split by piece, fit with early stopping; returns the model, vocabulary and metrics."""
    keras.utils.set_random_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    tokens = encode_lines(lines)
    train_idx, val_idx = split_by_piece(len(lines), config.val_split, rng)
    train_values = all_values([tokens[i] for i in train_idx])
    vocab, rare = Vocabulary.build(train_values, config.min_count)
    seqs = to_sequences(lines, tokens, vocab)
    train_seqs, val_seqs = subset(seqs, train_idx), subset(seqs, val_idx)
    cond_size = conditioning.COND_SIZE if config.conditioning else 0

    model = build_model(len(vocab), cond_size, config.units)
    model.compile(
        optimizer=keras.optimizers.Adam(config.learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        weighted_metrics=["sparse_categorical_accuracy"],
    )
    train_data = dataset(
        *_arrays(train_seqs, config, cond_size), batch_size=config.batch_size, shuffle=True, seed=config.seed
    )
    val_data = dataset(*_arrays(val_seqs, config, cond_size), batch_size=config.batch_size)
    callbacks = [
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=config.patience, restore_best_weights=True)
    ]
    started = time.perf_counter()
    history = model.fit(
        train_data,
        validation_data=val_data,
        epochs=config.epochs,
        callbacks=callbacks,
        verbose=config.verbose,
    )
    seconds = time.perf_counter() - started
    val_loss, val_acc = model.evaluate(val_data, verbose=0)
    ngram, ngram_scores = best_ngram(train_seqs.values, val_seqs.values, len(vocab))
    metrics = {
        "pieces": {"train": len(train_idx), "validation": len(val_idx)},
        "tokens": {"train": train_seqs.tokens, "validation": val_seqs.tokens},
        "notes": int(sum(len(line.notes) for line in lines)),
        "values": len(vocab),
        "rare_values_mapped": rare,
        "min_count": config.min_count,
        "epochs_run": len(history.history["loss"]),
        "train_seconds": round(seconds, 1),
        "validation": {"nll": float(val_loss), "accuracy": float(val_acc)},
        "ngram_baseline": {
            "best_order": ngram.order,
            "smoothing": ngram.smoothing,
            "nll_by_model": ngram_scores,
            "nll": min(ngram_scores.values()),
        },
        "nll_improvement_over_ngram": 1.0 - float(val_loss) / min(ngram_scores.values()),
        "history": {k: [float(x) for x in v] for k, v in history.history.items()},
    }
    return model, vocab, metrics


def dataset(inputs: dict, targets, weights=None, *, batch_size: int, shuffle: bool = False, seed: int = 0):
    """A cached tf.data pipeline of (inputs, targets[, weights]), reshuffled every epoch when asked.

    Feeding ``fit`` numpy arrays rebuilds an input adapter every epoch; on small corpora that costs as
    much as the training steps themselves.
    """
    import tensorflow as tf

    parts = (inputs, targets) if weights is None else (inputs, targets, weights)
    data = tf.data.Dataset.from_tensor_slices(parts).cache()
    if shuffle:
        data = data.shuffle(len(targets), seed=seed, reshuffle_each_iteration=True)
    return data.batch(batch_size).prefetch(2)


def _arrays(seqs: Sequences, config: TrainConfig, cond_size: int):
    """Model inputs, targets and weights for a set of sequences."""
    prev, cond, target, weight = windows(seqs, config.window, stride=config.window // 2)
    inputs = {"prev": prev, "cond": cond} if cond_size else {"prev": prev}
    return inputs, target, weight


def export(
    model: keras.Model,
    vocab: Vocabulary,
    out: Path,
    *,
    config: TrainConfig,
    metrics: dict,
    corpus: Sequence[str],
    attribution: str | None = None,
) -> Path:
    """Write the model directory: model.keras, cell.npz, vocab.json, card.json."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model.save(out / "model.keras")
    kernel, recurrent, bias = model.get_layer("lstm").get_weights()
    dense_w, dense_b = model.get_layer("dense").get_weights()
    np.savez(
        out / "cell.npz", kernel=kernel, recurrent=recurrent, bias=bias, dense_w=dense_w, dense_b=dense_b
    )
    cond = conditioning.describe() if kernel.shape[0] > len(vocab) else {"size": 0}
    vocab.save(out / "vocab.json", {"conditioning": cond})
    card = {
        "name": out.name,
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "command": " ".join(shlex.quote(a) for a in ["improv", *sys.argv[1:]])
        if sys.argv and sys.argv[0].endswith("improv")
        else " ".join(shlex.quote(a) for a in sys.argv),
        "corpus": list(corpus),
        "units": config.units,
        "window": config.window,
        "batch_size": config.batch_size,
        "learning_rate": config.learning_rate,
        "seed": config.seed,
        "epochs": config.epochs,
        "conditioning": cond,
        **{k: v for k, v in metrics.items() if k != "history"},
        "history": metrics.get("history", {}),
        **config.extra,
    }
    if attribution:
        card["attribution"] = attribution
        card["licence"] = "ODbL-1.0 (the model is a derived database of WJazzD)"
    (out / "card.json").write_text(json.dumps(card, indent=1) + "\n")
    return out
