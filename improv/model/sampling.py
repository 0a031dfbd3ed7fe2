"""Choosing the next value from the cell's logits: argmax, temperature, top-p, a loop guard, and a fixed
penalty on some values (the improviser's repeated-pitch penalty).

Every random draw goes through the one ``numpy.random.Generator`` the sampler is given.
"""

from __future__ import annotations

from collections import deque

import numpy as np

LOOP_PENALTY = 1e9  # subtracted from the logit of a value that would continue a loop
DEFAULT_TEMPERATURE = 0.9  # when nothing says otherwise: the one definition (options, settings, help)
TEMPERATURES = (0.0, 5.0)  # the temperatures options and session logs accept (0: always the likeliest)
TOP_P = (0.01, 1.0)  # the nucleus masses options accept


class Sampler:
    """Draws value indices; remembers recent choices to break the loops greedy decoding falls into."""

    def __init__(
        self,
        rng: np.random.Generator,
        temperature: float = 1.0,
        top_p: float = 1.0,
        loop_guard: bool = True,
        max_period: int = 8,
    ) -> None:
        if temperature < 0:
            raise ValueError("temperature must be >= 0")
        if not 0 < top_p <= 1:
            raise ValueError("top_p must be in (0, 1]")
        self.rng = rng
        self.temperature = temperature
        self.top_p = top_p
        self.loop_guard = loop_guard
        self.max_period = max_period
        self.history: deque[int] = deque(maxlen=3 * max_period)
        self.loops_broken = 0
        self.penalty: np.ndarray | None = None  # subtracted from the logits at every draw (see penalise)

    def sample(self, logits: np.ndarray) -> int:
        """The next value index (the logits array may be modified)."""
        if self.penalty is not None:
            logits -= self.penalty
        if self.loop_guard:
            banned = self.loop_continuation()
            if banned is not None:
                logits[banned] -= LOOP_PENALTY
                self.loops_broken += 1
        if self.temperature == 0:
            choice = int(np.argmax(logits))
        else:
            choice = self._draw(logits)
        self.history.append(choice)
        return choice

    def _draw(self, logits: np.ndarray) -> int:
        """A draw from softmax(logits / T) (computed in place), within the top-p nucleus if top_p < 1."""
        # ufuncs and array methods rather than np.max / np.cumsum / np.searchsorted: the same results
        # without the wrappers' cost (about 5 of the draw's 18 us here)
        logits -= logits[logits.argmax()]
        if self.temperature != 1.0:
            logits *= 1.0 / self.temperature
        weights = np.exp(logits, out=logits)
        if self.top_p < 1.0:
            order = np.argsort(weights)[::-1]
            cumulative = np.add.accumulate(weights[order])
            keep = int(cumulative.searchsorted(self.top_p * cumulative[-1])) + 1
            weights[order[keep:]] = 0.0
        cumulative = np.add.accumulate(weights)
        return int(cumulative.searchsorted(self.rng.random() * cumulative[-1], side="right"))

    def penalise(self, size: int, indices, amount: float) -> None:
        """Lower the logits of ``indices`` by ``amount`` at every draw (e.g. values repeating a pitch)."""
        if amount <= 0 or len(indices) == 0:
            self.penalty = None
            return
        penalty = np.zeros(size)
        penalty[np.asarray(indices, dtype=np.int64)] = amount
        self.penalty = penalty

    def loop_continuation(self) -> int | None:
        """The value that would extend a loop in the recent history, if there is one.

        A loop is the last ``p`` values repeated: three times for p <= 2 (a trill may sound twice), twice
        for longer periods.
        """
        hist = self.history
        size = len(hist)
        if size < 3:
            return None
        last = hist[-1]
        for period in range(1, self.max_period + 1):
            repeats = 3 if period <= 2 else 2
            span = period * repeats
            if span > size:
                break
            if last != hist[-1 - period]:
                continue
            tail = list(hist)[-span:]
            if tail == tail[:period] * repeats:
                return tail[0]
        return None

    def observe(self, index: int) -> None:
        """Record a value chosen elsewhere (a primed phrase) so the loop guard sees it."""
        self.history.append(index)
