"""Training: with its layers (``improv.model.layers``) and callbacks (``improv.model.callbacks``), the
only code that imports TensorFlow/Keras.

Fused ``LSTM`` layers (one, or a stack) over whole windows (not a cell unrolled by hand), a dense layer to
logits, sparse cross-entropy; validation split by piece; early stopping on the validation solos' NLL run
whole from a zero state (``improv.model.forward``: the live cell's view); seeded. With ``carry_state`` the
windows do not overlap and each starts from the state the model reaches there running its solo from the
start (refreshed before every epoch), so the model learns to go on from one state all session as the live
cell does. ``fit`` reports its stages (encode, n-gram baselines, fit, validation) with progress lines.
``export`` writes a model directory: ``model.keras``, ``cell.npz`` (numpy weights for
``improv.model.cell``), ``vocab.json`` and ``card.json``. ``distribute`` runs the same fit under
tf.distribute (Mirrored over local devices, or MultiWorkerMirrored across processes named by
``TF_CONFIG``); the default is one process, no strategy.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from improv.model import conditioning, forward
from improv.model.dataset import (
    Sequences,
    all_values,
    cond_size,
    share_of,
    split_by_piece,
    subset,
    to_sequences,
    window_spans,
    windows,
)
from improv.model.encoded import encode_corpus
from improv.model.layers import OneHot, SharedDense, fold_input, value_features
from improv.model.ngram import best_ngram
from improv.model.trainkit import (  # noqa: F401  (is_chief, WJAZZD_ATTRIBUTION: the CLI's names here)
    STAGES,
    WJAZZD_ATTRIBUTION,
    Stages,
    is_chief,
    model_card,
    ngram_conditions,
    run_metrics,
)
from improv.theory.degrees import DegreeVocabulary
from improv.theory.values import Line, Vocabulary

log = logging.getLogger(__name__)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402  (after the log-level variable)

from improv.model.callbacks import CarryState, ProgressLog, WholeValidation  # noqa: E402  (imports keras)

STATE_TABLE = "carried_state"


@dataclass(frozen=True)
class Dropout:
    """Dropout rates, training only (the exported cell has none)."""

    between: float = 0.0  # on the input of each stacked layer above the first
    output: float = 0.0  # on the last layer's output, before the dense layer
    recurrent: float = 0.0  # on each layer's recurrent input (one mask per sequence: variational)


@dataclass
class TrainConfig:
    """Everything that decides a training run."""

    units: int = 64
    epochs: int = 30
    batch_size: int = 64
    window: int = 64
    learning_rate: float = 0.005
    val_split: float = 0.1
    train_share: float = 1.0  # train on this share of the training solos (learning curves; same validation)
    patience: int = 3
    min_count: int = 3
    seed: int = 0
    cond_version: int = 2  # 0: none; 1: quality/beat/sub-beat; 2: also next chord, height, tempo, phrase,
    # form; 3: also the previous pitch's degree over this chord
    design: str = "degree"  # the vocabulary: "degree" (values version 2) or "kind" (kind/leap, version 1)
    layers: int = 1
    dropout: Dropout = field(default_factory=Dropout)
    shared_features: bool = False  # degree values share their degree's, duration's and move's weights
    lr_plateau: float = 0.0  # the learning rate times this after an epoch that did not improve (0: never)
    distribute: str | None = None  # None, "mirrored" or "multiworker"
    carry_state: bool = False  # windows go on from the state their solo reached (else a zero state each)
    fit_minutes: float = 0.0  # stop fitting before an epoch would end past this (0: no limit)
    extra: dict = field(default_factory=dict)

    @property
    def cond_size(self) -> int:
        """Conditioning inputs the model takes."""
        return cond_size(self.cond_version)


def layer_name(k: int) -> str:
    """Keras name of LSTM layer ``k`` (0 is the first; names of one-layer models are unchanged)."""
    return "lstm" if k == 0 else f"lstm_{k}"


def build_model(
    n_values: int, cond_size: int, units: int, layers: int = 1, dropout: Dropout | None = None,
    windows: int = 0, features: np.ndarray | None = None,
) -> keras.Model:
    """prev value index (+ conditioning) -> LSTM stack -> logits over the vocabulary, for whole windows.

    ``windows`` > 0 adds an input ``window`` (the window's number) whose initial (a, c) of every layer
    is looked up in a non-trainable table (``STATE_TABLE``: [a0, c0, a1, c1, ...] per window), filled by
    ``CarryState``; the exported model never has it (``plain_model``).
    """
    prev = keras.Input(shape=(None,), dtype="int32", name="prev")
    inputs = [prev]
    x = OneHot(n_values, features, name="one_hot")(prev)
    if cond_size:
        cond = keras.Input(shape=(None, cond_size), name="cond")
        inputs.append(cond)
        x = keras.layers.Concatenate(name="with_cond")([x, cond])
    initial = None
    if windows:
        window = keras.Input(shape=(), dtype="int32", name="window")
        inputs.append(window)
        initial = keras.layers.Embedding(
            windows, 2 * layers * units, embeddings_initializer="zeros", trainable=False, name=STATE_TABLE
        )(window)
    dropout = dropout or Dropout()
    for k in range(layers):
        if k and dropout.between:
            x = keras.layers.Dropout(dropout.between, name=f"dropout_{k}")(x)
        state = None
        if initial is not None:
            state = [initial[:, 2 * k * units : (2 * k + 1) * units],
                     initial[:, (2 * k + 1) * units : (2 * k + 2) * units]]
        lstm = keras.layers.LSTM(units, return_sequences=True, recurrent_dropout=dropout.recurrent,
                                 name=layer_name(k))
        x = lstm(x, initial_state=state)
    if dropout.output:
        x = keras.layers.Dropout(dropout.output, name="output_dropout")(x)
    shared = features is not None
    dense = SharedDense(features, name="dense") if shared else keras.layers.Dense(n_values, name="dense")
    return keras.Model(inputs, dense(x), name="improv_lstm")


def plain_model(model: keras.Model, dropout: Dropout | None = None) -> keras.Model:
    """The model without its state table (the same layers and weights): what is exported."""
    try:
        model.get_layer(STATE_TABLE)
    except ValueError:
        return model
    lstms = lstm_layers(model)
    one_hot = model.get_layer("one_hot")
    n_values, features = one_hot.depth, one_hot.features
    cond = lstms[0].get_weights()[0].shape[0] - n_values - (0 if features is None else features.shape[1])
    plain = build_model(n_values, cond, lstms[0].units, len(lstms), dropout, features=features)
    for name in [layer_name(k) for k in range(len(lstms))] + ["dense"]:
        plain.get_layer(name).set_weights(model.get_layer(name).get_weights())
    return plain


def cell_arrays(model: keras.Model) -> dict[str, np.ndarray]:
    """The weights in ``cell.npz``'s layout (what the numpy cell and ``improv.model.forward`` run)."""
    arrays = {}
    for k, lstm in enumerate(lstm_layers(model)):
        suffix = f"_{k}" if k else ""
        for name, weight in zip(("kernel", "recurrent", "bias"), lstm.get_weights(), strict=True):
            arrays[name + suffix] = weight
    arrays["kernel"] = fold_input(arrays["kernel"], model.get_layer("one_hot").features)
    dense = model.get_layer("dense")
    shared = isinstance(dense, SharedDense)
    arrays["dense_w"], arrays["dense_b"] = dense.folded() if shared else dense.get_weights()
    return arrays


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
    arrays = cell_arrays(model)  # (shared value features folded in)
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
    for k, (step_lstm, _) in enumerate(steps):
        suffix = f"_{k}" if k else ""
        step_lstm.set_weights([arrays[name + suffix] for name in ("kernel", "recurrent", "bias")])
    step_dense.set_weights([arrays["dense_w"], arrays["dense_b"]])
    return step


def fit(
    lines: Sequence[Line], config: TrainConfig, stages: Stages | None = None
) -> tuple[keras.Model, Vocabulary, dict]:
    """Encode, split by piece, score the n-gram baselines, fit with early stopping, validate; returns the
    model, the vocabulary and metrics. ``stages`` prints and times each stage (made here if not given)."""
    stages = stages or Stages(STAGES)
    keras.utils.set_random_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    with stages.stage("encode"):
        version = config.cond_version or 1  # the n-gram gets conditions either way
        tokens, hot = encode_corpus(lines, config.design, version)
        train_idx, val_idx = split_by_piece(len(lines), config.val_split, rng)
        if config.train_share < 1.0:
            train_idx = share_of(train_idx, config.train_share, rng)
        vocab_cls = DegreeVocabulary if config.design == "degree" else Vocabulary
        vocab, rare = vocab_cls.build(all_values([tokens[i] for i in train_idx]), config.min_count)
        seqs = to_sequences(lines, tokens, vocab, version, hot)
        train_seqs, val_seqs = subset(seqs, train_idx), subset(seqs, val_idx)
    with stages.stage("n-gram baselines") as tick:
        conds = ngram_conditions(train_seqs.conds, val_seqs.conds, version)
        ngram, scores = best_ngram(train_seqs.values, val_seqs.values, len(vocab), conds=conds, progress=tick)
    with stages.stage("fit"):
        features = value_features(vocab) if config.shared_features else None
        model, strategy, history, seconds = _fit_model(config, len(vocab), train_seqs, val_seqs, version,
                                                       features)
    with stages.stage("validation"):
        model = plain_model(model, config.dropout)
        val = forward.run(cell_arrays(model), len(vocab), val_seqs.values, _conds(val_seqs, config))
    replicas = strategy.num_replicas_in_sync if strategy is not None else 1
    metrics = run_metrics(
        config, replicas, lines, (vocab, rare), (train_seqs, val_seqs), history.history, seconds, val.nll,
        (ngram, scores), stages.seconds,
    )
    return model, vocab, metrics


def _conds(seqs: Sequences, config: TrainConfig) -> list[np.ndarray]:
    """The hot conditioning positions the model takes (none without conditioning)."""
    if config.cond_size:
        return seqs.conds
    return [np.zeros((len(v), 0), np.int16) for v in seqs.values]


def _fit_model(config: TrainConfig, n_values: int, train_seqs: Sequences, val_seqs: Sequences, version: int,
               features: np.ndarray | None = None):
    """Build and compile the model (under the distribution strategy, if any) and fit it with early
    stopping on the whole validation solos' NLL; returns the model, the strategy, Keras' history and the
    seconds fitting took."""
    strategy = strategy_for(config.distribute)
    stride = config.window if config.carry_state else config.window // 2
    spans = window_spans(train_seqs, config.window, stride)
    with strategy.scope() if strategy is not None else contextlib.nullcontext():
        model = build_model(n_values, config.cond_size, config.units, config.layers, config.dropout,
                            len(spans) if config.carry_state else 0, features)
        model.compile(
            optimizer=keras.optimizers.Adam(config.learning_rate),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            weighted_metrics=["sparse_categorical_accuracy"],
        )
    train_arrays = _arrays(train_seqs, config, version, stride)
    train_data = dataset(*train_arrays, batch_size=config.batch_size, shuffle=True, seed=config.seed)
    if config.distribute == "multiworker":
        _build_before_fit(model, strategy, train_arrays, config.batch_size)
    val_data = None  # Keras' windows start from zero states: not what a carried model is for
    if not config.carry_state:
        val_data = dataset(*_arrays(val_seqs, config, version, stride), batch_size=config.batch_size)
    callbacks = [WholeValidation(val_seqs.values, _conds(val_seqs, config), n_values, cell_arrays)]
    if config.carry_state:
        callbacks.append(CarryState(train_seqs.values, _conds(train_seqs, config), n_values, spans,
                                    cell_arrays, STATE_TABLE))
    if config.lr_plateau:
        callbacks.append(keras.callbacks.ReduceLROnPlateau(
            monitor="val_nll", mode="min", factor=config.lr_plateau, patience=0, min_delta=1e-3, verbose=1))
    callbacks += [
        keras.callbacks.EarlyStopping(
            monitor="val_nll", mode="min", patience=config.patience, restore_best_weights=True
        ),
        ProgressLog(config.epochs, budget=60 * config.fit_minutes),
    ]
    started = time.perf_counter()
    history = model.fit(
        train_data,
        validation_data=val_data,
        epochs=config.epochs,
        callbacks=callbacks,
        verbose=1 if sys.stdout.isatty() else 2,
    )
    return model, strategy, history, time.perf_counter() - started


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


def _arrays(seqs: Sequences, config: TrainConfig, version: int, stride: int):
    """Model inputs, targets and weights for a set of sequences (and each window's number, to look up
    its carried state)."""
    prev, cond, target, weight = windows(seqs, config.window, stride=stride, size=cond_size(version))
    inputs = {"prev": prev, "cond": cond} if config.cond_size else {"prev": prev}
    if config.carry_state:
        inputs["window"] = np.arange(len(prev), dtype=np.int32)
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
    model = plain_model(model, config.dropout)
    model.save(out / "model.keras")
    arrays = cell_arrays(model)
    np.savez(out / "cell.npz", **arrays)
    kernel = arrays["kernel"]
    cond = conditioning.describe(config.cond_version) if kernel.shape[0] > len(vocab) else {"size": 0}
    vocab.save(out / "vocab.json", {"conditioning": cond})
    card = model_card(out.name, config, cond, metrics, corpus, attribution)
    (out / "card.json").write_text(json.dumps(card, indent=1) + "\n")
    return out
