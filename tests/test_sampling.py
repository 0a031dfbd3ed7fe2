"""Sampling: argmax, temperature, top-p, the loop guard, and the one seeded generator."""

from __future__ import annotations

import numpy as np
import pytest

from improv.model.sampling import Sampler


def cyclic_logits(prev: int | None, n: int = 6) -> np.ndarray:
    """A model that strongly prefers (prev + 1) % 3: greedy decoding cycles 0, 1, 2, 0, 1, 2 ..."""
    logits = np.zeros(n)
    logits[0 if prev is None else (prev + 1) % 3] = 5.0
    logits[3] = 4.0  # the runner-up
    return logits


def decode(sampler: Sampler, steps: int = 30) -> list[int]:
    out, prev = [], None
    for _ in range(steps):
        prev = sampler.sample(cyclic_logits(prev))
        out.append(prev)
    return out


def test_argmax_without_the_guard_cycles_like_the_seed():
    seq = decode(Sampler(np.random.default_rng(0), temperature=0, loop_guard=False))
    assert seq[:9] == [0, 1, 2] * 3 and seq[-6:] == [0, 1, 2] * 2


def test_the_guard_breaks_every_loop():
    sampler = Sampler(np.random.default_rng(0), temperature=0, loop_guard=True)
    seq = decode(sampler, 60)
    assert sampler.loops_broken > 0
    for period in range(1, 9):
        for i in range(len(seq) - 3 * period):
            window = seq[i : i + 3 * period]
            assert window != window[:period] * 3, f"period {period} loop at {i}"


def test_temperature_sampling_is_seeded():
    logits = np.log(np.array([0.1, 0.2, 0.3, 0.4]))
    draw = lambda seed: [Sampler(np.random.default_rng(seed)).sample(logits.copy()) for _ in range(5)]  # noqa: E731
    assert draw(1) == draw(1)
    counts = np.bincount(
        [Sampler(np.random.default_rng(s), loop_guard=False).sample(logits.copy()) for s in range(4000)],
        minlength=4,
    )
    assert np.allclose(counts / 4000, [0.1, 0.2, 0.3, 0.4], atol=0.03)


def test_low_temperature_sharpens_and_top_p_cuts_the_tail():
    logits = np.log(np.array([0.05, 0.05, 0.3, 0.6]))
    rng = np.random.default_rng(0)
    cold = Sampler(rng, temperature=0.2, loop_guard=False)
    assert sum(cold.sample(logits.copy()) == 3 for _ in range(500)) > 450
    nucleus = Sampler(np.random.default_rng(0), top_p=0.85, loop_guard=False)
    picks = {nucleus.sample(logits.copy()) for _ in range(500)}
    assert picks == {2, 3}


def test_bad_settings_are_refused():
    with pytest.raises(ValueError):
        Sampler(np.random.default_rng(0), temperature=-1)
    with pytest.raises(ValueError):
        Sampler(np.random.default_rng(0), top_p=0)
