"""The live engine's parts under a manual clock: no threads, no sleep.

The engine is assembled as ``improv play`` assembles it (``build_engine``) on a :class:`Clock` whose time
source is a number the test moves, with a sink that records what it got and when. Each step of time
does what each thread would do: the listen thread's ``Inputs.poll``, the generator thread's
``Engine.pump`` and the emitter thread's ``Emitter.send_due``. The improviser is a stand-in (a scale,
an eighth note per step) inside the real Performer and its real modes; the band is the real one.
"""

from __future__ import annotations

import json
from collections import deque
from types import SimpleNamespace

import numpy as np
from conftest import sounding

from improv.improviser import TimedNote as Note
from improv.live.build import build_engine
from improv.live.clock import Clock
from improv.live.engine import Engine, EngineOptions, InputSource, Listening
from improv.live.listener import ChordFollower, ListenerConfig
from improv.perform.band import Band, Feel
from improv.perform.events import ParamEvent
from improv.perform.log import SessionLog
from improv.perform.performer import Performer, PerformerSettings
from improv.theory.progression import parse_progression

TEMPO = 120.0
SPB = 60.0 / TEMPO
STEP = 0.002  # seconds of manual time per step
NOTE_ON, NOTE_OFF = 0x90, 0x80
BLUES = "C7 | F7 | C7 | C7 | F7 | F7 | C7 | C7 | G7 | F7 | C7 | G7"


class Manual:
    """Time that moves only when the test says (seconds)."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


class Sink:
    """Records every message with the manual time it was sent."""

    def __init__(self, now: Manual) -> None:
        self.now = now
        self.sent: list[tuple[float, tuple[int, ...]]] = []
        self.closed = False

    def send(self, message) -> bool:
        self.sent.append((self.now(), tuple(message)))
        return True

    def close(self) -> None:
        self.closed = True


class Keys:
    """A scripted input: what the test plays, stamped with the manual time."""

    def __init__(self, now: Manual, label: str = "keys") -> None:
        self.now, self.label, self.connected = now, label, True
        self._queue: deque = deque()

    def send(self, *message: int) -> None:
        self._queue.append((bytes(message), self.now()))

    def drain(self, limit: int | None = None) -> list:
        out = list(self._queue)
        self._queue.clear()
        return out


class Scale:
    """A stand-in improviser in ticks: one eighth note per step, up a C major scale."""

    PITCHES = (60, 62, 64, 65, 67, 69, 71, 72)

    def __init__(self, progression) -> None:
        self.progression = progression
        self.position = 0
        self.reseeded: list[list] = []
        self.register = SimpleNamespace(low=52, high=84)
        self.centre = 68
        self.rng = np.random.default_rng(0)
        self.sampler = SimpleNamespace(temperature=1.0)

    def step(self) -> int:
        tick = self.position
        self.position += 6
        return tick

    def note_for(self, tick: int) -> Note:
        return Note(tick / 12, 0.4, self.PITCHES[(tick // 6) % 8], 90)

    def jump(self, tick: int) -> None:
        self.position = int(tick)

    def reseed(self, notes, weight: float) -> None:
        self.reseeded.append([(n.onset, n.pitch) for n in notes])


def _session(notes, *, now: Manual | None = None, listening=None, band=None, session_log=None, **options):
    now = now or Manual()
    sink = Sink(now)
    opts = EngineOptions(tempo=TEMPO, status=False, realtime=False, **options)
    engine = build_engine(notes, sink, opts, listening=listening, band=band, session_log=session_log,
                          clock=Clock(TEMPO, now=now))
    engine.prepare(at=now.t + 0.1)
    return engine, sink, now


def _play(engine: Engine, now: Manual, beat: float) -> bool:
    """Move time to form beat ``beat``, each step doing every thread's work; True when all is queued."""
    until = engine.timeline.time_of(beat)
    done = False
    while now.t < until:
        now.t = min(until, now.t + STEP)
        if engine.inputs is not None:
            engine.inputs.poll()
        done = engine.pump(block=False) or done
        engine.emitter.send_due()
    return done


def _beat(engine: Engine, t: float) -> float:
    return engine.timeline.beat(t)


def _ons(sent, channel: int | None = None) -> list[tuple[float, tuple[int, ...]]]:
    return [(t, m) for t, m in sent if m[0] & 0xF0 == NOTE_ON and m[2] > 0
            and (channel is None or m[0] & 0x0F == channel)]


def _performer(settings: PerformerSettings, chords=None) -> Performer:
    progression = chords or parse_progression("Cmaj7 | Dm7 | G7 | Cmaj7")
    return Performer(Scale(progression), settings, chords=chords)


def _band(progression):
    return lambda: Band(progression, np.random.default_rng(3), feel=Feel(TEMPO, 0.5))


# ------------------------------------------------------------------------------------- the solo
def test_the_solo_is_queued_ahead_and_sent_in_order_on_time_after_the_count_in():
    notes = [Note(i * 0.5, 0.4, 60 + i % 12, 70 + i) for i in range(40)]
    engine, sink, now = _session(notes, bars=2, count_in=1)
    assert sink.sent == []  # the prefill queues; nothing is sent before beat 0
    assert _play(engine, now, 8.5)  # two bars (and the count-in before them)
    clicks = _ons(sink.sent, 9)
    assert [m[1] for _, m in clicks] == [76, 37, 37, 37]  # the downbeat accented
    ons = _ons(sink.sent, 0)
    assert [m[1:] for _, m in ons] == [(60 + i % 12, 70 + i) for i in range(16)]  # 2 bars of eighths
    for (t, _), note in zip(ons, notes, strict=False):
        assert abs(_beat(engine, t) - note.onset) < 2 * STEP / SPB  # on time, to the step
    assert sounding(sink.sent, controllers=False) == set()
    assert engine.solo.counts.queued == 16 and engine.solo.done
    assert [(n.onset, n.pitch) for n in engine.solo.played] == [(n.onset, n.pitch) for n in notes[:16]]


def test_a_note_too_late_to_play_on_time_becomes_a_rest():
    notes = [Note(i * 0.5, 0.4, 60 + i, 80) for i in range(8)]
    engine, sink, now = _session(notes, lookahead=0.5)
    now.t = engine.timeline.time_of(1.6)  # the generator thread stalled for 1.6 beats
    _play(engine, now, 5.0)
    assert engine.solo.counts.rests >= 2  # the notes at 1.0 and 1.5 became rests
    assert [m[1] for _, m in _ons(sink.sent, 0)][-4:] == [64, 65, 66, 67]


# ------------------------------------------------------------------------------------- respond
def test_respond_barge_in_cuts_the_answer_and_answers_the_new_call(tmp_path):
    performer = _performer(PerformerSettings(mode="respond", response_bars=2))
    log = SessionLog(tmp_path / "session.jsonl")
    now = Manual()
    keys = Keys(now)
    listening = Listening([InputSource(keys)], ListenerConfig(gate=1.0))
    engine, sink, now = _session(performer, now=now, listening=listening, session_log=log)
    _play(engine, now, 1.0)
    for i, pitch in enumerate((60, 62, 64, 65)):  # the call: four notes, half a beat apart
        _play(engine, now, 1.0 + i * 0.5)
        keys.send(NOTE_ON, pitch, 100)
        _play(engine, now, 1.4 + i * 0.5)
        keys.send(NOTE_OFF, pitch, 0)
    _play(engine, now, 6.0)  # the gate closed at 3.9; the answer (8 beats) plays
    answer = _ons(sink.sent, 0)
    assert answer and _beat(engine, answer[0][0]) > 3.9 and engine.phrases == 1
    barge = now.t
    keys.send(NOTE_ON, 67, 100)  # a new call while the answer plays
    _play(engine, now, 6.3)
    keys.send(NOTE_OFF, 67, 0)
    _play(engine, now, 7.0)
    assert engine.barge_ins == 1
    before = [x for x in sink.sent if x[0] <= barge + 2 * STEP]
    assert sounding(before, controllers=False) == set()  # the sounding answer note ended at once
    gate = engine.timeline.time_of(6.3 + 1.0)
    assert _ons([x for x in sink.sent if barge < x[0] < gate], 0) == []  # silent while listening
    _play(engine, now, 10.0)
    assert _ons([x for x in sink.sent if x[0] > gate], 0), "the new call got no answer"
    engine._shutdown()
    assert sounding(sink.sent) == set()
    records = [json.loads(line) for line in (tmp_path / "session.jsonl").read_text().splitlines()]
    events = [r["event"]["type"] for r in records if r["type"] == "event"]
    assert events == ["phrase", "barge", "phrase"]
    assert any(r["type"] == "cut" for r in records) or any(r.get("why") == "barge-in" for r in records)
    assert records[-1]["type"] == "end" and records[-1]["notes"] == engine.solo.logged_notes()


# ------------------------------------------------------------------------------------- trade
def test_trade_turns_improv_first_then_the_player_s_turn_reseeds_the_next():
    performer = _performer(PerformerSettings(mode="trade", trade_bars=1))
    now = Manual()
    keys = Keys(now)
    listening = Listening([InputSource(keys)], ListenerConfig(gate=1.0))
    engine, sink, now = _session(performer, now=now, listening=listening)
    _play(engine, now, 4.5)
    for i, pitch in enumerate((67, 65, 64)):  # the player's bar (beats 4..8)
        keys.send(NOTE_ON, pitch, 90)
        _play(engine, now, 4.9 + i)
        keys.send(NOTE_OFF, pitch, 0)
        _play(engine, now, 5.5 + i)
    _play(engine, now, 11.5)
    beats = [_beat(engine, t) for t, _ in _ons(sink.sent, 0)]
    assert beats and all(b < 4.0 or b > 8.0 - 1e-6 for b in beats)  # silent in the player's bar
    assert any(b < 4.0 for b in beats) and any(7.999 < b < 12.0 for b in beats)
    assert engine.phrases == 1 and performer.turns == {1}
    assert [p for _, p in performer.imp.reseeded[-1]] == [67, 65, 64]


# ------------------------------------------------------------------------------------- transport
def _long_notes(count: int = 64):
    return [Note(i * 1.0, 1.9, 60 + i % 5, 80) for i in range(count)]  # always two sounding


def test_a_transport_stop_silences_every_part_and_the_panic_controller_plays_on():
    engine, sink, now = _session(_long_notes(), band=_band(parse_progression(BLUES)))
    _play(engine, now, 6.25)
    playing = sounding(sink.sent, controllers=False)
    assert {0, 1} <= {channel for channel, _ in playing}  # the solo and the bass sound
    engine.post(ParamEvent("panic", 1.0, 127))  # the panic controller
    _play(engine, now, 6.25 + STEP / SPB)
    assert sounding(sink.sent, controllers=False) == set()
    _play(engine, now, 9.0)
    assert {m[0] & 0x0F for t, m in _ons(sink.sent) if _beat(engine, t) > 6.5} >= {0, 1}  # plays on
    engine.transport.handle("stop", 0, engine.emitter, engine.parts, engine.timeline.beat())
    stopped = len(sink.sent)
    assert sounding(sink.sent, controllers=False) == set()
    assert {m[0] & 0x0F for _, m in sink.sent[stopped - 48:] if m[:2] == (0xB0 | (m[0] & 0x0F), 123)} \
        >= {0, 1, 2, 9}  # all notes off on every channel used
    _play(engine, now, 12.0)
    assert sink.sent[stopped:] == []  # stopped: nothing more until the transport starts again


def test_the_shutdown_ends_every_sounding_note_of_every_part(tmp_path):
    log = SessionLog(tmp_path / "session.jsonl")
    performer = _performer(PerformerSettings())
    engine, sink, now = _session(performer, band=_band(parse_progression(BLUES)), session_log=log,
                                 record=tmp_path / "live.mid")
    _play(engine, now, 5.1)
    assert len(sounding(sink.sent, controllers=False)) >= 2
    engine._shutdown()
    assert sounding(sink.sent, controllers=False) == set() and sink.closed
    assert (tmp_path / "live.mid").stat().st_size > 0
    last = json.loads((tmp_path / "session.jsonl").read_text().splitlines()[-1])
    assert last["type"] == "end" and last["notes"] == engine.solo.logged_notes()


# ------------------------------------------------------------------------------------- the band
def _band_ons(engine: Engine, sent, after: float = -1.0, before: float = 1e9) -> list[tuple[float, int, int]]:
    """(form beat, channel, pitch) of the band's note-ons (not the solo's, not the count-in)."""
    return [(_beat(engine, t), m[0] & 0x0F, m[1]) for t, m in _ons(sent)
            if m[0] & 0x0F != 0 and after < _beat(engine, t) < before]


def _same_notes(got: list[tuple[float, int, int]], expected: list[tuple[float, int, int]]) -> bool:
    """The same (channel, pitch) notes, each sent within the step after its onset."""
    left = list(got)
    for onset, channel, pitch in expected:
        match = next((g for g in left if g[1:] == (channel, pitch) and -1e-6 <= g[0] - onset <= 0.01), None)
        if match is None:
            return False
        left.remove(match)
    return not left


def test_the_band_is_a_second_feeder_beside_the_solo_to_the_end_of_the_last_bar():
    progression = parse_progression(BLUES)
    engine, sink, now = _session([Note(i * 0.5, 0.4, 72, 80) for i in range(16)], bars=2, count_in=1,
                                 band=_band(progression))
    assert not _play(engine, now, 6.0)  # the solo is not all queued yet
    assert _play(engine, now, 8.5)  # then the solo, the band and the end marker are
    expected = [(n.onset, n.channel, n.pitch) for part in _band(progression)().notes(2).values()
                for n in part]
    assert expected and _same_notes(_band_ons(engine, sink.sent, after=-0.5), expected)
    assert len(_ons(sink.sent, 0)) == 16  # the solo beside it, on the same emitter
    assert sounding(sink.sent, controllers=False) == set()


def test_a_played_chord_cuts_the_band_s_queued_notes_and_re_makes_them_on_it():
    base = parse_progression("C7 | C7 | C7 | C7")
    follower = ChordFollower(base)
    performer = _performer(PerformerSettings(), chords=follower)
    now = Manual()
    chords = Keys(now, "chords")
    listening = Listening([InputSource(chords, role="chords")], ListenerConfig(),
                          chord_config=ListenerConfig(chords_only=True))
    engine, sink, now = _session(performer, now=now, listening=listening, band=_band(follower))
    _play(engine, now, 4.02)  # a beat of bar 2 is queued already, on C7
    arrived = now.t
    before = {key for key in sounding(sink.sent, controllers=False) if key[0] != 0}
    assert before  # the band's downbeat sounds
    for pitch in (54, 58, 61, 64):  # Gb7, played a moment after the downbeat of bar 2
        chords.send(NOTE_ON, pitch, 80)
    _play(engine, now, 8.0)
    assert follower.chord_at(60).symbol == "Gb7" and len(engine.band.reactions_ms) == 2  # Gb, Gb7
    offs = {(m[0] & 0x0F, m[1]) for t, m in sink.sent if arrived < t <= arrived + 2 * STEP
            and m[0] & 0xF0 == NOTE_OFF}
    assert before <= offs  # what sounded past the chord ended at once
    # the band's bar 2 after the chord is what a band that played bar 1 on C7 makes of it on Gb7
    reference_chords = ChordFollower(base)
    reference, unchanged = _band(reference_chords)(), _band(base)()
    reference.bar(0)
    unchanged.bar(0)
    reference_chords.override(48, "Gb7")
    expected = [(n.onset, n.channel, n.pitch) for part in reference.bar(1).values() for n in part
                if 4.1 < n.onset < 7.9]
    on_c7 = [(n.onset, n.channel, n.pitch) for part in unchanged.bar(1).values() for n in part
             if 4.1 < n.onset < 7.9]
    assert expected != on_c7  # the chord changed what the band plays
    assert _same_notes(_band_ons(engine, sink.sent, after=4.1, before=7.9), expected)


def test_a_chord_played_in_the_count_in_re_makes_the_band_from_beat_0():
    """A chord played during the count-in: the band's first bar is made again on it, not dropped."""
    base = parse_progression("C7 | C7 | C7 | C7")
    follower = ChordFollower(base)
    now = Manual()
    chords = Keys(now, "chords")
    listening = Listening([InputSource(chords, role="chords")], ListenerConfig(),
                          chord_config=ListenerConfig(chords_only=True))
    engine, sink, now = _session(_performer(PerformerSettings(), chords=follower), now=now,
                                 listening=listening, band=_band(follower), count_in=1)
    _play(engine, now, -2.0)  # two beats into the count-in: the band's bar 1 is queued on C7
    for pitch in (54, 58, 61, 64):  # Gb7
        chords.send(NOTE_ON, pitch, 80)
    _play(engine, now, 3.9)
    assert follower.chord_at(0).symbol == "Gb7"
    reference_chords = ChordFollower(base)
    reference_chords.override(0, "Gb7")
    expected = [(n.onset, n.channel, n.pitch) for part in _band(reference_chords)().bar(0).values()
                for n in part if n.onset < 3.8]
    assert expected and _same_notes(_band_ons(engine, sink.sent, after=-0.5, before=3.8), expected)


def test_a_replay_plays_the_band_that_followed_the_played_chords(tmp_path):
    """The live band re-made bars on two played chords (one on a downbeat, one mid-bar); the replay of
    the session log plays that band note for note, not the band of the written changes."""
    from dataclasses import asdict

    from improv.cli.replay import band_of
    from improv.generate import session_band
    from improv.perform.band import BandChannels
    from improv.perform.log import progression_record, read_log

    base = parse_progression("C7 | C7 | C7 | C7")
    follower = ChordFollower(base)
    record = {"parts": ["bass", "comp", "drums"], "channels": asdict(BandChannels()), "swing": 0.5,
              "groove": "swing"}
    log = SessionLog(tmp_path / "s.jsonl")
    log.header(seed=7, model="m", model_hash="h", progression=progression_record(base, None),
               follow_chords=True, chords_sticky=False, performer=vars(PerformerSettings()).copy(), channel=0,
               end=16.0, tempo=TEMPO, options={"temperature": 0.9, "low": 52, "high": 84, "lookahead": 1.0},
               band=record)
    now = Manual()
    chords = Keys(now, "chords")
    listening = Listening([InputSource(chords, role="chords")], ListenerConfig(),
                          chord_config=ListenerConfig(chords_only=True))
    engine, sink, now = _session(
        _performer(PerformerSettings(), chords=follower), now=now, listening=listening, session_log=log,
        band=lambda: session_band(follower, seed=7, tempo=TEMPO, swing=0.5, parts=record["parts"],
                                  channels=BandChannels()), bars=4, count_in=1)
    _play(engine, now, 4.02)
    for pitch in (54, 58, 61, 64):  # Gb7 just after the downbeat of bar 2
        chords.send(NOTE_ON, pitch, 80)
    _play(engine, now, 7.5)
    for pitch in (54, 58, 61, 64):
        chords.send(NOTE_OFF, pitch, 0)
    _play(engine, now, 10.3)
    for pitch in (53, 57, 60, 63):  # F7 in the middle of bar 3
        chords.send(NOTE_ON, pitch, 80)
    assert _play(engine, now, 16.5)
    engine._shutdown()

    def rounded(notes):  # (the live notes went through the count-in's offset: a float's last bit)
        return [(round(n.onset, 6), round(n.offset, 6), n.channel, n.pitch, n.velocity) for n in notes]

    live = rounded(engine.band.played)
    header, records = read_log(tmp_path / "s.jsonl")
    logged = [r["event"] for r in records if r["type"] == "event" and r["event"]["type"] == "chord"]
    assert [c["symbol"] for c in logged][-1] == "F7" and all("at" in c for c in logged)
    written = rounded(band_of({**header, "follow_chords": False}, [], records))
    assert sorted(live) != sorted(written)  # the chords changed what the band played
    assert rounded(band_of(header, [], records)) == live
