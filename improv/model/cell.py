"""The LSTM cell at run time, in numpy: one step at a time, its (a, c) state alive between calls.

Weights come from ``cell.npz`` in a model directory (exported by ``improv.model.train``), in Keras'
layout: the input kernel's rows are the one-hot value followed by the conditioning vector, gates in the
order i, f, c, o. A one-hot input is a row lookup, so a step costs one (n_a x 4n_a) product and the dense
layer.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from improv.errors import InputError
from improv.model import store

State = tuple[np.ndarray, np.ndarray]
DTYPE = np.float32  # as trained; float32 halves the memory traffic of the dense layer
WEIGHT_NAMES = ("kernel", "recurrent", "bias", "dense_w", "dense_b")


class Cell:
    """A stateful single-step LSTM + softmax over the vocabulary."""

    def __init__(
        self,
        kernel: np.ndarray,
        recurrent: np.ndarray,
        bias: np.ndarray,
        dense_w: np.ndarray,
        dense_b: np.ndarray,
        n_values: int,
    ) -> None:
        _check_shapes(kernel, recurrent, bias, dense_w, dense_b, n_values)
        self.units = n = recurrent.shape[0]
        self.n_values = n_values
        self.cond_size = kernel.shape[0] - n_values
        # sigmoid(x) = 0.5 * tanh(x / 2) + 0.5: halve the i, f, o pre-activations so that one tanh over
        # all four gates serves every gate.
        scale = np.full(4 * n, 0.5, dtype=DTYPE)
        scale[2 * n : 3 * n] = 1.0
        self._kernel = np.ascontiguousarray(kernel * scale, dtype=DTYPE)
        self._recurrent = np.ascontiguousarray(recurrent * scale, dtype=DTYPE)
        self._bias = np.ascontiguousarray(bias * scale, dtype=DTYPE)
        self._dense_w = np.ascontiguousarray(dense_w, dtype=DTYPE)
        self._dense_b = np.ascontiguousarray(dense_b, dtype=DTYPE)
        self._cond_rows: dict[tuple[int, ...], np.ndarray] = {}
        self._z = np.empty(4 * n, dtype=DTYPE)
        self._logits = np.empty(n_values, dtype=DTYPE)
        self.reset()

    @classmethod
    def load(cls, model_dir: Path, n_values: int) -> Cell:
        """Load ``cell.npz`` from a model directory; ``n_values`` comes from its vocabulary.

        The file is read and checked by :mod:`improv.model.store` (one place for model files); the
        conditioning size is what the kernel leaves beside the values. A whole directory is loaded
        with ``improv.generate.load_model``.
        """
        path = Path(model_dir) / store.WEIGHTS
        arrays = store.read_weights(path)
        kernel = arrays.get("kernel")
        cond = kernel.shape[0] - n_values if kernel is not None and kernel.ndim == 2 else 0
        store.check_weights(arrays, n_values, max(cond, 0), path)
        return cls(**{name: arrays[name] for name in WEIGHT_NAMES}, n_values=n_values)

    # -- state -------------------------------------------------------------------------------------
    def reset(self) -> None:
        """Zero state: the start of a session."""
        self.a = np.zeros(self.units, dtype=DTYPE)
        self.c = np.zeros(self.units, dtype=DTYPE)

    @property
    def state(self) -> State:
        """A copy of (a, c)."""
        return self.a.copy(), self.c.copy()

    @state.setter
    def state(self, value: State) -> None:
        self.a, self.c = np.array(value[0], dtype=DTYPE), np.array(value[1], dtype=DTYPE)

    # -- stepping ----------------------------------------------------------------------------------
    def step_logits(self, value: int | None, cond: Sequence[int] | np.ndarray | None = None) -> np.ndarray:
        """Advance one step and return the logits (a buffer reused by the next call: copy to keep).

        ``value`` is the previous value's index (None = the start vector of zeros). ``cond`` is either
        the conditioning vector or the indices of its hot positions (the fast path, cached).
        """
        n = self.units
        z = np.dot(self.a, self._recurrent, out=self._z)
        z += self._input_bias(cond)
        if value is not None:
            z += self._kernel[value]
        np.tanh(z, out=z)
        gates = z * 0.5 + 0.5  # i, f, o as sigmoids (the c slice of it is unused)
        self.c = gates[n : 2 * n] * self.c + gates[:n] * z[2 * n : 3 * n]
        self.a = gates[3 * n :] * np.tanh(self.c)
        logits = np.dot(self.a, self._dense_w, out=self._logits)
        logits += self._dense_b
        return logits

    def _input_bias(self, cond: Sequence[int] | np.ndarray | None) -> np.ndarray:
        """The bias plus the conditioning's contribution (cached per pattern of hot positions)."""
        if cond is None or not self.cond_size:
            return self._bias
        if isinstance(cond, np.ndarray):
            return self._bias + cond @ self._kernel[self.n_values :]
        key = tuple(cond)
        rows = self._cond_rows.get(key)
        if rows is None:
            rows = self._bias + self._kernel[[self.n_values + hot for hot in key]].sum(axis=0)
            self._cond_rows[key] = rows
        return rows

    def step(self, value: int | None, cond: Sequence[int] | np.ndarray | None = None) -> np.ndarray:
        """Advance one step and return the next value's probabilities."""
        return softmax(self.step_logits(value, cond))

    def prime(self, steps: Iterable[tuple[int | None, Sequence[int] | np.ndarray | None]]) -> None:
        """Run a sequence of (value, cond) through the cell from the current state (reseeding)."""
        for value, cond in steps:
            self.step_logits(value, cond)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Probabilities from logits (numerically stable)."""
    e = np.exp(logits - logits.max())
    return e / e.sum()


def _check_shapes(kernel, recurrent, bias, dense_w, dense_b, n_values: int) -> None:
    """Refuse weights that do not fit each other or the vocabulary."""
    n = recurrent.shape[0]
    problems = []
    if recurrent.shape != (n, 4 * n):
        problems.append(f"recurrent {recurrent.shape} is not ({n}, {4 * n})")
    if kernel.ndim != 2 or kernel.shape[1] != 4 * n or kernel.shape[0] < n_values:
        problems.append(f"kernel {kernel.shape} does not fit {n_values} values and {n} units")
    if bias.shape != (4 * n,):
        problems.append(f"bias {bias.shape} is not ({4 * n},)")
    if dense_w.shape != (n, n_values) or dense_b.shape != (n_values,):
        problems.append(f"dense {dense_w.shape}/{dense_b.shape} does not fit {n_values} values")
    if problems:
        raise InputError("model weights do not match the vocabulary: " + "; ".join(problems))
