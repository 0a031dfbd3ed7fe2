"""`improv play` end to end through a real JACK server, plus its bad-input paths.

The daemon runs as a subprocess (`python -m improv play --api jack --virtual NAME`) with the real
improviser (on a tiny random model); a separate rtmidi JACK client records what arrives.
"""

from __future__ import annotations

import itertools
import json
import signal
import subprocess
import sys
from pathlib import Path

import mido
import pytest
from conftest import CONTROL, NOTE_OFF, NOTE_ON, sounding

from improv.cli import main
from improv.cli.options import parse_range

TEMPO = 240.0
SPB = 60.0 / TEMPO
_names = itertools.count()


def _start(jack, model: Path, *extra: str, name: str | None = None) -> tuple[subprocess.Popen, str]:
    name = name or f"t{next(_names)}"
    cmd = [sys.executable, "-m", "improv", "--log-level", "INFO", "play", "--api", "jack",
           "--virtual", name, "--model", str(model), "--tempo", str(TEMPO), *extra]
    proc = subprocess.Popen(cmd, env=jack.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    return proc, f"improv:{name}"


def _finish(proc: subprocess.Popen, timeout: float = 60.0) -> tuple[int, str]:
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
        pytest.fail(f"improv play did not end in {timeout} s:\n{err}")
    return proc.returncode, err


def _channel_notes(messages, channel: int = 0) -> list[tuple[float, int, int]]:
    return [(t, m[1], m[2]) for t, m in messages
            if m[0] == NOTE_ON | channel and m[2] > 0]


def _unpaired(messages, channel: int = 0) -> list[tuple[int, int]]:
    """Note-ons on ``channel`` without a later explicit note-off (CCs do not count)."""
    open_notes: dict[int, int] = {}
    for _, m in messages:
        if m[0] & 0x0F != channel:
            continue
        if m[0] & 0xF0 == NOTE_ON and m[2] > 0:
            open_notes[m[1]] = open_notes.get(m[1], 0) + 1
        elif m[0] & 0xF0 == NOTE_OFF or (m[0] & 0xF0 == NOTE_ON and m[2] == 0):
            open_notes.pop(m[1], None)
    return sorted(open_notes.items())


def _play_bars(jack, probe, model, bars: int, *extra: str):
    proc, port = _start(jack, model, "--bars", str(bars), "--count-in", "1", *extra)
    try:
        probe.connect(port)
        code, err = _finish(proc)
    finally:
        _kill(proc)
    assert code == 0, err
    probe.wait_for(lambda msgs: any(m[0] == CONTROL and m[1] == 120 for _, m in msgs), 2.0)
    return probe.snapshot(), err


def _kill(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.communicate()


@pytest.mark.jack
def test_notes_arrive_paired_on_the_grid(jack, probe, tiny_model, tmp_path):
    events = tmp_path / "events.jsonl"
    record = tmp_path / "solo.mid"
    messages, _ = _play_bars(jack, probe, tiny_model, 2, "--seed", "3", "--json-events",
                             str(events), "--record", str(record))
    notes = _channel_notes(messages)
    assert len(notes) >= 4, messages
    assert _unpaired(messages) == []
    assert sounding(messages, controllers=False) == set()
    # the count-in clicks (channel 10) come first and the note-ons sit on the 12-per-beat grid
    clicks = [t for t, m in messages if m[0] == NOTE_ON | 9 and m[2] > 0]
    assert clicks and clicks[0] < notes[0][0]
    # times stamped by JACK on the reader input (rtmidi deltas), not by the poll thread
    with probe._lock:
        stamped = [(t, m) for i, t, m in probe.stamped if i == 1 and m[0] == NOTE_ON and m[2]]
    assert len(stamped) == len(notes)
    t0 = stamped[0][0]
    for t, _ in stamped:
        ticks = (t - t0) / SPB * 12
        assert abs(ticks - round(ticks)) < 0.3, (t - t0, ticks)
    # what arrived is what the daemon says it sent
    sent = [json.loads(line) for line in events.read_text().splitlines()]
    sent_ons = [e["msg"][1] for e in sent if e["msg"][0] == NOTE_ON and e["msg"][2] > 0]
    assert [pitch for _, pitch, _ in notes] == sent_ons
    assert all(e["scheduled"] is not None for e in sent if e["msg"][0] == NOTE_ON)
    recorded = [m.note for m in mido.MidiFile(record).play() if m.type == "note_on"
                and m.velocity > 0 and m.channel == 0]
    assert recorded == sent_ons


@pytest.mark.jack
def test_choruses_play_whole_forms_and_stop(jack, probe, tiny_model, tmp_path):
    events = tmp_path / "events.jsonl"
    proc, port = _start(jack, tiny_model, "--changes", "C7 | F7", "--choruses", "2", "--seed", "4",
                        "--json-events", str(events))
    try:
        probe.connect(port)
        code, err = _finish(proc)
    finally:
        _kill(proc)
    assert code == 0, err
    assert "ended (bars)" in err
    sent = [json.loads(line) for line in events.read_text().splitlines() if '"msg"' in line]
    onsets = [e["beat"] for e in sent if e["msg"][0] == NOTE_ON and e["msg"][2] > 0]
    assert onsets and max(onsets) < 2 * 2 * 4  # two choruses of a two-bar form
    assert max(onsets) >= 4  # and it did go past the first chorus


@pytest.mark.jack
def test_same_seed_same_notes(jack, probe, tiny_model, tmp_path):
    """The same seed schedules the same notes (beats, pitches, velocities: the daemon's own log), and
    what arrives is what was sent, in order. Arrival times are not compared: rounding them to ticks
    on a loaded machine (jitter of a period and more) made a timing assert of this test."""
    runs = []
    for run in range(2):
        with probe._lock:
            probe.messages.clear()
            probe.stamped.clear()
        events = tmp_path / f"run{run}.jsonl"
        messages, err = _play_bars(jack, probe, tiny_model, 2, "--seed", "11", "--json-events",
                                   str(events))
        sent = [json.loads(line) for line in events.read_text().splitlines()]
        scheduled = [(round(e["beat"] * 12), e["msg"][1], e["msg"][2]) for e in sent
                     if e["msg"][0] == NOTE_ON and e["msg"][2] > 0]
        arrived = [(pitch, vel) for _, pitch, vel in _channel_notes(messages)]
        assert arrived == [(pitch, vel) for _, pitch, vel in scheduled], err[-600:]
        runs.append(scheduled)
    assert runs[0] == runs[1]
    assert len(runs[0]) >= 4


@pytest.mark.jack
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_mid_note_leaves_nothing_sounding(jack, probe, tiny_model, signum):
    proc, port = _start(jack, tiny_model, "--seed", "5")

    def mid_note(msgs):  # at least two notes played and one sounding now
        return (len(_channel_notes(msgs)) >= 2
                and any(key[0] == 0 for key in sounding(msgs, controllers=False)))

    try:
        probe.connect(port)
        if not probe.wait_for(mid_note, 30.0):
            pytest.fail(f"no note sounding to interrupt: {probe.snapshot()}")
        proc.send_signal(signum)
        code, err = _finish(proc)
    finally:
        _kill(proc)
    assert code == 0, err
    assert "Traceback" not in err
    probe.wait_for(lambda msgs: any(m[0] == CONTROL and m[1] == 120 for _, m in msgs), 2.0)
    messages = probe.snapshot()
    assert _unpaired(messages) == []
    assert sounding(messages, controllers=False) == set()
    tail = [m for _, m in messages if m[0] == CONTROL]
    assert [m[1] for m in tail[-3:]] == [64, 123, 120]


@pytest.mark.jack
def test_play_to_an_existing_port_by_part_of_its_name(jack, probe, tiny_model):
    proc = subprocess.Popen(
        [sys.executable, "-m", "improv", "play", "--api", "jack", "--port", "PROBE",
         "--model", str(tiny_model), "--tempo", str(TEMPO), "--bars", "1", "--seed", "2"],
        env=jack.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    code, err = _finish(proc)
    assert code == 0, err
    probe.wait_for(lambda msgs: any(m[0] == CONTROL and m[1] == 120 for _, m in msgs), 2.0)
    messages = probe.snapshot()
    assert _channel_notes(messages)
    assert _unpaired(messages) == []


@pytest.mark.jack
def test_unknown_port_exits_2_listing_ports(jack, probe, tiny_model):
    result = subprocess.run(
        [sys.executable, "-m", "improv", "play", "--api", "jack", "--port", "no such synth",
         "--model", str(tiny_model)],
        env=jack.env(), capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "no such synth" in lines[0] and "probe:in" in lines[0]


@pytest.mark.jack
def test_ports_lists_jack_outputs(jack, probe):
    result = subprocess.run([sys.executable, "-m", "improv", "ports", "--api", "jack", "--json"],
                            env=jack.env(), capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    (listing,) = json.loads(result.stdout)
    assert listing["api"] == "jack" and "probe:in" in listing["outputs"]


# ------------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("argv, fragment", [
    (["--channel", "17"], "--channel"),
    (["--tempo", "0"], "--tempo"),
    (["--velocity", "200"], "--velocity"),
    (["--range", "C4..D4"], "--range"),
    (["--range", "H2..C6"], "--range"),
    (["--bars", "0"], "--bars"),
    (["--api", "nonsense"], "nonsense"),
    (["--port", "x", "--virtual"], "--port"),
    (["--model", "/nonexistent/model"], "/nonexistent/model"),
    (["--record", "/nonexistent/dir/x.mid"], "--record"),
])
def test_bad_options_exit_2_with_one_line(argv, fragment, capsys):
    assert main(["play", *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and fragment in err[0]


def test_config_unknown_key_names_key_and_file(tmp_path, capsys):
    path = tmp_path / "live.toml"
    path.write_text("[play]\ntempo = 140\ntempi = 3\n")
    assert main(["play", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert "tempi" in err and str(path) in err


def test_config_bad_value_names_config_and_cli_wins(tmp_path, capsys):
    path = tmp_path / "live.toml"
    path.write_text("[play]\nchannel = 99\n")
    assert main(["play", "--config", str(path)]) == 2
    assert f"channel in {path}" in capsys.readouterr().err
    # the command line overrides the config: now the error is about --tempo, not the channel
    assert main(["play", "--config", str(path), "--channel", "2", "--tempo", "1000"]) == 2
    assert "--tempo" in capsys.readouterr().err


def test_default_config_documents_every_option():
    from improv.cli.playoptions import CONFIG_KEYS, ROWS
    from improv.config import load_play_config

    path = Path(__file__).resolve().parents[1] / "configs" / "default.toml"
    text = path.read_text()
    assert set(CONFIG_KEYS) == {row.name for row in ROWS} - {"config", "learn"}
    for key in CONFIG_KEYS:
        assert f"{key} =" in text, key
    load_play_config(path, CONFIG_KEYS)  # parses, with no unknown key


def test_range_accepts_names_and_numbers():
    assert parse_range("E3..C6", "--range") == (52, 84)
    assert parse_range("48..Bb5", "--range") == (48, 82)


def test_live_path_does_not_import_tensorflow(tiny_model):
    code = ("import sys; from improv.cli import build_parser; build_parser(); "
            "import improv.cli.play as p, improv.live.engine, improv.generate; "
            "print('tensorflow' in sys.modules or 'keras' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False", out.stderr
