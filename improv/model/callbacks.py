"""The Keras callbacks of a fit (`improv.model.train`): the whole-solo validation NLL early stopping
watches, the carried window states, and the progress lines. Keras imports here, so only training loads
this module. ``arrays(model)`` is the model's weights in ``cell.npz``'s layout (``train.cell_arrays``),
passed in so this module needs nothing of ``train``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

import keras
import numpy as np

from improv.model import forward

Arrays = Callable[[keras.Model], dict[str, np.ndarray]]


class WholeValidation(keras.callbacks.Callback):
    """After every epoch, ``logs["val_nll"]``: the validation solos' NLL per value, each run whole from a
    zero state with the model's current weights (numpy, as the live cell runs; what early stopping and
    the card use)."""

    def __init__(self, values: list[np.ndarray], conds: list[np.ndarray], n_values: int,
                 arrays: Arrays) -> None:
        super().__init__()
        self.values, self.conds, self.n_values, self.arrays = values, conds, n_values, arrays

    def on_epoch_end(self, epoch, logs=None) -> None:
        run = forward.run(self.arrays(self.model), self.n_values, self.values, self.conds)
        if logs is not None:
            logs["val_nll"] = forward.mean_nll(run.nll)


class CarryState(keras.callbacks.Callback):
    """Before every epoch, each training window's initial (a, c) of every layer: the state the model
    (as it is now) reaches at the window's start running its solo from the beginning."""

    def __init__(self, values: list[np.ndarray], conds: list[np.ndarray], n_values: int,
                 spans: list[tuple[int, int, int]], arrays: Arrays, table: str) -> None:
        super().__init__()
        self.values, self.conds, self.n_values, self.spans = values, conds, n_values, spans
        self.arrays, self.table = arrays, table
        self.starts: list[list[int]] = [[] for _ in values]
        for n, start, _ in spans:
            self.starts[n].append(start)

    def on_epoch_begin(self, epoch, logs=None) -> None:
        arrays = self.arrays(self.model)
        run = forward.run(arrays, self.n_values, self.values, self.conds, starts=self.starts, nll=False)
        rows = np.concatenate([s.reshape(len(s), -1) for s in run.states])  # spans are in (solo, start) order
        self.model.get_layer(self.table).embeddings.assign(rows.astype(np.float32))


class ProgressLog(keras.callbacks.Callback):
    """A progress bar line every tenth of an epoch: epoch, share done, loss, elapsed and time left; with a
    ``budget`` (seconds), it stops fitting after an epoch when the next one would end past it."""

    def __init__(self, epochs: int, stream=None, budget: float = 0.0) -> None:
        super().__init__()
        self.epochs = epochs
        self.budget = budget
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
        now = time.perf_counter()
        keras_val = f"val_loss {logs['val_loss']:.4f} " if "val_loss" in logs else ""
        self._print(
            f"epoch {epoch + 1}/{self.epochs} done: loss {logs.get('loss', float('nan')):.4f} "
            f"{keras_val}validation NLL {logs.get('val_nll', float('nan')):.4f} "
            f"({(now - self.started) / 60:.1f} min)"
        )
        if self.budget and now - self.started + (now - self.epoch_started) > self.budget:
            self._print(f"stopping: another epoch would end past the {self.budget / 60:.0f}-minute budget")
            self.model.stop_training = True

    def _print(self, text: str) -> None:
        print(text, file=self.stream, flush=True)
