"""The exported LSTM run forward over whole sequences at once, in numpy: per-position NLL and states.

Training and evaluation use it, never the live path (which steps ``improv.model.cell`` one value at a
time). It computes exactly what the live cell computes (same weights, same float32 arithmetic, every
sequence from a zero state, one state carried to its end), batched over sequences: the sequences are
sorted by length and the ones still running at a step are a prefix of the batch. Weights are a mapping
in ``cell.npz``'s layout (``kernel``, ``recurrent``, ``bias``, ``kernel_1``... ``dense_w``, ``dense_b``);
conditioning is given as hot positions (``Sequences.conds``). Units: NLL in nats. No TensorFlow here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

DTYPE = np.float32
POSITION_EDGES = (128, 256, 512)  # NLL by position: 0-127, 128-255, 256-511, 512 and later


@dataclass
class Forward:
    """What a forward pass gives: per sequence, -log p of every target, and the states before starts."""

    nll: list[np.ndarray]  # float64 (n,) per sequence (empty arrays when not asked for)
    states: list[np.ndarray]  # float32 (starts, layers, 2, units) per sequence: (a, c) before each start


def stack_of(arrays: Mapping[str, np.ndarray]) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The (kernel, recurrent, bias) of every LSTM layer, bottom first."""
    layers = [(arrays["kernel"], arrays["recurrent"], arrays["bias"])]
    while f"kernel_{len(layers)}" in arrays:
        k = len(layers)
        layers.append((arrays[f"kernel_{k}"], arrays[f"recurrent_{k}"], arrays[f"bias_{k}"]))
    return [tuple(np.asarray(w, DTYPE) for w in layer) for layer in layers]


def run(
    arrays: Mapping[str, np.ndarray],
    n_values: int,
    values: Sequence[np.ndarray],
    conds: Sequence[np.ndarray],
    starts: Sequence[Sequence[int]] | None = None,
    nll: bool = True,
    first: Sequence[int] | None = None,
) -> Forward:
    """Run every sequence from a zero state to its end.

    ``values[i]`` are the targets (the input at step t is ``values[i][t - 1]``, the all-zero start vector at
    t = 0), ``conds[i]`` the hot conditioning positions of each step (n, k) (or (n, 0) without
    conditioning). ``starts[i]`` lists positions whose incoming state is wanted (the state after step
    ``start - 1``; zeros for 0): the initial states of training windows that carry the state.
    ``first[i]`` replaces the start vector as the input of step 0 (a window cut from inside a solo).
    """
    layers = stack_of(arrays)
    units = layers[0][1].shape[0]
    out = Forward([np.zeros(0)] * len(values), [np.zeros((0, len(layers), 2, units), DTYPE)] * len(values))
    order = sorted(range(len(values)), key=lambda i: -len(values[i]))
    lengths = np.array([len(values[i]) for i in order], dtype=np.int64)
    if not len(order) or not lengths[0]:
        return out
    prev, hot, target = _padded(values, conds, order, int(lengths[0]))
    if first is not None:
        prev[:, 0] = [first[i] for i in order]
    dense = (np.asarray(arrays["dense_w"], DTYPE), np.asarray(arrays["dense_b"], DTYPE)) if nll else None
    wanted = _wanted(starts, order, prev.shape[1])
    losses, saved = _loop(layers, n_values, lengths, (prev, hot, target), wanted, dense)
    zero = np.zeros((len(layers), 2, units), DTYPE)
    for row, i in enumerate(order):
        if nll:
            out.nll[i] = losses[row, : lengths[row]].astype(np.float64)
        if starts is not None:
            found = [saved.get((row, s), zero) for s in starts[i]]
            out.states[i] = np.array(found, DTYPE).reshape(len(found), len(layers), 2, units)
    return out


def _loop(layers, n_values, lengths, inputs, wanted, dense):
    """The steps over the padded batch: -log p per (row, step) (if ``dense``), and the states wanted."""
    prev, hot, target = inputs
    units = layers[0][1].shape[0]
    a = np.zeros((len(layers), len(lengths), units), DTYPE)
    c = np.zeros_like(a)
    # the value part of the first kernel, with a zero row for the start (index -1), and the cond part
    kernel0 = layers[0][0]
    value_rows = np.vstack([kernel0[:n_values], np.zeros((1, kernel0.shape[1]), DTYPE)])
    cond_rows = kernel0[n_values:]
    losses = np.zeros(prev.shape)
    saved: dict[tuple[int, int], np.ndarray] = {}
    for t in range(prev.shape[1]):
        n = int(np.searchsorted(-lengths, -t, side="left"))  # the sequences longer than t: a prefix
        for row in np.flatnonzero(wanted[:n, t]):
            saved[(int(row), t)] = np.stack([a[:, row], c[:, row]], axis=1)
        x = value_rows[prev[:n, t]] + layers[0][2]
        if cond_rows.shape[0] and hot.shape[2]:
            x += cond_rows[hot[:n, t]].sum(axis=1)
        _step(x + a[0, :n] @ layers[0][1], a, c, 0, n)
        for k in range(1, len(layers)):
            kernel, recurrent, bias = layers[k]
            _step(a[k - 1, :n] @ kernel + a[k, :n] @ recurrent + bias, a, c, k, n)
        if dense is not None:
            logits = a[-1, :n] @ dense[0] + dense[1]
            top = logits.max(axis=1, keepdims=True)
            lse = np.log(np.exp(logits - top).sum(axis=1)) + top[:, 0]
            losses[:n, t] = lse - logits[np.arange(n), target[:n, t]]
    return losses, saved


def _step(z: np.ndarray, a: np.ndarray, c: np.ndarray, k: int, n: int) -> None:
    """Finish layer ``k``'s step for the first ``n`` sequences from the pre-activations (i, f, c, o)."""
    units = a.shape[2]
    i = _sigmoid(z[:, :units])
    f = _sigmoid(z[:, units : 2 * units])
    o = _sigmoid(z[:, 3 * units :])
    c[k, :n] = f * c[k, :n] + i * np.tanh(z[:, 2 * units : 3 * units])
    a[k, :n] = o * np.tanh(c[k, :n])


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * np.tanh(0.5 * x) + 0.5


def _padded(values, conds, order, big):
    """Inputs (previous value, -1 at the start), hot positions and targets, padded to ``big`` steps."""
    k = conds[order[0]].shape[1] if len(conds[order[0]].shape) == 2 else 0
    prev = np.full((len(order), big), -1, np.int32)
    hot = np.zeros((len(order), big, k), np.int32)
    target = np.zeros((len(order), big), np.int32)
    for row, i in enumerate(order):
        n = len(values[i])
        target[row, :n] = values[i]
        prev[row, 1:n] = values[i][:-1]
        if k:
            hot[row, :n] = conds[i]
    return prev, hot, target


def _wanted(starts, order, big) -> np.ndarray:
    """(rows, steps) True where the state entering a step is asked for (start 0 is zeros: not stored)."""
    wanted = np.zeros((len(order), big), bool)
    if starts is not None:
        for row, i in enumerate(order):
            for s in starts[i]:
                if 0 < s < big:
                    wanted[row, s] = True
    return wanted


def by_position(nlls: Sequence[np.ndarray], edges: Sequence[int] = POSITION_EDGES) -> dict[str, dict]:
    """Mean NLL per value in position buckets (0-127, 128-255, 256-511, 512+ by default), with counts."""
    bounds = [0, *edges, None]
    out = {}
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        parts = [x[lo:hi] for x in nlls]
        count = int(sum(len(p) for p in parts))
        name = f"{lo}-{hi - 1}" if hi is not None else f"{lo}+"
        out[name] = {"nll": float(sum(p.sum() for p in parts) / max(count, 1)), "values": count}
    return out


def mean_nll(nlls: Sequence[np.ndarray]) -> float:
    """Mean NLL per value over every position of every sequence."""
    count = sum(len(x) for x in nlls)
    return float(sum(x.sum() for x in nlls) / max(count, 1))
