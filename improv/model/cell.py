"""The LSTM cell at run time, in numpy: one step at a time, every layer's (a, c) state alive between calls.

Weights come from ``cell.npz`` in a model directory (exported by ``improv.model.train``), in Keras'
layout: the first layer's input kernel rows are the one-hot value followed by the conditioning vector,
gates in the order i, f, c, o; a stacked layer ``k`` (``kernel_k``, ``recurrent_k``, ``bias_k``, k >= 1)
takes the layer below's ``a`` as input. A one-hot input is a row lookup, so a step costs one
(n_a x 4n_a) product for the first layer, one (2n_a x 4n_a) product per stacked layer and the dense layer.
The conditioning's rows (and the first layer's bias) are summed once per pattern of hot positions and cached.

Two step arithmetics, chosen by the model card's ``cell_step`` (``STEP``; a card without it is 1), because a
session log must replay note for note with the model it names and float32 sums in another order can, now and
then, tip a draw:

- 1 (a card without ``cell_step``: every model trained before the 1 x 128 default of 2026-12-02): one
  cache of whole patterns; the stacked and dense biases added after their products.
- 2 (models exported since): the cache in two parts (``split``: the groups that change from note to note
  apart from those that change with the chord and the bar), so a step adds two cached rows and rarely
  misses; the top layer's and the dense layer's biases are last weight rows, read by a constant 1 that
  follows the state (``a`` is a view into that row). Every numpy call costs about a microsecond here, so
  this makes a step with few of them.

Not thread-safe: one cell belongs to one improviser.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from operator import itemgetter
from pathlib import Path

import numpy as np

from improv.errors import InputError
from improv.model import store

State = tuple[np.ndarray, np.ndarray]
DTYPE = np.float32  # as trained; float32 halves the memory traffic of the dense layer
WEIGHT_NAMES = ("kernel", "recurrent", "bias", "dense_w", "dense_b")
MAX_LAYERS = 8
STEP = store.CELL_STEPS[-1]  # the step arithmetic new models are exported for (see the module doc)
COND_CACHE = 512  # conditioning patterns kept per part, oldest dropped first (1 MB each at most at 128
# units); a miss is one row sum, ~4 us here. Over Giant Steps, All the Things and Autumn Leaves (version 3)
# the two parts miss 13 % and 7 % of steps, a cache of whole patterns 80 %
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
        split: tuple[Sequence[int], Sequence[int]] | None = None,
        bias_rows: bool = False,
    ) -> None:
        _check_shapes(kernel, recurrent, bias, dense_w, dense_b, n_values)
        self.units = n = recurrent.shape[0]
        _check_stacked(stacked, n)
        self.n_values = n_values
        self.cond_size = kernel.shape[0] - n_values
        self.layers = layers = 1 + len(stacked)
        # sigmoid(x) = 0.5 * tanh(x / 2) + 0.5: halve the i, f, o pre-activations so that one tanh over
        # all four gates serves every gate.
        scale = np.full(4 * n, 0.5, dtype=DTYPE)
        scale[2 * n : 3 * n] = 1.0
        self._kernel = np.ascontiguousarray(kernel * scale, dtype=DTYPE)
        self._recurrent = np.ascontiguousarray(recurrent * scale, dtype=DTYPE)
        self._bias = np.ascontiguousarray(bias * scale, dtype=DTYPE)
        self._cond = _CondRows(self._kernel[n_values:], self._bias, split)
        # a stacked layer multiplies [a_below, a_own] by [kernel; recurrent] in one product; the top one
        # (and the dense layer) reads its bias as a last weight row, through the 1 after the state
        self._stacked = [
            _stacked_weights(k, r, b, scale, row=bias_rows and index == len(stacked)) for index, (k, r, b) in
            enumerate(stacked, start=1)
        ]
        dense = [dense_w, dense_b[None, :]] if bias_rows else [dense_w]
        self._dense = np.ascontiguousarray(np.vstack(dense), dtype=DTYPE)
        self._dense_b = None if bias_rows else np.ascontiguousarray(dense_b, dtype=DTYPE)
        self._z = np.empty(4 * n, dtype=DTYPE)
        self._logits = np.empty(n_values, dtype=DTYPE)
        self._row = np.zeros(layers * n + 1, dtype=DTYPE)
        self._row[-1] = 1.0
        self.a = self._row[:-1].reshape(layers, n)  # a view: the state, then the constant 1
        self.c = np.zeros((layers, n), dtype=DTYPE)
        self._views = _StepViews(self._z, self._row, self.c, n, bias_rows)

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], n_values: int,
                    split: tuple[Sequence[int], Sequence[int]] | None = None, step: int = 1) -> Cell:
        """A cell from the arrays of ``cell.npz`` (``kernel_1``... for stacked layers) with the arithmetic of
        ``step`` (1 or 2, the card's ``cell_step``); ``split`` is the conditioning's two-part cache split
        (``conditioning.cache_split``), used by step 2."""
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
        if step not in store.CELL_STEPS:
            raise InputError(f"cell_step {step} is not one of {store.CELL_STEPS}")
        fast = step >= 2
        return cls(**base, n_values=n_values, stacked=stacked, split=split if fast else None, bias_rows=fast)

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
        self._cond.add_to(z, cond)
        if value is not None:
            z += self._kernel[value]
        self._gates(0)
        for k, (weights, bias) in enumerate(self._stacked, start=1):
            np.dot(v.inputs[k], weights, out=z)
            if bias is not None:
                z += bias
            self._gates(k)
        logits = np.dot(v.top, self._dense, out=self._logits)
        if self._dense_b is not None:
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

    def step(self, value: int | None, cond: Sequence[int] | np.ndarray | None = None) -> np.ndarray:
        """Advance one step and return the next value's probabilities."""
        return softmax(self.step_logits(value, cond))

    def prime(self, steps: Iterable[tuple[int | None, Sequence[int] | np.ndarray | None]]) -> None:
        """Run a sequence of (value, cond) through the cell from the current state (reseeding)."""
        for value, cond in steps:
            self.step_logits(value, cond)


class _StepViews:
    """Views the step writes through, made once: the gate slices of the pre-activations and of their
    sigmoids, each layer's rows of ``a`` and ``c`` (``row`` is every layer's ``a`` and then a 1), each stacked
    layer's input (``[a_below, a_own]``) and the dense layer's (``a_top``), the 1 after the top layer's
    inputs with ``bias_rows``."""

    def __init__(self, z: np.ndarray, row: np.ndarray, c: np.ndarray, n: int, bias_rows: bool) -> None:
        self.z = z
        self.s = np.empty_like(z)
        self.tmp = np.empty(n, dtype=z.dtype)
        self.i, self.f, self.o = self.s[:n], self.s[n : 2 * n], self.s[3 * n :]
        self.g = z[2 * n : 3 * n]
        layers = c.shape[0]
        self.a = [row[k * n : (k + 1) * n] for k in range(layers)]
        self.c = [c[k] for k in range(layers)]
        self.inputs = [None] + [
            row[(k - 1) * n : (k + 1) * n + (bias_rows and k == layers - 1)] for k in range(1, layers)
        ]
        self.top = row[(layers - 1) * n : layers * n + bias_rows]


class _CondRows:
    """The first layer's bias plus the conditioning's kernel rows, summed once per pattern of hot positions
    and cached: with a ``split`` (the positions, within a pattern, of the slow and of the fast groups) in
    two parts, the slow part carrying the bias; otherwise (or for a pattern of another length) whole.
    Each cache keeps ``COND_CACHE`` patterns, dropping the oldest first."""

    def __init__(self, rows: np.ndarray, bias: np.ndarray, split=None) -> None:
        self._rows, self._bias = rows, bias
        self._none = not rows.shape[0]  # a model without conditioning: the bias alone
        self._caches: tuple[dict, dict] = ({}, {})
        self._size = 0
        if split is not None and min(len(split[0]), len(split[1])) >= 2 and not self._none:
            self._slow, self._fast = itemgetter(*split[0]), itemgetter(*split[1])
            self._size = len(split[0]) + len(split[1])

    def add_to(self, z: np.ndarray, cond: Sequence[int] | np.ndarray | None) -> None:
        """``z += bias + the conditioning's rows`` (``cond``: hot positions, a whole vector, or None)."""
        if cond is None or self._none:
            z += self._bias
        elif isinstance(cond, np.ndarray):
            z += self._bias + cond @ self._rows
        elif self._size and len(cond) == self._size:
            z += self._get(0, self._slow(cond))
            z += self._get(1, self._fast(cond))
        else:
            z += self._get(0, tuple(cond))

    def _get(self, part: int, key: tuple[int, ...]) -> np.ndarray:
        cache = self._caches[part]
        rows = cache.get(key)
        if rows is None:
            if len(cache) >= COND_CACHE:
                del cache[next(iter(cache))]
            rows = np.add.reduce(self._rows.take(key, axis=0), axis=0)
            if part == 0:
                rows += self._bias
            cache[key] = rows
        return rows


def _stacked_weights(kernel, recurrent, bias, scale, row: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """A stacked layer's [kernel; recurrent] (and its bias as a last ``row``), with the gate scale; the bias
    apart (None when it is a row)."""
    parts = [kernel, recurrent] + ([bias[None, :]] if row else [])
    weights = np.ascontiguousarray(np.vstack(parts) * scale, dtype=DTYPE)
    return weights, None if row else np.ascontiguousarray(bias * scale, dtype=DTYPE)


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
