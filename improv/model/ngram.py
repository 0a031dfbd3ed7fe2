"""Smoothed n-gram models over value indices: the baseline the LSTM must beat, and a generator.

Two smoothings, n <= 3: interpolated Witten-Bell down to an add-one unigram, and interpolated Kneser-Ney
(absolute discount 0.75, continuation counts for the lower orders) down to a uniform distribution.
``best_ngram`` fits both at every order and keeps the best on the validation set, so the baseline is the
strongest of them.

Conditioning: given a condition symbol per position (the chord, the next chord, the beat: what the LSTM
sees), the context becomes ``(v[-2], v[-1], cond)``, backing off by dropping the oldest value first down to
``(cond,)`` (``cond_first=False``), or ``(cond, v[-2], v[-1])``, dropping the condition first
(``cond_first=True``); condition symbols live in their own (negative) range. ``best_ngram`` tries both.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence

import numpy as np

SMOOTHINGS = ("witten-bell", "kneser-ney")
DISCOUNT = 0.75


class NGram:
    """An interpolated n-gram over integer symbols 0..size-1."""

    def __init__(
        self, order: int, size: int, smoothing: str = "witten-bell", cond_first: bool = False
    ) -> None:
        if not 1 <= order <= 4:
            raise ValueError("order must be 1..4")
        if smoothing not in SMOOTHINGS:
            raise ValueError(f"smoothing must be one of {SMOOTHINGS}")
        self.order = order
        self.size = size
        self.smoothing = smoothing
        self.cond_first = cond_first
        self.counts: list[dict[tuple[int, ...], Counter]] = [defaultdict(Counter) for _ in range(order)]
        self._tables: list[dict[tuple[int, ...], tuple[Counter, int, int]]] = []
        self._continuation: list[dict[tuple[int, ...], tuple[Counter, int, int]]] = []

    def fit(self, sequences: Sequence[Sequence[int]], conds: Sequence[Sequence[int]] | None = None) -> NGram:
        """Count every context of length 0..order-1 in the sequences (with a condition per position).

        The contexts ``context`` gives are built for every position at once (``_context_rows``) and each
        level's (context, symbol) pairs counted with ``np.unique``: the same counts as a loop over positions.
        """
        rows, lengths, symbols = [], [], []
        for n, seq in enumerate(sequences):
            ctx, length = self._context_rows(np.asarray(seq, np.int64), None if conds is None else conds[n])
            rows.append(ctx), lengths.append(length), symbols.append(np.asarray(seq, np.int64))
        if rows:
            ctx, length, sym = np.concatenate(rows), np.concatenate(lengths), np.concatenate(symbols)
            width = self.order - 1
            for k in range(self.order):
                keep = length >= k
                _count_level(self.counts[k], np.column_stack([ctx[keep, width - k :], sym[keep]]))
        self._tables = [_summarise(level) for level in self.counts]
        # continuation counts: in how many distinct one-longer contexts each (context, symbol) was seen
        continuation: list[dict[tuple[int, ...], Counter]] = [defaultdict(Counter) for _ in range(self.order)]
        for k in range(1, self.order):
            for ctx, seen in self.counts[k].items():
                for sym in seen:
                    continuation[k - 1][ctx[1:]][sym] += 1
        self._continuation = [_summarise(level) for level in continuation]
        return self

    def truncated(self, order: int, smoothing: str | None = None) -> NGram:
        """This model's counts cut to a lower order, with either smoothing: what a fit of that order counts.

        A context's level-k entry is its last k symbols whatever the order, so the lower levels are shared;
        with the condition first the contexts' shape depends on the order, so only the same order is.
        """
        if not 1 <= order <= self.order or (self.cond_first and order != self.order):
            raise ValueError(f"cannot cut an order-{self.order} model to order {order}")
        model = NGram(order, self.size, smoothing or self.smoothing, self.cond_first)
        model.counts = self.counts[:order]
        model._tables = self._tables[:order]
        model._continuation = [*self._continuation[: order - 1], {}]
        return model

    def prob(self, context: Sequence[int], sym: int) -> float:
        """P(sym | the last order-1 symbols of context)."""
        if self.smoothing == "kneser-ney":
            return self._kneser_ney(context, sym)
        unigram, total, _ = self._tables[0][()]
        p = (unigram[sym] + 1) / (total + self.size)
        for k in range(1, min(self.order, len(context) + 1)):
            found = self._tables[k].get(tuple(context[len(context) - k :]))
            if found is None:
                continue
            seen, total, types = found
            lam = total / (total + types)
            p = lam * seen[sym] / total + (1 - lam) * p
        return p

    def _kneser_ney(self, context: Sequence[int], sym: int) -> float:
        top = min(self.order - 1, len(context))
        p = 1.0 / self.size
        for k in range(top + 1):
            table = self._tables[k] if k == top else self._continuation[k]
            found = table.get(tuple(context[len(context) - k :]) if k else ())
            if found is None:
                continue
            seen, total, types = found
            p = max(seen[sym] - DISCOUNT, 0.0) / total + DISCOUNT * types / total * p
        return p

    def distribution(self, context: Sequence[int]) -> np.ndarray:
        """P(. | context) over all symbols."""
        return np.array([self.prob(context, s) for s in range(self.size)])

    def context(self, seq: Sequence[int], i: int, cond: int | None = None) -> list[int]:
        """The context of position ``i``: the previous values, then the condition symbol if given."""
        if cond is None:
            return list(seq[max(0, i - self.order + 1) : i])
        history = list(seq[max(0, i - self.order + 2) : i])
        if self.cond_first:
            # the condition is the oldest element only once the history is full (else it would be dropped
            # before values that are not there)
            return [-1 - int(cond), *history] if len(history) == self.order - 2 else history
        return [*history, -1 - int(cond)]

    def _context_rows(self, seq: np.ndarray, cond) -> tuple[np.ndarray, np.ndarray]:
        """``context(seq, i, cond[i])`` for every ``i`` at once: right-aligned rows (n, order - 1), lengths
        (only the last ``length`` columns of a row are its context)."""
        n, width = len(seq), self.order - 1
        ctx = np.zeros((n, width), np.int64)
        if not width:
            return ctx, np.zeros(n, np.int64)
        pos = np.arange(n)
        back = width if cond is None else width - 1  # how many previous values a context holds at most
        history = np.minimum(pos, back)
        shift = 0 if cond is None or self.cond_first else 1  # the condition sits last: values end one early
        for j in range(1, min(back, n - 1) + 1):
            ctx[j:, width - j - shift] = seq[: n - j]
        if cond is None:
            return ctx, history
        symbol = -1 - np.asarray(cond, np.int64)
        if not self.cond_first:
            ctx[:, width - 1] = symbol
            return ctx, history + 1
        full = history == back
        ctx[full, 0] = symbol[full]
        return ctx, np.where(full, width, history)

    def nll(self, sequences: Sequence[Sequence[int]], conds: Sequence[Sequence[int]] | None = None) -> float:
        """Mean negative log-likelihood per symbol (nats)."""
        total, count = 0.0, 0
        for n, seq in enumerate(sequences):
            seq = list(seq)
            for i, sym in enumerate(seq):
                ctx = self.context(seq, i, None if conds is None else conds[n][i])
                total -= math.log(self.prob(ctx, sym))
                count += 1
        return total / max(count, 1)


def _count_level(level: dict[tuple[int, ...], Counter], pairs: np.ndarray) -> None:
    """Add the (context..., symbol) rows of ``pairs`` to ``level``: one Counter per distinct context.

    Rows become one integer each (mixed radix, the symbol last) when that fits in 62 bits, so ``np.unique``
    sorts plain integers; equal contexts are then neighbours.
    """
    if not len(pairs):
        return
    low = int(pairs.min())
    shifted = pairs - low
    radix = int(shifted.max()) + 1
    if radix ** pairs.shape[1] < 2**62:
        keys = shifted @ (radix ** np.arange(pairs.shape[1] - 1, -1, -1, dtype=np.int64))
        _, first, counts = np.unique(keys, return_index=True, return_counts=True)
        unique = pairs[first]
    else:
        unique, counts = np.unique(pairs, axis=0, return_counts=True)
    rows, counts = unique.tolist(), counts.tolist()
    start = 0
    for end in range(1, len(rows) + 1):
        if end == len(rows) or rows[end][:-1] != rows[start][:-1]:
            ctx = tuple(rows[start][:-1])
            seen = level[ctx]
            for i in range(start, end):
                seen[rows[i][-1]] += counts[i]
            start = end


def _summarise(level: dict[tuple[int, ...], Counter]) -> dict[tuple[int, ...], tuple[Counter, int, int]]:
    """Per context: the counts, their total and the number of distinct symbols."""
    return {ctx: (seen, sum(seen.values()), len(seen)) for ctx, seen in level.items() if seen}


def best_ngram(
    train: Sequence[Sequence[int]],
    val: Sequence[Sequence[int]],
    size: int,
    max_order: int = 3,
    conds: dict[str, tuple[Sequence[Sequence[int]], Sequence[Sequence[int]]]] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[NGram, dict[str, float]]:
    """Fit every smoothing at orders 1..max_order (and with each condition); the best on validation.

    The scores are keyed ``"<order>"`` for Witten-Bell and ``"<order>-kn"`` for Kneser-Ney, with
    ``"+<name>"`` for a condition: ``conds`` maps a name to the (train, val) condition symbols. A conditioned
    order-n model sees n-1 previous values and the condition. Lower orders share the highest order's
    counts (``NGram.truncated``: the same numbers a fit of their own would count), so a condition costs
    one fit with it last and one per order with it first. ``progress(done, total)`` follows the scoring.
    """
    orders = range(1, max_order + 1)
    plans = [("", None, None, False, max_order, [(n, s) for n in orders for s in SMOOTHINGS])]
    for name, (tr, va) in (conds or {}).items():
        # conditioned: Kneser-Ney only (it wins every unconditioned comparison), at least one value back
        plans.append((f"+{name}", tr, va, False, max_order, [(n, "kneser-ney") for n in orders]))
        # condition first: order 1 would be the model above; the context's shape differs per order
        plans += [(f"+{name}/first", tr, va, True, n, [(n, "kneser-ney")]) for n in range(2, max_order + 1)]
    total = sum(len(p[-1]) for p in plans)
    scores: dict[str, float] = {}
    models: dict[str, NGram] = {}
    for suffix, cond_train, cond_val, first, top, scored in plans:
        span = top + (1 if cond_train is not None else 0)
        full = NGram(min(span, 4), size, "kneser-ney", first).fit(train, cond_train)
        for order, smoothing in scored:
            key = (str(order) if smoothing == "witten-bell" else f"{order}-kn") + suffix
            model = full.truncated(min(order + span - top, 4), smoothing)
            models[key], scores[key] = model, model.nll(val, cond_val)
            if progress is not None:
                progress(len(scores), total)
    best = min(scores, key=scores.get)
    return models[best], scores
