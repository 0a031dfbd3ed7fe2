"""The emitter, the clock and the engine on an in-memory sink with a stand-in note source."""

from __future__ import annotations

import time
from dataclasses import dataclass

import pytest

from improv.live.build import build_engine
from improv.live.clock import Clock
from improv.live.engine import EngineOptions
from improv.live.scheduler import Emitter, panic_messages


@dataclass(frozen=True)
class Note:
    onset: float
    duration: float
    pitch: int
    velocity: int


class Sink:
    """Collects what would go to the port."""

    def __init__(self) -> None:
        self.messages: list[tuple[int, ...]] = []
        self.closed = False

    def send(self, message) -> bool:
        self.messages.append(tuple(message))
        return True

    def close(self) -> None:
        self.closed = True


def scale(n: int, step: float = 0.5):
    return [Note(i * step, step * 0.8, 60 + i % 12, 80) for i in range(n)]


def test_clock_tempo_change_keeps_past_beats_and_offset():
    clock = Clock(120.0, latency_offset_ms=10.0)
    clock.start(at=100.0)
    assert clock.time_at(2.0) == pytest.approx(101.01)
    clock.set_tempo(60.0, at=101.0)  # at beat 2
    assert clock.beat_at(101.01) == pytest.approx(2.0)
    assert clock.time_at(3.0) == pytest.approx(102.01)
    with pytest.raises(ValueError):
        clock.set_tempo(1000.0)


def test_panic_messages_order():
    msgs = panic_messages([(0, 60), (1, 62)], [0, 1])
    assert msgs[:2] == [(0x80, 60, 0), (0x81, 62, 0)]
    assert msgs[2:5] == [(0xB0, 64, 0), (0xB0, 123, 0), (0xB0, 120, 0)]
    assert msgs[5:] == [(0xB1, 64, 0), (0xB1, 123, 0), (0xB1, 120, 0)]


def _run_emitter(emitter: Emitter) -> None:
    emitter.start()
    emitter.drain()
    assert emitter.done.wait(5.0)


def test_emitter_sends_in_order_and_counts_retriggers():
    sink, clock = Sink(), Clock(400.0)
    emitter = Emitter(sink, clock, realtime=False)
    emitter.push_note(0.0, 1.0, 0, 60, 90)
    emitter.push_note(0.5, 1.5, 0, 60, 70)  # re-trigger while the first one sounds
    emitter.push_note(1.0, 1.25, 0, 64, 90)  # starts as the first 60 ends
    clock.start(time.perf_counter() + 0.01)
    _run_emitter(emitter)
    assert sink.messages[:6] == [
        (0x90, 60, 90),
        (0x80, 60, 0), (0x90, 60, 70),  # note-off before the re-trigger
        (0x90, 64, 90),  # the first 60's note-off is absorbed: the re-triggered note still sounds
        (0x80, 64, 0),
        (0x80, 60, 0),
    ]
    assert emitter.stats.retriggers == 1 and emitter.active == {}
    assert sink.messages[6:] == [(0xB0, 64, 0), (0xB0, 123, 0), (0xB0, 120, 0)]


def test_note_off_comes_before_note_on_on_the_same_beat():
    sink, clock = Sink(), Clock(400.0)
    emitter = Emitter(sink, clock, realtime=False)
    emitter.push_note(0.5, 1.0, 0, 62, 90)
    emitter.push_note(0.0, 0.5, 0, 60, 90)
    clock.start(time.perf_counter() + 0.01)
    _run_emitter(emitter)
    assert sink.messages[:4] == [(0x90, 60, 90), (0x80, 60, 0), (0x90, 62, 90), (0x80, 62, 0)]


def test_too_late_notes_are_dropped_with_their_note_offs():
    sink, clock = Sink(), Clock(120.0)
    clock.start(time.perf_counter() - 1.0)  # beat 0 was a second (two beats) ago
    emitter = Emitter(sink, clock, realtime=False)
    emitter.push_note(0.0, 0.5, 0, 60, 90)
    emitter.push_note(2.1, 2.2, 0, 64, 90)
    _run_emitter(emitter)
    assert emitter.stats.dropped == 1
    assert (0x90, 60, 90) not in sink.messages and (0x80, 60, 0) not in sink.messages
    assert sink.messages[:2] == [(0x90, 64, 90), (0x80, 64, 0)]


def test_stop_mid_note_panics_with_note_offs():
    sink, clock = Sink(), Clock(120.0)
    emitter = Emitter(sink, clock, channels=[0, 3], realtime=False)
    emitter.push_note(0.0, 8.0, 3, 50, 90)
    clock.start(time.perf_counter())
    emitter.start()
    deadline = time.monotonic() + 5
    while not emitter.active and time.monotonic() < deadline:
        time.sleep(0.001)
    emitter.stop()
    assert emitter.join(5.0)
    assert sink.messages[0] == (0x93, 50, 90)
    assert sink.messages[1] == (0x83, 50, 0)
    assert (0xB3, 120, 0) in sink.messages and (0xB0, 123, 0) in sink.messages


def test_engine_plays_bars_with_count_in_and_clock_out():
    sink = Sink()
    options = EngineOptions(tempo=400.0, bars=1, count_in=1, clock_out=True, status=False,
                            realtime=False)
    result = build_engine(scale(100), sink, options).run()
    assert result.reason == "bars"
    on = [m for m in sink.messages if m[0] == 0x90]
    assert [m[1] for m in on] == [60 + i for i in range(8)]  # one 4/4 bar of eighths
    clicks = [m for m in sink.messages if m[0] == 0x99]
    assert len(clicks) == 4 and clicks[0][1] == 76
    ticks = [m for m in sink.messages if m == (0xF8,)]
    assert len(ticks) == 24 * 8  # count-in bar + one bar, 24 per beat
    assert sink.messages.index((0xFA,)) < sink.messages.index((0xF8,))
    assert (0xFC,) in sink.messages and sink.closed
    assert sink.messages[-3:] == [(0xB9, 64, 0), (0xB9, 123, 0), (0xB9, 120, 0)]


def test_engine_plays_rests_when_generation_is_late():
    class Slow:
        def __iter__(self):
            for i, note in enumerate(scale(12, step=0.25)):
                if i == 6:  # (notes up to the first lookahead are made before playing starts)
                    time.sleep(2.0)  # four beats, far longer than the one-beat lookahead
                yield note

    sink = Sink()
    options = EngineOptions(tempo=120.0, lookahead=1.0, status=False, realtime=False)
    result = build_engine(Slow(), sink, options).run()
    assert result.reason == "source ended"
    assert result.rests_for_lateness >= 1
    played = [m[1] for m in sink.messages if m[0] == 0x90]
    assert played[:4] == [60, 61, 62, 63]
    assert len(played) + result.rests_for_lateness + result.dropped == 12


def test_engine_reports_a_failing_source_after_silencing():
    def broken():
        yield Note(0.0, 4.0, 60, 90)
        raise RuntimeError("model exploded")

    sink = Sink()
    from improv.errors import RuntimeFailure

    with pytest.raises(RuntimeFailure, match="model exploded"):
        build_engine(broken(), sink, EngineOptions(tempo=400.0, status=False, realtime=False)).run()
    assert sink.closed
    assert sink.messages[-3:] == [(0xB0, 64, 0), (0xB0, 123, 0), (0xB0, 120, 0)]
