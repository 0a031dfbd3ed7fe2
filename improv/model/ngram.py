"""A smoothed n-gram model over value indices: the baseline the LSTM must beat, and a generator.

Interpolated Witten-Bell smoothing down to an add-one unigram; n <= 3.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence

import numpy as np


class NGram:
    """An interpolated Witten-Bell n-gram over integer symbols 0..size-1."""

    def __init__(self, order: int, size: int) -> None:
        if not 1 <= order <= 3:
            raise ValueError("order must be 1, 2 or 3")
        self.order = order
        self.size = size
        self.counts: list[dict[tuple[int, ...], Counter]] = [defaultdict(Counter) for _ in range(order)]

    def fit(self, sequences: Sequence[Sequence[int]]) -> NGram:
        """Count every context of length 0..order-1 in the sequences."""
        for seq in sequences:
            seq = list(seq)
            for i, sym in enumerate(seq):
                for k in range(self.order):
                    if i - k < 0:
                        break
                    self.counts[k][tuple(seq[i - k : i])][sym] += 1
        return self

    def prob(self, context: Sequence[int], sym: int) -> float:
        """P(sym | the last order-1 symbols of context)."""
        p = (self.counts[0][()][sym] + 1) / (sum(self.counts[0][()].values()) + self.size)
        for k in range(1, self.order):
            if len(context) < k:
                break
            seen = self.counts[k].get(tuple(context[len(context) - k :]))
            if not seen:
                continue
            total, types = sum(seen.values()), len(seen)
            lam = total / (total + types)
            p = lam * seen[sym] / total + (1 - lam) * p
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


def best_ngram(
    train: Sequence[Sequence[int]], val: Sequence[Sequence[int]], size: int, max_order: int = 3
) -> tuple[NGram, dict[int, float]]:
    """Fit orders 1..max_order; return the one with the lowest validation NLL and every order's NLL."""
    scores: dict[int, float] = {}
    models: dict[int, NGram] = {}
    for order in range(1, max_order + 1):
        models[order] = NGram(order, size).fit(train)
        scores[order] = models[order].nll(val)
    best = min(scores, key=scores.get)
    return models[best], scores
