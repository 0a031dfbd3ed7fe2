"""Choosing the next value from the cell's logits: argmax, temperature, top-p, a loop guard, and a fixed
penalty on some values (the improviser's repeated-pitch penalty).

Improviser version 4 also holds what the temperature should not change (``Held``, ``Sampler.hold``): the
steering's biases (natural-log odds, ``improv.guidance``) are added after the temperature at the size they
have at the reference temperature, instead of being sharpened or flattened with the model's own odds; and
each class of values (the rhythm: a value's duration, note or rest) keeps the share that sampling at the
reference temperature gives it, so the temperature chooses among the notes of a rhythm, not how busy the
line is. At the reference temperature this is exactly the plain draw.

Every random draw goes through the one ``numpy.random.Generator`` the sampler is given.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

LOOP_PENALTY = 1e9  # subtracted from the logit of a value that would continue a loop
DEFAULT_TEMPERATURE = 0.9  # when nothing says otherwise: the one definition (options, settings, help)
TEMPERATURES = (0.0, 5.0)  # the temperatures options and session logs accept (0: always the likeliest)
TOP_P = (0.01, 1.0)  # the nucleus masses options accept


@dataclass(frozen=True)
class Held:
    """What the temperature leaves alone (improviser version 4): biases are sized at ``reference``, and each
    class of values (``classes``: a class index per value, 0..``count`` - 1) keeps its share at
    ``reference``."""

    classes: np.ndarray
    count: int
    reference: float = DEFAULT_TEMPERATURE


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
        self.held: Held | None = None  # what the temperature leaves alone (see hold); None: nothing

    def sample(self, logits: np.ndarray, bias: np.ndarray | None = None,
               classes: np.ndarray | None = None) -> int:
        """The next value index (the logits array may be modified). ``bias`` (log odds, for a sampler that
        ``hold``s) is added after the temperature; without ``held`` it is simply added to the logits.
        ``classes``: this draw's classes (within the held count), else the held ones."""
        if self.penalty is not None:
            logits -= self.penalty
        if self.loop_guard:
            banned = self.loop_continuation()
            if banned is not None:
                logits[banned] -= LOOP_PENALTY
                self.loops_broken += 1
        if bias is not None and (self.held is None or self.temperature == 0):
            logits += bias  # (at temperature 0: the likeliest with the biases, as without ``held``)
            bias = None
        if self.temperature == 0:
            choice = int(np.argmax(logits))
        elif bias is not None:
            choice = self._pick(self._held_weights(logits, bias, classes))
        else:
            choice = self._draw(logits)
        self.history.append(choice)
        return choice

    def hold(self, classes, reference: float = DEFAULT_TEMPERATURE, count: int | None = None) -> None:
        """From now on, biases passed to ``sample`` are sized at ``reference`` and each class of values
        (``classes``: a class index per value, below ``count``) keeps the share it has at ``reference``."""
        if reference <= 0:
            raise ValueError("the reference temperature must be > 0")
        found = np.asarray(classes, dtype=np.int64)
        size = int(found.max()) + 1 if len(found) else 0
        self.held = Held(found, max(size, count or 0), float(reference))

    def _held_weights(self, logits: np.ndarray, bias: np.ndarray,
                      classes: np.ndarray | None = None) -> np.ndarray:
        """Unnormalised weights: softmax(logits / T + bias / ref), each class scaled to its share under
        softmax((logits + bias) / ref)."""
        held, temperature = self.held, self.temperature
        classes = held.classes if classes is None else classes
        ref = held.reference
        at_ref = logits + bias
        at_ref -= at_ref.max()
        at_ref *= 1.0 / ref
        shares = np.exp(at_ref, out=at_ref)
        if temperature == ref:
            return shares
        own = logits * (1.0 / temperature) + bias * (1.0 / ref)
        own -= own.max()
        weights = np.exp(own, out=own)
        share = np.bincount(classes, shares, held.count)
        mass = np.bincount(classes, weights, held.count)
        scale = np.divide(share, mass, out=np.zeros(held.count), where=mass > 0)
        weights *= scale[classes]
        return weights

    def _draw(self, logits: np.ndarray) -> int:
        """A draw from softmax(logits / T) (computed in place), within the top-p nucleus if top_p < 1."""
        # ufuncs and array methods rather than np.max / np.cumsum / np.searchsorted: the same results
        # without the wrappers' cost (about 5 of the draw's 18 us here)
        logits -= logits[logits.argmax()]
        if self.temperature != 1.0:
            logits *= 1.0 / self.temperature
        return self._pick(np.exp(logits, out=logits))

    def _pick(self, weights: np.ndarray) -> int:
        """A draw in proportion to ``weights`` (unnormalised, modified), within the top-p nucleus."""
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
