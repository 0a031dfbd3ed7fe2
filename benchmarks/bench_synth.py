"""Live sound through FluidSynth (issue 11), each figure beside a baseline measured in the same run.

All through a private JACK dummy server (48 kHz; ``-R``, else ``--no-realtime``) with FluidSynth's JACK audio
driver, and a separate JACK audio client recording (``benchmarks.jackaudio.JackRecorder``, perf_counter
stamps). Times are when a sample is rendered into the JACK graph; a sound card plays it one buffer later.

* first sound: `make play`'s two commands (``python -m improv.live.audioprobe``, then ``improv play --synth
  --band all``, here with ``--audio-driver jack``), launch to the first recorded sample above -60 dBFS, on a
  warm venv (one untimed run first), median of ``RUNS``; the GM soundfont (the default) and TimGM6mb.
  Baseline: launch to the first MIDI note at a JACK MIDI recorder from ``improv play --virtual --band all``.
* CPU: ``improv play --synth --band all`` (one process: the synth renders in it), CPU time over wall time
  from 4 s in for ``CPU_SECONDS`` (100 % = one core). Baseline: ``improv play --virtual --band all``.
* send -> attack: a GM side stick sent every 0.2-0.25 s (jittered: every phase of the period), the lag
  to where the recording lines up best with the click rendered offline from its note-on (so the sample's
  own quiet first 2 ms are not counted); in-process (``SynthSink``, what ``--synth`` plays
  through), and the baseline: the same notes through a JACK MIDI port into a separate
  ``fluidsynth -a jack -m jack`` (a user's own synth); JACK periods 64 and 256.
* band timing: each part's note-on send lateness (``--json-events``: sent - scheduled) with ``--synth``,
  baseline: the same session on a JACK MIDI port.

Run: ``python -m benchmarks.bench_synth`` (env BENCH_RUNS, default 3).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from benchmarks.bench_live import _cpu_seconds, _Receiver, _Server, _summary
from benchmarks.jackaudio import JackRecorder

RUNS = int(os.environ.get("BENCH_RUNS", "3"))
CPU_SECONDS = 12.0
PERIODS = (64, 256)
SILENCE = 10 ** (-60 / 20)
SIDE_STICK = (0x99, 37, 120)
PARTS = {0: "solo", 1: "bass", 2: "comp", 9: "drums"}
TIMGM = Path("/usr/share/sounds/sf2/TimGM6mb.sf2")
PY = sys.executable


def _improv(*args: str) -> list[str]:
    return [PY, "-m", "improv", "play", "--seed", "1", "--tempo", "120", *args]


def first_sound(env: dict, tmp: Path, soundfont: Path | None = None) -> tuple[float, float]:
    """(seconds from launching `make play`'s commands to the first non-silent sample recorded, CPU seconds
    `improv play` had used by then: what the wall time would be on an idle machine, near enough)."""
    if soundfont is not None:
        env = dict(env, IMPROV_SOUNDFONT=str(soundfont))
    recorder = JackRecorder("fluidsynth", seconds=120)  # start-up on a loaded machine can take 20 s
    play = " ".join(_improv("--synth", "--audio-driver", "jack", "--band", "all", "--bars", "2", "--record",
                            str(tmp / "first.mid")))
    script = f"{PY} -m improv.live.audioprobe --audio-driver jack && exec {play}"
    started = time.perf_counter()
    proc = subprocess.Popen(["sh", "-c", script], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    cpu, seen = None, 0
    try:
        while proc.poll() is None and cpu is None:
            frames = recorder.frames
            if frames > seen and np.abs(recorder.buffer[seen:frames]).max() > SILENCE:
                cpu = _cpu_seconds(proc.pid)
            seen = frames
            time.sleep(0.002)
        _, err = proc.communicate(timeout=120)
    finally:
        audio = recorder.stop()
    if proc.returncode != 0:
        raise RuntimeError(f"make play's commands failed: {err[-500:]}")
    loud = np.flatnonzero(np.abs(audio).max(axis=1) > SILENCE)
    if not len(loud) or cpu is None:
        raise RuntimeError("no sound was recorded")
    return recorder.time_of(int(loud[0])) - started, cpu


def first_midi_note(env: dict, name: str) -> float:
    """Seconds from launching `improv play --virtual` to its first note-on at a JACK MIDI recorder."""
    receiver = _Receiver()
    started = time.perf_counter()
    proc = subprocess.Popen(_improv("--api", "jack", "--virtual", name, "--band", "all", "--bars", "1"),
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        receiver.connect(name)
        proc.wait(timeout=120)
    finally:
        receiver.close()
    ons = [t for t, m in receiver.got if m[0] & 0xF0 == 0x90 and m[2] > 0]
    if proc.returncode != 0 or not ons:
        why = proc.stderr.read()[-500:] if proc.stderr else ""
        raise RuntimeError(f"improv play --virtual failed: {why}")
    return ons[0] - started


def cpu_share(env: dict, *args: str) -> float:
    """Percent of one core `improv play ARGS --band all` uses while playing (after its start-up)."""
    bars = int((4 + CPU_SECONDS + 4) / 2)
    proc = subprocess.Popen(_improv(*args, "--band", "all", "--bars", str(bars)), env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(4.0)
        c0, w0 = _cpu_seconds(proc.pid), time.perf_counter()
        time.sleep(CPU_SECONDS)
        c1, w1 = _cpu_seconds(proc.pid), time.perf_counter()
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=60)
    return round(100 * (c1 - c0) / (w1 - w0), 1)


def _send_clicks(send, notes: int = 40) -> list[float]:
    """Side sticks from this thread (real-time when allowed): their send times."""
    from improv.live.scheduler import try_realtime

    try_realtime()
    rng = np.random.default_rng(0)
    sent = []
    for _ in range(notes):
        time.sleep(0.2 + float(rng.uniform(0, 0.05)))
        sent.append(time.perf_counter())
        send(SIDE_STICK)
        time.sleep(0.03)
        send((0x89, 37, 0))
    time.sleep(0.3)
    return sent


def _click(rate: int) -> np.ndarray:
    """The side stick as the synth renders it from its note-on (offline, left channel, 20 ms)."""
    from improv.synth import Synth

    synth = Synth(None, sample_rate=rate)
    try:
        synth.send(SIDE_STICK)
        return synth.samples(rate // 50).reshape(-1, 2)[:, 0].astype(np.float64)
    finally:
        synth.close()


def attack_lags(recorder: JackRecorder, send) -> list[float]:
    """Send clicks, stop the recorder; each click's lag (ms) from its send to the recorded sound's note-on
    point: where the offline click (from its note-on) lines up best with the recording (cross-correlation),
    so the sample's own silent start is not counted as latency."""
    sent: list[float] = []
    worker = threading.Thread(target=lambda: sent.extend(_send_clicks(send)))
    worker.start()
    worker.join()
    audio = recorder.stop()[:, 0].astype(np.float64)
    click = _click(recorder.rate)
    stamps = np.array(recorder.stamps)
    lags = []
    for t in sent:
        cycle = max(0, int(np.searchsorted(stamps[:, 0], t)) - 1)
        start = int(stamps[cycle, 1])
        segment = audio[start:start + recorder.rate // 50 + len(click)]
        if len(segment) < 2 * len(click) or not segment.any():
            continue
        score = np.correlate(segment, click, mode="valid")
        lags.append(1000 * (recorder.time_of(start + int(np.argmax(score))) - t))
    return lags


def _latency_in_process() -> list[float]:
    from improv.live.synth import SynthSink

    sink = SynthSink(driver="jack")
    try:
        recorder = JackRecorder("fluidsynth", seconds=30)
        _wait_connected(recorder)
        return attack_lags(recorder, sink.send)
    finally:
        sink.close(release=0.0)


def _latency_separate(env: dict) -> list[float]:
    """The baseline: a separate fluidsynth JACK client, its MIDI input fed through an rtmidi JACK port."""
    from improv.live.ports import OutputPort
    from improv.synth import find_soundfont

    cmd = ["fluidsynth", "-a", "jack", "-m", "jack", "-i", "-s", "-o", "audio.jack.id=fsbase", "-o",
           "midi.jack.id=fsbase", "-o", "audio.jack.autoconnect=0", str(find_soundfont())]
    fluid = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    try:
        recorder = JackRecorder("fsbase", seconds=30)
        _wait_connected(recorder)
        port = _open_when_there(lambda: OutputPort(_jack_api(), port="fsbase", client_name="benchtx"))
        try:
            return attack_lags(recorder, port.send)
        finally:
            port.close()
    finally:
        fluid.terminate()
        fluid.wait(timeout=10)


def _jack_api() -> int:
    import rtmidi

    return rtmidi.API_UNIX_JACK


def _open_when_there(opener, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while True:
        try:
            return opener()
        except Exception:  # noqa: BLE001 - the port is not there yet
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _wait_connected(recorder: JackRecorder, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while len(recorder.connected) < 2:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{recorder.source}'s audio ports never appeared")
        time.sleep(0.01)
    time.sleep(0.2)


def part_lateness(env: dict, tmp: Path, *args: str) -> dict:
    """Each part's note-on send lateness (ms) over a 16-bar `improv play ARGS --band all` at 160 BPM."""
    events = tmp / "late.jsonl"
    cmd = [PY, "-m", "improv", "play", "--seed", "2", "--tempo", "160", "--band", "all", "--bars", "16",
           "--json-events", str(events), *args]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=180)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-500:])
    late: dict[str, list[float]] = {name: [] for name in PARTS.values()}
    for line in events.read_text().splitlines():
        record = json.loads(line)
        msg = record.get("msg")
        if record.get("scheduled") is None or not msg or msg[0] & 0xF0 != 0x90 or msg[2] == 0:
            continue
        part = PARTS.get(msg[0] & 0x0F)
        if part:
            late[part].append(1000 * (record["t"] - record["scheduled"]))
    return {part: _summary(values) for part, values in late.items()}


def run() -> dict:
    if shutil.which("jackd") is None:
        return {"skipped": "jackd is not installed"}
    try:
        import fluidsynth  # noqa: F401
        import jack  # noqa: F401
    except ImportError as exc:
        return {"skipped": f"{exc.name} is not installed"}
    out: dict = {"load_average_1min": round(os.getloadavg()[0], 1)}
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        for period in PERIODS:
            out[f"period_{period}"] = _with_server(tmp, period, lambda env, p=period: _at_period(env, tmp, p))
    return out


def _with_server(tmp: Path, period: int, work):
    server = _Server(f"benchsynth{os.getpid()}", period, tmp / f"jackd{period}.log")
    saved = os.environ.get("JACK_DEFAULT_SERVER")
    os.environ["JACK_DEFAULT_SERVER"] = server.name
    env = dict(os.environ, JACK_NO_AUDIO_RESERVATION="1", IMPROV_CACHE=str(tmp))
    env.pop("IMPROV_MIDI_API", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # a warm venv has its byte code
    try:
        return {"jackd": server.mode, **work(env)}
    finally:
        server.stop()
        if saved is None:
            os.environ.pop("JACK_DEFAULT_SERVER", None)
        else:
            os.environ["JACK_DEFAULT_SERVER"] = saved


def _guarded(measure):
    """A measurement's result, or what went wrong (one failing measure must not hide the others)."""
    try:
        return measure()
    except Exception as exc:  # noqa: BLE001 - reported in the results
        return {"failed": str(exc)[:200]}


def _at_period(env: dict, tmp: Path, period: int) -> dict:
    result: dict = {"attack_ms": {"in_process": _guarded(lambda: _summary(_latency_in_process()))}}
    if shutil.which("fluidsynth"):
        result["attack_ms"]["separate_fluidsynth_baseline"] = _guarded(
            lambda: _summary(_latency_separate(env)))
    if period != PERIODS[0]:
        return result
    result.update(_guarded(lambda: _first_sounds(env, tmp)))
    result["cpu_percent"] = _guarded(lambda: {
        "synth_band_all": cpu_share(env, "--synth", "--audio-driver", "jack"),
        "virtual_band_all_baseline": cpu_share(env, "--api", "jack", "--virtual", "cpu")})
    result["send_lateness_ms"] = _guarded(lambda: {
        "synth": part_lateness(env, tmp, "--synth", "--audio-driver", "jack"),
        "midi_port_baseline": part_lateness(env, tmp, "--api", "jack", "--virtual", "late")})
    return result


def _first_sounds(env: dict, tmp: Path) -> dict:
    first_sound(env, tmp)  # warm (and the byte code written)
    fonts = {"gm": None, **({"timgm6mb": TIMGM} if TIMGM.is_file() else {})}
    result: dict = {"first_sound_s": {}, "cpu_s_to_first_sound": {}}
    for name, font in fonts.items():
        runs = [first_sound(env, tmp, font) for _ in range(RUNS)]
        result["first_sound_s"][name] = _median([wall for wall, _ in runs])
        result["cpu_s_to_first_sound"][name] = _median([cpu for _, cpu in runs])
    result["first_sound_s"]["midi_baseline"] = _median([first_midi_note(env, f"fs{i}") for i in range(RUNS)])
    return result


def _median(values: list[float]) -> float:
    return round(float(np.median(values)), 3)


def markdown(result: dict) -> str:
    if "skipped" in result:
        return f"skipped: {result['skipped']}"
    rows = ["| JACK period | jackd | send -> attack, in-process synth: median / p99 / max ms (n) | "
            "baseline: separate fluidsynth via a JACK MIDI port |", "|---|---|---|---|"]
    for period in PERIODS:
        res = result[f"period_{period}"]
        attack = res["attack_ms"]
        cells = [_cell(attack["in_process"]), _cell(attack.get("separate_fluidsynth_baseline"))]
        head = f"| {period} ({1000 * period / 48000:.2f} ms) | {res['jackd']} | "
        rows.append(head + " | ".join(cells) + " |")
    first = result[f"period_{PERIODS[0]}"]
    if "failed" in first or "failed" in first["cpu_percent"] or "failed" in first["send_lateness_ms"]:
        return "\n".join(rows) + "\n\n```json\n" + json.dumps(first, indent=1) + "\n```"
    lines = ["", f"First sound after `make play`'s commands (median of {RUNS}, s; target <= 1.5): "
             + ", ".join(f"{k} {v}" for k, v in first["first_sound_s"].items())
             + "; CPU s `improv play` used until then: "
             + ", ".join(f"{k} {v}" for k, v in first["cpu_s_to_first_sound"].items()),
             "CPU while playing (% of one core; target <= 25): "
             + ", ".join(f"{k} {v}" for k, v in first["cpu_percent"].items()), "",
             "| part | note-on send lateness with --synth: median / p99 / max ms (n) | "
             "baseline: JACK MIDI port |",
             "|---|---|---|"]
    late = first["send_lateness_ms"]
    for part in PARTS.values():
        lines.append(f"| {part} | {_cell(late['synth'][part])} | {_cell(late['midi_port_baseline'][part])} |")
    return "\n".join(rows + lines) + f"\n\nload average (1 min) at the start: {result['load_average_1min']}"


def _cell(summary: dict | None) -> str:
    if not summary:
        return "-"
    if "failed" in summary:
        return f"failed: {summary['failed'][:80]}"
    return f"{summary['median']} / {summary['p99']} / {summary['max']} ({summary['n']})"


if __name__ == "__main__":
    print(json.dumps(run(), indent=1))
