"""The polled MIDI input: its time base (pure), and floods, clock and port loss through JACK."""

from __future__ import annotations

import itertools
import subprocess
import sys
import time

import pytest

from benchmarks.bench_stop import FLOOD_SENDER as SENDER  # a separate rtmidi sender process
from improv.errors import InputError
from improv.live.listener import Listener, ListenerConfig, Phrase
from improv.live.midi_input import MidiInput, TimeBase
from improv.live.midiclock import MidiClock

_names = itertools.count()



def _send(env: dict[str, str], target: str, rate: float, seconds: float, mode: str = "notes"):
    return subprocess.Popen(
        [sys.executable, "-c", SENDER, target, str(rate), str(seconds), mode],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _result(proc: subprocess.Popen) -> tuple[int, int]:
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    sent, ignored = out.split()
    return int(sent), int(ignored)


def _rss_kib() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


# ---------------------------------------------------------------------------------- pure parts


def test_time_base_sums_deltas_and_anchors_to_the_fastest_arrival() -> None:
    base = TimeBase(window=2.0)
    # true times 10.000, 10.100, 10.200; the poll saw them 3 ms, 0.5 ms and 20 ms late
    assert base.stamp(0.0, 10.003) == pytest.approx(10.003)
    assert base.stamp(0.1, 10.1005) == pytest.approx(10.1005)
    assert base.stamp(0.1, 10.220) == pytest.approx(10.2005)  # the late poll does not move it
    # deltas went missing (0.5 s of them): after the window the offset catches up
    t = 10.2
    for _ in range(30):
        t += 0.1
        stamped = base.stamp(0.1, t + 0.5 + 0.001)
    assert stamped == pytest.approx(t + 0.5 + 0.001, abs=1e-9)
    base.reset()
    assert base.stamp(0.7, 50.0) == pytest.approx(50.0)  # the first delta after a reopen is 0


def test_bad_arguments() -> None:
    import rtmidi

    with pytest.raises(InputError, match="exactly one"):
        MidiInput(rtmidi.API_UNIX_JACK)


# ---------------------------------------------------------------------------------- through JACK


@pytest.mark.jack
def test_flood_keeps_memory_bounded_and_counts_drops(jack) -> None:
    name = f"flood{next(_names)}"
    inp = MidiInput(rtmidi_jack(), virtual="in", client_name=name, maxlen=1000)
    try:
        rss_before = _rss_kib()
        sender = _send(jack.env(), f"{name}:in", 5000, 2.0)
        sent, ignored = _result(sender)  # nobody reads meanwhile: the queue overflows
        time.sleep(0.2)
        rss_growth = _rss_kib() - rss_before
        got = inp.drain()
        assert sent == 10000 and len(got) == 1000
        assert inp.received == len(got) + inp.dropped  # every message is accounted for
        assert inp.received == sent and inp.ignored == ignored  # -S: JACK loses nothing
        assert got[-1][0] == bytes([0x90 | 9999 % 16, 9999 % 128, 1 + 9999 % 127])
        assert all(a[1] <= b[1] for a, b in itertools.pairwise(got))
        assert rss_growth < 20_000, f"RSS grew by {rss_growth} KiB"
    finally:
        inp.close()


@pytest.mark.jack
def test_flood_with_a_reader_drops_nothing(jack) -> None:
    name = f"flood{next(_names)}"
    inp = MidiInput(rtmidi_jack(), virtual="in", client_name=name)
    try:
        sender = _send(jack.env(), f"{name}:in", 5000, 2.0)
        got = []
        while sender.poll() is None:
            if inp.wait(0.05):
                got += inp.drain()
        sent, ignored = _result(sender)
        time.sleep(0.2)
        got += inp.drain()
        assert inp.dropped == 0 and len(got) == inp.received == sent  # -S: JACK loses nothing
        assert inp.ignored == ignored
        notes = [m for m, _ in got]
        assert notes == [bytes([0x90 | n % 16, n % 128, 1 + n % 127]) for n in range(len(notes))]
    finally:
        inp.close()


@pytest.mark.jack
def test_clock_through_jack_is_followed(jack) -> None:
    name = f"clock{next(_names)}"
    inp = MidiInput(rtmidi_jack(), virtual="in", client_name=name)
    clock = MidiClock()
    try:
        sender = _send(jack.env(), f"{name}:in", 48.0, 3.0, mode="clock")  # 120 BPM
        while sender.poll() is None:
            if inp.wait(0.05):
                for data, t in inp.drain():
                    clock.feed(data, t)
        sent, _ = _result(sender)
        time.sleep(0.1)
        for data, t in inp.drain():
            clock.feed(data, t)
        assert clock.running and clock.ticks_received == sent  # -S: JACK loses nothing
        if not jack.realtime:  # ticks bunched by a late cycle look like lost ones to the gap count
            assert clock.tick == sent - 1
        assert clock.tempo_bpm == pytest.approx(120.0, abs=2.0)
    finally:
        inp.close()


@pytest.mark.jack
def test_vanished_input_is_reopened_by_name(jack) -> None:
    import rtmidi

    source = f"src{next(_names)}"

    def new_source():
        out = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name=source)
        out.open_virtual_port("out")
        return out

    out = new_source()
    inp = MidiInput(rtmidi_jack(), port=f"{source} out", check_interval=0.05)
    try:
        assert inp.port_name == f"{source}:out"
        out.send_message([0x90, 60, 100])
        assert inp.wait(5.0) and inp.get()[0] == bytes([0x90, 60, 100])
        out.close_port()
        out.delete()
        assert _until(lambda: not inp.connected)
        out = new_source()
        assert _until(lambda: inp.connected and inp.reopened == 1)
        out.send_message([0x90, 62, 100])
        assert inp.wait(5.0) and inp.get()[0] == bytes([0x90, 62, 100])
    finally:
        inp.close()
        out.close_port()
        out.delete()


@pytest.mark.jack
def test_a_played_phrase_reaches_the_listener(jack) -> None:
    import rtmidi

    name = f"phrase{next(_names)}"
    inp = MidiInput(rtmidi_jack(), virtual="in", client_name=name)
    out = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name=f"{name}-player")
    origin = time.perf_counter()
    listener = Listener(lambda t: (t - origin) / 0.1 * 12, ListenerConfig(gate=2.0))  # 600 BPM
    try:
        out.open_port(out.get_ports().index(f"{name}:in"))
        for pitch in (60, 62, 64, 65):
            out.send_message([0x90, pitch, 90])
            out.send_message([0xFE])  # active sensing between notes is dropped
            time.sleep(0.02)
            out.send_message([0x80, pitch, 0])
        phrases = []
        deadline = time.monotonic() + 5.0
        while not phrases and time.monotonic() < deadline:
            inp.wait(0.01)
            for data, t in inp.drain():
                phrases += listener.feed(data, t)
            phrases += listener.poll(time.perf_counter())
        assert [type(p) for p in phrases] == [Phrase]
        assert [n.pitch for n in phrases[0].notes] == [60, 62, 64, 65]
        assert phrases[0].reason == "silence" and inp.ignored == 4
    finally:
        out.close_port()
        out.delete()
        inp.close()


@pytest.mark.jack
def test_unknown_input_names_the_candidates(jack) -> None:
    with pytest.raises(InputError, match="--input: no MIDI input matches 'no such synth'"):
        MidiInput(rtmidi_jack(), port="no such synth")


def rtmidi_jack() -> int:
    import rtmidi

    return rtmidi.API_UNIX_JACK


def _until(predicate, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()
