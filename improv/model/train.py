"""Training: the only module that imports TensorFlow/Keras.

Fused ``LSTM`` layers (one, or a stack) over whole windows (not a cell unrolled by hand), a dense layer to
logits, sparse cross-entropy; validation split by piece; early stopping; seeded. ``export`` writes a model
directory: ``model.keras``, ``cell.npz`` (numpy weights for ``improv.model.cell``), ``vocab.json`` and
``card.json``. ``distribute`` runs the same fit under tf.distribute (Mirrored over local devices, or
MultiWorkerMirrored across processes named by ``TF_CONFIG``); the default is one process, no strategy.
"""

from __future__ import annotations

import contextlib
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
    cond_size,
    encode_lines,
    split_by_piece,
    subset,
    to_sequences,
    windows,
)
from improv.model.ngram import best_ngram
from improv.model.trainkit import ngram_conditions, per_note, sequence_nll
from improv.theory.degrees import DegreeVocabulary
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
    cond_version: int = 2  # 1: quality/beat/sub-beat; 2: also next chord, height, tempo, phrase, form
    design: str = "degree"  # the vocabulary: "degree" (values version 2) or "kind" (kind/leap, version 1)
    layers: int = 1
    dropout: float = 0.0  # between stacked layers (training only)
    distribute: str | None = None  # None, "mirrored" or "multiworker"
    verbose: int = 1
    extra: dict = field(default_factory=dict)

    @property
    def cond_size(self) -> int:
        """Conditioning inputs the model takes."""
        return cond_size(self.cond_version) if self.conditioning else 0


def layer_name(k: int) -> str:
    """Keras name of LSTM layer ``k`` (0 is the first; names of one-layer models are unchanged)."""
    return "lstm" if k == 0 else f"lstm_{k}"


def build_model(
    n_values: int, cond_size: int, units: int, layers: int = 1, dropout: float = 0.0
) -> keras.Model:
    """prev value index (+ conditioning) -> LSTM stack -> logits over the vocabulary, for whole windows."""
    prev = keras.Input(shape=(None,), dtype="int32", name="prev")
    inputs = [prev]
    x = OneHot(n_values, name="one_hot")(prev)
    if cond_size:
        cond = keras.Input(shape=(None, cond_size), name="cond")
        inputs.append(cond)
        x = keras.layers.Concatenate(name="with_cond")([x, cond])
    for k in range(layers):
        if k and dropout:
            x = keras.layers.Dropout(dropout, name=f"dropout_{k}")(x)
        x = keras.layers.LSTM(units, return_sequences=True, name=layer_name(k))(x)
    logits = keras.layers.Dense(n_values, name="dense")(x)
    return keras.Model(inputs, logits, name="improv_lstm")


def lstm_layers(model: keras.Model) -> list:
    """The model's LSTM layers, bottom first."""
    out = []
    while True:
        try:
            out.append(model.get_layer(layer_name(len(out))))
        except ValueError:
            return out


def build_step_model(model: keras.Model) -> keras.Model:
    """A one-step stateful view of a model (prev, cond, a0, c0, ...) -> (logits, a0, c0, ...).

    Used by the parity test and the latency benchmark as the Keras reference.
    """
    lstms = lstm_layers(model)
    dense = model.get_layer("dense")
    n_values = model.get_layer("one_hot").depth
    cond_size = model.input_shape[1][-1] if isinstance(model.input_shape, list) else 0
    units = lstms[0].units
    prev = keras.Input(shape=(1,), dtype="int32", name="prev")
    inputs = [prev]
    x = OneHot(n_values)(prev)
    if cond_size:
        cond = keras.Input(shape=(1, cond_size), name="cond")
        inputs.append(cond)
        x = keras.layers.Concatenate()([x, cond])
    states, outputs, steps = [], [], []
    for k, lstm in enumerate(lstms):
        a0 = keras.Input(shape=(units,), name=f"a{k}")
        c0 = keras.Input(shape=(units,), name=f"c{k}")
        states += [a0, c0]
        step_lstm = keras.layers.LSTM(units, return_state=True, return_sequences=True, name=f"lstm_step_{k}")
        x, a, c = step_lstm(x, initial_state=[a0, c0])
        outputs += [a, c]
        steps.append((step_lstm, lstm))
    step_dense = keras.layers.Dense(n_values, name="dense_step")
    logits = step_dense(x[:, 0, :])
    step = keras.Model([*inputs, *states], [logits, *outputs])
    for step_lstm, lstm in steps:
        step_lstm.set_weights(lstm.get_weights())
    step_dense.set_weights(dense.get_weights())
    return step


def fit(lines: Sequence[Line], config: TrainConfig) -> tuple[keras.Model, Vocabulary, dict]:
    """Encode, split by piece, fit with early stopping; returns the model, vocabulary and metrics."""
    keras.utils.set_random_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    tokens = encode_lines(lines, config.design)
    train_idx, val_idx = split_by_piece(len(lines), config.val_split, rng)
    vocab_cls = DegreeVocabulary if config.design == "degree" else Vocabulary
    vocab, rare = vocab_cls.build(all_values([tokens[i] for i in train_idx]), config.min_count)
    version = config.cond_version if config.conditioning else 1  # the n-gram gets conditions either way
    seqs = to_sequences(lines, tokens, vocab, version)
    train_seqs, val_seqs = subset(seqs, train_idx), subset(seqs, val_idx)
    size = config.cond_size

    model, strategy, history, seconds = _fit_model(config, len(vocab), size, train_seqs, val_seqs, version)
    val_nll = whole_sequence_nll(model, val_seqs, size)
    conds = ngram_conditions(train_seqs.conds, val_seqs.conds, version)
    ngram, ngram_scores = best_ngram(train_seqs.values, val_seqs.values, len(vocab), conds=conds)
    best = min(ngram_scores.values())
    rests = np.array([v.kind == "R" for v in vocab.values])
    val_notes = int(sum(int((~rests[v]).sum()) for v in val_seqs.values))
    metrics = {
        "distribute": {
            "strategy": config.distribute or "none",
            "replicas": strategy.num_replicas_in_sync if strategy is not None else 1,
        },
        "design": config.design,
        "layers": config.layers,
        "pieces": {"train": len(train_idx), "validation": len(val_idx)},
        "tokens": {"train": train_seqs.tokens, "validation": val_seqs.tokens},
        "validation_notes": val_notes,
        "notes": int(sum(len(line.notes) for line in lines)),
        "values": len(vocab),
        "rare_values_mapped": rare,
        "min_count": config.min_count,
        "epochs_run": len(history.history["loss"]),
        "train_seconds": round(seconds, 1),
        "validation": {
            "nll": val_nll,
            "nll_per_note": per_note(val_nll, val_seqs.tokens, val_notes),
            "keras_val_loss": float(min(history.history["val_loss"])),
        },
        "ngram_baseline": {
            "best": min(ngram_scores, key=ngram_scores.get),
            "best_order": ngram.order,
            "smoothing": ngram.smoothing,
            "nll_by_model": ngram_scores,
            "nll": best,
            "nll_per_note": per_note(best, val_seqs.tokens, val_notes),
        },
        "nll_improvement_over_ngram": 1.0 - val_nll / best,
        "history": {k: [float(x) for x in v] for k, v in history.history.items()},
    }
    return model, vocab, metrics


def _fit_model(config: TrainConfig, n_values: int, size: int, train_seqs: Sequences, val_seqs: Sequences,
               version: int):
    """Build and compile the model (under the distribution strategy, if any) and fit it with early
    stopping; returns the model, the strategy, Keras' history and the seconds fitting took."""
    strategy = strategy_for(config.distribute)
    with strategy.scope() if strategy is not None else contextlib.nullcontext():
        model = build_model(n_values, size, config.units, config.layers, config.dropout)
        model.compile(
            optimizer=keras.optimizers.Adam(config.learning_rate),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            weighted_metrics=["sparse_categorical_accuracy"],
        )
    train_arrays = _arrays(train_seqs, config, version)
    train_data = dataset(*train_arrays, batch_size=config.batch_size, shuffle=True, seed=config.seed)
    if config.distribute == "multiworker":
        _build_before_fit(model, strategy, train_arrays, config.batch_size)
    val_data = dataset(*_arrays(val_seqs, config, version), batch_size=config.batch_size)
    callbacks = [
        keras.callbacks.EarlyStopping(
            monitor="val_loss", patience=config.patience, restore_best_weights=True
        ),
        ProgressLog(config.epochs),
    ]
    started = time.perf_counter()
    history = model.fit(
        train_data,
        validation_data=val_data,
        epochs=config.epochs,
        callbacks=callbacks,
        verbose=config.verbose,
    )
    return model, strategy, history, time.perf_counter() - started


def whole_sequence_nll(model: keras.Model, seqs: Sequences, size: int) -> float:
    """Validation NLL per value (nats), each solo run from its start in one piece (the live cell's view)."""
    from improv.model.dataset import START

    log_probs, targets = [], []
    for values, hot in zip(seqs.values, seqs.conds, strict=True):
        prev = np.concatenate([[START], values[:-1]]).astype(np.int32)[None, :]
        inputs = {"prev": prev}
        if size:
            cond = np.zeros((1, len(values), size), np.float32)
            cond[0, np.arange(len(values))[:, None], hot] = 1.0
            inputs["cond"] = cond
        logits = keras.ops.convert_to_numpy(model(inputs, training=False))[0]
        logits = logits - logits.max(axis=1, keepdims=True)
        log_probs.append(logits - np.log(np.exp(logits).sum(axis=1, keepdims=True)))
        targets.append(values)
    total, count = sequence_nll(log_probs, targets)
    return total / max(count, 1)


def _build_before_fit(model: keras.Model, strategy, arrays, batch_size: int) -> None:
    """Build the model and its metrics from a local batch, so that ``fit`` skips its own symbolic build.

    Keras 3 reduces a distributed *dict* batch with ``strategy.reduce`` before building, which fails under
    MultiWorkerMirroredStrategy (keras-team/keras#20329, #20585); building from plain arrays avoids it.
    It also reduces metrics with ``strategy.reduce("MEAN", axis=0)``, which fails on scalars there.
    """
    inputs, targets, weights = arrays
    batch = ({k: v[:batch_size] for k, v in inputs.items()}, targets[:batch_size], weights[:batch_size])
    with strategy.scope():
        model._symbolic_build(data_batch=batch)
    model._maybe_symbolic_build = lambda iterator=None, data_batch=None: None
    from keras.src.backend.tensorflow import trainer as tf_trainer

    if not getattr(tf_trainer.reduce_per_replica, "improv_patched", False):
        original = tf_trainer.reduce_per_replica

        def reduce_per_replica(values, strategy_, reduction):
            # metric results are aggregated across workers already: the local result is the result
            return original(values, strategy_, "first" if reduction == "auto" else reduction)

        reduce_per_replica.improv_patched = True
        tf_trainer.reduce_per_replica = reduce_per_replica


def strategy_for(name: str | None):
    """The tf.distribute strategy for ``--distribute`` (None: the default single-process path).

    ``mirrored`` replicates over the local GPUs, or over every logical CPU device when there is no GPU;
    ``multiworker`` runs one replica per process listed in ``TF_CONFIG`` (collective ops over gRPC).
    """
    if name is None:
        return None
    import tensorflow as tf

    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]
        return tf.distribute.MirroredStrategy(devices=devices)
    if name == "multiworker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(f"unknown strategy {name!r}")


def split_cpu(devices: int) -> None:
    """Split the CPU into ``devices`` logical devices (before TensorFlow starts: tests of Mirrored)."""
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * devices)


def is_chief() -> bool:
    """Whether this process writes the model (always, unless it is a non-chief worker of TF_CONFIG)."""
    try:
        task = json.loads(os.environ.get("TF_CONFIG") or "{}").get("task", {})
    except ValueError:
        return True
    return task.get("type", "worker") in ("chief", "worker") and (
        task.get("type") == "chief" or int(task.get("index", 0)) == 0
    )


class ProgressLog(keras.callbacks.Callback):
    """A progress bar line every tenth of an epoch: epoch, share done, loss, elapsed and time left."""

    def __init__(self, epochs: int, stream=None) -> None:
        super().__init__()
        self.epochs = epochs
        self.stream = stream or sys.stderr
        self.started = time.perf_counter()
        self.epoch = 0
        self.epoch_started = self.started
        self.batches: int | None = None

    def on_epoch_begin(self, epoch, logs=None) -> None:
        self.epoch = epoch
        self.epoch_started = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None) -> None:
        total = self.batches or self.params.get("steps")
        if not total or (batch + 1) % max(total // 10, 1):
            return
        share = (batch + 1) / total
        done = (self.epoch + share) / self.epochs
        now = time.perf_counter()
        per_epoch = (now - self.epoch_started) / share  # this epoch's pace (the first one includes tracing)
        left = per_epoch * (self.epochs - self.epoch - share)
        bar = "#" * int(done * 30)
        self._print(
            f"[{bar:<30}] epoch {self.epoch + 1}/{self.epochs} {100 * share:3.0f}% "
            f"loss {float((logs or {}).get('loss', float('nan'))):.3f} "
            f"elapsed {(now - self.started) / 60:.1f} min, about {left / 60:.1f} min left at most "
            "(early stopping may end sooner)"
        )

    def on_epoch_end(self, epoch, logs=None) -> None:
        self.batches = self.batches or self.params.get("steps")
        logs = logs or {}
        self._print(
            f"epoch {epoch + 1}/{self.epochs} done: loss {logs.get('loss', float('nan')):.4f} "
            f"val_loss {logs.get('val_loss', float('nan')):.4f} "
            f"({(time.perf_counter() - self.started) / 60:.1f} min)"
        )

    def _print(self, text: str) -> None:
        print(text, file=self.stream, flush=True)


def dataset(inputs: dict, targets, weights=None, *, batch_size: int, shuffle: bool = False, seed: int = 0):
    """A cached tf.data pipeline of (inputs, targets[, weights]), reshuffled every epoch when asked.

    Feeding ``fit`` numpy arrays rebuilds an input adapter every epoch; on small corpora that costs as
    much as the training steps themselves. Under a multi-worker strategy each worker reads its share.
    """
    import tensorflow as tf

    parts = (inputs, targets) if weights is None else (inputs, targets, weights)
    data = tf.data.Dataset.from_tensor_slices(parts).cache()
    if shuffle:
        data = data.shuffle(len(targets), seed=seed, reshuffle_each_iteration=True)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return data.batch(batch_size).prefetch(2).with_options(options)


def _arrays(seqs: Sequences, config: TrainConfig, version: int):
    """Model inputs, targets and weights for a set of sequences."""
    prev, cond, target, weight = windows(
        seqs, config.window, stride=config.window // 2, size=cond_size(version)
    )
    inputs = {"prev": prev, "cond": cond} if config.cond_size else {"prev": prev}
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
    arrays = {}
    for k, lstm in enumerate(lstm_layers(model)):
        suffix = f"_{k}" if k else ""
        for name, weight in zip(("kernel", "recurrent", "bias"), lstm.get_weights(), strict=True):
            arrays[name + suffix] = weight
    arrays["dense_w"], arrays["dense_b"] = model.get_layer("dense").get_weights()
    np.savez(out / "cell.npz", **arrays)
    kernel = arrays["kernel"]
    cond = conditioning.describe(config.cond_version) if kernel.shape[0] > len(vocab) else {"size": 0}
    vocab.save(out / "vocab.json", {"conditioning": cond})
    card = {
        "name": out.name,
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "command": " ".join(shlex.quote(a) for a in ["improv", *sys.argv[1:]])
        if sys.argv and sys.argv[0].endswith("improv")
        else " ".join(shlex.quote(a) for a in sys.argv),
        "corpus": list(corpus),
        "units": config.units,
        "layers": config.layers,
        "dropout": config.dropout,
        "vocabulary": config.design,
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
