"""Smoothed n-gram models over value indices: the baseline the LSTM must beat, and a generator.

Two smoothings, n <= 3: interpolated Witten-Bell down to an add-one unigram, and interpolated Kneser-Ney
(absolute discount 0.75, continuation counts for the lower orders) down to a uniform distribution.
``best_ngram`` fits both at every order and keeps the best on the validation set, so the baseline is the
strongest of them.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence

import numpy as np

SMOOTHINGS = ("witten-bell", "kneser-ney")
DISCOUNT = 0.75


class NGram:
    """An interpolated n-gram over integer symbols 0..size-1."""

    def __init__(self, order: int, size: int, smoothing: str = "witten-bell") -> None:
        if not 1 <= order <= 3:
            raise ValueError("order must be 1, 2 or 3")
        if smoothing not in SMOOTHINGS:
            raise ValueError(f"smoothing must be one of {SMOOTHINGS}")
        self.order = order
        self.size = size
        self.smoothing = smoothing
        self.counts: list[dict[tuple[int, ...], Counter]] = [defaultdict(Counter) for _ in range(order)]
        self._tables: list[dict[tuple[int, ...], tuple[Counter, int, int]]] = []
        self._continuation: list[dict[tuple[int, ...], tuple[Counter, int, int]]] = []

    def fit(self, sequences: Sequence[Sequence[int]]) -> NGram:
        """Count every context of length 0..order-1 in the sequences."""
        for seq in sequences:
            seq = list(seq)
            for i, sym in enumerate(seq):
                for k in range(self.order):
                    if i - k < 0:
                        break
                    self.counts[k][tuple(seq[i - k : i])][sym] += 1
        self._tables = [_summarise(level) for level in self.counts]
        # continuation counts: in how many distinct one-longer contexts each (context, symbol) was seen
        continuation: list[dict[tuple[int, ...], Counter]] = [defaultdict(Counter) for _ in range(self.order)]
        for k in range(1, self.order):
            for ctx, seen in self.counts[k].items():
                for sym in seen:
                    continuation[k - 1][ctx[1:]][sym] += 1
        self._continuation = [_summarise(level) for level in continuation]
        return self

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

    def nll(self, sequences: Sequence[Sequence[int]]) -> float:
        """Mean negative log-likelihood per symbol (nats)."""
        total, count = 0.0, 0
        for seq in sequences:
            seq = list(seq)
            for i, sym in enumerate(seq):
                total -= math.log(self.prob(seq[max(0, i - self.order + 1) : i], sym))
                count += 1
        return total / max(count, 1)


def _summarise(level: dict[tuple[int, ...], Counter]) -> dict[tuple[int, ...], tuple[Counter, int, int]]:
    """Per context: the counts, their total and the number of distinct symbols."""
    return {ctx: (seen, sum(seen.values()), len(seen)) for ctx, seen in level.items() if seen}


def best_ngram(
    train: Sequence[Sequence[int]], val: Sequence[Sequence[int]], size: int, max_order: int = 3
) -> tuple[NGram, dict[str, float]]:
    """Fit every smoothing at orders 1..max_order; return the best on validation and all the NLLs.

    The scores are keyed ``"<order>"`` for Witten-Bell and ``"<order>-kn"`` for Kneser-Ney.
    """
    scores: dict[str, float] = {}
    models: dict[str, NGram] = {}
    for order in range(1, max_order + 1):
        for smoothing in SMOOTHINGS:
            key = str(order) if smoothing == "witten-bell" else f"{order}-kn"
            models[key] = NGram(order, size, smoothing).fit(train)
            scores[key] = models[key].nll(val)
    best = min(scores, key=scores.get)
    return models[best], scores
