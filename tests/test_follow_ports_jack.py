"""`--clock NAME` and `--chords-from NAME` name their own port: no `--input` needed (through JACK).

The test process owns the DAW's (or the pianist's) output port; `improv play` connects to it by
name, and a probe records what improv sent. Assertions are about correctness (which tempo, which
chord, nothing before Start, silence after Stop), not timing figures.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import NOTE_ON, settle_graph, sounding
from test_listen_jack import _finish  # exit 0, no traceback, the stderr

from improv.cli import main

_names = itertools.count()


class Source:
    """A virtual JACK output of the test process (a DAW's clock, a pianist's keyboard)."""

    def __init__(self, name: str) -> None:
        import rtmidi

        self.out = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name=name)
        self.out.open_virtual_port("out")
        self.label = f"{name}:out"

    def wait_for_reader(self, client: str, env: dict, proc: subprocess.Popen, timeout: float = 60.0) -> None:
        """Until a port of JACK client ``client`` (improv's reader) is connected to ours (generous: a
        loaded machine may take long to start improv; an improv that ended fails at once)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                listing = subprocess.run(["jack_lsp", "-c", self.label], env=env, capture_output=True,
                                         text=True, timeout=10).stdout
            except subprocess.TimeoutExpired:  # a jack_lsp that hangs must not hang the test
                listing = ""
            if f"{client}:" in listing:
                return
            if proc.poll() is not None:
                pytest.fail(f"improv play ended early:\n{proc.communicate()[1]}")
            time.sleep(0.02)
        raise AssertionError(f"{client} never connected to {self.label}")

    def ticks(self, count: int, period: float, t0: float, first: int) -> int:
        """Send ``count`` clock ticks on the grid t0 + n * period from tick ``first``."""
        for n in range(first, first + count):
            due = t0 + n * period
            while time.perf_counter() < due:
                if due - time.perf_counter() > 0.002:
                    time.sleep(0.001)
            self.out.send_message([0xF8])
        return first + count

    def close(self) -> None:
        settle_graph()
        self.out.close_port()
        self.out.delete()


def _play(jack, model: Path, tmp: Path, *extra: str):
    name = f"f{next(_names)}"
    events, session = tmp / f"{name}.jsonl", tmp / f"{name}.session.jsonl"
    cmd = [sys.executable, "-m", "improv", "--log-level", "INFO", "play", "--api", "jack", "--virtual", name,
           "--model", str(model), "--json-events", str(events), "--session-log", str(session), *extra]
    proc = subprocess.Popen(cmd, env=jack.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return proc, f"improv:{name}", events, session


@pytest.mark.jack
def test_clock_alone_follows_the_clock_on_that_port(jack, probe, tiny_model, tmp_path):
    daw = Source(f"daw{next(_names)}")
    proc, out, events, _ = _play(jack, tiny_model, tmp_path, "--clock", daw.label, "--tempo", "200",
                                 "--seed", "4")
    try:
        probe.connect(out)
        daw.wait_for_reader("improv-clock", jack.env(), proc)
        period = 60.0 / (24 * 100.0)  # the DAW plays 100 BPM; improv's own --tempo says 200
        t0 = time.perf_counter() + 0.05
        n = daw.ticks(48, period, t0, 0)  # two beats of clock while stopped: the tempo
        daw.out.send_message([0xFA])
        start = time.perf_counter()
        n = daw.ticks(24 * 8, period, t0, n)  # eight beats playing
        daw.out.send_message([0xFC])
        stop = time.perf_counter()
        daw.ticks(24, period, t0, n)
        probe.wait_for(lambda m: False, 0.3)
        proc.send_signal(2)
        err = _finish(proc)
    finally:
        daw.close()
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert f"following the MIDI clock on {daw.label}" in err
    sent = [json.loads(line) for line in events.read_text().splitlines()]
    ons = [e for e in sent if "msg" in e and e["msg"][0] == NOTE_ON and e["msg"][2] > 0]
    assert ons, err
    assert all(start - 0.05 <= e["t"] <= stop + 0.05 for e in ons)  # only between Start and Stop
    # at the clock's 100 BPM, not at --tempo 200: no note is ahead of the beats the clock counted
    assert all(e["beat"] <= (e["t"] - start) * 100 / 60 + 0.5 for e in ons), ons
    assert max(e["beat"] for e in ons) < 8.5
    assert sounding([(e["t"], tuple(e["msg"])) for e in sent if "msg" in e], controllers=False) == set()


@pytest.mark.jack
def test_chords_from_alone_follows_the_chords_on_that_port(jack, probe, tiny_model, tmp_path):
    pianist = Source(f"piano{next(_names)}")
    proc, out, events, session = _play(jack, tiny_model, tmp_path, "--chords-from", pianist.label,
                                       "--tempo", "240", "--bars", "4", "--clock-out", "--seed", "2")
    try:
        probe.connect(out)
        pianist.wait_for_reader("improv-chords", jack.env(), proc)
        assert probe.wait_for(lambda m: any(msg == (0xFA,) for _, msg in m), 20.0), "no Start"
        t0 = next(t for t, msg in probe.snapshot() if msg == (0xFA,))
        chord = (41, 45, 48, 51)  # F A C Eb: F7
        while time.perf_counter() < t0 + 1.0 * 0.25:  # beat 1 at 240 BPM
            time.sleep(0.001)
        for pitch in chord:
            pianist.out.send_message([0x90, pitch, 80])
        while time.perf_counter() < t0 + 3.5 * 0.25:
            time.sleep(0.001)
        for pitch in chord:
            pianist.out.send_message([0x80, pitch, 0])
        err = _finish(proc)
    finally:
        pianist.close()
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert f"following the chords played on {pianist.label}" in err
    logged = [json.loads(line) for line in session.read_text().splitlines()]
    chords = [r["event"] for r in logged if r["type"] == "event" and r["event"]["type"] == "chord"]
    # the notes arrive one by one: the chord grows to F7 (F, then F7 at the same tick)
    assert chords and chords[-1]["symbol"] == "F7" and {c["tick"] for c in chords} == {12}, chords
    assert logged[0]["follow_chords"] is True
    sent = [json.loads(line) for line in events.read_text().splitlines()]
    pitches = {e["msg"][1] for e in sent if "msg" in e and e["msg"][0] == NOTE_ON and e["msg"][2] > 0}
    assert not pitches & set(chord)  # the pianist is followed, not echoed


def test_clock_input_and_player_options_still_need_an_input(capsys):
    assert main(["play", "--clock", "input"]) == 2
    assert "--clock input needs an input" in capsys.readouterr().err
    assert main(["play", "--split", "C4", "--chords-from", "x"]) == 2
    assert "--split needs an input" in capsys.readouterr().err


@pytest.mark.jack
def test_clock_and_chords_from_name_the_option_when_no_port_matches(jack, monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("JACK_DEFAULT_SERVER", jack.name)
    monkeypatch.setenv("JACK_NO_AUDIO_RESERVATION", "1")
    monkeypatch.delenv("IMPROV_MIDI_API", raising=False)
    log = ["--session-log", str(tmp_path / "s.jsonl")]
    assert main(["play", "--api", "jack", "--virtual", "x1", "--clock", "IAC Bus", *log]) == 2
    err = capsys.readouterr().err
    assert err.startswith("improv: error: --clock: no MIDI input matches 'IAC Bus'") and err.count("\n") == 1
    assert main(["play", "--api", "jack", "--virtual", "x2", "--chords-from", "Piano", *log]) == 2
    assert capsys.readouterr().err.startswith("improv: error: --chords-from: no MIDI input matches 'Piano'")
