"""Conditioning versions 2 (next chord, height, tempo, phrase, form) and 3 (also the previous pitch's degree
over this chord), the tuplet guard and the n-gram baseline given the same conditioning."""

from __future__ import annotations

import numpy as np
from modelkit import chord, degree_model_dir, scale_line

from improv.generate import ImproviserSettings, build_improviser, load_model
from improv.model.conditioning import (
    COND_SIZE_V2,
    COND_SIZE_V3,
    GROUPS_V2,
    GROUPS_V3,
    Context,
    Lookahead,
    Phrase,
    describe,
    indices,
    indices_v2,
)
from improv.model.dataset import line_contexts, to_sequences
from improv.model.ngram import NGram, best_ngram
from improv.model.rhythm import STRAIGHT, TRIPLET, TupletGuard, family
from improv.model.trainkit import ngram_conditions
from improv.theory import degrees
from improv.theory.progression import parse_progression
from improv.theory.timing import TICKS_PER_BEAT
from improv.theory.values import events

_SIZES = [s for _, s in GROUPS_V2]
START = dict(zip([g for g, _ in GROUPS_V2], np.cumsum([0] + _SIZES)[:-1].tolist(), strict=True))


def groups_of(hot):
    """Which group each hot position falls in (in order)."""
    edges = np.cumsum([size for _, size in GROUPS_V2])
    return [int(np.searchsorted(edges, h, side="right")) for h in hot]


def test_every_group_has_exactly_one_hot_position():
    ctx = Context(chord("Dm7"), 30, 4, chord("G7"), 18, 0.9, 280.0, 20, 7, 13)
    hot = indices_v2(ctx)
    assert groups_of(hot) == list(range(len(GROUPS_V2)))
    assert all(0 <= h < COND_SIZE_V2 for h in hot)
    start = START
    assert hot[3] - start["next_root"] == 5  # G is a fourth above D
    assert hot[5] - start["next_in"] == 1  # 18 ticks: within two beats
    assert hot[7] - start["tempo"] == 4  # >= 260 BPM
    assert hot[9] - start["chorus"] == 3  # chorus 7 shares the last slot


def test_tempo_changes_the_conditioning():
    slow = indices_v2(Context(chord("C7"), 0, tempo=100.0))
    fast = indices_v2(Context(chord("C7"), 0, tempo=280.0))
    assert slow != fast and slow[:7] == fast[:7]


def test_lookahead_sees_the_next_chord_across_the_end_of_the_form():
    prog = parse_progression("Dm7 | G7 | Cmaj7 | Cmaj7")
    ahead = Lookahead(prog.spans, prog.length)
    nxt, soon = ahead.next(0)
    assert nxt.symbol == "G7" and soon == 48
    nxt, soon = ahead.next(2 * 48 + 12)  # inside the two bars of Cmaj7: next is Dm7 of the next chorus
    assert nxt.symbol == "Dm7" and soon == 4 * 48 - (2 * 48 + 12)
    nxt, soon = ahead.next(4 * 48 + 5)  # the second chorus
    assert nxt.symbol == "G7" and soon == 43


def test_phrase_counts_notes_and_a_long_rest_starts_again():
    phrase = Phrase()
    assert phrase.notes == 0
    for _ in range(5):
        phrase.advance(True, 6)
    assert phrase.notes == 5
    phrase.advance(False, 12)
    assert phrase.notes == 5  # a beat's rest is a breath inside the phrase
    phrase.advance(False, 12)
    assert phrase.notes == 0


def test_training_contexts_match_the_layout():
    line = scale_line(bars=8)
    line.meta.update(tempo=250.0, chorus_ticks=[0, 4 * 48])
    toks = degrees.encode(line)
    hot = line_contexts(line, toks)
    assert len(hot) == len(toks) and all(groups_of(h) == list(range(len(GROUPS_V2))) for h in hot)
    chorus_start = START["chorus"]
    choruses = {h[9] - chorus_start for h, t in zip(hot, toks, strict=True) if t.onset >= 4 * 48}
    assert choruses == {1}


def test_version_3_adds_the_previous_pitch_as_a_degree_of_this_chord():
    start = COND_SIZE_V2
    # C (72), the b7 of Dm7, heard over G7: its 4th (5 semitones above G), a half step above the 3rd
    over_g7 = indices(Context(chord("G7"), 0, 4, chord("Cmaj7"), 96, 0.5, prev_pitch=72), 3)
    assert over_g7[:-1] == indices_v2(Context(chord("G7"), 0, 4, chord("Cmaj7"), 96, 0.5))
    assert over_g7[-1] - start == 5
    over_dm7 = indices(Context(chord("Dm7"), 0, prev_pitch=72), 3)
    assert over_dm7[-1] - start == 10  # the same pitch is the b7 of Dm7
    assert indices(Context(chord("Dm7"), 0), 3)[-1] - start == 12  # no pitch yet
    assert indices(Context(chord("Dm7"), 0, prev_pitch=72), 2) == indices_v2(Context(chord("Dm7"), 0))
    assert all(0 <= h < COND_SIZE_V3 for h in over_g7)
    assert describe(3)["size"] == COND_SIZE_V3 == COND_SIZE_V2 + 13
    assert describe(3)["groups"][-1] == ["prev_degree", 13] and len(GROUPS_V3) == len(GROUPS_V2) + 1


def test_version_3_training_contexts_name_the_pitch_before_each_value():
    line = scale_line(bars=4)
    toks = degrees.encode(line)
    hot = line_contexts(line, toks, 3)
    assert [h[:-1] for h in hot] == line_contexts(line, toks, 2)
    assert hot[0][-1] - COND_SIZE_V2 == 12
    prev, checked = None, 0
    for h, tok, event in zip(hot, toks, events(line), strict=True):
        if prev is not None:
            assert h[-1] - COND_SIZE_V2 == (prev - tok.chord.root) % 12
            checked += 1
        prev = event.pitch if event.pitch is not None else prev
    assert checked > 20


def test_a_version_3_model_hears_the_pitch_it_just_played(tmp_path):
    model = load_model(degree_model_dir(tmp_path / "m", cond_version=3))
    assert model.cond_version == 3 and model.cell.cond_size == COND_SIZE_V3
    imp = build_improviser(parse_progression("Dm7 | G7 | Cmaj7 | %"), ImproviserSettings(seed=1), model=model)
    heard = set()
    for _ in range(64):
        tick = imp.position
        harmony = imp.progression.chord_at(tick)
        prev = imp.prev_pitch
        hot = imp.condition(tick, harmony)
        assert hot[-1] - COND_SIZE_V2 == (12 if prev is None else (prev - harmony.root) % 12)
        heard.add(hot[-1])
        imp.step()
    assert len(heard) > 4


def test_the_tuplet_guard_keeps_a_beat_straight_or_triplet():
    assert family(3) == STRAIGHT and family(4) == TRIPLET and family(6) == 0
    durations = [2, 3, 4, 6, 12]
    guard = TupletGuard(durations)
    guard.advance(0)
    assert guard.penalty(0) is None  # a downbeat fits both
    guard.advance(2)  # a sextuplet onset: the beat is a triplet beat now
    mask = guard.penalty(2)
    assert mask is not None and mask[durations.index(2)] == 0 and mask[durations.index(6)] == 0
    assert mask[durations.index(4)] == 0  # on to the second triplet eighth (6 is both)
    assert mask[durations.index(3)] < 0  # 2 + 3 = 5: off both grids
    guard.advance(TICKS_PER_BEAT)  # a new beat starts free
    straight = guard.penalty(TICKS_PER_BEAT + 3)
    assert straight is not None and straight[durations.index(3)] == 0  # 3 + 3 = 6
    assert straight[durations.index(4)] < 0 and straight[durations.index(2)] < 0  # 7 and 5: off grid


def test_a_degree_model_never_mixes_16ths_and_triplets_in_a_beat(tmp_path):
    from improv.generate import ImproviserSettings, build_improviser

    model = degree_model_dir(tmp_path / "m")
    prog = parse_progression("Dm7 | G7 | Cmaj7 | A7")
    imp = build_improviser(prog, ImproviserSettings(seed=3, temperature=1.3), model_dir=model)
    onsets = [imp.step().tick for _ in range(600)]
    by_beat: dict[int, set[int]] = {}
    for tick in onsets:
        by_beat.setdefault(tick // 12, set()).add(family(tick % 12))
    assert not [b for b, fam in by_beat.items() if {STRAIGHT, TRIPLET} <= fam]
    assert any(TRIPLET in fam for fam in by_beat.values()) or any(STRAIGHT in fam for fam in by_beat.values())


def test_the_n_gram_uses_its_conditioning():
    rng = np.random.default_rng(0)
    conds = [rng.integers(0, 4, 400) for _ in range(6)]
    seqs = [np.where(rng.random(400) < 0.9, c * 2, rng.integers(0, 8, 400)) for c in conds]
    plain = NGram(2, 8, "kneser-ney").fit(seqs[:5]).nll(seqs[5:])
    given = NGram(3, 8, "kneser-ney").fit(seqs[:5], conds[:5]).nll(seqs[5:], conds[5:])
    assert given < 0.6 * plain
    _, scores = best_ngram(seqs[:5], seqs[5:], 8, conds={"c": (conds[:5], conds[5:])})
    assert min(scores, key=scores.get).endswith("+c") or min(scores, key=scores.get).endswith("/first")


def test_ngram_conditions_come_from_the_lstms_inputs():
    lines = [scale_line(bars=8, seed=i) for i in range(3)]
    toks = [degrees.encode(line) for line in lines]
    vocab = degrees.DegreeVocabulary(t.value for ts in toks for t in ts)
    seqs = to_sequences(lines, toks, vocab, version=2)
    conds = ngram_conditions(seqs.conds[:2], seqs.conds[2:], version=2)
    assert set(conds) >= {"chord+beat", "chord+next+beat"}
    train, val = conds["chord+next+beat"]
    assert [len(c) for c in train] == [len(v) for v in seqs.values[:2]]
    seqs3 = to_sequences(lines, toks, vocab, version=3)
    conds3 = ngram_conditions(seqs3.conds[:2], seqs3.conds[2:], version=3)
    assert set(conds3) >= set(conds) | {"prev", "prev+chord", "prev+chord+beat"}
    assert conds3["chord+next+beat"] == conds["chord+next+beat"]
