"""The numpy cell against the Keras model of the same weights, and its state handling."""

from __future__ import annotations

import numpy as np
import pytest
from modelkit import random_model_dir, scale_line

from improv.errors import InputError
from improv.generate import load_model
from improv.model.cell import Cell, softmax
from improv.model.conditioning import COND_SIZE, condition_indices


def test_step_returns_a_distribution_and_keeps_state(tmp_path):
    model = load_model(random_model_dir(tmp_path / "m"))
    cell = model.cell
    p = cell.step(None, (0, 8, 12))
    assert p.shape == (len(model.vocab),) and abs(p.sum() - 1) < 1e-9
    a1 = cell.state[0]
    cell.step(3, (0, 8, 12))
    assert not np.allclose(a1, cell.state[0])
    cell.reset()
    assert not cell.state[0].any()


def test_prime_equals_stepping(tmp_path):
    model = load_model(random_model_dir(tmp_path / "m"))
    steps = [(None, (1, 8, 12)), (2, (1, 8, 18)), (5, (2, 9, 12))]
    model.cell.prime(steps)
    primed = model.cell.state
    model.cell.reset()
    for value, cond in steps:
        model.cell.step(value, cond)
    assert np.allclose(primed[0], model.cell.state[0]) and np.allclose(primed[1], model.cell.state[1])


def test_vector_and_index_conditioning_agree(tmp_path):
    model = load_model(random_model_dir(tmp_path / "m"))
    hot = (3, 9, 15)
    vec = np.zeros(COND_SIZE)
    vec[list(hot)] = 1
    a = model.cell.step(1, hot).copy()
    model.cell.reset()
    b = model.cell.step(1, vec)
    assert np.allclose(a, b)


def test_weights_that_do_not_fit_the_vocabulary_are_refused(tmp_path):
    path = random_model_dir(tmp_path / "m")
    with pytest.raises(InputError, match=r"cell.npz: dense \(16, \d+\)/\(\d+,\) is not \(16, 3\)"):
        Cell.load(path, n_values=3)


def test_softmax_is_stable():
    p = softmax(np.array([1000.0, 1000.0, -1000.0]))
    assert np.allclose(p, [0.5, 0.5, 0.0])


def _keras_and_numpy(which: str):
    """A Keras model and the numpy Cell of the same weights: the shipped model, or a seeded random one."""
    keras = pytest.importorskip("keras", reason="the parity test needs the [train] extra (Keras)")
    from improv.generate import default_model_dir
    from improv.model import train

    keras.utils.set_random_seed(0)
    if which == "shipped":
        model = keras.saving.load_model(default_model_dir() / "model.keras")
        # the exported artifact itself, as the live path loads it
        return keras, model, load_model().cell
    rng = np.random.default_rng(0)
    model = train.build_model(40, COND_SIZE, 64)
    # larger than Keras' init so that the gates saturate now and then
    model.get_layer("lstm").set_weights(
        [w + rng.normal(0, 0.3, w.shape) for w in model.get_layer("lstm").get_weights()]
    )
    weights = model.get_layer("lstm").get_weights() + model.get_layer("dense").get_weights()
    return keras, model, Cell(*weights, n_values=40)


@pytest.mark.train
@pytest.mark.parametrize("which", ["shipped", "random"])
def test_parity_with_keras_over_200_steps(which):
    """Probabilities agree within 1e-5 at every one of 200 steps (state within 1e-4: float32 on both)."""
    keras, model, cell = _keras_and_numpy(which)
    from improv.model import train

    step_model = train.build_step_model(model)
    n_values, units = cell.n_values, cell.units
    rng = np.random.default_rng(1)
    line = scale_line(bars=40)
    chords = [line.chord_at(t) for t in range(0, 48 * 40, 12)]
    a = np.zeros((1, units), np.float32)
    c = np.zeros((1, units), np.float32)
    prev = None
    worst_p = worst_a = 0.0
    for t in range(200):
        hot = condition_indices(chords[t % len(chords)], (t * 6) % 48)
        cond = np.zeros((1, 1, COND_SIZE), np.float32)
        cond[0, 0, list(hot)] = 1
        logits, a, c = step_model.predict_on_batch(
            [np.array([[-1 if prev is None else prev]], np.int32), cond, a, c]
        )
        ours = cell.step(prev, hot)
        theirs = keras.ops.convert_to_numpy(keras.ops.softmax(logits))[0]
        worst_p = max(worst_p, float(np.abs(ours - theirs).max()))
        worst_a = max(worst_a, float(np.abs(cell.a - np.asarray(a)[0]).max()))
        prev = int(rng.integers(n_values))
    assert worst_p <= 1e-5, f"max abs difference of probabilities {worst_p}"
    assert worst_a <= 1e-4, f"max abs difference of the state a {worst_a}"
