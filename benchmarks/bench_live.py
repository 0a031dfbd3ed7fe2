"""Live benchmark: `improv play` through a JACK dummy server at periods 64 and 256.

For each period: start jackd (``-R``, else ``-S --no-realtime``), run `improv play --api jack
--virtual` at 120 BPM with generation running, record on a separate rtmidi client, and measure
* send error against the schedule (the daemon's ``--json-events``): median / p99 / max, ms;
* arrival error at the receiver against the schedule: median / p99 / max, ms; lost messages;
* launch (process start) -> first note-on sent, ms;
* SIGINT -> last message (the CC120) received, and -> process exit, ms;
* CPU share of one core and peak resident memory of the daemon while it plays.

Run: ``python -m benchmarks.bench_live`` (env BENCH_SECONDS, default 20 s per period;
BENCH_MODEL a model dir, default the shipped model, else a tiny random one).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PERIODS = (64, 256)
TEMPO = 120.0


# The start of every sender script (a separate rtmidi JACK client process): open a port by name once
# it exists (60 s: improv, which makes it, may start slowly on a loaded machine).
OPEN_OUT = textwrap.dedent(
    """
    import json, sys, time, rtmidi
    def open_out(target, name):
        out = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name=name)
        deadline = time.monotonic() + 60
        while target not in out.get_ports():
            if time.monotonic() > deadline:
                sys.exit("no port " + target)
            time.sleep(0.01)
        out.open_port(out.get_ports().index(target))
        return out
    """
)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, int(round(q * (len(ordered) - 1)))))
    return ordered[index]


def _summary(values_ms: list[float]) -> dict:
    return {
        "median": round(statistics.median(values_ms), 3) if values_ms else None,
        "p99": round(_pct(values_ms, 0.99), 3),
        "max": round(max(values_ms), 3) if values_ms else None,
        "n": len(values_ms),
    }


class _Server:
    def __init__(self, name: str, period: int, log: Path,
                 modes: tuple = (["-R"], ["-S", "--no-realtime"])) -> None:
        self.name = name
        env = dict(os.environ, JACK_NO_AUDIO_RESERVATION="1")
        driver = ["-d", "dummy", "-r", "48000", "-p", str(period)]
        for mode in modes:
            self._clean()
            with open(log, "a") as handle:
                self.proc = subprocess.Popen(
                    ["jackd", "-n", name, *mode, *driver],
                    env=env,
                    stdout=handle,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            self.mode = " ".join(mode)
            if self._wait():
                return
            self.stop()
        raise RuntimeError(f"jackd would not start; see {log}")

    def _wait(self) -> bool:
        env = dict(os.environ, JACK_DEFAULT_SERVER=self.name)
        for _ in range(200):
            if self.proc.poll() is not None:
                return False
            if subprocess.run(["jack_lsp", "-s", self.name], env=env, capture_output=True).returncode == 0:
                return True
            time.sleep(0.05)
        return False

    def _clean(self) -> None:
        import glob

        for pattern in (f"/dev/shm/jack_{self.name}_*", f"/dev/shm/jack_sem.*_{self.name}_*"):
            for path in glob.glob(pattern):
                os.unlink(path)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._clean()


class _Receiver:
    """rtmidi JACK input on a poll thread: (perf_counter, bytes) per message."""

    def __init__(self) -> None:
        import rtmidi

        self.midi_in = rtmidi.MidiIn(rtmidi.API_UNIX_JACK, name="benchrx", queue_size_limit=8192)
        self.midi_in.ignore_types(sysex=False, timing=False, active_sense=True)
        self.got: list[tuple[float, tuple[int, ...]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def connect(self, suffix: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            names = self.midi_in.get_ports()
            hits = [i for i, n in enumerate(names) if n.endswith(":" + suffix)]
            if hits:
                self.midi_in.open_port(hits[0])
                self._thread.start()
                return
            time.sleep(0.002)
        raise RuntimeError(f"port *:{suffix} never appeared")

    def _poll(self) -> None:
        try:  # a measuring thread should not be the thing that is late
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(5))
        except (AttributeError, OSError):
            pass
        while not self._stop.is_set():
            item = self.midi_in.get_message()
            if item is None:
                time.sleep(0.0003)
                continue
            self.got.append((time.perf_counter(), tuple(item[0])))

    def close(self) -> None:
        self._stop.set()
        if self._thread.ident:
            self._thread.join(2)
        self.midi_in.close_port()
        self.midi_in.delete()


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _memory_mb(pid: int) -> dict:
    """Peak RSS, and the current RSS split into private (anon), file and shared memory (JACK's
    shared memory segment is mapped into every client and counts towards RSS)."""
    wanted = {
        "VmHWM": "peak_rss_mb",
        "RssAnon": "rss_anon_mb",
        "RssFile": "rss_file_mb",
        "RssShmem": "rss_shmem_mb",
    }
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key = line.split(":")[0]
        if key in wanted:
            out[wanted[key]] = round(int(line.split()[1]) / 1024.0, 1)
    return out


def _model_dir(tmp: Path) -> tuple[str, str]:
    chosen = os.environ.get("BENCH_MODEL")
    if chosen:
        return chosen, chosen
    shipped = ROOT / "improv" / "models" / "default"
    if (shipped / "cell.npz").is_file():
        return str(shipped), "shipped default"
    import numpy as np

    from improv.model import conditioning
    from improv.theory.values import Value, Vocabulary

    out = tmp / "model"
    out.mkdir()
    texts = ["C,0.500"] + [f"{k},0.500,{d:+d}" for k in "CSA" for d in (-2, -1, 1, 2)]
    vocab = Vocabulary(Value.parse(t) for t in texts)
    vocab.save(out / "vocab.json", {"conditioning": conditioning.describe()})
    n, units = len(vocab), 256
    rng = np.random.default_rng(0)
    np.savez(
        out / "cell.npz",
        kernel=rng.normal(0, 0.1, (n + conditioning.COND_SIZE, 4 * units)),
        recurrent=rng.normal(0, 0.1, (units, 4 * units)),
        bias=np.zeros(4 * units),
        dense_w=rng.normal(0, 0.3, (units, n)),
        dense_b=np.zeros(n),
    )
    return str(out), f"random eighth-note model, {units} units (no shipped model)"


def run_period(period: int, seconds: float, model: str, tmp: Path, server_name: str | None = None) -> dict:
    """One jackd at ``period`` (named ``server_name``, default improvbench<period>); one `improv play`
    session of ``seconds``; the figures."""
    name = server_name or f"improvbench{period}"
    server = _Server(name, period, tmp / f"jackd{period}.log")
    os.environ["JACK_DEFAULT_SERVER"] = name
    events = tmp / f"events{period}.jsonl"
    env = dict(os.environ, JACK_DEFAULT_SERVER=name, JACK_NO_AUDIO_RESERVATION="1")
    receiver = _Receiver()
    cmd = [
        sys.executable,
        "-m",
        "improv",
        "play",
        "--api",
        "jack",
        "--virtual",
        "bench",
        "--tempo",
        str(TEMPO),
        "--model",
        model,
        "--seed",
        "1",
        "--json-events",
        str(events),
    ]
    try:
        launch = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True)
        receiver.connect("bench")
        time.sleep(2.0)  # warm up, then measure CPU over the steady part
        cpu0, wall0 = _cpu_seconds(proc.pid), time.perf_counter()
        time.sleep(seconds)
        cpu = (_cpu_seconds(proc.pid) - cpu0) / (time.perf_counter() - wall0)
        memory = _memory_mb(proc.pid)
        sig = time.perf_counter()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
        exited = time.perf_counter()
        time.sleep(0.3)
    finally:
        receiver.close()
        server.stop()
    if proc.returncode != 0:
        raise RuntimeError(f"improv play exited {proc.returncode}: {err[-2000:]}")
    jack_log = tmp / f"jackd{period}.log"
    xruns = (
        sum("xrun" in line.lower() for line in jack_log.read_text(errors="replace").splitlines())
        if jack_log.is_file()
        else None
    )
    sent = [json.loads(line) for line in events.read_text().splitlines()]
    scheduled = [e for e in sent if e["scheduled"] is not None]
    send_err = [(e["t"] - e["scheduled"]) * 1000.0 for e in scheduled]
    first_on = next(e["t"] for e in sent if e["msg"][0] & 0xF0 == 0x90 and e["msg"][2] > 0)
    # arrivals: match the receiver's messages to sends after the connection, in order
    got = receiver.got
    arrivals: list[float] = []
    missing: list[dict] = []
    if got:
        first_bytes = got[0][1]
        start = next(
            (i for i, e in enumerate(sent) if tuple(e["msg"]) == first_bytes and e["t"] >= got[0][0] - 0.1), 0
        )
        # walk both streams: a sent message that is not the next one received was lost
        j = 0
        for event in sent[start:]:
            if j < len(got) and tuple(event["msg"]) == got[j][1]:
                if event["scheduled"] is not None:
                    arrivals.append((got[j][0] - event["scheduled"]) * 1000.0)
                j += 1
            else:
                missing.append({"beat": event["beat"], "msg": event["msg"]})
        expected = len(sent) - start
    else:
        expected = len(sent)
    notes_per_s = sum(1 for e in scheduled if e["msg"][0] & 0xF0 == 0x90) / max(
        1e-9, scheduled[-1]["t"] - scheduled[0]["t"]
    )
    return {
        "period": period,
        "jackd": server.mode,
        "messages_sent": len(sent),
        "messages_received": len(got),
        "lost": expected - len(got),
        "lost_messages": missing[:20],
        "jack_xruns": xruns,
        "notes_per_second": round(notes_per_s, 2),
        "send_error_ms": _summary(send_err),
        "arrival_error_ms": _summary(arrivals),
        "launch_to_first_note_on_ms": round((first_on - launch) * 1000.0, 1),
        "launch_to_beat_0_ms": round(
            (scheduled[0]["scheduled"] - scheduled[0]["beat"] * 60.0 / TEMPO - launch) * 1000.0, 1
        ),
        "sigint_to_last_message_ms": round((got[-1][0] - sig) * 1000.0, 1) if got else None,
        "sigint_to_exit_ms": round((exited - sig) * 1000.0, 1),
        "cpu_share_of_one_core": round(cpu, 4),
        **memory,
        "late_sends": [
            (round(e["beat"], 3), e["msg"], round((e["t"] - e["scheduled"]) * 1e3, 2))
            for e in scheduled
            if e["t"] - e["scheduled"] > 0.002
        ],
    }


def emission_against_naive(messages: int = 240, rate: float = 40.0) -> dict:
    """The emitter (sleep, then spin, own thread) against the naive loop (``time.sleep`` to each
    deadline), on the same schedule in the same run, with a pure-Python thread holding the GIL beside
    both (the kind of load music21 or the model's Python code puts on the live process)."""
    from improv.live.clock import Clock
    from improv.live.scheduler import Emitter

    stop = threading.Event()

    def hog() -> None:
        x = 0
        while not stop.is_set():
            x += 1

    def lateness(sent: list[tuple[float, float]]) -> list[float]:
        return [(t - due) * 1000 for due, t in sent]

    hogger = threading.Thread(target=hog, daemon=True)
    hogger.start()
    try:
        start = time.perf_counter() + 0.2
        deadlines = [start + i / rate for i in range(messages)]
        naive: list[tuple[float, float]] = []
        for due in deadlines:
            wait = due - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            naive.append((due, time.perf_counter()))

        class Sink:
            def __init__(self) -> None:
                self.times: list[float] = []

            def send(self, message) -> bool:
                self.times.append(time.perf_counter())
                return True

        sink = Sink()
        clock = Clock(TEMPO)
        step = TEMPO / 60.0 / rate  # beats between messages
        emitter = Emitter(sink, clock, keep_events=False, realtime=True)
        clock.start(at=time.perf_counter() + 0.2)
        for i in range(messages):
            emitter.push(i * step, (0x90, 60, 1))
        switch = sys.getswitchinterval()
        sys.setswitchinterval(0.001)  # as the engine does
        emitter.start()
        emitter.drain()
        emitter.join(messages / rate + 5)
        sys.setswitchinterval(switch)
        ours = [(clock.time_at(i * step), t) for i, t in enumerate(sink.times[:messages])]
    finally:
        stop.set()
        hogger.join()
    base, mine = _summary(lateness(naive)), _summary(lateness(ours))
    return {
        "messages": messages,
        "naive_sleep": base,
        "emitter": mine,
        "p99_ratio": round(base["p99"] / max(mine["p99"], 1e-3), 1),
    }


def run() -> dict:
    """Both periods; returns the figures (also printed as a table when run as a module)."""
    if shutil.which("jackd") is None:
        return {"skipped": "jackd is not installed"}
    seconds = float(os.environ.get("BENCH_SECONDS", "20"))
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        model, about = _model_dir(tmp)
        results = {
            "tempo": TEMPO,
            "seconds": seconds,
            "model": about,
            "periods": [run_period(p, seconds, model, tmp) for p in PERIODS],
        }
    results["emission_against_naive"] = emission_against_naive()
    return results


def _table(results: dict) -> str:
    rows = [
        "| period | jackd | send err med/p99/max ms | arrival err med/p99/max ms | lost (xruns) | "
        "launch→beat 0 / 1st note ms | SIGINT→last msg ms | SIGINT→exit ms | CPU | peak RSS MB "
        "(anon/file/shm now) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results.get("periods", []):
        s, a = r["send_error_ms"], r["arrival_error_ms"]
        rows.append(
            f"| {r['period']} | {r['jackd']} | {s['median']} / {s['p99']} / {s['max']} | "
            f"{a['median']} / {a['p99']} / {a['max']} | {r['lost']}/{r['messages_sent']} "
            f"({r.get('jack_xruns', '?')}) | "
            f"{r['launch_to_beat_0_ms']} / {r['launch_to_first_note_on_ms']} | "
            f"{r['sigint_to_last_message_ms']} | "
            f"{r['sigint_to_exit_ms']} | {100 * r['cpu_share_of_one_core']:.2f} % | "
            f"{r['peak_rss_mb']} ({r['rss_anon_mb']}/{r['rss_file_mb']}/{r['rss_shmem_mb']}) |"
        )
    return "\n".join(rows)


def markdown(results: dict) -> str:
    """Tables for RESULTS.md."""
    if "skipped" in results:
        return f"skipped: {results['skipped']}"
    out = [
        f"`improv play` at {results['tempo']:g} BPM, {results['seconds']:g} s per period, "
        f"{results['model']} model, generation running; a separate rtmidi JACK client records.",
        "",
        _table(results),
    ]
    naive = results.get("emission_against_naive")
    if naive:
        b, e = naive["naive_sleep"], naive["emitter"]
        out += [
            "",
            f"Send lateness against the schedule, {naive['messages']} messages, with a "
            "GIL-holding Python thread beside (ms):",
            "",
            "| emitter | median | p99 | max |",
            "|---|---|---|---|",
            f"| baseline: `time.sleep` to each deadline | {b['median']} | {b['p99']} | {b['max']} |",
            f"| improv: own thread, sleep then spin, switch interval 1 ms | {e['median']} | "
            f"{e['p99']} | {e['max']} |",
            f"| **p99 ratio** | | **{naive['p99_ratio']}x** | |",
        ]
    return "\n".join(out)


if __name__ == "__main__":
    # python -m benchmarks.bench_live            both periods, BENCH_SECONDS each (default 20)
    # the soak: python -m benchmarks.bench_soak (benchmarks/SOAK.md); floods and stopping:
    # python -m benchmarks.bench_stop
    figures = run()
    print(json.dumps(figures, indent=2))
    print(markdown(figures))
