"""The seed's variant-K training model (seed spec §6.1), rebuilt in Keras 3 as a baseline.

One shared ``LSTM(64)`` cell is applied step by step over 30 one-step slices of X with the state
carried by hand, a shared softmax ``Dense`` reads every step (30 outputs, losses summed), and Adam
0.01 with inverse time decay trains on the seed's 60 windows in batches of 32.
Run on its own with ``python -m benchmarks.seed_model [epochs]``.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Sequence

import keras
import numpy as np
from keras import layers, ops

from benchmarks.bench_preprocess import seed_midi_path
from improv.corpus.seed import seed_corpus
from improv.theory.seed_grammar import seed_training_arrays

log = logging.getLogger(__name__)

N_A = 64
TX = 30
M = 60


class TimeStep(layers.Layer):
    """Slice step ``t`` of a (batch, time, features) input, keeping a time axis of length 1."""

    def __init__(self, t: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.t = t

    def call(self, x):
        return ops.expand_dims(x[:, self.t, :], 1)

    def get_config(self) -> dict:
        return {**super().get_config(), "t": self.t}


class EpochTimer(keras.callbacks.Callback):
    """Wall time of every epoch (the first one includes graph tracing)."""

    def __init__(self) -> None:
        super().__init__()
        self.seconds: list[float] = []
        self._start = 0.0

    def on_epoch_begin(self, epoch, logs=None) -> None:
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None) -> None:
        self.seconds.append(time.perf_counter() - self._start)


def build_seed_unrolled(n_values: int, n_a: int = N_A, tx: int = TX) -> keras.Model:
    """Inputs X (tx, n_values), a0, c0 (n_a); ``tx`` softmax outputs from one shared cell."""
    x_in = keras.Input((tx, n_values), name="X")
    a0 = keras.Input((n_a,), name="a0")
    c0 = keras.Input((n_a,), name="c0")
    cell = layers.LSTM(n_a, return_state=True, name="lstm")
    dense = layers.Dense(n_values, activation="softmax", name="dense")
    a, c = a0, c0
    outputs = []
    for t in range(tx):
        step = TimeStep(t, name=f"step_{t}")(x_in)
        a, _, c = cell(step, initial_state=[a, c])
        outputs.append(dense(a))
    model = keras.Model([x_in, a0, c0], outputs, name="seed_unrolled")
    schedule = keras.optimizers.schedules.InverseTimeDecay(0.01, decay_steps=1, decay_rate=0.01)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=schedule, beta_1=0.9, beta_2=0.999),
        loss=["categorical_crossentropy"] * tx,
    )
    return model


def seed_training_data(
    tokens: Sequence[str], vocab: Sequence[str], m: int = M, tx: int = TX, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """The seed's X (m, tx, n) and Y (tx, m, n): zero first step, zero last target (bool)."""
    return seed_training_arrays(tokens, vocab, m=m, tx=tx, seed=seed)


def train_seed_unrolled(epochs: int = 100, seed: int = 0, verbose: int = 0) -> tuple[float, float]:
    """Train on the seed corpus; returns (wall seconds of ``fit``, final epoch loss)."""
    figures = _train(epochs, seed, verbose)
    return figures["fit_s"], figures["final_loss"]


def _train(epochs: int, seed: int, verbose: int) -> dict:
    corpus = seed_corpus(seed_midi_path())
    x, y = seed_training_data(corpus.tokens, corpus.values, seed=seed)
    keras.utils.set_random_seed(seed)
    start = time.perf_counter()
    model = build_seed_unrolled(len(corpus.values))
    built = time.perf_counter()
    zeros = np.zeros((x.shape[0], N_A), dtype="float32")
    timer = EpochTimer()
    history = model.fit(
        [x.astype("float32"), zeros, zeros],
        [step.astype("float32") for step in y],
        epochs=epochs,
        batch_size=32,
        verbose=verbose,
        callbacks=[timer],
    )
    done = time.perf_counter()
    losses = history.history["loss"]
    return {
        "values": len(corpus.values),
        "epochs": epochs,
        "build_s": round(built - start, 3),
        "fit_s": round(done - built, 3),
        "first_epoch_s": round(timer.seconds[0], 3),
        "later_epoch_median_s": round(float(np.median(timer.seconds[1:])), 4) if epochs > 1 else None,
        "first_loss": round(float(losses[0]), 3),
        "final_loss": round(float(losses[-1]), 3),
    }


def run(epochs: int = 100, seed: int = 0) -> dict:
    """Figures for the benchmark runner (or ``{"skipped": reason}`` without the seed file)."""
    path = seed_midi_path()
    if not path.is_file():
        return {"skipped": f"seed MIDI file not found at {path}"}
    return _train(epochs, seed, verbose=0)


def main(argv: Sequence[str] | None = None) -> int:
    """Print the figures, one per line; optional argument: epochs (default 100)."""
    args = list(sys.argv[1:] if argv is None else argv)
    epochs = int(args[0]) if args else 100
    for key, value in run(epochs).items():
        print(f"{key:>20}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
