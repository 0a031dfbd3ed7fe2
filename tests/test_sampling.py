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


# ------------------------------------------------------------------------- held (improviser version 4)
def _problem(seed: int = 3, n: int = 40, count: int = 5):
    rng = np.random.default_rng(seed)
    return rng.normal(0, 2, n), rng.normal(0, 1, n), np.arange(n) % count


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max())
    return e / e.sum()


def test_held_at_the_reference_temperature_is_the_plain_draw():
    logits, bias, classes = _problem()
    plain = Sampler(np.random.default_rng(7), temperature=0.9, loop_guard=False)
    held = Sampler(np.random.default_rng(7), temperature=0.9, loop_guard=False)
    held.hold(classes, 0.9)
    assert [plain.sample(logits + bias) for _ in range(300)] == [held.sample(logits.copy(), bias)
                                                                 for _ in range(300)]


def test_held_classes_keep_their_shares_and_the_bias_its_size_at_any_temperature():
    logits, bias, classes = _problem()
    reference = np.bincount(classes, _softmax((logits + bias) / 0.9), 5)
    i, j = 0, 5  # two values of class 0
    for temperature in (0.3, 0.7, 1.2, 2.0):
        sampler = Sampler(np.random.default_rng(0), temperature=temperature)
        sampler.hold(classes, 0.9)
        p = sampler._held_weights(logits.copy(), bias)
        p /= p.sum()
        assert np.allclose(np.bincount(classes, p, 5), reference, atol=1e-12)
        # inside a class the temperature chooses; the bias keeps its reference size
        assert np.log(p[i] / p[j]) == pytest.approx((logits[i] - logits[j]) / temperature
                                                   + (bias[i] - bias[j]) / 0.9)
        # unheld, the shares move with the temperature (what holding prevents)
        moved = np.bincount(classes, _softmax((logits + bias) / temperature), 5)
        assert np.abs(moved - reference).max() > 0.02


def test_held_draws_follow_the_held_weights_and_argmax_keeps_the_bias():
    logits, bias, classes = _problem(n=12, count=3)
    sampler = Sampler(np.random.default_rng(1), temperature=0.6, loop_guard=False)
    sampler.hold(classes, 0.9)
    want = sampler._held_weights(logits.copy(), bias)
    counts = np.bincount([sampler.sample(logits.copy(), bias) for _ in range(6000)], minlength=12)
    assert np.allclose(counts / 6000, want / want.sum(), atol=0.02)
    greedy = Sampler(np.random.default_rng(1), temperature=0)
    greedy.hold(classes, 0.9)
    assert greedy.sample(logits.copy(), bias) == int(np.argmax(logits + bias))
    with pytest.raises(ValueError):
        greedy.hold(classes, 0.0)


def test_held_classes_can_change_per_draw():
    logits, bias, classes = _problem()
    sampler = Sampler(np.random.default_rng(0), temperature=0.5)
    sampler.hold(classes, 0.9, count=10)
    other = (classes * 2 + (np.arange(40) % 2)) % 10
    p = sampler._held_weights(logits.copy(), bias, other)
    reference = np.bincount(other, _softmax((logits + bias) / 0.9), 10)
    assert np.allclose(np.bincount(other, p / p.sum(), 10), reference, atol=1e-12)
