"""Ableton Link (--link): two Link peers on one machine. improv's MIDI beats (its MIDI clock out, through the
test JACK server) against the other peer's beat clock; tempo changes followed within a beat, both ways."""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

pytest.importorskip("aalink", reason="the aalink package (Ableton Link) is not installed")

CLOCK, START = 0xF8, 0xFA


class Peer:
    """Another Link app: a peer in this process, its beat clock sampled every 5 ms."""

    def __init__(self, tempo: float) -> None:
        import aalink

        async def make():
            return aalink.Link(tempo)

        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        self.link = asyncio.run_coroutine_threadsafe(make(), self.loop).result(timeout=5)
        self.link.quantum = 4
        self.link.enabled = True
        self.readings: list[tuple[float, float, float]] = []  # (perf_counter, beat, tempo)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.is_set():
            before = time.perf_counter()
            beat = self.link.beat
            after = time.perf_counter()
            self.readings.append(((before + after) / 2, beat, self.link.tempo))
            time.sleep(0.005)

    def beat_at(self, t: float) -> float:
        """The peer's beat at perf_counter time ``t`` (from the last reading before it)."""
        times = [r[0] for r in self.readings]
        index = max(0, int(np.searchsorted(times, t)) - 1)
        p, beat, tempo = self.readings[index]
        return beat + (t - p) * tempo / 60.0

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=1)
        self.link.enabled = False
        self.loop.call_soon_threadsafe(self.loop.stop)


def _bar_phase(beat: float) -> float:
    """Beats from the nearest bar line (4/4), -2..2."""
    return (beat + 2) % 4 - 2


def test_link_clock_joins_the_session_and_shares_its_tempo():
    from improv.live.link import LinkClock

    peer = Peer(100.0)
    clock = LinkClock(140.0, quantum=4)
    try:
        assert clock.peers >= 1
        deadline = time.monotonic() + 2
        while abs(clock.tempo - peer.link.tempo) > 0.01 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert clock.tempo == pytest.approx(peer.link.tempo, abs=0.01)
        clock.start(time.perf_counter())
        t = clock.time_at(0.0)
        assert _bar_phase(peer.beat_at(t)) == pytest.approx(0, abs=0.01)  # beat 0 on the session's bar line
        clock.set_tempo(123.0)  # improv's tempo goes to the session
        deadline = time.monotonic() + 2
        while abs(peer.link.tempo - 123.0) > 0.01 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert peer.link.tempo == pytest.approx(123.0, abs=0.01)
    finally:
        clock.close()
        peer.close()


@pytest.mark.jack
def test_improvs_midi_beats_follow_the_other_peer(jack, probe, tiny_model):
    peer = Peer(120.0)
    cmd = [sys.executable, "-m", "improv", "play", "--api", "jack", "--virtual", "lk", "--model",
           str(tiny_model), "--link", "--clock-out", "--bars", "10", "--tempo", "90"]
    proc = subprocess.Popen(cmd, env=jack.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        probe.connect("improv:lk")
        assert probe.wait_for(lambda m: sum(x[1] == (CLOCK,) for x in m) >= 24 * 12, 30)
        changed = time.perf_counter()
        peer.link.tempo = 150.0  # the other app changes tempo mid-bar
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
        peer.close()
    assert proc.returncode == 0, err[-2000:]
    messages = probe.snapshot()
    start = next(i for i, (_, m) in enumerate(messages) if m == (START,))
    ticks = [t for t, m in messages[start:] if m == (CLOCK,)]
    beats = ticks[::24]  # tick 0 is beat 0 (sent with Start)
    assert _bar_phase(peer.beat_at(messages[start][0])) == pytest.approx(0, abs=0.02)  # on a bar line
    before = [t for t in beats if t < changed]
    errors = []
    for t in before:
        b = peer.beat_at(t)
        errors.append((b - round(b)) * 0.5 * 1000)  # ms, at the session's 120 BPM (not our --tempo 90)
    offset = statistics.median(errors)
    spread = np.percentile([abs(e - offset) for e in errors], 99)
    print(f"Link: improv's MIDI beats vs the peer's: offset {offset:.2f} ms, p99 around it {spread:.2f} ms")
    assert len(before) >= 8 and abs(offset) < 10 and spread < 5
    after = [t for t in beats if t > changed + 60 / 150]  # from one beat after the change
    intervals = np.diff(after)
    assert len(intervals) >= 4 and np.median(intervals) == pytest.approx(0.4, abs=0.005)
