"""Shaping: the register target and arc, the avoid-note nudges, the repeated-pitch penalty, the rhythm."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from modelkit import random_model_dir

from improv.evaluate import line_from_timed
from improv.generate import ImproviserSettings, build_improviser, load_model
from improv.measures import mixed_tuplet_share, note_density, repeated_pitch_share
from improv.model.sampling import Sampler
from improv.shaping import Shaper, Shaping, arc_level, avoid, harsh
from improv.theory.harmony import parse_chord
from improv.theory.progression import parse_progression
from improv.theory.timing import TICKS_PER_BEAT
from improv.theory.values import Value, Vocabulary

PROG = parse_progression("Dm7 | G7 | Cmaj7 | A7 | Dm7b5 | G7 | Cm7 | C7")


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return load_model(random_model_dir(tmp_path_factory.mktemp("m") / "m"))


def solo(model, shaping, seed=0, choruses=4, low=52, high=84):
    settings = ImproviserSettings(seed=seed, low=low, high=high, temperature=1.0)
    imp = build_improviser(PROG, settings, model=model, shaping=shaping)
    notes = imp.notes_until(choruses * PROG.length / TICKS_PER_BEAT)
    return imp, line_from_timed(notes, PROG.chord_at, 4)


def test_arc_rises_to_a_climax_then_releases():
    levels = [arc_level(x / 20, 0.7) for x in range(20)]
    top = int(np.argmax(levels))
    assert 12 <= top <= 14 and levels[0] < levels[top] - 0.4 and levels[-1] < levels[top] - 0.4
    assert all(a <= b for a, b in zip(levels[:top], levels[1 : top + 1], strict=True))


def test_avoid_notes():
    c7, cmaj7, cm7b5 = parse_chord("C7"), parse_chord("Cmaj7"), parse_chord("Cm7b5")
    assert avoid(71, c7) and avoid(70, cmaj7) and avoid(67, cm7b5)  # the three clashes
    assert avoid(65, cmaj7) and avoid(61, cmaj7) and not avoid(61, c7)  # 11 over a major 3rd; b9
    assert not avoid(64, c7) and not avoid(62, cmaj7) and not avoid(66, parse_chord("C7#11"))
    assert harsh(71, c7) and not harsh(65, cmaj7)


def test_nudges_leave_no_long_or_strong_avoid_note(model):
    def offenders(line):
        bad = 0
        for n in line.notes:
            chord = PROG.chord_at(n.onset)
            long = n.duration >= 11  # a beat at the 0.92 gate
            strong = n.onset % 48 in (0, 24)
            bad += (long and avoid(n.pitch, chord)) or (strong and harsh(n.pitch, chord))
        return bad

    imp, shaped = solo(model, Shaping(), seed=3)
    _, raw = solo(model, replace(Shaping(), nudges=False), seed=3)
    assert offenders(raw) > 0 and imp.shaper.nudged > 0
    assert offenders(shaped) == 0


def test_steering_turns_leaps_that_go_far_from_the_target():
    shaper = Shaper(Shaping(), np.random.default_rng(0), 52, 84, 192, 48)  # zone: 0.28 * 32 = 9 semitones
    up = Value("C", 6, 5)
    assert all(shaper.steer(up, 60, 68) == up for _ in range(50))  # towards the target
    assert all(shaper.steer(up, 66, 68) == up for _ in range(50))  # inside the zone
    turned = [shaper.steer(up, 78, 68).leap for _ in range(200)]  # to 83, 15 above the target
    assert set(turned) == {-5}
    some = [shaper.steer(up, 74, 68).leap for _ in range(400)]  # to 79, 2 beyond the zone
    assert 0.5 < some.count(-5) / 400 < 0.95
    assert Shaper(Shaping.off(), np.random.default_rng(0), 52, 84, 192, 48).steer(up, 78, 68) == up


def test_register_widens_with_the_range(model):
    shaped = [solo(model, Shaping(), seed=s)[1] for s in range(3)]
    wide = [solo(model, Shaping(), seed=s, low=36, high=96)[1] for s in range(3)]
    for line in wide:
        assert all(36 <= n.pitch <= 96 for n in line.notes)

    def span(lines):
        return np.mean([np.ptp(np.percentile([n.pitch for n in x.notes], [5, 95])) for x in lines])

    assert span(wide) > span(shaped) + 6


def test_repeated_pitch_penalty_and_sampler_penalise(model):
    sampler = Sampler(np.random.default_rng(0), loop_guard=False)
    sampler.penalise(4, [0, 2], 1e9)
    assert {sampler.sample(np.zeros(4)) for _ in range(200)} == {1, 3}
    sampler.penalise(4, [0], 0.0)
    assert sampler.penalty is None
    shaped = np.mean([repeated_pitch_share(solo(model, Shaping(), seed=s)[1]) for s in range(3)])
    raw = np.mean([repeated_pitch_share(solo(model, Shaping.off(), seed=s)[1]) for s in range(3)])
    assert shaped < raw


def test_whole_tuplets_and_density_that_follows_tempo(model):
    vocab = Vocabulary([Value("C", d, 1) for d in (2, 3, 4, 6, 8, 9, 12)])
    durations = [v.duration for v in vocab.values]
    shaper = Shaper(Shaping(), np.random.default_rng(0), 52, 84, 192, 48)

    def allowed(tick):
        logits = shaper.bias(np.zeros(len(vocab)), tick, vocab)
        return [d for d, x in zip(durations, logits, strict=True) if x > -1]

    assert allowed(0) == [3, 4, 6, 8, 9, 12]  # not 2: it would leave both grids
    assert allowed(4) == [4, 8, 12]  # on the triplet grid: to 8 or past the beat onto the grid
    assert allowed(3) == [3, 6, 9, 12]  # on the 16th grid: to 6, 9 or past the beat
    assert allowed(6) == [3, 6, 9, 12]  # after the 8th: not to a triplet position
    assert allowed(1) == [2, 3, 8]  # off the grid (after a reseed): back onto it
    assert mixed_tuplet_share(solo(model, Shaping(), seed=2)[1]) in (0.0, None)
    slow = [note_density(solo(model, replace(Shaping(), tempo=70), seed=s)[1]) for s in range(3)]
    fast = [note_density(solo(model, replace(Shaping(), tempo=280), seed=s)[1]) for s in range(3)]
    assert np.mean(fast) < np.mean(slow)


def test_shaping_is_deterministic_and_off_is_the_version_1_improviser(model):
    a = solo(model, Shaping(), seed=5)[1].notes
    b = solo(model, Shaping(), seed=5)[1].notes
    assert a == b
    imp, off = solo(model, Shaping.off(), seed=5)
    assert imp.sampler.penalty is None and imp.shaper.nudged == 0
    assert off.notes != a


def test_session_logs_replay_with_the_improviser_version_they_name():
    from improv.errors import InputError
    from improv.shaping import VERSION, for_version

    assert for_version(1) == Shaping.off()  # logs from before shaping name no version
    assert for_version(VERSION, 140.0) == Shaping(tempo=140.0)  # improviser versions: tests/test_motifs.py
    with pytest.raises(InputError, match="improviser version 99"):
        for_version(99)


def test_dynamics_follow_the_arc(model):
    imp = build_improviser(PROG, ImproviserSettings(seed=1, temperature=1.0), model=model,
                           shaping=Shaping(arc_choruses=4))
    notes = imp.notes_until(4 * PROG.length / TICKS_PER_BEAT)
    beats = PROG.length / TICKS_PER_BEAT

    def loudness(lo, hi):
        return np.mean([n.velocity for n in notes if lo * beats <= n.onset < hi * beats])

    assert loudness(2.6, 3.0) > loudness(0.0, 0.4) + 4  # the climax (70 % of 4 choruses) is louder
    flat = build_improviser(PROG, ImproviserSettings(seed=1, temperature=1.0), model=model,
                            shaping=Shaping.off()).notes_until(beats)
    assert abs(np.mean([n.velocity for n in flat]) - 90) < 3


# ------------------------------------------------------------------------- the live register_centre
def test_the_register_centre_moves_the_target_in_version_4_only():
    from improv.shaping import for_version

    def goals(shaping, home):
        shaper = Shaper(shaping, np.random.default_rng(0), 52, 84, PROG.length, 48)
        if home is not None:
            shaper.place(home)
        return [shaper.target(t) for t in range(0, 4 * PROG.length, 6)]

    free, low, high = (goals(Shaping(), home) for home in (None, 58, 80))
    assert np.mean(low) < np.mean(free) - 5 and np.mean(high) > np.mean(free) + 5
    assert all(52 <= g <= 84 for g in low + high)
    assert np.ptp(high) > 3  # the phrase goals and the arc still move around it
    for version in (2, 3):  # their session logs were played with it ignored
        assert goals(for_version(version), 80) == goals(for_version(version), None)
    assert set(goals(Shaping.off(), 70)) == {70}  # version 1: anchors gravitate to it, as they did


def test_a_register_centre_cc_moves_the_line_and_replays(model):
    from improv.perform.performer import Performer, PerformerSettings, param_value
    from improv.perform.replay import replay

    def event(x):
        return {"type": "param", "param": "register_centre", "value": param_value("register_centre", x)}

    def make():
        return build_improviser(PROG, ImproviserSettings(seed=3, temperature=1.0), model=model,
                                shaping=Shaping(tempo=120.0))

    def played(x):
        perf = Performer(make(), PerformerSettings())
        perf.apply(event(x))
        assert perf.imp.centre == event(x)["value"]
        return [perf.next_note() for _ in range(120)]

    low, high = (np.mean([n.pitch for n in played(x)]) for x in (0.15, 0.85))
    assert high > low + 6
    records = [{"type": "event", "step": 0, "event": event(0.85)}, {"type": "end", "notes": 120}]
    header = {"performer": vars(PerformerSettings()).copy(), "channel": 0}
    again = replay(header, records, make()).notes
    assert [(n.onset, n.pitch) for n in again] == [(n.onset, n.pitch) for n in played(0.85)]
