"""The model's costs against its baselines, measured in the same run.

- cell step + sampling latency: the numpy cell (seed size n_a=64 over the seed's 78 values, and the shipped
  default model) against a Keras one-step model of the same weights (eager call and ``predict``);
- training the seed corpus 100 epochs: our fused LSTM against the seed's 30-step unrolled model.

Run on its own with ``python -m benchmarks.bench_model``.
"""

from __future__ import annotations

import os
import time

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

STEPS = 5000
KERAS_EAGER_STEPS = 200
KERAS_PREDICT_STEPS = 30


def _percentiles(samples_ns: list[int]) -> dict:
    us = np.array(samples_ns, dtype=np.float64) / 1000.0
    return {"median_us": round(float(np.median(us)), 2), "p99_us": round(float(np.percentile(us, 99)), 2)}


def numpy_step_latency(cell, cond_size: int, steps: int = STEPS, seed: int = 0, conds=None) -> dict:
    """Median/p99 of one cell step + temperature sampling with the loop guard (the live path's work).

    ``conds`` (hot positions per step, cycled) should come from a real session, so the conditioning cache
    sees a realistic mix; without it a fixed version-1 pattern is used.
    """
    from improv.model.sampling import Sampler

    sampler = Sampler(np.random.default_rng(seed), temperature=0.9)
    conds = conds or ([(1, 9, 14)] if cond_size else [None])
    value, samples = None, []
    for i in range(steps):
        cond = conds[i % len(conds)]
        t0 = time.perf_counter_ns()
        value = sampler.sample(cell.step_logits(value, cond))
        samples.append(time.perf_counter_ns() - t0)
    return _percentiles(samples[steps // 10 :])


def session_conditions(model, steps: int = 4000) -> list:
    """The conditioning an improviser with ``model`` computes over Giant Steps (what the cell is fed live)."""
    from improv.generate import ImproviserSettings, build_improviser
    from improv.theory.tunes import find_tune

    imp = build_improviser(find_tune("Giant Steps").progression, ImproviserSettings(seed=0, temperature=1.0),
                           model=model, tempo=240.0)
    conds = []
    for _ in range(steps):
        conds.append(imp.condition(imp.position, imp.progression.chord_at(imp.position)))
        imp.step()
    model.cell.reset()
    return conds


def improviser_step_latency(model, steps: int = STEPS) -> dict:
    """Median/p99 of a whole improviser step: conditioning, cell, masks, sampling and realisation."""
    from improv.generate import ImproviserSettings, build_improviser
    from improv.theory.tunes import find_tune

    imp = build_improviser(find_tune("Giant Steps").progression, ImproviserSettings(seed=0, temperature=1.0),
                           model=model, tempo=240.0)
    samples = []
    for _ in range(steps):
        t0 = time.perf_counter_ns()
        imp.step()
        samples.append(time.perf_counter_ns() - t0)
    return _percentiles(samples[steps // 10 :])


def keras_step_latency(model, n_values: int, cond_size: int) -> dict:
    """Median/p99 of a Keras one-step model call (eager) and of ``predict`` on the same weights."""
    import keras

    from improv.model.train import build_step_model

    step = build_step_model(model)
    units = model.get_layer("lstm").units
    a = np.zeros((1, units), np.float32)
    c = np.zeros((1, units), np.float32)
    prev = np.zeros((1, 1), np.int32)
    cond = [np.zeros((1, 1, cond_size), np.float32)] if cond_size else []
    rng = np.random.default_rng(0)
    eager, predict = [], []
    for i in range(KERAS_EAGER_STEPS + KERAS_PREDICT_STEPS + 10):
        t0 = time.perf_counter_ns()
        if i < KERAS_EAGER_STEPS + 5:
            logits, a, c = (keras.ops.convert_to_numpy(t) for t in step([prev, *cond, a, c]))
        else:
            logits, a, c = step.predict([prev, *cond, a, c], verbose=0)
        p = keras.ops.convert_to_numpy(keras.ops.softmax(logits))[0].astype(np.float64)
        prev = np.array([[int(rng.choice(n_values, p=p / p.sum()))]], np.int32)
        elapsed = time.perf_counter_ns() - t0
        if 5 <= i < KERAS_EAGER_STEPS + 5:
            eager.append(elapsed)
        elif i >= KERAS_EAGER_STEPS + 10:
            predict.append(elapsed)
    return {"eager": _percentiles(eager), "predict": _percentiles(predict)}


def cell_latency() -> dict:
    """Numpy vs Keras step latency at n_a=64 (78 values, no conditioning) and for every shipped model."""
    from improv.generate import load_model
    from improv.model.cell import Cell
    from improv.model.train import build_model

    rows = {}
    model = build_model(78, 0, 64)
    weights = model.get_layer("lstm").get_weights() + model.get_layer("dense").get_weights()
    cell = Cell(*weights, n_values=78)
    rows["seed size (n_a=64, 78 values)"] = {
        "numpy": numpy_step_latency(cell, 0),
        "keras": keras_step_latency(model, 78, 0),
    }
    from improv.generate import shipped_models

    for path in sorted(shipped_models(), key=lambda p: (p.name != "default", p.name)):  # the default first
        shipped = load_model(path)
        name = "shipped default" if path.name == "default" else f"shipped {path.name}"
        size = f"{shipped.cell.layers}x n_a={shipped.cell.units}, {len(shipped.vocab)} values"
        label = f"{name} ({size}, cell_step {shipped.card.get('cell_step', 1)})"
        conds = session_conditions(shipped)
        rows[label] = {
            "numpy": numpy_step_latency(shipped.cell, shipped.cell.cond_size, conds=conds),
            "improviser step": improviser_step_latency(shipped),
        }
    return rows


def seed_training(epochs: int = 100) -> dict:
    """Training the seed corpus: the seed's unrolled model, then our fused LSTM on the same windows."""
    from benchmarks import seed_model
    from benchmarks.bench_preprocess import seed_midi_path

    if not seed_midi_path().is_file():
        return {"skipped": f"seed MIDI file not found at {seed_midi_path()}"}
    import keras

    from improv.corpus.seed import seed_corpus
    from improv.model.train import build_model, dataset
    from improv.theory.seed_grammar import seed_window_starts

    baseline = seed_model.run(epochs)
    corpus = seed_corpus(seed_midi_path())
    index = {v: i for i, v in enumerate(corpus.values)}
    ids = np.array([index[t] for t in corpus.tokens])
    starts = seed_window_starts(len(ids))
    # the same 60 windows of 30; ours predicts every position (no discarded first token, no zero target)
    prev = np.stack([np.concatenate([[-1], ids[s : s + 29]]) for s in starts]).astype(np.int32)
    target = np.stack([ids[s : s + 30] for s in starts]).astype(np.int32)
    keras.utils.set_random_seed(0)
    model = build_model(len(corpus.values), 0, 64)
    model.compile(
        optimizer=keras.optimizers.Adam(
            keras.optimizers.schedules.InverseTimeDecay(0.01, decay_steps=1, decay_rate=0.01)
        ),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    built = time.perf_counter()
    batches = dataset({"prev": prev}, target, batch_size=32, shuffle=True, seed=0)
    history = model.fit(batches, epochs=epochs, verbose=0)
    done = time.perf_counter()
    ours = {
        "fit_s": round(done - built, 3),
        "first_loss_per_step": round(float(history.history["loss"][0]), 3),
        "final_loss_per_step": round(float(history.history["loss"][-1]), 3),
    }
    return {
        "epochs": epochs,
        "seed_unrolled": baseline,
        "fused": ours,
        "speedup": round(baseline["fit_s"] / ours["fit_s"], 2),
    }


def run() -> dict:
    """All figures of this module."""
    return {"cell_latency": cell_latency(), "seed_training": seed_training()}


def markdown(result: dict) -> str:
    """Tables for RESULTS.md."""
    lines = [
        "| cell step + sampling | numpy median / p99 (µs) | Keras eager median (µs) "
        "| Keras predict median (µs) | speed-up (eager / numpy) |",
        "|---|---|---|---|---|",
    ]
    for name, row in result["cell_latency"].items():
        ours = row["numpy"]
        keras = row.get("keras")
        eager = keras["eager"]["median_us"] if keras else None
        predict = keras["predict"]["median_us"] if keras else None
        ratio = f"{eager / ours['median_us']:.0f}x" if eager else "–"
        numpy_cell = f"{ours['median_us']} / {ours['p99_us']}"
        lines.append(f"| {name} | {numpy_cell} | {eager or '–'} | {predict or '–'} | {ratio} |")
    train = result["seed_training"]
    lines.append("")
    if "skipped" in train:
        lines.append(f"Seed training: skipped ({train['skipped']}).")
    else:
        seed, fused = train["seed_unrolled"], train["fused"]
        lines += [
            f"| training the seed corpus, {train['epochs']} epochs | fit seconds | first → final loss |",
            "|---|---|---|",
            f"| seed: 30-step unrolled cell (summed loss) | {seed['fit_s']} | "
            f"{seed['first_loss']} → {seed['final_loss']} |",
            f"| improv: fused LSTM layer (mean loss per step) | {fused['fit_s']} | "
            f"{fused['first_loss_per_step']} → {fused['final_loss_per_step']} |",
            f"| **speed-up** | **{train['speedup']}x** | |",
        ]
    return "\n".join(lines)


def main() -> int:
    import json

    print(json.dumps(run(), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
