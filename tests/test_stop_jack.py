"""Stopping `improv play` by signals, as a terminal and a user do it, through real JACK servers.

* A terminal's Ctrl-C signals the whole process group: `scripts/with-midi improv play` gets SIGINT
  in both the script and improv, at random moments (the first 0.3 s included). Never a hang, never a
  traceback; exit 0 with the recording written once playing began, else 128 + 2, silently.
* Two SIGINTs 5 ms apart, and every catchable terminating signal: the same clean stop (note-offs,
  then CC64/123/120), no libjack noise on stderr.
Timing figures (signal -> exit) are in benchmarks/bench_live.py; here only bounds against hangs.
"""

from __future__ import annotations

import itertools
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import mido
import pytest
from conftest import (
    CONTROL,
    NOTE_ON,
    ROOT,
    SERVER_NAME,
    _clean_shm,
    _free_name,
    _start_jackd,
    _stop,
    require_jack,
    sounding,
)

WITH_MIDI = ROOT / "scripts" / "with-midi"
HANG = 15.0  # s after the signal: a process still running then hangs
JACK_NOISE = ("Cannot read socket", "Interrupted system call", "Could not read result")
_names = itertools.count()


def _play_cmd(model: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "improv", "play", "--model", str(model), "--tempo", "240", *extra]


def _wait(proc: subprocess.Popen, what: str, reader: threading.Thread | None = None,
          lines: list[str] | None = None) -> tuple[int, str]:
    """The exit code and stderr; a process still running ``HANG`` s on fails (with its stacks)."""
    try:
        if reader is None:
            _, err = proc.communicate(timeout=HANG)
        else:
            proc.wait(timeout=HANG)
            reader.join(5)
            err = "".join(lines)
    except subprocess.TimeoutExpired:
        _signal_all(proc, signal.SIGABRT)  # PYTHONFAULTHANDLER: every thread's stack on stderr
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            _signal_all(proc, signal.SIGKILL)
            proc.wait()
        if reader is not None:
            reader.join(5)
            err = "".join(lines)
        else:
            err = proc.communicate()[1]
        pytest.fail(f"{what}: still running {HANG} s after the signal (a hang):\n{err}")
    return proc.returncode, err


def _signal_all(proc: subprocess.Popen, signum: int) -> None:
    """The process's group when it leads one, else the process."""
    try:
        if os.getpgid(proc.pid) == proc.pid:
            os.killpg(proc.pid, signum)
            return
    except OSError:
        pass
    try:
        proc.send_signal(signum)
    except OSError:
        pass


def _group_trial(model: Path, env: dict, record: Path, delay: float,
                 after_start: bool) -> tuple[int, str]:
    """with-midi + improv play in their own process group; SIGINT to the group ``delay`` s after
    the launch, or after the start-up line (``after_start``)."""
    cmd = [str(WITH_MIDI), *_play_cmd(model, "--virtual", f"g{next(_names)}", "--record",
                                       str(record), "--seed", "3")]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    lines: list[str] = []
    started = threading.Event()

    def read() -> None:
        for line in proc.stderr:
            lines.append(line)
            if line.startswith("improv: playing"):
                started.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    if after_start and not started.wait(60):
        os.killpg(proc.pid, signal.SIGKILL)
        pytest.fail(f"improv play never started playing: {''.join(lines)}")
    time.sleep(delay)
    os.killpg(proc.pid, signal.SIGINT)  # as a terminal's Ctrl-C does
    return _wait(proc, f"SIGINT to the group {delay:.3f} s after the "
                 f"{'start-up line' if after_start else 'launch'}", reader, lines)


def _check_group_trial(code: int, err: str, record: Path, delay: float) -> bool:
    """True when playing had begun (exit 0); asserts the rules either way."""
    where = f"SIGINT at {delay:.3f} s: exit {code}\n{err}"
    assert "Traceback" not in err, where
    assert not any(noise in err for noise in JACK_NOISE), where
    lines = [line for line in err.splitlines() if line.strip()]
    if code == 0:
        assert any(line.startswith("improv: playing") for line in lines), where
        assert record.is_file(), where
        mido.MidiFile(record)  # a whole, readable file
        return True
    assert code in (128 + signal.SIGINT, -signal.SIGINT), where  # -2: killed before Python ran
    assert not record.exists(), where
    assert all("started a JACK dummy server" in line for line in lines), where  # silently
    return False


def _jackd_running(name: str) -> bool:
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if args and args[0].endswith(b"jackd") and name.encode() in args:
            return True
    return False


def _private_env(name: str) -> dict:
    env = dict(os.environ, JACK_DEFAULT_SERVER=name, JACK_NO_AUDIO_RESERVATION="1",
               PYTHONFAULTHANDLER="1")
    env.pop("IMPROV_MIDI_API", None)
    return env


@pytest.mark.jack
def test_group_ctrl_c_through_with_midi_never_hangs(tiny_model: Path, tmp_path: Path):
    require_jack()
    rng = random.Random(8)
    # 14 trials find a running private server (with-midi execs improv), 6 start their own
    shared = _start_jackd(_free_name(f"{SERVER_NAME}-wm"), 256, tmp_path / "jackd.log")
    own = _free_name(f"{SERVER_NAME}-own")
    # 8 trials in the first 0.3 s after the launch, 12 up to 1.5 s after playing began
    trials = [(rng.uniform(0.0, 0.3), False) for _ in range(8)]
    trials += [(rng.uniform(0.0, 1.5), True) for _ in range(12)]
    rng.shuffle(trials)
    played = 0
    try:
        for trial, (delay, after_start) in enumerate(trials):
            private = trial % 10 >= 7
            env = _private_env(own if private else shared.name)
            record = tmp_path / f"trial{trial}.mid"
            code, err = _group_trial(tiny_model, env, record, delay, after_start)
            assert code == 0 or not after_start, err
            played += _check_group_trial(code, err, record, delay)
            if private:  # its watchdog stops the server it started: it must go
                deadline = time.monotonic() + 15
                while _jackd_running(own) and time.monotonic() < deadline:
                    time.sleep(0.1)
                assert not _jackd_running(own), f"with-midi left its JACK server {own} running"
    finally:
        _stop(shared.process)
        _clean_shm(shared.name)
    assert played >= 12  # the trials after the start-up line stop a session that plays


def _start_playing(jack, probe, model: Path, *extra: str):
    name = f"s{next(_names)}"
    proc = subprocess.Popen(_play_cmd(model, "--api", "jack", "--virtual", name, "--seed", "5",
                                      *extra),
                            env=jack.env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    probe.connect(f"improv:{name}")

    def mid_note(msgs):  # two notes played and one sounding now
        notes = [m for _, m in msgs if m[0] == NOTE_ON and m[2] > 0]
        return len(notes) >= 2 and any(key[0] == 0 for key in sounding(msgs, controllers=False))

    if not probe.wait_for(mid_note, 20.0):
        os.killpg(proc.pid, signal.SIGKILL)
        pytest.fail(f"no note sounding to interrupt: {proc.communicate()[1]}")
    return proc


def _assert_silenced(probe, err: str) -> None:
    probe.wait_for(lambda msgs: any(m[0] == CONTROL and m[1] == 120 for _, m in msgs), 3.0)
    messages = probe.snapshot()
    assert sounding(messages, controllers=False) == set(), err  # explicit note-offs, not only CCs
    tail = [m[1] for _, m in messages if m[0] == CONTROL]
    assert tail[-3:] == [64, 123, 120], err


@pytest.mark.jack
@pytest.mark.parametrize("name", ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2"])
def test_every_stop_signal_silences_and_records(jack, probe, tiny_model, tmp_path, name):
    record = tmp_path / "take.mid"
    proc = _start_playing(jack, probe, tiny_model, "--record", str(record))
    proc.send_signal(getattr(signal, name))
    code, err = _wait(proc, name)
    assert code == 0, err
    assert "Traceback" not in err
    _assert_silenced(probe, err)
    notes = [m for m in mido.MidiFile(record).play() if m.type == "note_on" and m.velocity]
    assert notes, "the recording has no notes"


@pytest.mark.jack
def test_double_sigint_5_ms_apart_stops_cleanly_without_libjack_noise(jack, probe, tiny_model):
    for _ in range(4):
        with probe._lock:
            probe.messages.clear()
        proc = _start_playing(jack, probe, tiny_model)
        proc.send_signal(signal.SIGINT)
        time.sleep(0.005)
        proc.send_signal(signal.SIGINT)
        code, err = _wait(proc, "two SIGINTs")
        assert code == 0, err
        assert "Traceback" not in err and not any(n in err for n in JACK_NOISE), err
        _assert_silenced(probe, err)


@pytest.mark.jack
@pytest.mark.parametrize("name", ["SIGINT", "SIGTERM", "SIGQUIT", "SIGUSR1"])
def test_signal_during_start_up_exits_silently(jack, tiny_model, name):
    signum = getattr(signal, name)
    # SIGINT through with-midi: it finds the test server and execs improv with the stop signals
    # blocked until improv has its handlers (Python's own start-up would turn an early SIGINT into a
    # KeyboardInterrupt). The others straight to improv: before its handlers they kill it silently.
    wrapper = [str(WITH_MIDI)] if name == "SIGINT" else []
    for delay in (0.0, 0.05, 0.1, 0.2, 0.3):
        cmd = [*wrapper, *_play_cmd(tiny_model, "--api", "jack", "--virtual", "early")]
        proc = subprocess.Popen(cmd, env=jack.env(), stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
        time.sleep(delay)
        proc.send_signal(signum)
        code, err = _wait(proc, f"{name} at {delay} s")
        if code == 0:  # a fast machine was playing already: then the clean stop
            assert "improv: playing" in err and "Traceback" not in err, err
            continue
        assert code in (128 + signum, -signum), (delay, code, err)
        assert err.strip() == "", (delay, err)
