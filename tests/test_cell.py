"""The numpy cell against the Keras model of the same weights, and its state handling."""

from __future__ import annotations

import numpy as np
import pytest
from modelkit import degree_model_dir, random_model_dir, scale_line

from improv.errors import InputError
from improv.generate import load_model
from improv.model.cell import Cell, softmax
from improv.model.conditioning import (
    COND_SIZE,
    COND_SIZE_V2,
    GROUPS_V3,
    Context,
    condition_indices,
    indices_v2,
)


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


def test_the_two_part_row_cache_steps_as_whole_patterns_do(tmp_path, monkeypatch):
    """Step 2's arithmetic (split caching, its fallback for a pattern of another length, eviction, biases as
    weight rows) gives step 1's logits but for float rounding."""
    import improv.model.cell as cell_module
    from improv.model.conditioning import cache_split
    from improv.model.store import read_model_dir

    monkeypatch.setattr(cell_module, "COND_CACHE", 8)  # small enough to evict within the run
    files = read_model_dir(degree_model_dir(tmp_path / "m", layers=2, cond_version=3))
    split = Cell.from_arrays(files.weights, len(files.vocab), cache_split(3), step=2)
    whole = Cell.from_arrays(files.weights, len(files.vocab), cache_split(3), step=1)
    offsets = np.cumsum([0] + [size for _, size in GROUPS_V3])[:-1]
    rng = np.random.default_rng(1)
    for t in range(300):
        hot = [int(o + rng.integers(size)) for o, (_, size) in zip(offsets, GROUPS_V3, strict=True)]
        cond = tuple(hot if t % 7 else hot[:5])  # now and then a short pattern: the whole-pattern path
        value = int(rng.integers(len(files.vocab)))
        assert np.allclose(split.step_logits(value, cond), whole.step_logits(value, cond), atol=1e-5)
    assert all(0 < len(cache) <= 8 for cache in split._cond._caches)
    assert len(whole._cond._caches[1]) == 0  # step 1 keeps whole patterns only


def test_the_card_names_the_step_arithmetic(tmp_path):
    import json

    path = degree_model_dir(tmp_path / "m", layers=2, cond_version=3)
    card = json.loads((path / "card.json").read_text())
    from improv.model.store import model_hash

    assert "cell_step" not in card and load_model(path).cell._dense_b is not None  # an old card: step 1
    old_hash = model_hash(path)
    (path / "card.json").write_text(json.dumps({**card, "cell_step": 1, "name": "renamed"}))
    assert model_hash(path) == old_hash  # step 1 and the rest of the card leave the hash as it was
    (path / "card.json").write_text(json.dumps({**card, "cell_step": 2}))
    assert model_hash(path) != old_hash  # the arithmetic decides notes: a log names it
    cell = load_model(path).cell
    assert cell._dense_b is None and cell._cond._size == len(GROUPS_V3)
    for bad in (3, "2", 1.0, None):
        (path / "card.json").write_text(json.dumps({**card, "cell_step": bad}))
        with pytest.raises(InputError, match="cell_step must be 1 or 2"):
            load_model(path)


def test_weights_that_do_not_fit_the_vocabulary_are_refused(tmp_path):
    path = random_model_dir(tmp_path / "m")
    with pytest.raises(InputError, match=r"cell.npz: dense \(16, \d+\)/\(\d+,\) is not \(16, 3\)"):
        Cell.load(path, n_values=3)


def test_softmax_is_stable():
    p = softmax(np.array([1000.0, 1000.0, -1000.0]))
    assert np.allclose(p, [0.5, 0.5, 0.0])


def _keras_and_numpy(which: str):
    """A Keras model and the numpy Cell of the same weights: the shipped model, or seeded random ones."""
    keras = pytest.importorskip("keras", reason="the parity test needs the [train] extra (Keras)")
    from improv.generate import default_model_dir
    from improv.model import train

    keras.utils.set_random_seed(0)
    if which == "shipped":
        model = keras.saving.load_model(default_model_dir() / "model.keras")
        # the exported artifact itself, as the live path loads it
        return keras, model, load_model().cell
    if which == "v1":
        model = keras.saving.load_model(default_model_dir().parent / "v1" / "model.keras")
        return keras, model, load_model(default_model_dir().parent / "v1").cell
    layers, cond = (1, COND_SIZE) if which == "random" else (2, COND_SIZE_V2)
    rng = np.random.default_rng(0)
    model = train.build_model(40, cond, 64, layers=layers)
    # larger than Keras' init so that the gates saturate now and then
    for lstm in train.lstm_layers(model):
        lstm.set_weights([w + rng.normal(0, 0.3, w.shape) for w in lstm.get_weights()])
    arrays = {}
    for k, lstm in enumerate(train.lstm_layers(model)):
        for name, w in zip(("kernel", "recurrent", "bias"), lstm.get_weights(), strict=True):
            arrays[name + (f"_{k}" if k else "")] = w
    arrays["dense_w"], arrays["dense_b"] = model.get_layer("dense").get_weights()
    return keras, model, Cell.from_arrays(arrays, n_values=40)


def _hot(cell, chords, t):
    """Hot conditioning positions for step ``t`` in the layout the cell takes (version 1 or 2)."""
    chord = chords[t % len(chords)]
    if cell.cond_size == COND_SIZE:
        return condition_indices(chord, (t * 6) % 48)
    ctx = Context(chord, (t * 6) % 48, 4, chords[(t + 1) % len(chords)], 48 - (t * 6) % 48,
                  (t % 7) / 6, 100.0 + 9 * t % 200, t % 20, 1 + t // 50, t // 8)
    return indices_v2(ctx)


@pytest.mark.train
@pytest.mark.parametrize("which", ["shipped", "v1", "random", "stacked"])
def test_parity_with_keras_over_200_steps(which):
    """Probabilities and every layer's a agree within 1e-5 at each of 200 steps; c within 1e-5 relative."""
    keras, model, cell = _keras_and_numpy(which)
    from improv.model import train

    step_model = train.build_step_model(model)
    n_values, units, layers = cell.n_values, cell.units, cell.layers
    assert layers == len(train.lstm_layers(model))
    rng = np.random.default_rng(1)
    line = scale_line(bars=40)
    chords = [line.chord_at(t) for t in range(0, 48 * 40, 12)]
    states = [np.zeros((1, units), np.float32) for _ in range(2 * layers)]
    prev = None
    worst_p = worst_a = worst_c = 0.0
    for t in range(200):
        hot = _hot(cell, chords, t)
        cond = np.zeros((1, 1, cell.cond_size), np.float32)
        cond[0, 0, list(hot)] = 1
        logits, *states = step_model.predict_on_batch(
            [np.array([[-1 if prev is None else prev]], np.int32), cond, *states]
        )
        ours = cell.step(prev, hot)
        theirs = keras.ops.convert_to_numpy(keras.ops.softmax(logits))[0]
        worst_p = max(worst_p, float(np.abs(ours - theirs).max()))
        for k in range(layers):
            c_keras = np.asarray(states[2 * k + 1])[0]
            worst_a = max(worst_a, float(np.abs(cell.a[k] - np.asarray(states[2 * k])[0]).max()))
            # c is unbounded (it reaches tens): float32 agrees to ~1e-7 of its size, so compare relatively
            relative = np.abs(cell.c[k] - c_keras) / np.maximum(1.0, np.abs(c_keras))
            worst_c = max(worst_c, float(relative.max()))
        prev = int(rng.integers(n_values))
    assert worst_p <= 1e-5, f"max abs difference of probabilities {worst_p}"
    assert worst_a <= 1e-5, f"max abs difference of a layer's a {worst_a}"
    assert worst_c <= 1e-5, f"max difference of a layer's c, relative to max(1, |c|) {worst_c}"


def test_stacked_state_is_per_layer_and_survives_between_calls(tmp_path):
    from modelkit import degree_model_dir

    model = load_model(degree_model_dir(tmp_path / "m", layers=3))
    cell = model.cell
    assert cell.layers == 3 and cell.a.shape == (3, cell.units)
    cell.step(None, None)
    first = cell.state
    cell.step(1, None)
    assert all(not np.allclose(first[0][k], cell.a[k]) for k in range(3))
    cell.state = first
    assert np.array_equal(cell.a, first[0]) and np.array_equal(cell.c, first[1])


def test_a_stacked_layer_of_the_wrong_shape_is_refused(tmp_path):
    from modelkit import degree_model_dir

    path = degree_model_dir(tmp_path / "m", layers=2)
    with np.load(path / "cell.npz") as data:
        arrays = dict(data)
    arrays["kernel_1"] = arrays["kernel_1"][:, :8]
    with pytest.raises(InputError, match="layer 2"):
        Cell.from_arrays(arrays, n_values=arrays["dense_b"].shape[0])


@pytest.mark.train
def test_shared_value_features_fold_into_the_plain_cell():
    """A model trained with shared value features (in and out) runs as the plain numpy cell: the folded
    weights give the Keras model's logits within 1e-4 over a whole window, every value's row differs."""
    keras = pytest.importorskip("keras", reason="needs the [train] extra (Keras)")
    from improv.model import layers as klayers
    from improv.model import train
    from improv.theory import degrees

    values = [t.value for i in range(4) for t in degrees.encode(scale_line(seed=i))]
    vocab = degrees.DegreeVocabulary(values + [degrees.Degree(None, 12)])
    features = klayers.value_features(vocab)
    assert features.shape[0] == len(vocab) and (features.sum(axis=1) == 3).all()
    keras.utils.set_random_seed(0)
    model = train.build_model(len(vocab), COND_SIZE_V2, 16, layers=2, features=features)
    rng = np.random.default_rng(2)
    for layer in model.layers:
        if layer.get_weights():
            layer.set_weights([w + rng.normal(0, 0.2, w.shape).astype(w.dtype) for w in layer.get_weights()])
    steps = 64
    prev = rng.integers(0, len(vocab), steps).astype(np.int32)
    prev[0] = -1
    hot = [tuple(sorted(rng.choice(COND_SIZE_V2, 11, replace=False).tolist())) for _ in range(steps)]
    cond = np.zeros((1, steps, COND_SIZE_V2), np.float32)
    for t, h in enumerate(hot):
        cond[0, t, list(h)] = 1
    theirs = np.asarray(model.predict_on_batch([prev[None, :], cond]))[0]
    arrays = train.cell_arrays(model)
    assert arrays["kernel"].shape == (len(vocab) + COND_SIZE_V2, 64)
    cell = Cell.from_arrays(arrays, n_values=len(vocab))
    ours = np.stack([cell.step_logits(None if p < 0 else int(p), h).copy()
                     for p, h in zip(prev, hot, strict=True)])
    assert np.abs(ours - theirs).max() < 1e-4
    plain = train.plain_model(model)
    assert plain.get_layer("one_hot").features is not None
