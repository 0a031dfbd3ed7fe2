"""The rhythm section (improv.perform.band): musical rules, determinism, channels, and generate's tracks."""

from __future__ import annotations

import mido
import numpy as np
import pytest
from modelkit import run_improv

from benchmarks import bench_band
from improv.errors import InputError
from improv.perform.band import Band, BandChannels, Feel, Form, groove_of, parse_band_channels, parse_parts
from improv.perform.band.bass import HIGH, LOW
from improv.perform.band.bossa import HAT_CLOSED
from improv.perform.band.comp import guide_tones
from improv.perform.band.drums import HAT_PEDAL, KICK, RIDE, SIDE
from improv.theory import tunes
from improv.theory.harmony import parse_chord
from improv.theory.progression import parse_progression

BLUES = tunes.find_tune("F Blues")


def blues_band(seed: int = 0, **kwargs) -> Band:
    return Band(BLUES.progression, np.random.default_rng(seed), feel=Feel(120, 0.5), **kwargs)


def test_same_generator_same_notes_and_another_seed_differs():
    a, b, c = (blues_band(s).notes(24) for s in (4, 4, 5))
    assert a == b
    assert a["bass"] != c["bass"] and a["comp"] != c["comp"]


def test_a_part_alone_plays_what_it_plays_in_the_full_band():
    full = blues_band(2).notes(12)
    alone = blues_band(2, parts=("bass",)).notes(12)
    assert set(alone) == {"bass"} and alone["bass"] == full["bass"]


def test_bars_come_in_order_and_the_stream_matches_the_bars():
    band = blues_band(1)
    with pytest.raises(ValueError):
        band.bar(3)
    stream = blues_band(1)
    notes = []
    for note in stream:
        if note.onset >= 8 * 4:
            break
        notes.append(note)
    by_bar = blues_band(1).notes(8)
    assert sorted(notes, key=lambda n: (n.onset, n.channel, n.pitch)) == sorted(
        (n for part in by_bar.values() for n in part), key=lambda n: (n.onset, n.channel, n.pitch))
    assert [n.onset for n in notes] == sorted(n.onset for n in notes)


def test_walking_bass_is_quarters_in_a_bassists_register_on_chord_tones():
    form = Form(BLUES.progression)
    bass = blues_band(3).notes(24)["bass"]
    assert all(LOW <= n.pitch <= HIGH and n.channel == 1 for n in bass)
    downbeats = [n for n in bass if n.onset % 4 == 0]
    assert len(downbeats) == 24
    for note in downbeats:  # the chord's first beat is its root
        chord = form.span_at(int(note.onset * 12)).chord
        assert note.pitch % 12 == chord.root
    judged = bench_band.judge_bass(bass, form, 24)
    hits, total = judged["approach"]
    assert hits / total >= 0.5


def test_comp_voicings_hold_the_guide_tones_and_breathe():
    form = Form(BLUES.progression)
    comp = blues_band(3).notes(48)["comp"]
    judged = bench_band.judge_comp(comp, form, 48)
    assert judged["guides"][0] / judged["guides"][1] >= 0.95
    assert 1.0 <= judged["attacks"] / 48 <= 3.0
    assert 0.2 <= judged["offbeat"][0] / judged["offbeat"][1] < 1.0  # not all on the beat, not none
    assert all(50 <= n.pitch <= 76 and n.channel == 2 for n in comp)
    assert min(n.duration for n in comp) > 0


@pytest.mark.parametrize("symbol, third, seventh", [
    ("F7", 9, 3), ("Cm7", 3, 10), ("Bbmaj7", 2, 9), ("Am7b5", 0, 7), ("Bdim7", 2, 8), ("C", 4, 9),
    ("G7sus4", 0, 5),
])
def test_guide_tones(symbol, third, seventh):
    assert guide_tones(parse_chord(symbol)) == (third, seventh)


def test_swing_drums_ride_hihat_and_fills_before_each_section():
    tune = tunes.find_tune("Rhythm Changes in Bb")
    sections = tunes.form_sections(tune.form, tune.progression.bar_count)
    band = Band(tune.progression, np.random.default_rng(0), feel=Feel(200, 0.5), sections=sections)
    drums = band.notes(64)["drums"]
    assert {n.channel for n in drums} == {9}
    hats = sorted({round(n.onset % 4, 3) for n in drums if n.pitch == HAT_PEDAL})
    assert hats == [1.0, 3.0]  # hi-hat on 2 and 4
    ride = [n for n in drums if n.pitch == RIDE]
    skips = {round(n.onset % 1, 3) for n in ride} - {0.0}
    assert skips == {round(2 / 3, 3)}  # the skip note is swung (triplet feel at swing 0.5)
    judged = bench_band.judge_drums(drums, Form(tune.progression, sections), 64)
    assert judged["fills"] == (7, 7)  # A1 A2 B A3 twice: 7 section starts after the first bar
    assert judged["extra"][0] == 0


def test_a_waltz_and_a_chord_on_one_beat():
    prog = parse_progression("time=3/4 | Dm7 | G7 | Cmaj7:2 A7:1 | Dm7 G7:1 |")
    band = Band(prog, np.random.default_rng(0), feel=Feel(150, 0.4))
    parts = band.notes(8)
    assert all(n.onset < 24 for part in parts.values() for n in part)
    assert len([n for n in parts["bass"] if abs(n.onset % 1) < 1e-6]) == 24  # a quarter on every beat


def test_no_chord_is_silence_for_bass_and_comp():
    band = Band(parse_progression("N.C. | C7"), np.random.default_rng(0))
    parts = band.notes(2)
    assert all(n.onset >= 4 for n in parts["bass"] + parts["comp"])


def test_parse_parts_and_channels():
    assert parse_parts("all") == ("bass", "comp", "drums")
    assert parse_parts("drums,bass") == ("bass", "drums")
    assert parse_parts("none") == ()
    with pytest.raises(InputError, match="guitar"):
        parse_parts("bass,guitar")
    assert parse_band_channels("bass=5,drums=10") == BandChannels(0, 4, 2, 9)
    for bad in ("bass=17", "bass", "sax=3", "bass=1"):  # bass=1 collides with the solo
        with pytest.raises(InputError, match="--band-channels"):
            parse_band_channels(bad)


# -- generate --------------------------------------------------------------------------------------
def test_generate_writes_the_band_on_its_channels(tmp_path):
    out = tmp_path / "quartet.mid"
    result = run_improv("generate", "--out", str(out), "--bars", "12", "--seed", "2", timeout=120)
    assert result.returncode == 0, result.stderr
    mid = mido.MidiFile(out)
    assert [t.name for t in mid.tracks[1:]] == ["improv", "chords", "bass", "drums"]
    channels = [{m.channel for m in t if m.type == "note_on"} for t in mid.tracks[1:]]
    assert channels == [{0}, {2}, {1}, {9}]


def test_generate_band_option_and_channels(tmp_path):
    out = tmp_path / "duo.mid"
    result = run_improv("generate", "--out", str(out), "--bars", "4", "--band", "bass",
                        "--band-channels", "bass=5", timeout=120)
    assert result.returncode == 0, result.stderr
    mid = mido.MidiFile(out)
    assert [t.name for t in mid.tracks[1:]] == ["improv", "bass"]
    assert {m.channel for m in mid.tracks[2] if m.type == "note_on"} == {4}
    for args, word in ((["--band", "tuba"], "tuba"), (["--band-channels", "drums=0"], "drums")):
        bad = run_improv("generate", "--out", str(tmp_path / "x.mid"), "--bars", "2", *args, timeout=120)
        assert bad.returncode == 2 and word in bad.stderr and "Traceback" not in bad.stderr


def test_the_band_does_not_change_the_solo(tmp_path):
    solos = []
    for band in ("all", "none"):
        out = tmp_path / f"{band}.mid"
        run_improv("generate", "--out", str(out), "--bars", "8", "--seed", "9", "--band", band,
                   timeout=120, check=True)
        solos.append([m for m in mido.MidiFile(out).tracks[1] if m.type in ("note_on", "note_off")])
    assert solos[0] == solos[1]


# -- the live feed ---------------------------------------------------------------------------------
class _Emitter:
    """Records push_note calls (a unit-test stand-in for the emitter thread)."""

    def __init__(self) -> None:
        self.notes: list[tuple] = []

    def push_note(self, onset, offset, channel, pitch, velocity) -> int:
        self.notes.append((round(onset, 6), round(offset, 6), channel, pitch, velocity))
        return len(self.notes)


def test_band_feed_follows_the_count_in_the_end_and_a_transport_jump():
    from improv.live.bandfeed import BandFeed

    feed = BandFeed(lambda: blues_band(6), offset=4.0, end=4.0 + 12)
    emitter = _Emitter()
    feed.fill(emitter, 4.0 + 2)
    assert emitter.notes and all(4.0 <= n[0] < 6.0 for n in emitter.notes)  # after the count-in bar
    assert not feed.queued_to(16.0)  # the engine waits for the band before it ends the session
    feed.fill(emitter, 100.0)
    assert feed.queued_to(16.0)
    assert max(n[0] for n in emitter.notes) < 16.0 and max(n[1] for n in emitter.notes) <= 16.0
    full = [n for part in blues_band(6).notes(3).values() for n in part]
    assert len(emitter.notes) == len(full) and len(feed.played) == len(full)
    feed.forget_after(5.0)  # a panic at form beat 5: the record keeps what had started, cut there
    assert all(n.onset < 5.0 and n.offset <= 5.0 for n in feed.played)
    jumped = BandFeed(lambda: blues_band(6), offset=0.0)
    jumped.jump(24.0)  # MIDI clock Song Position to bar 7
    emitter = _Emitter()
    jumped.fill(emitter, 28.0)
    expected = sorted((round(n.onset, 6), n.channel, n.pitch)
                      for part in blues_band(6).notes(7).values() for n in part if 24.0 <= n.onset < 28.0)
    assert sorted((n[0], n[2], n[3]) for n in emitter.notes) == expected


# -- bossa -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("feel, style, groove", [
    ("bossa", "", "bossa"), ("straight", "Latin", "bossa"), ("bossa", "Samba", "bossa"),
    ("swing", "Medium Swing", "swing"), ("straight", "Even 8ths", "swing"), ("waltz", "Jazz Waltz", "swing"),
])
def test_the_groove_comes_from_the_feel_and_the_ireal_style(feel, style, groove):
    assert groove_of(feel, style) == groove


def bossa_band(seed: int = 0, parts=("bass", "comp", "drums")) -> tuple[Band, Form]:
    tune = tunes.find_tune("Blue Bossa")
    sections = tunes.form_sections(tune.form, tune.progression.bar_count)
    band = Band(tune.progression, np.random.default_rng(seed), feel=Feel(130, 0.0, "bossa"),
                sections=sections, parts=parts)
    return band, Form(tune.progression, sections)


def test_bossa_drums_play_the_clave_on_the_cross_stick_with_straight_hihat_and_surdo_kick():
    band, form = bossa_band(1)
    bars = 2 * form.progression.bar_count
    drums = band.notes(bars)["drums"]
    assert RIDE not in {n.pitch for n in drums} and HAT_PEDAL not in {n.pitch for n in drums}
    fills = {bar for bar in range(bars - 1) if form.section_starts(bar + 1)}
    clave = {}
    for n in drums:
        bar, beat = divmod(n.onset, 4)
        if n.pitch == SIDE and int(bar) not in fills:
            clave.setdefault(int(bar) % 2, set()).add(round(beat, 3))
    assert clave == {0: {0.0, 1.5, 3.0}, 1: {1.0, 2.5}}  # 1, the and of 2, 4 | 2, the and of 3
    hats = {round(n.onset % 4, 3) for n in drums if n.pitch == HAT_CLOSED}
    assert hats == {i / 2 for i in range(8)}  # straight eighths
    kicks = {round(n.onset % 4, 3) for n in drums if n.pitch == KICK and int(n.onset // 4) not in fills}
    assert kicks == {0.0, 1.5, 2.0, 3.5}
    judged = bench_band.judge_drums(drums, form, bars)
    assert judged["fills"][0] == judged["fills"][1] > 0 and judged["extra"][0] == 0


def test_bossa_bass_is_root_and_fifth_with_pickups_and_the_comp_follows_the_clave_phrase():
    band, form = bossa_band(2)
    bars = 2 * form.progression.bar_count
    parts = band.notes(bars)
    bass = parts["bass"]
    onsets = {round(n.onset % 4, 3) for n in bass}
    assert onsets == {0.0, 1.5, 2.0, 3.5}
    for note in bass:
        chord = form.span_at(int(round(note.onset * 12))).chord
        if note.onset % 4 == 0:
            assert note.pitch % 12 == chord.root  # the root on 1
        elif note.onset % 4 == 2 and form.span_at(int(note.onset * 12)).start < note.onset * 12:
            assert (note.pitch - chord.root) % 12 in (6, 7, 8)  # the fifth on 3 of a held chord
    by_onset = {round(n.onset, 3): n.pitch for n in bass}
    pickups = [t for t in by_onset if t % 2 == 1.5 and t + 0.5 in by_onset]
    assert pickups and all(by_onset[t] == by_onset[t + 0.5] for t in pickups)  # a pickup sounds the next note
    judged = bench_band.judge_bass(bass, form, bars)
    assert judged["strong"][0] / judged["strong"][1] >= 0.9
    comp = bench_band.judge_comp(parts["comp"], form, bars)
    assert comp["guides"][0] / comp["guides"][1] >= 0.95
    assert 1.0 <= comp["attacks"] / bars <= 3.0
    attacks = sorted({round(n.onset, 3) for n in parts["comp"]})
    on_clave = [t for t in attacks if t % 8 in (0.0, 1.5, 3.0, 5.0, 6.5)]  # 1, 2&, 4 | 2, 3&
    assert len(on_clave) >= 0.5 * len(attacks)
    assert {t % 1 for t in attacks} <= {0.0, 0.5}  # straight eighths only


def test_a_swing_band_is_unchanged_by_the_groove_field():
    assert blues_band(4).notes(12) == Band(BLUES.progression, np.random.default_rng(4),
                                           feel=Feel(120, 0.5, "swing")).notes(12)
    with pytest.raises(InputError, match="groove"):
        Band(BLUES.progression, np.random.default_rng(0), feel=Feel(120, 0.5, "polka"))


def test_generate_plays_bossa_drums_for_a_bossa_tune(tmp_path):
    out = tmp_path / "bossa.mid"
    result = run_improv("generate", "--out", str(out), "--tune", "Blue Bossa", "--bars", "8", "--seed", "1")
    assert result.returncode == 0, result.stderr
    drums = [m.note for t in mido.MidiFile(out).tracks if t.name == "drums" for m in t
             if m.type == "note_on" and m.velocity]
    assert SIDE in drums and HAT_CLOSED in drums and RIDE not in drums


def test_the_live_stream_sends_drums_then_bass_then_comp_on_one_onset():
    stream = iter(blues_band(5))
    notes = [next(stream) for _ in range(400)]
    rank = {9: 0, 1: 1, 2: 2}
    for a, b in zip(notes, notes[1:], strict=False):
        assert a.onset < b.onset or (a.onset == b.onset and rank[a.channel] <= rank[b.channel])


@pytest.mark.parametrize("groove", ["swing", "bossa"])
def test_a_chord_played_onto_the_downbeat_gets_its_own_root_from_the_bass(groove):
    from improv.live.listener import ChordFollower

    follower = ChordFollower(parse_progression("C7 | C7 | C7 | C7"))
    band = Band(follower, np.random.default_rng(3), feel=Feel(120, 0.0, groove), parts=("bass",))
    led_in = band.bar(0)["bass"][-1]  # the approach (swing) or pickup (bossa) aimed at bar 2's C
    assert led_in.onset >= 3.0 and led_in.pitch % 12 in (11, 0, 1, 10, 2)
    follower.override(48, "B7")  # then the pianist's B7 lands on bar 2's downbeat (chord following)
    first = band.bar(1)["bass"][0]
    assert first.onset == 4.0 and first.pitch % 12 == 11
