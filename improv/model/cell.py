"""The LSTM cell at run time, in numpy: one step at a time, every layer's (a, c) state alive between calls.

Weights come from ``cell.npz`` in a model directory (exported by ``improv.model.train``), in Keras'
layout: the first layer's input kernel rows are the one-hot value followed by the conditioning vector,
gates in the order i, f, c, o; a stacked layer ``k`` (``kernel_k``, ``recurrent_k``, ``bias_k``, k >= 1)
takes the layer below's ``a`` as input. A one-hot input is a row lookup, so a step costs one
(n_a x 4n_a) product for the first layer, one (2n_a x 4n_a) product per stacked layer and the dense layer.
Not thread-safe: one cell belongs to one improviser.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np

from improv.errors import InputError
from improv.model import store

State = tuple[np.ndarray, np.ndarray]
DTYPE = np.float32  # as trained; float32 halves the memory traffic of the dense layer
WEIGHT_NAMES = ("kernel", "recurrent", "bias", "dense_w", "dense_b")
MAX_LAYERS = 8
COND_CACHE = 256  # conditioning patterns whose input rows are kept (~0.2 MB at most: the v2 keys vary
# with height, phrase and chorus, so a bigger cache only grows; a miss is one row sum, ~5 us here)
Layer = tuple[np.ndarray, np.ndarray, np.ndarray]


class Cell:
    """A stateful single-step (stacked) LSTM + softmax over the vocabulary."""

    def __init__(
        self,
        kernel: np.ndarray,
        recurrent: np.ndarray,
        bias: np.ndarray,
        dense_w: np.ndarray,
        dense_b: np.ndarray,
        n_values: int,
        stacked: Sequence[Layer] = (),
    ) -> None:
        _check_shapes(kernel, recurrent, bias, dense_w, dense_b, n_values)
        self.units = n = recurrent.shape[0]
        _check_stacked(stacked, n)
        self.n_values = n_values
        self.cond_size = kernel.shape[0] - n_values
        self.layers = 1 + len(stacked)
        # sigmoid(x) = 0.5 * tanh(x / 2) + 0.5: halve the i, f, o pre-activations so that one tanh over
        # all four gates serves every gate.
        scale = np.full(4 * n, 0.5, dtype=DTYPE)
        scale[2 * n : 3 * n] = 1.0
        self._kernel = np.ascontiguousarray(kernel * scale, dtype=DTYPE)
        self._recurrent = np.ascontiguousarray(recurrent * scale, dtype=DTYPE)
        self._bias = np.ascontiguousarray(bias * scale, dtype=DTYPE)
        # a stacked layer multiplies [a_below, a_own] by [kernel; recurrent] in one product
        self._stacked = [
            (np.ascontiguousarray(np.vstack([k, r]) * scale, DTYPE), np.ascontiguousarray(b * scale, DTYPE))
            for k, r, b in stacked
        ]
        self._dense_w = np.ascontiguousarray(dense_w, dtype=DTYPE)
        self._dense_b = np.ascontiguousarray(dense_b, dtype=DTYPE)
        self._cond_rows: dict[tuple[int, ...], np.ndarray] = {}
        self._cond_kernel = self._kernel[n_values:]  # a view: the conditioning's rows
        self._z = np.empty(4 * n, dtype=DTYPE)
        self._logits = np.empty(n_values, dtype=DTYPE)
        self.a = np.zeros((self.layers, n), dtype=DTYPE)
        self.c = np.zeros((self.layers, n), dtype=DTYPE)
        self._views = _StepViews(self._z, self.a, self.c, n)

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], n_values: int) -> Cell:
        """A cell from the arrays of ``cell.npz`` (``kernel_1``... for stacked layers)."""
        missing = [name for name in WEIGHT_NAMES if name not in arrays]
        if missing:
            raise InputError(f"cell weights lack {', '.join(missing)}")
        stacked = []
        for k in range(1, MAX_LAYERS):
            names = (f"kernel_{k}", f"recurrent_{k}", f"bias_{k}")
            if not all(name in arrays for name in names):
                break
            stacked.append(tuple(np.asarray(arrays[name]) for name in names))
        base = {name: np.asarray(arrays[name]) for name in WEIGHT_NAMES}
        return cls(**base, n_values=n_values, stacked=stacked)

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
        return cls.from_arrays(arrays, n_values)

    # -- state -------------------------------------------------------------------------------------
    def reset(self) -> None:
        """Zero state: the start of a session. ``a`` and ``c`` are (layers, units), written in place (the
        step's views point into them)."""
        self.a.fill(0.0)
        self.c.fill(0.0)

    @property
    def state(self) -> State:
        """A copy of (a, c), each (layers, units)."""
        return self.a.copy(), self.c.copy()

    @state.setter
    def state(self, value: State) -> None:
        shape = (self.layers, self.units)
        self.a[...] = np.asarray(value[0], dtype=DTYPE).reshape(shape)
        self.c[...] = np.asarray(value[1], dtype=DTYPE).reshape(shape)

    # -- stepping ----------------------------------------------------------------------------------
    def step_logits(self, value: int | None, cond: Sequence[int] | np.ndarray | None = None) -> np.ndarray:
        """Advance one step and return the logits (a buffer reused by the next call: copy to keep).

        ``value`` is the previous value's index (None = the start vector of zeros). ``cond`` is either
        the conditioning vector or the indices of its hot positions (the fast path, cached).
        """
        v = self._views
        z = np.dot(v.a[0], self._recurrent, out=self._z)
        z += self._input_bias(cond)
        if value is not None:
            z += self._kernel[value]
        self._gates(0)
        for k, (weights, bias) in enumerate(self._stacked, start=1):
            np.dot(v.below_and_own[k], weights, out=z)
            z += bias
            self._gates(k)
        logits = np.dot(v.a[-1], self._dense_w, out=self._logits)
        logits += self._dense_b
        return logits

    def _gates(self, k: int) -> None:
        """Finish layer ``k``'s step from its pre-activations in ``_z`` (halved for i, f, o), in place:
        no allocation, the same arithmetic element by element as ``c = f*c + i*g; a = o*tanh(c)``."""
        v = self._views
        np.tanh(v.z, out=v.z)
        np.multiply(v.z, 0.5, out=v.s)
        v.s += 0.5  # i, f, o as sigmoids (the g slice of it is unused)
        c = v.c[k]
        c *= v.f
        np.multiply(v.i, v.g, out=v.tmp)
        c += v.tmp
        np.tanh(c, out=v.tmp)
        np.multiply(v.o, v.tmp, out=v.a[k])

    def _input_bias(self, cond: Sequence[int] | np.ndarray | None) -> np.ndarray:
        """The bias plus the conditioning's contribution (cached per pattern of hot positions)."""
        if cond is None or not self.cond_size:
            return self._bias
        if isinstance(cond, np.ndarray):
            return self._bias + cond @ self._kernel[self.n_values :]
        key = tuple(cond)
        rows = self._cond_rows.get(key)
        if rows is None:
            if len(self._cond_rows) >= COND_CACHE:
                self._cond_rows.clear()
            rows = self._bias + np.add.reduce(self._cond_kernel.take(key, axis=0), axis=0)
            self._cond_rows[key] = rows
        return rows

    def step(self, value: int | None, cond: Sequence[int] | np.ndarray | None = None) -> np.ndarray:
        """Advance one step and return the next value's probabilities."""
        return softmax(self.step_logits(value, cond))

    def prime(self, steps: Iterable[tuple[int | None, Sequence[int] | np.ndarray | None]]) -> None:
        """Run a sequence of (value, cond) through the cell from the current state (reseeding)."""
        for value, cond in steps:
            self.step_logits(value, cond)


class _StepViews:
    """Views the step writes through, made once: the gate slices of the pre-activations and of their
    sigmoids, each layer's rows of ``a`` and ``c``, and each stacked layer's input ``[a_below, a_own]``."""

    def __init__(self, z: np.ndarray, a: np.ndarray, c: np.ndarray, n: int) -> None:
        self.z = z
        self.s = np.empty_like(z)
        self.tmp = np.empty(n, dtype=z.dtype)
        self.i, self.f, self.o = self.s[:n], self.s[n : 2 * n], self.s[3 * n :]
        self.g = z[2 * n : 3 * n]
        self.a = [a[k] for k in range(a.shape[0])]
        self.c = [c[k] for k in range(c.shape[0])]
        self.below_and_own = [None] + [a[k - 1 : k + 1].reshape(-1) for k in range(1, a.shape[0])]


def _check_stacked(stacked: Sequence[Layer], n: int) -> None:
    """Refuse stacked layers that do not take ``n`` inputs and keep ``n`` units."""
    for k, (kernel, recurrent, bias) in enumerate(stacked, start=1):
        if kernel.shape != (n, 4 * n) or recurrent.shape != (n, 4 * n) or bias.shape != (4 * n,):
            raise InputError(
                f"model weights: layer {k + 1} is {kernel.shape}/{recurrent.shape}/{bias.shape}, "
                f"not ({n}, {4 * n})/({n}, {4 * n})/({4 * n},)"
            )


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
