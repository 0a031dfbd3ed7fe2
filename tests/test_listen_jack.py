"""Listening through a real JACK server: call and response, MIDI clock, CC control, learn, replay.

`improv play` runs as a subprocess with a virtual input; the test sends the player's phrase (or a
clock) from its own rtmidi client, aligned to beat 0 from the daemon's MIDI Start (--clock-out),
and reads what the daemon sent from its --json-events log, what arrived from a probe, and the
session log.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import mido
import pytest
from conftest import NOTE_ON, settle_graph, sounding

from benchmarks.bench_listen import FOLLOW_SENDER, follow_errors
from improv.cli import main

TEMPO = 240.0
SPB = 60.0 / TEMPO
_names = itertools.count()


# ---------------------------------------------------------------------------------- helpers


class Player:
    """An rtmidi JACK output (in the test process) the daemon reads: it exists before the daemon
    starts, and improv connects to it (``--input``) while starting, before it plays a note, so no
    wait for a port (however long a loaded machine takes to start improv) races beat 0."""

    def __init__(self, name: str = "player") -> None:
        import rtmidi

        self.out = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name=name)
        self.out.open_virtual_port("out")
        self.label = f"{name}:out"

    def play(self, t0: float, events: list[tuple[float, list[int]]]) -> None:
        """Send each message at beat ``b`` after the perf_counter time ``t0`` of beat 0, from a
        SCHED_FIFO thread where allowed: on a loaded machine the player, not improv, would be late."""
        failed: list[BaseException] = []

        def run() -> None:
            try:
                os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(5))
            except (AttributeError, OSError):
                pass
            try:
                for beat, message in events:
                    due = t0 + beat * SPB
                    while time.perf_counter() < due:
                        if due - time.perf_counter() > 0.002:
                            time.sleep(0.001)
                    self.out.send_message(message)
            except BaseException as exc:
                failed.append(exc)

        thread = threading.Thread(target=run, name="player")
        thread.start()
        thread.join()
        if failed:
            raise failed[0]

    def close(self) -> None:
        settle_graph()
        self.out.close_port()
        self.out.delete()


def _clear(probe) -> None:
    with probe._lock:
        probe.messages.clear()
        probe.stamped.clear()


def _start(jack, model: Path, tmp: Path, *extra: str, name: str | None = None,
           player: Player | None = None):
    """``improv play`` reading ``player``'s port (``--input``), else its own virtual input."""
    name = name or f"l{next(_names)}"
    events, session = tmp / f"{name}.jsonl", tmp / f"{name}.session.jsonl"
    heard = ["--input", player.label] if player is not None else ["--virtual-input", name]
    cmd = [sys.executable, "-m", "improv", "--log-level", "INFO", "play", "--api", "jack",
           "--virtual", name, *heard, "--model", str(model),
           "--json-events", str(events), "--session-log", str(session), *extra]
    proc = subprocess.Popen(cmd, env=jack.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    return proc, f"improv:{name}", f"improv-in:{name}", events, session


def _finish(proc: subprocess.Popen, timeout: float = 60.0) -> str:
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
        pytest.fail(f"improv play did not end in {timeout} s:\n{err}")
    assert proc.returncode == 0, err
    assert "Traceback" not in err, err
    return err


def _sent(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _ons(sent: list[dict], channel: int = 0) -> list[tuple[float, int, int]]:
    return [(round(e["beat"], 4), e["msg"][1], e["msg"][2]) for e in sent
            if "msg" in e and e["msg"] and e["msg"][0] == NOTE_ON | channel and e["msg"][2] > 0]


def _phrase(pitches: list[int], start: float, step: float = 0.5) -> list[tuple[float, list[int]]]:
    events = []
    for i, pitch in enumerate(pitches):
        on = start + i * step
        events += [(on, [0x90, pitch, 100]), (on + step * 0.8, [0x80, pitch, 0])]
    return sorted(events, key=lambda e: e[0])


GARBAGE = [(0.1, [0xF0, 0x7D, 1, 2, 3, 0xF7]), (0.2, [0xF4]), (0.3, [0xFE]),
           (0.4, [0xA0, 60, 10]), (0.5, [0xE0, 0, 64])]


def _respond(jack, probe, model: Path, tmp: Path, pitches: list[int], seed: int = 5,
             extra: tuple[str, ...] = (), events: list | None = None):
    """A respond-mode session: the phrase from beat 2 (or the ``events`` given), gate 1 beat;
    returns what was sent, the recording and the session log."""
    record = tmp / f"r{next(_names)}.mid"
    _clear(probe)
    player = Player(f"pl{next(_names)}")
    proc, out, _, sent, session = _start(
        jack, model, tmp, "--mode", "respond", "--gate", "1", "--tempo", str(TEMPO),
        "--clock-out", "--seed", str(seed), "--record", str(record),
        *(extra if "--bars" in extra else ("--bars", "4", *extra)), player=player)
    try:
        probe.connect(out)
        assert probe.wait_for(lambda m: any(msg == (0xFA,) for _, msg in m), 30.0), "no Start"
        t0 = next(t for t, msg in probe.snapshot() if msg == (0xFA,))
        player.play(t0, GARBAGE + (events if events is not None else _phrase(pitches, 2.0)))
        _finish(proc)
    finally:
        player.close()
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return _sent(sent), record, session


# ---------------------------------------------------------------------------------- tests


@pytest.mark.jack
def test_respond_answers_after_the_gate_deterministically(jack, probe, tiny_model, tmp_path):
    call = [60, 62, 64, 65, 67, 69]  # eighths from beat 2: the last ends at 4.9, gate 1 beat
    first, record, session = _respond(jack, probe, tiny_model, tmp_path, call)
    answer = _ons(first)
    assert answer, first
    gate_beat = 2.0 + 5 * 0.5 + 0.4 + 1.0  # the last note-off + 1 beat of silence
    assert answer[0][0] > gate_beat - 1e-6  # nothing before the call ended
    assert answer[0][0] <= gate_beat + 0.5  # on the next 16th (+ one more when it was too close)
    assert all(beat < gate_beat + 4 + 1 for beat, _, _ in answer)  # as long as the call
    # the recording: track 1 the player (as received), track 2 improv (what was sent)
    mid = mido.MidiFile(record)
    player_notes = [m.note for m in mid.tracks[0] if m.type == "note_on" and m.velocity]
    improv_notes = [m.note for m in mid.tracks[1] if m.type == "note_on" and m.velocity]
    assert player_notes == call
    assert improv_notes == [pitch for _, pitch, _ in answer]
    # same seed, same call as improv heard it: the same answer; another phrase: another answer. "As heard"
    # is the logged phrase event (its notes, gate and answer slot): on a loaded machine the player's notes
    # or the hand-over can move the call or its slot by a 16th, and a call heard differently is answered
    # differently (that answer still replays from its own log, as the first one does below)
    again, _, session_again = _respond(jack, probe, tiny_model, tmp_path, call)
    if _phrase_events(session_again) == _phrase_events(session):
        assert _ons(again) == answer
    else:
        assert _ons(again) and _phrase_events(session_again)
    other, _, _ = _respond(jack, probe, tiny_model, tmp_path, [72, 71, 67, 64, 60, 55])
    assert _ons(other) and _ons(other) != answer
    # replay reproduces the recorded session note for note, with no ports
    out = tmp_path / "replay.mid"
    assert main(["replay", str(session), "--out", str(out)]) == 0

    def notes(path: Path) -> list[tuple]:
        track = mido.MidiFile(path).tracks[1]
        tick, result = 0, []
        for msg in track:
            tick += msg.time
            if msg.type in ("note_on", "note_off"):
                result.append((tick, msg.type, msg.note, msg.velocity))
        return result

    assert notes(out) == notes(record) and notes(out)


def _phrase_events(session: Path) -> list[dict]:
    """The phrase events (the calls as improv heard them, with their answer slots) of a session log."""
    records = [json.loads(line) for line in session.read_text().splitlines() if line.strip()]
    return [r["event"] for r in records if r.get("type") == "event" and r["event"]["type"] == "phrase"]


def _track_notes(path: Path) -> list[tuple]:
    """(tick, type, note, velocity) of improv's track (track 2) in a MIDI file."""
    tick, result = 0, []
    for msg in mido.MidiFile(path).tracks[1]:
        tick += msg.time
        if msg.type in ("note_on", "note_off"):
            result.append((tick, msg.type, msg.note, msg.velocity))
    return result


@pytest.mark.jack
def test_barge_in_stops_the_answer_and_the_new_call_is_answered(jack, probe, tiny_model,
                                                                tmp_path):
    first_call = _phrase([60, 62, 64, 65], 2.0)  # the last note-off at 3.9: the gate at 4.9
    second_call = _phrase([67, 69, 71], 7.0)  # while the 8-beat answer plays; gate at 9.4
    sent, record, session = _respond(jack, probe, tiny_model, tmp_path, [], seed=5,
                                     extra=("--response-bars", "2", "--bars", "5"),
                                     events=first_call + second_call)
    mine = _ons(sent)
    lookahead = 1.0
    assert [b for b, _, _ in mine if 4.9 <= b < 7.0], mine  # the first answer began
    # it stopped within one lookahead: nothing of it sounds, nothing new starts before the gate
    early = [(e["beat"], tuple(e["msg"])) for e in sent if "msg" in e and e["msg"]
             and e["msg"][0] & 0x0F == 0 and e["beat"] < 7.0 + lookahead]
    assert sounding(early, controllers=False) == set()
    assert not [b for b, _, _ in mine if 7.0 + lookahead <= b < 9.4], mine
    # the second call is answered after its own gate, on the next 16th
    later = [b for b, _, _ in mine if b >= 9.4]
    assert later and later[0] <= 9.4 + 0.5, mine
    assert sounding([(e["t"], tuple(e["msg"])) for e in sent if "msg" in e],
                    controllers=False) == set()
    barges = [e for e in sent if e.get("type") == "barge"]
    assert len(barges) == 1 and 7.0 <= barges[0]["beat"] < 7.0 + lookahead, barges
    # the session log keeps the barge-in; replay reproduces the session note for note
    logged = [json.loads(line) for line in session.read_text().splitlines()]
    assert [r["event"]["type"] for r in logged if r["type"] == "event"] == [
        "phrase", "barge", "phrase"]
    out = tmp_path / "barge-replay.mid"
    assert main(["replay", str(session), "--out", str(out)]) == 0
    assert _track_notes(out) == _track_notes(record) and _track_notes(out)


@pytest.mark.jack
def test_play_learn_maps_a_cc_writes_the_profile_and_plays_on(jack, probe, tiny_model, tmp_path,
                                                              monkeypatch):
    devices = tmp_path / "devices"
    devices.mkdir()
    profile = devices / "pads.toml"
    profile.write_text('name = "pads"\n[cc]\ndensity = 74\n')
    monkeypatch.setenv("IMPROV_DEVICES", str(devices))
    player = Player(f"pl{next(_names)}")
    name = f"learn{next(_names)}"
    events = tmp_path / f"{name}.jsonl"
    cmd = [sys.executable, "-m", "improv", "--log-level", "INFO", "play", "--api", "jack",
           "--virtual", name, "--model", str(tiny_model), "--learn", "temperature", "--device",
           "pads", "--input", player.label, "--tempo", str(TEMPO), "--bars", "3", "--clock-out",
           "--seed", "1", "--json-events", str(events),
           "--session-log", str(tmp_path / f"{name}.session.jsonl")]
    _clear(probe)
    proc = subprocess.Popen(cmd, env=jack.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        deadline = time.monotonic() + 15  # move a knob until the profile maps it
        while "temperature = 21" not in profile.read_text() and time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate()
            player.out.send_message([0xB0, 21, 40])
            time.sleep(0.05)
        probe.connect(f"improv:{name}")
        assert probe.wait_for(lambda m: any(msg == (0xFA,) for _, msg in m), 30.0), "no Start"
        t0 = next(t for t, msg in probe.snapshot() if msg == (0xFA,))
        player.play(t0, [(1.0, [0xB0, 21, 127]), (1.5, [0xB0, 74, 0])])
        _finish(proc)
    finally:
        player.close()
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    text = profile.read_text()
    assert "temperature = 21" in text and "density = 74" in text  # learnt, the rest kept
    sent = _sent(events)
    params = [(p["param"], p["value"], p["cc"]) for p in sent if p.get("type") == "param"]
    assert ("temperature", 2.0, 21) in params and ("density", 0.1, 74) in params, params
    assert _ons(sent) and max(b for b, _, _ in _ons(sent)) >= 1.0  # and play went on


def test_play_learn_can_create_a_new_profile(tmp_path, monkeypatch, capsys):
    """`--learn` with a --device that does not exist yet must get as far as the MIDI system
    (here a bad --api), not stop at loading the profile it is about to write."""
    monkeypatch.setenv("IMPROV_DEVICES", str(tmp_path))
    assert main(["play", "--learn", "temperature", "--device", "brand-new", "--input", "x",
                 "--api", "nonsense"]) == 2
    err = capsys.readouterr().err
    assert "nonsense" in err and "brand-new" not in err, err


@pytest.mark.jack
def test_trading_passthrough_and_chord_following(jack, probe, tiny_model, tmp_path):
    player = Player(f"pl{next(_names)}")
    proc, out, _, events, session = _start(
        jack, tiny_model, tmp_path, "--mode", "trade", "1", "--tempo", str(TEMPO), "--bars", "4",
        "--clock-out", "--seed", "2", "--passthrough", "--split", "C4", "--changes",
        "Cmaj7 | Cmaj7 | Cmaj7 | Cmaj7", player=player)
    _clear(probe)
    call = [72, 74, 76, 79]
    phrase = [(b, [0x92, m[1], m[2]] if m[0] == 0x90 else [0x82, m[1], 0])
              for b, m in _phrase(call, 4.0)]
    chord = [(4.0, [0x92, p, 90]) for p in (41, 45, 48, 51)]  # F A C Eb below C4: F7
    chord += [(7.5, [0x82, p, 0]) for p in (41, 45, 48, 51)]
    try:
        probe.connect(out)
        assert probe.wait_for(lambda m: any(msg == (0xFA,) for _, msg in m), 30.0)
        t0 = next(t for t, msg in probe.snapshot() if msg == (0xFA,))
        player.play(t0, sorted(chord + phrase, key=lambda e: e[0]))
        _finish(proc)
    finally:
        player.close()
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    sent = _sent(events)
    mine = _ons(sent)
    assert mine and all(b < 4.0 or 8.0 <= b < 12.0 for b, _, _ in mine), mine  # bars 1 and 3
    assert any(b >= 8.0 for b, _, _ in mine)  # it played again after listening
    echoed = [pitch for _, pitch, _ in _ons(sent, channel=2)]
    assert sorted(echoed) == sorted(call + [41, 45, 48, 51])  # the player, echoed
    assert sounding([(e["t"], tuple(e["msg"])) for e in sent if "msg" in e],
                    controllers=False) == set()
    logged = [json.loads(line)["event"] for line in session.read_text().splitlines()
              if json.loads(line)["type"] == "event"]
    turns = [e for e in logged if e["type"] == "turn"]
    assert turns and turns[0]["block"] == 1 and [n[2] for n in turns[0]["notes"]] == call
    assert {"type": "chord", "tick": 48, "symbol": "F7"} in logged




@pytest.mark.jack
def test_follows_midi_clock_start_stop_spp_continue(jack, probe, tiny_model, tmp_path):
    proc, out, inp, events, _ = _start(jack, tiny_model, tmp_path, "--clock", "input",
                                       "--seed", "3", "--tempo", "180")
    try:
        probe.connect(out)
        sender = subprocess.run([sys.executable, "-c", FOLLOW_SENDER, inp, "100"],
                                env=jack.env(), capture_output=True, text=True, timeout=120)
        assert sender.returncode == 0, sender.stderr
        probe.wait_for(lambda m: False, 0.3)
        proc.send_signal(2)
        _finish(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    times = json.loads(sender.stdout)
    sent = _sent(events)
    ons = [e for e in sent if e["msg"][0] == NOTE_ON and e["msg"][2] > 0]
    before = [e for e in ons if e["t"] < times["stop"]]
    after = [e for e in ons if e["t"] > times["continue"]]
    assert before and after, ons
    assert not [e for e in ons if times["stop"] < e["t"] < times["continue"]]  # silent
    assert all(e["beat"] >= 8.0 - 1e-6 for e in after)  # the song position moved to beat 8
    # onsets on the incoming clock's grid, sent in the order of the ticks they sit on (how close
    # to each tick's arrival: benchmarks/bench_listen.py, bench_follow)
    on_ticks = [round(e["beat"] * 24) for e in before + after]
    assert all(abs(e["beat"] * 24 - k) < 1e-3 for e, k in zip(before + after, on_ticks, strict=True))
    assert follow_errors(times, sent)  # note-ons on ticks the sender sent
    assert on_ticks == sorted(on_ticks) and [e["t"] for e in ons] == sorted(e["t"] for e in ons)
    # Stop: every note got its note-off, then the panic, after the Stop
    upto = [(e["t"], tuple(e["msg"])) for e in sent if e["t"] < times["continue"]]
    assert sounding(upto, controllers=False) == set()
    panic = [e["t"] for e in sent if times["stop"] < e["t"] < times["continue"]
             and e["msg"][0] == 0xB0 and e["msg"][1] == 120]
    assert panic


@pytest.mark.jack
def test_mapped_cc_changes_a_parameter_and_is_logged(jack, probe, tiny_model, tmp_path,
                                                     monkeypatch):
    devices = tmp_path / "devices"
    devices.mkdir()
    (devices / "knobs.toml").write_text('name = "knobs"\n[cc]\ntemperature = 74\n')
    monkeypatch.setenv("IMPROV_DEVICES", str(devices))
    player = Player(f"pl{next(_names)}")
    proc, out, _, events, session = _start(
        jack, tiny_model, tmp_path, "--device", "knobs", "--tempo", str(TEMPO), "--bars", "3",
        "--clock-out", "--seed", "1", player=player)
    _clear(probe)
    try:
        probe.connect(out)
        assert probe.wait_for(lambda m: any(msg == (0xFA,) for _, msg in m), 30.0)
        t0 = next(t for t, msg in probe.snapshot() if msg == (0xFA,))
        player.play(t0, [(1.0, [0xB0, 74, 127]), (2.0, [0xB0, 74, 0]), (2.1, [0xB0, 20, 5])])
        _finish(proc)
    finally:
        player.close()
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    params = [e for e in _sent(events) if e.get("type") == "param"]
    assert [(p["param"], p["value"], p["cc"]) for p in params] == [
        ("temperature", 2.0, 74), ("temperature", 0.1, 74)]
    logged = [json.loads(line) for line in session.read_text().splitlines()]
    changes = [r["event"] for r in logged if r["type"] == "event"]
    assert [c["value"] for c in changes if c["type"] == "param"] == [2.0, 0.1]


@pytest.mark.jack
def test_learn_maps_the_next_moved_cc_and_writes_the_profile(jack, tmp_path):
    devices = tmp_path / "devices"
    env = dict(jack.env(), IMPROV_DEVICES=str(devices))
    player = Player(f"pl{next(_names)}")
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "improv", "devices", "--learn", "reseed_weight", "--device",
             "mine", "--input", player.label, "--api", "jack"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60  # generous: a loaded machine starts improv slowly
        while proc.poll() is None and time.monotonic() < deadline:
            player.out.send_message([0xB0, 21, 64])
            time.sleep(0.05)
        out, err = proc.communicate(timeout=5)
    finally:
        player.close()
    assert proc.returncode == 0, err
    assert "CC21" in out
    text = (devices / "mine.toml").read_text()
    assert "reseed_weight = 21" in text


def test_listening_options_need_an_input(capsys):
    assert main(["play", "--mode", "respond"]) == 2
    assert "--mode" in capsys.readouterr().err
    assert main(["play", "--mode", "trade", "x", "--virtual-input"]) == 2
    assert "trade" in capsys.readouterr().err
    assert main(["play", "--reseed-weight", "2"]) == 2
    assert "--reseed-weight" in capsys.readouterr().err


def test_invalid_device_profile_names_the_key(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "bad"\n[cc]\ntemprature = 1\n')
    assert main(["play", "--device", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "cc.temprature" in err and len(err.strip().splitlines()) == 1
