"""Guidance (improviser versions 3 and 4): the degree model's odds reweighted before it samples, and the
version-2 and version-3 improvisers kept bit for bit behind the version a session log names."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from modelkit import degree_model_dir

from improv.evaluate import line_from_timed
from improv.generate import ImproviserSettings, build_improviser, load_model
from improv.guidance import REST, Guidance, Register, realised, third_and_seventh
from improv.improviser import settings_for_version
from improv.measures import b7_to_third, extremes_share, repeated_pitch_share
from improv.model.store import model_hash
from improv.motifs import MotifSettings
from improv.shaping import Shaping, Steering, for_version
from improv.theory import degrees
from improv.theory.degrees import MOVES, Degree, DegreeVocabulary
from improv.theory.harmony import parse_chord
from improv.theory.progression import parse_progression
from improv.theory.timing import TICKS_PER_BEAT

GOLDEN = Path(__file__).parent / "data" / "improviser_v2_notes.json"
GOLDEN_V3 = Path(__file__).parent / "data" / "improviser_v3_notes.json"
GOLDEN_V4 = Path(__file__).parent / "data" / "improviser_v4_notes.json"
GOLDEN_V5 = Path(__file__).parent / "data" / "improviser_v5_notes.json"
IIVI = parse_progression("Dm7 G7 | Cmaj7 | Em7b5 A7 | Dm7 | Gm7 C7 | Fmaj7 | Bbm7 Eb7 | Abmaj7")


def improviser(progression, *, model=None, model_dir=None, seed=0, temperature=0.9, low=52, high=84,
               shaping=None, tempo=120.0, motifs=None):
    """``build_improviser`` with these settings (the one place that follows its signature); the motif memory
    is off unless ``motifs`` is given, so these tests see the guidance alone."""
    settings = ImproviserSettings(seed=seed, temperature=temperature, low=low, high=high)
    return build_improviser(progression, settings, model=model, model_dir=model_dir, shaping=shaping,
                            tempo=tempo, motifs=motifs or MotifSettings.off())


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return load_model(degree_model_dir(tmp_path_factory.mktemp("m") / "m"))


def test_realised_is_what_decode_plays():
    rng = np.random.default_rng(0)
    for _ in range(400):
        low = int(rng.integers(30, 60))
        high, max_leap = low + int(rng.integers(12, 40)), int(rng.integers(5, 13))
        prev = None if rng.random() < 0.1 else int(rng.integers(low - 3, high + 3))
        centre = int(rng.integers(low, high + 1))
        chord = parse_chord(str(rng.choice(["Dm7", "G7", "Cmaj7", "F#m7b5", "Bb7", "N.C."])))
        table = realised(chord.root or 0, prev, centre, Register(low, high, max_leap, 9.0))
        for d in range(12):
            for column, move in enumerate((*MOVES, None)):
                pitch = degrees.decode(Degree(d, 6, move), chord, prev, low=low, high=high, centre=centre,
                                       max_leap=max_leap)
                assert pitch == table[d, column], (d, move, prev, centre, low, high)


def test_third_and_seventh():
    assert third_and_seventh(parse_chord("Dm7")) == (5, 0)
    assert third_and_seventh(parse_chord("G7")) == (11, 5)
    assert third_and_seventh(parse_chord("Cmaj7")) == (4, 11)
    assert third_and_seventh(parse_chord("C")) == (4, None)
    assert third_and_seventh(parse_chord("N.C.")) == (None, None)


def test_the_7th_of_the_ii_is_pulled_to_the_3rd_of_the_v_by_step():
    dm7, g7 = parse_chord("Dm7"), parse_chord("G7")
    values = [Degree(None, 12), Degree(4, 6, "-"), Degree(4, 6, "+"), Degree(7, 6, "-"), Degree(10, 6, "-")]
    vocab = DegreeVocabulary(values)
    idx = {v: i for i, v in enumerate(vocab.values)}
    plain = Steering(pull=0, wall=0, repeat=0, avoid=0, approach=0, guide_tones=0)
    guidance = Guidance(vocab, replace(plain, guide=2.0), Register(52, 84, 12, 9.0), 48)
    logits = np.zeros(len(vocab))
    guidance.bias(logits, 24, g7, dm7, 72, 68, None)  # C5, the b7 of Dm7, then G7 arrives
    assert logits[idx[Degree(4, 6, "-")]] == 2.0  # B4: the 3rd a semitone down
    assert logits[idx[Degree(4, 6, "+")]] == 0.0  # B5: the 3rd, but a major 7th up
    assert logits[idx[Degree(7, 6, "-")]] == 0.0 and logits[idx[Degree(None, 12)]] == 0.0
    assert guidance.guided == 1
    logits = np.zeros(len(vocab))
    guidance.bias(logits, 24, g7, dm7, 69, 68, None)  # A4: not a 7th, nothing to resolve
    assert not logits.any()


def test_register_pull_repeats_avoid_notes_and_the_approach():
    cmaj7 = parse_chord("Cmaj7")
    values = [Degree(None, 12), Degree(0, 6, "="), Degree(4, 6, "+"), Degree(4, 24, "+"), Degree(5, 24, "+"),
              Degree(11, 12, "+"), Degree(0, 6, None)]
    vocab = DegreeVocabulary(values)
    idx = {v: i for i, v in enumerate(vocab.values)}
    guidance = Guidance(vocab, Steering(), Register(52, 84, 12, 9.0), 48)
    logits = np.zeros(len(vocab))
    guidance.bias(logits, 6, cmaj7, None, 60, 60, 12)
    assert logits[idx[Degree(0, 6, "=")]] == pytest.approx(-Steering().repeat)  # C4 again
    assert logits[idx[Degree(4, 6, "+")]] == pytest.approx(-4 * Steering().pull)  # E4, 4 above the target
    long_e, long_f = logits[idx[Degree(4, 24, "+")]], logits[idx[Degree(5, 24, "+")]]
    assert long_f == pytest.approx(long_e - Steering().pull - Steering().avoid)  # F held 2 beats over C
    assert logits[idx[Degree(11, 12, "+")]] == pytest.approx(-11 * Steering().pull - 2 * Steering().wall
                                                             + Steering().approach)  # B ends on the change
    assert logits[idx[Degree(None, 12)]] == 0.0 and guidance.slot[idx[Degree(None, 12)]] == REST


def solos(model, shaping, progression=IIVI, seeds=range(6), choruses=4, temperature=0.9):
    out = []
    for seed in seeds:
        imp = improviser(progression, model=model, seed=seed, temperature=temperature, shaping=shaping)
        notes = imp.notes_until(choruses * progression.length / TICKS_PER_BEAT)
        out.append(line_from_timed(notes, progression.chord_at, progression.beats_per_bar))
    return out


def test_guidance_resolves_more_7ths_and_keeps_the_line_in_the_middle(model):
    v2 = replace(for_version(2), nudges=False)
    v3 = replace(Shaping(), nudges=False)
    before, after = solos(model, v2), solos(model, v3)

    def pooled(lines):
        pairs = [b7_to_third(line) for line in lines]
        return sum(h for h, _ in pairs) / max(1, sum(t for _, t in pairs))

    assert pooled(after) > pooled(before) + 0.15
    assert np.mean([extremes_share(x) for x in after]) < np.mean([extremes_share(x) for x in before])
    repeats = [np.mean([repeated_pitch_share(x) for x in lines]) for lines in (after, before)]
    assert repeats[0] < repeats[1]


def test_guidance_is_deterministic_and_widens_with_the_range(model):
    a, b = solos(model, Shaping(), seeds=[3]), solos(model, Shaping(), seeds=[3])
    assert a[0].notes == b[0].notes
    narrow = solos(model, Shaping(), seeds=range(3))
    wide = []
    for seed in range(3):
        imp = improviser(IIVI, model=model, seed=seed, shaping=Shaping(), low=36, high=96)
        notes = imp.notes_until(4 * IIVI.length / TICKS_PER_BEAT)
        assert all(36 <= n.pitch <= 96 for n in notes)
        wide.append(line_from_timed(notes, IIVI.chord_at, 4))

    def span(lines):
        return np.mean([np.ptp(np.percentile([n.pitch for n in x.notes], [5, 95])) for x in lines])

    assert span(wide) > span(narrow) + 6


def _golden_run(model, data):
    prog = parse_progression(data["changes"])
    out = {}
    for key in data["random_degree_model"]:
        seed, tempo = key.split("/")
        imp = improviser(prog, model=model, seed=int(seed), temperature=data["temperature"],
                         shaping=for_version(2, float(tempo)), tempo=float(tempo))
        notes = imp.notes_until(data["choruses"] * prog.length / TICKS_PER_BEAT)
        out[key] = [[round(n.onset, 6), round(n.duration, 6), n.pitch, n.velocity] for n in notes]
    return out


def test_version_2_plays_the_notes_it_played_before_version_3(model):
    data = json.loads(GOLDEN.read_text())
    assert _golden_run(model, data) == data["random_degree_model"]


def _shipped_golden(path: Path, version: int):
    """A golden file and the shipped model its notes were recorded with (the default then, ``v2`` now: a
    session log names it by hash and replays with it)."""
    from improv.cli.replay import shipped_model_with_hash

    data = json.loads(path.read_text())
    found = shipped_model_with_hash(data["shipped_default"]["model_hash"])
    assert found is not None, f"the model the version-{version} notes were recorded with is no longer shipped"
    return data, load_model(found)


def test_version_2_of_the_shipped_default_is_unchanged():
    data, model = _shipped_golden(GOLDEN, 2)
    shipped = data["shipped_default"]
    assert _golden_run(model, data) == shipped["notes"]
    v3 = improviser(parse_progression(data["changes"]), model=model, seed=3, temperature=0.9,
                    shaping=Shaping(tempo=140.0), tempo=140.0)
    notes = v3.notes_until(data["choruses"] * 32)
    assert [[n.onset, n.pitch] for n in notes] != [x[::2] for x in shipped["notes"]["3/140"]]


def test_a_log_naming_version_2_replays_version_2(tmp_path, model):
    from improv.cli.replay import replay_log
    from improv.perform.log import SessionLog, progression_record, read_log
    from improv.perform.performer import Performer, PerformerSettings

    path = model.path
    played = {}
    for version in (2, 3):
        shaping, motifs = settings_for_version(version, 140.0)
        imp = improviser(IIVI, model_dir=path, seed=9, temperature=0.9, tempo=140.0, shaping=shaping,
                         motifs=motifs)
        perf = Performer(imp, PerformerSettings())
        log_path = tmp_path / f"v{version}.jsonl"
        log = SessionLog(log_path)
        log.header(seed=9, improviser_version=version, model=str(path), model_hash=model_hash(path),
                   progression=progression_record(IIVI, None), follow_chords=False, chords_sticky=False,
                   performer=vars(PerformerSettings()).copy(), channel=0, end=None, tempo=140.0,
                   options={"temperature": 0.9, "low": 52, "high": 84, "swing": 0.0, "velocity": None})
        played[version] = [perf.next_note() for _ in range(40)]
        log.close(notes=40)
        header, records = read_log(log_path)
        again = replay_log(header, records).notes[:40]
        assert [(n.onset, n.pitch) for n in again] == [(n.onset, n.pitch) for n in played[version]]
    assert [n.pitch for n in played[2]] != [n.pitch for n in played[3]]


def _golden_v3_run(model, data, version: int = 3):
    """Version 3 or later (motifs on) as recorded: seed/temperature/tempo, a register_centre of 76 after 20
    steps."""
    from improv.perform.performer import Performer, PerformerSettings

    prog = parse_progression(data["changes"])
    out = {}
    for key in data["random_degree_model"]:
        seed, temperature, tempo = key.split("/")
        shaping, motifs = settings_for_version(version, float(tempo))
        imp = improviser(prog, model=model, seed=int(seed), temperature=float(temperature), shaping=shaping,
                         tempo=float(tempo), motifs=motifs)
        perf = Performer(imp, PerformerSettings())
        notes, centred = [], False
        while imp.position < data["choruses"] * prog.length:
            if perf.steps >= 20 and not centred:
                perf.apply({"type": "param", "param": "register_centre", "value": 76})
                centred = True
            note = perf.next_note()
            if note is not None:
                notes.append([round(note.onset, 6), round(note.duration, 6), note.pitch, note.velocity])
        out[key] = notes
    return out


def test_version_3_plays_the_notes_it_played_before_version_4(model):
    data = json.loads(GOLDEN_V3.read_text())
    assert _golden_v3_run(model, data) == data["random_degree_model"]


def test_version_3_of_the_shipped_default_is_unchanged():
    data, shipped = _shipped_golden(GOLDEN_V3, 3)
    assert _golden_v3_run(shipped, data) == data["shipped_default"]["notes"]


def test_version_4_plays_the_notes_it_played_before_version_5(model):
    data, shipped = _shipped_golden(GOLDEN_V4, 4)
    assert _golden_v3_run(model, data, 4) == data["random_degree_model"]
    assert _golden_v3_run(shipped, data, 4) == data["shipped_default"]["notes"]
    assert _golden_v3_run(shipped, data, 5) != data["shipped_default"]["notes"]


def test_version_5_plays_the_notes_it_played_before_the_two_part_row_cache(tmp_path):
    """Recorded on the code before the cell summed its conditioning rows in two parts, with a random
    conditioning-3 model and the default of 2026-12-02: the faster step plays the same notes, so logs of
    that default replay."""
    data, shipped = _shipped_golden(GOLDEN_V5, 5)
    random_v3 = load_model(degree_model_dir(tmp_path / "m", cond_version=3))
    assert _golden_v3_run(random_v3, data, 5) == data["random_degree_model"]
    assert _golden_v3_run(shipped, data, 5) == data["shipped_default"]["notes"]


def test_version_4_holds_the_rhythm_whatever_the_temperature(model):
    """At every draw of a cold (0.6) version-4 line, each rhythm (duration, note or rest) has the share it
    has at 0.9, biases included; version 3's tempered draw would have moved it."""
    from improv.improviser import rhythm_classes

    shaping, motifs = settings_for_version(4, 200.0)
    imp = improviser(IIVI, model=model, seed=1, temperature=0.6, shaping=shaping, tempo=200.0, motifs=motifs)
    rhythm = rhythm_classes(imp.vocab)
    count = int(rhythm.max()) + 1
    held, seen = imp.sampler._held_weights, []

    def spy(logits, bias, classes=None):
        weights = held(logits, bias, classes)

        def shares(z):
            w = np.exp(z - z.max())
            return np.bincount(rhythm, w / w.sum(), count)

        seen.append((np.bincount(rhythm, weights / weights.sum(), count), shares((logits + bias) / 0.9),
                     shares((logits + bias) / 0.6)))
        return weights

    imp.sampler._held_weights = spy
    imp.notes_until(2 * IIVI.length / TICKS_PER_BEAT)
    assert len(seen) > 50
    assert all(np.allclose(got, reference, atol=1e-9) for got, reference, _ in seen)
    assert max(np.abs(tempered - reference).max() for _, reference, tempered in seen) > 0.05


def test_version_4_at_the_reference_temperature_is_version_3(model):
    for version in (3, 4):
        shaping, motifs = settings_for_version(version, 200.0)
        imp = improviser(IIVI, model=model, seed=2, temperature=0.9, shaping=shaping, tempo=200.0,
                         motifs=motifs)
        notes = imp.notes_until(2 * IIVI.length / TICKS_PER_BEAT)
        if version == 3:
            v3 = notes
    assert notes == v3 and imp.sampler.held is not None and imp.sampler.held.reference == 0.9



def test_version_4_holds_chord_tones_on_beats_1_and_3_apart_from_the_rest():
    cmaj7 = parse_chord("Cmaj7")
    values = [Degree(None, 12), Degree(0, 6, "+"), Degree(4, 6, "+"), Degree(2, 6, "+"), Degree(4, 12, "-")]
    vocab = DegreeVocabulary(values)
    idx = {v: i for i, v in enumerate(vocab.values)}
    guidance = Guidance(vocab, Steering(), Register(52, 84, 12, 9.0), 48)
    from improv.improviser import rhythm_classes

    rhythm = rhythm_classes(vocab)
    weak, strong = guidance.held_classes(rhythm, 6, cmaj7), guidance.held_classes(rhythm, 24, cmaj7)
    assert (weak == 2 * rhythm).all()
    root, third, ninth = idx[Degree(0, 6, "+")], idx[Degree(4, 6, "+")], idx[Degree(2, 6, "+")]
    assert strong[root] == strong[third] != strong[ninth] == weak[ninth]  # chord tones vs the 9th on beat 3
    assert strong[idx[Degree(None, 12)]] != strong[idx[Degree(4, 12, "-")]]  # a rest is no chord tone
    assert strong.max() < 2 * (rhythm.max() + 1)


def test_the_density_governor_leans_against_a_line_busier_than_players_at_its_tempo():
    from improv.guidance import DENSITY_WINDOW, Density

    durations = np.array([3, 6, 12, 24, 12])
    rest = np.array([False, False, False, False, True])
    fast = Density(durations, rest, 280.0, gain=6.0)
    assert abs(fast.median - 1.29) < 1e-9 and abs(Density(durations, rest, 100.0, 6.0).median - 2.33) < 1e-9
    logits = np.zeros(5)
    fast.bias(logits)
    assert not logits.any()  # nothing heard yet
    for _ in range(DENSITY_WINDOW // 3):
        fast.advance(3, True)  # a run of 16ths: 4 notes a beat
    assert fast.ticks <= DENSITY_WINDOW and fast.excess > 1.0
    fast.bias(logits)
    assert logits[0] < logits[1] < 0 < logits[2] < logits[4] and logits[3] > logits[2]
    sparse = Density(durations, rest, 280.0, gain=6.0)
    for _ in range(DENSITY_WINDOW // 12):
        sparse.advance(12, True)  # quarters: 1 a beat, under the band (1.29 +- 10 %)
    logits = np.zeros(5)
    sparse.bias(logits)
    assert sparse.excess < 0 and logits[0] > logits[1] > 0 > logits[4]  # shorter values gain
    inside = Density(durations, rest, 280.0, gain=6.0)
    for _ in range(DENSITY_WINDOW // 48):
        for ticks in (12, 12, 6, 6, 12):
            inside.advance(ticks, True)  # 5 notes a bar: 1.25 a beat
    logits = np.zeros(5)
    inside.bias(logits)
    assert inside.excess == 0 and not logits.any()


def test_version_5_plays_fast_tempos_closer_to_the_players_than_version_4():
    from improv.guidance import DENSITY_BY_TEMPO

    prog = parse_progression("Dm7 | G7 | Cmaj7 | A7 | Dm7b5 | G7 | Cm7 | C7")
    rates = {}
    for version in (4, 5):
        per_seed = []
        for seed in range(3):
            shaping, motifs = settings_for_version(version, 280.0)
            imp = improviser(prog, seed=seed, temperature=0.9, shaping=shaping, tempo=280.0, motifs=motifs)
            notes = imp.notes_until(8 * prog.length / TICKS_PER_BEAT)
            per_seed.append(len(notes) / (8 * prog.length / TICKS_PER_BEAT))
        rates[version] = float(np.mean(per_seed))
    target = DENSITY_BY_TEMPO[-1][1]
    assert abs(rates[5] - target) < abs(rates[4] - target), rates
    assert rates[5] < 1.2 * target * 1.1, rates
