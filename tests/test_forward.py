"""The batched numpy forward pass (validation NLL, carried training states), the n-gram's shared counts
and the training stages' progress lines: no TensorFlow."""

from __future__ import annotations

import io

import numpy as np
import pytest
from modelkit import degree_model_dir, scale_line

from improv.generate import load_model
from improv.model import forward
from improv.model.dataset import Sequences, to_sequences, window_spans, windows
from improv.model.ngram import NGram, best_ngram
from improv.model.store import read_model_dir
from improv.model.trainkit import Stages
from improv.theory import degrees


def _sequences(model, lines=3, bars=24):
    lines = [scale_line(f"l{i}", bars=bars, seed=i) for i in range(lines)]
    toks = [degrees.encode(line) for line in lines]
    return to_sequences(lines, toks, model.vocab, version=2)


def _stepped(cell, values, hot):
    """-log p of every target and the (a, c) entering every step, stepping the live cell."""
    cell.reset()
    nll, states, prev = [], [], None
    for value, cond in zip(values, hot, strict=True):
        states.append(np.stack([cell.a.copy(), cell.c.copy()], axis=1))
        p = cell.step(prev, tuple(int(h) for h in cond))
        nll.append(-np.log(p[value]))
        prev = int(value)
    return np.array(nll), states


def test_forward_is_the_live_cell_stepped_through_each_sequence(tmp_path):
    path = degree_model_dir(tmp_path / "m", layers=2)
    model = load_model(path)
    seqs = _sequences(model)
    assert len({len(v) for v in seqs.values}) > 1  # different lengths: the batch shrinks as lines end
    starts = [[0, 5, len(v) - 1] for v in seqs.values]
    run = forward.run(read_model_dir(path).weights, len(model.vocab), seqs.values, seqs.conds, starts=starts)
    for i, (values, hot) in enumerate(zip(seqs.values, seqs.conds, strict=True)):
        nll, states = _stepped(model.cell, values, hot)
        assert np.abs(run.nll[i] - nll).max() < 1e-4
        for j, s in enumerate(starts[i]):
            assert np.abs(run.states[i][j] - states[s]).max() < 1e-5
    assert not run.states[0][0].any()  # start 0: the zero state


def test_a_window_cut_from_inside_starts_from_the_given_value(tmp_path):
    path = degree_model_dir(tmp_path / "m", layers=1)
    model = load_model(path)
    seqs = _sequences(model, lines=1)
    vals, hot = seqs.values[0], seqs.conds[0]
    weights = read_model_dir(path).weights
    cut = forward.run(weights, len(model.vocab), [vals[10:30]], [hot[10:30]], first=[int(vals[9])])
    model.cell.reset()
    prev, expected = int(vals[9]), []
    for value, cond in zip(vals[10:30], hot[10:30], strict=True):
        expected.append(-np.log(model.cell.step(prev, tuple(int(h) for h in cond))[value]))
        prev = int(value)
    assert np.abs(cut.nll[0] - np.array(expected)).max() < 1e-4


def test_nll_by_position_buckets_every_value_once():
    nlls = [np.full(600, 2.0), np.concatenate([np.full(128, 1.0), np.full(72, 3.0)])]
    buckets = forward.by_position(nlls)
    assert list(buckets) == ["0-127", "128-255", "256-511", "512+"]
    assert buckets["0-127"] == {"nll": 1.5, "values": 256}
    assert buckets["128-255"]["values"] == 128 + 72 and buckets["512+"] == {"nll": 2.0, "values": 88}
    assert sum(b["values"] for b in buckets.values()) == 800
    assert forward.mean_nll(nlls) == pytest.approx((1200 + 128 + 216) / 800)


def test_window_spans_are_the_windows_rows():
    seqs = Sequences(["a", "b"], [np.arange(300) % 7, np.arange(20) % 5],
                     [np.zeros((300, 3), np.int16), np.zeros((20, 3), np.int16)])
    spans = window_spans(seqs, 128, 64)
    prev, _, target, weight = windows(seqs, 128, 64)
    assert len(spans) == len(prev) and spans[0] == (0, 0, 128) and spans[-1] == (1, 0, 20)
    for row, (n, start, stop) in enumerate(spans):
        assert (target[row, : stop - start] == seqs.values[n][start:stop]).all()
        assert weight[row].sum() == stop - start
    assert [s for _, s, _ in window_spans(seqs, 128)][:3] == [0, 128, 256]  # carried: no overlap


def test_a_truncated_ngram_is_a_fit_of_that_order():
    rng = np.random.default_rng(0)
    seqs = [rng.integers(0, 9, 300) for _ in range(4)]
    conds = [rng.integers(0, 3, 300) for _ in range(4)]
    top = NGram(4, 9, "kneser-ney").fit(seqs[:3], conds[:3])
    plain = NGram(3, 9, "kneser-ney").fit(seqs[:3])
    for order in (1, 2, 3):
        for smoothing in ("witten-bell", "kneser-ney"):
            fresh = NGram(order, 9, smoothing).fit(seqs[:3])
            assert plain.truncated(order, smoothing).nll(seqs[3:]) == pytest.approx(fresh.nll(seqs[3:]))
        fresh = NGram(order + 1, 9, "kneser-ney").fit(seqs[:3], conds[:3])
        assert top.truncated(order + 1).nll(seqs[3:], conds[3:]) == pytest.approx(
            fresh.nll(seqs[3:], conds[3:]))
    with pytest.raises(ValueError):
        NGram(3, 9, "kneser-ney", cond_first=True).fit(seqs[:3], conds[:3]).truncated(2)


def test_best_ngram_scores_every_variant_and_reports_progress():
    rng = np.random.default_rng(1)
    seqs = [rng.integers(0, 6, 200) for _ in range(4)]
    conds = [rng.integers(0, 3, 200) for _ in range(4)]
    seen = []
    _, scores = best_ngram(seqs[:3], seqs[3:], 6, conds={"c": (conds[:3], conds[3:])},
                           progress=lambda done, total: seen.append((done, total)))
    assert set(scores) == {"1", "1-kn", "2", "2-kn", "3", "3-kn", "1-kn+c", "2-kn+c", "3-kn+c",
                           "2-kn+c/first", "3-kn+c/first"}
    assert seen[-1] == (11, 11) and [d for d, _ in seen] == list(range(1, 12))
    fresh = NGram(3, 6, "kneser-ney", cond_first=True).fit(seqs[:3], conds[:3]).nll(seqs[3:], conds[3:])
    assert scores["2-kn+c/first"] == pytest.approx(fresh)


def test_stages_print_a_line_per_stage_and_keep_their_seconds():
    out = io.StringIO()
    stages = Stages(["load", "fit"], stream=out)
    with stages.stage("load") as tick:
        for k in range(1, 101):
            tick(k, 100)
    with stages.stage("fit"):
        pass
    text = out.getvalue()
    assert "stage 1/2 load ..." in text and "stage 2/2 fit done in" in text
    assert text.count("stage 1/2 load: ") == 11  # a bar at 0 %, then every tenth
    assert "100/100" in text and set(stages.seconds) == {"load", "fit"}


def _loop_fit(model: NGram, sequences, conds=None) -> list[dict]:
    """The counts a loop over every position gives (what ``NGram.fit`` computes at once)."""
    from collections import Counter, defaultdict

    counts = [defaultdict(Counter) for _ in range(model.order)]
    for n, seq in enumerate(sequences):
        seq = [int(x) for x in seq]
        for i, sym in enumerate(seq):
            ctx = model.context(seq, i, None if conds is None else conds[n][i])
            for k in range(min(model.order, len(ctx) + 1)):
                counts[k][tuple(ctx[len(ctx) - k :])][sym] += 1
    return [dict(level) for level in counts]


@pytest.mark.parametrize("order", [1, 2, 3, 4])
@pytest.mark.parametrize("how", ["plain", "last", "first"])
def test_ngram_fit_counts_what_a_loop_over_positions_counts(order, how):
    rng = np.random.default_rng(order)
    seqs = [rng.integers(0, 7, n) for n in (1, 2, 3, 40, 90)]
    conds = None if how == "plain" else [rng.integers(0, 4, len(s)) for s in seqs]
    model = NGram(order, 7, "kneser-ney", cond_first=how == "first").fit(seqs, conds)
    assert [dict(level) for level in model.counts] == _loop_fit(model, seqs, conds)


def test_the_encoding_is_cached_per_lines_design_and_layout(tmp_path, monkeypatch):
    from improv.model import encoded

    monkeypatch.setenv("IMPROV_CACHE", str(tmp_path))
    lines = [scale_line(f"l{i}", bars=8, seed=i) for i in range(3)]
    tokens, hot = encoded.encode_corpus(lines, "degree", 2)
    assert len(list(tmp_path.glob("encoded-*.pickle"))) == 1
    monkeypatch.setattr(encoded, "encode_lines", lambda *a: pytest.fail("encoded again"))
    again, hot_again = encoded.encode_corpus(lines, "degree", 2)
    assert [[t.value for t in ts] for ts in again] == [[t.value for t in ts] for ts in tokens]
    assert all((a == b).all() for a, b in zip(hot, hot_again, strict=True)) and hot[0].shape[1] == 11
    monkeypatch.undo()
    monkeypatch.setenv("IMPROV_CACHE", str(tmp_path))
    other = [scale_line(f"l{i}", bars=8, seed=i + 1) for i in range(3)]  # other lines: encoded anew
    assert encoded.encode_corpus(other, "degree", 2)[0] != tokens
    v1 = encoded.encode_corpus(lines, "degree", 1)[1]
    assert v1[0].shape[1] == 3
