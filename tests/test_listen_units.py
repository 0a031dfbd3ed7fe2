"""The listening engine in process: the real engine, performer and listener playing to an in-memory
sink, fed by an in-memory input (barge-in in respond mode and its replay; the MIDI clock dropping
out and coming back) or by a real JACK input that vanishes and comes back.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from dataclasses import asdict
from pathlib import Path

import mido
import pytest
from conftest import sounding

from improv.cli import main
from improv.generate import ImproviserSettings, build_improviser
from improv.improviser import IMPROVISER_VERSION, settings_for_version
from improv.live.build import build_engine
from improv.live.engine import Engine, EngineOptions, InputSource, Listening
from improv.live.listener import ListenerConfig
from improv.live.midiclock import MidiClock
from improv.live.scheduler import Emitter
from improv.model.store import model_hash
from improv.perform.log import SessionLog, progression_record
from improv.perform.performer import Performer, PerformerSettings
from improv.theory.progression import parse_progression

TEMPO = 300.0
SPB = 60.0 / TEMPO
CHANGES = "Dm7 | G7 | Cmaj7 | %"
NOTE_ON = 0x90


class Keys:
    """An in-memory input: what the test sends, stamped with perf_counter, drained by the engine."""

    def __init__(self, label: str = "keys") -> None:
        self.label = label
        self.connected = True
        self._queue: deque[tuple[bytes, float]] = deque()

    def send(self, *message: int) -> float:
        t = time.perf_counter()
        self._queue.append((bytes(message), t))
        return t

    def drain(self, limit: int | None = None) -> list[tuple[bytes, float]]:
        out = []
        while self._queue and (limit is None or len(out) < limit):
            out.append(self._queue.popleft())
        return out


class Sink:
    """Collects what would go to the port, with the time it was sent."""

    def __init__(self) -> None:
        self.sent: list[tuple[float, tuple[int, ...]]] = []
        self._lock = threading.Lock()

    def send(self, message) -> bool:
        with self._lock:
            self.sent.append((time.perf_counter(), tuple(message)))
        return True

    def snapshot(self) -> list[tuple[float, tuple[int, ...]]]:
        with self._lock:
            return list(self.sent)


def _ons(messages, after: float = 0.0, before: float = float("inf")) -> list[float]:
    return [t for t, m in messages if m[0] == NOTE_ON and m[2] > 0 and after <= t < before]


def _until(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.002)
    return predicate()


def _engine(model: Path, tmp: Path, settings: PerformerSettings, source: InputSource, *,
            midiclock: MidiClock | None = None, seed: int = 4, passthrough: bool = False,
            realtime: bool = False):
    """An engine around the real performer on ``model``, logging the session like `play` does."""
    progression = parse_progression(CHANGES)
    shaping, motifs = settings_for_version(IMPROVISER_VERSION, TEMPO)
    imp = build_improviser(progression, ImproviserSettings(seed=seed, temperature=0.9), model_dir=model,
                           shaping=shaping, motifs=motifs)
    performer = Performer(imp, settings)
    session = SessionLog(tmp / "session.jsonl")
    session.header(seed=seed, improviser_version=IMPROVISER_VERSION, model=str(model),
                   model_hash=model_hash(model),
                   progression=progression_record(progression, None), follow_chords=False,
                   chords_sticky=False, performer=asdict(settings), channel=0, end=None,
                   tempo=TEMPO, options={"temperature": 0.9, "low": 52, "high": 84,
                                         "swing": 0.0, "velocity": None})
    listening = Listening([source], ListenerConfig(gate=1.0),
                          midiclock=midiclock, passthrough=passthrough)
    sink = Sink()
    options = EngineOptions(tempo=TEMPO, status=False, realtime=realtime, record=tmp / "live.mid",
                            json_events=tmp / "events.jsonl")
    engine = build_engine(performer, sink, options, listening=listening, session_log=session)
    results: list = []
    thread = threading.Thread(target=lambda: results.append(engine.run()), daemon=True)
    return engine, sink, thread, results


def _stop(engine: Engine, thread: threading.Thread) -> None:
    engine.request_stop("test")
    thread.join(timeout=10)
    assert not thread.is_alive()


def _track(path: Path, index: int) -> list[tuple]:
    tick, out = 0, []
    for msg in mido.MidiFile(path).tracks[index]:
        tick += msg.time
        if msg.type in ("note_on", "note_off"):
            out.append((tick, msg.type, msg.note, msg.velocity))
    return out


def _engine_said(caplog, text: str) -> bool:
    """The engine's listen side (not the input itself) logged a warning containing ``text``."""
    return any(r.name == "improv.live.inputs" and r.levelno == logging.WARNING
               and text in r.getMessage() for r in list(caplog.records))


def _call(keys: Keys, pitches: list[int], step: float = 0.5) -> float:
    """Play ``pitches`` as notes ``step`` beats apart; returns the time of the last note-off."""
    off = 0.0
    for pitch in pitches:
        keys.send(0x90, pitch, 100)
        time.sleep(step * SPB * 0.8)
        off = keys.send(0x80, pitch, 0)
        time.sleep(step * SPB * 0.2)
    return off


# ---------------------------------------------------------------------------------- barge-in


def test_cutting_emitter_drops_queued_notes_and_ends_sounding_ones() -> None:
    from improv.live.clock import Clock

    sink = Sink()
    clock = Clock(120.0)
    clock.start(time.perf_counter())
    emitter = Emitter(sink, clock, realtime=False)
    sounding_id = emitter.push_note(0.0, 50.0, 0, 60, 90)  # on now, off far away
    queued_id = emitter.push_note(40.0, 41.0, 0, 62, 90)
    emitter.push_note(0.0, 50.0, 1, 70, 90)  # not cut
    emitter.start()
    try:
        assert _until(lambda: len(sink.snapshot()) == 2)
        cut, dropped = emitter.cut({sounding_id, queued_id}, clock.beat_at())
        assert (cut, dropped) == ({sounding_id}, {queued_id})
        assert _until(lambda: (0x80, 60, 0) in [m for _, m in sink.snapshot()])
        assert emitter.pending() == 1  # only the other channel's note-off waits
        assert (0x90, 62, 90) not in [m for _, m in sink.snapshot()]
    finally:
        emitter.stop()
        emitter.join(2.0)
    assert emitter.cut(set(), 0.0) == (set(), set())


def test_barge_in_stops_the_answer_listens_and_answers_the_new_call(tiny_model, tmp_path):
    keys = Keys()
    settings = PerformerSettings(mode="respond", response_bars=2)  # answers last 8 beats
    engine, sink, thread, results = _engine(tiny_model, tmp_path, settings, InputSource(keys))
    thread.start()
    try:
        assert _until(lambda: engine.clock.started)
        time.sleep(2 * SPB)
        _call(keys, [60, 62, 64, 65])
        assert _until(lambda: len(_ons(sink.snapshot())) >= 2), "no answer to the first call"
        barge = keys.send(0x90, 67, 100)  # a new call while the 8-beat answer plays
        time.sleep(0.4 * SPB)
        keys.send(0x80, 67, 0)
        time.sleep(0.1 * SPB)
        last_off = _call(keys, [69, 71])
        gate = last_off + 1.0 * SPB
        assert _until(lambda: len(_ons(sink.snapshot(), after=gate)) >= 1), "no second answer"
        time.sleep(SPB)
    finally:
        _stop(engine, thread)
    sent = sink.snapshot()
    lookahead = engine.options.lookahead * SPB
    # the answer stopped: nothing of it sounds one lookahead after the barge-in ...
    assert sounding([x for x in sent if x[0] < barge + lookahead], controllers=False) == set()
    # ... and nothing starts until the second call's gate closed
    assert _ons(sent, after=barge + lookahead, before=gate - 0.01) == []
    assert _ons(sent, before=barge) and _ons(sent, after=gate)
    assert sounding(sent, controllers=False) == set()
    assert results and engine.barge_ins == 1 and engine.phrases == 2
    assert engine.performer.reseeds == 2
    # the log says what was cut, and replay reproduces the session note for note
    log_text = (tmp_path / "session.jsonl").read_text()
    assert '"type":"barge"' in log_text
    assert '"why":"barge-in"' in log_text or '"type":"cut"' in log_text
    out = tmp_path / "replay.mid"
    assert main(["replay", str(tmp_path / "session.jsonl"), "--out", str(out)]) == 0
    recorded = _track(tmp_path / "live.mid", 1)
    assert recorded and _track(out, 1) == recorded


@pytest.mark.parametrize("realtime", [True, False])
def test_the_emitter_then_the_listen_then_the_generator_thread_ask_for_sched_fifo(tiny_model, tmp_path,
                                                                                   monkeypatch, realtime):
    from improv.live import engine as engine_module
    from improv.live import scheduler

    asked: list[tuple[str, int]] = []

    def record(priority: int) -> bool:  # the OS's answer does not matter here: say no
        asked.append((threading.current_thread().name, priority))
        return False

    monkeypatch.setattr(engine_module, "try_realtime", record)
    monkeypatch.setattr(scheduler, "try_realtime", record)
    engine, sink, thread, results = _engine(tiny_model, tmp_path, PerformerSettings(mode="respond"),
                                            InputSource(Keys()), realtime=realtime)
    thread.start()
    try:
        assert _until(lambda: engine.clock.started and len(asked) >= (3 if realtime else 0))
    finally:
        _stop(engine, thread)
    if not realtime:
        assert asked == []
        return
    assert sorted(asked, key=lambda a: -a[1]) == [("improv-emitter", scheduler.EMITTER_PRIORITY),
                                                  ("improv-listen", scheduler.LISTEN_PRIORITY),
                                                  ("improv-generator", scheduler.GENERATOR_PRIORITY)]
    assert scheduler.EMITTER_PRIORITY > scheduler.LISTEN_PRIORITY > scheduler.GENERATOR_PRIORITY > 0
    assert results and sounding(sink.snapshot(), controllers=False) == set()


def test_a_call_after_the_answer_is_not_a_barge_in(tiny_model, tmp_path):
    keys = Keys()
    settings = PerformerSettings(mode="respond", response_bars=None)  # as long as the call
    engine, sink, thread, _ = _engine(tiny_model, tmp_path, settings, InputSource(keys))
    thread.start()
    try:
        assert _until(lambda: engine.clock.started)
        last_off = _call(keys, [60, 62])  # 1 beat: a 1-beat answer after a 1-beat gate
        answer_over = last_off + 3.5 * SPB
        assert _until(lambda: _ons(sink.snapshot()) != [])
        time.sleep(max(0.0, answer_over - time.perf_counter()))
        last_off = _call(keys, [64, 65])
        assert _until(lambda: len(_ons(sink.snapshot(), after=last_off)) >= 1)
    finally:
        _stop(engine, thread)
    assert engine.barge_ins == 0 and engine.phrases == 2


# ---------------------------------------------------------------------------------- clock dropout


def test_clock_dropout_silences_warns_and_resumes(tiny_model, tmp_path, caplog):
    clock_in = Keys("clock")
    source = InputSource(clock_in, role="clock", clock=True)
    engine, sink, thread, _ = _engine(tiny_model, tmp_path, PerformerSettings(), source,
                                      midiclock=MidiClock())
    period = 60.0 / (24 * TEMPO)
    caplog.set_level(logging.INFO, logger="improv.live.engine")

    def ticks(count: int) -> float:
        t = time.perf_counter()
        for _ in range(count):
            t += period
            while time.perf_counter() < t:
                time.sleep(0.0005)
            clock_in.send(0xF8)
        return t

    thread.start()
    try:
        ticks(48)  # the tempo, while stopped
        clock_in.send(0xFA)
        gap_from = ticks(24 * 4)  # 4 beats playing, then the ticks stop (no Stop)
        assert _until(lambda: "stopped arriving" in caplog.text, 5.0)
        time.sleep(0.2)
        back = clock_in.send(0xF8)
        ticks(24 * 4)
        clock_in.send(0xFC)
        time.sleep(0.1)
    finally:
        _stop(engine, thread)
    sent = sink.snapshot()
    assert _ons(sent, before=gap_from), "nothing played before the dropout"
    panics = [t for t, m in sent if gap_from < t < back and m[0] == 0xB0 and m[1] == 120]
    assert panics, "no silence after the clock stopped arriving"
    silent_from = panics[0]
    assert sounding([x for x in sent if x[0] <= silent_from], controllers=False) == set()
    assert _ons(sent, after=silent_from, before=back) == []
    assert _ons(sent, after=back), "play did not resume with the clock"
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("stopped arriving" in w for w in warnings)
    assert any("clock is back" in w for w in warnings)



# ---------------------------------------------------------------------------------- a vanished input


class Keyboard:
    """The player's keyboard: a JACK client with an output port, which can vanish and come back."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.out = None
        self.plug()

    def plug(self) -> None:
        import rtmidi

        self.out = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name=self.name)
        self.out.open_virtual_port("out")

    def unplug(self) -> None:
        if self.out is not None:
            self.out.close_port()
            self.out.delete()
            self.out = None

    def send(self, *message: int) -> float:
        self.out.send_message(list(message))
        return time.perf_counter()


@pytest.mark.jack
def test_vanished_input_is_reported_reopened_by_name_and_heard_again(jack, tiny_model, tmp_path,
                                                                     caplog):
    import rtmidi

    from improv.live.midi_input import MidiInput

    caplog.set_level(logging.INFO, logger="improv.live.inputs")
    keyboard = Keyboard(f"kb{time.monotonic_ns() % 100000}")
    midi_in = MidiInput(rtmidi.API_UNIX_JACK, port=f"{keyboard.name}:out",
                        client_name=f"{keyboard.name}-in", check_interval=0.05)
    settings = PerformerSettings(mode="respond")
    engine, sink, thread, _ = _engine(tiny_model, tmp_path, settings, InputSource(midi_in),
                                      passthrough=True)
    thread.start()
    try:
        assert _until(lambda: engine.clock.started)
        _call(keyboard, [60, 62, 64])
        assert _until(lambda: engine.phrases == 1 and _ons(sink.snapshot()) != [])
        keyboard.send(0x92, 72, 100)  # a key held (echoed on channel 3) when the keyboard goes
        assert _until(lambda: (0x92, 72, 100) in [m for _, m in sink.snapshot()])
        keyboard.unplug()
        assert _until(lambda: _engine_said(caplog, "vanished")), "the vanished input not reported"
        assert _until(lambda: engine.phrases == 2)  # the call it was playing ended
        assert _until(lambda: (0x82, 72, 0) in [m for _, m in sink.snapshot()])  # released
        keyboard.plug()
        assert _until(lambda: _engine_said(caplog, "is back")), "the input did not come back"
        assert midi_in.connected and midi_in.reopened == 1
        last_off = _call(keyboard, [65, 67, 69])
        gate = last_off + SPB
        assert _until(lambda: engine.phrases == 3 and _ons(sink.snapshot(), after=gate) != [])
    finally:
        _stop(engine, thread)
        midi_in.close()
        keyboard.unplug()
    assert engine.performer.reseeds == 3
    assert sounding(sink.snapshot(), controllers=False) == set()
    states = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    states = [(r["state"], r["role"]) for r in states if r.get("type") == "input"]
    assert states == [("vanished", "player"), ("back", "player")]
