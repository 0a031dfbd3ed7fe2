"""Listening benchmark (issue 5): answer latency, clock following, priming.

* answer: `improv play --mode respond` (shipped model, 120 BPM, gate 1 beat) through a JACK dummy
  server (-p 256). A client sends calls of 4 eighths aligned to the daemon's beat grid (from its
  MIDI Start); for each answer: gate closing (last note-off + gate) -> first answer note-on
  arriving, and that note-on's arrival against its grid slot (answers start on the next 16th); and
  whether the answer's first notes (as the daemon sent them) restate a transformed cell of the call
  (``benchmarks.bench_musicianship.reuse_of``: 3+ notes, the call's rhythm, the same or mirrored contour
  within a semitone, not at the same pitches; the whole call echoed does not count).
* clock: a separate process sends 24-ppqn clock through JACK at 20, 100, 120, 140 and 300 BPM;
  our polled input feeds MidiClock: the tempo error 2 beats after Start, and the beat-ahead phase
  error (prediction of tick k+24 made at tick k, against its arrival stamp) p99.
* follow: `improv play --clock input` following a clock with Start, Stop, Song Position and Continue
  (the scenario of tests/test_listen_jack.py): each note-on's send time against the arrival of the
  tick it sits on, and Stop -> the panic's CC120 sent (the test asserts order and content only).
* prime: Improviser.reseed of a 32-note phrase with the shipped model (median, p99).

Run: ``python -m benchmarks.bench_listen [answers]`` (BENCH_CALLS, default 12; ``answers``: only the
answers).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from benchmarks.bench_live import OPEN_OUT, _pct, _Receiver, _Server

PERIOD = 256
TICKS = 12  # per beat (improv.theory.timing)
TEMPO = 120.0
SPB = 60.0 / TEMPO


def _summary(values: list[float]) -> dict:
    if not values:
        return {"median": None, "p99": None, "max": None, "n": 0}
    return {"median": round(statistics.median(values), 2), "p99": round(_pct(values, 0.99), 2),
            "max": round(max(values), 2), "n": len(values)}


# ---------------------------------------------------------------------------------- priming
def bench_prime(repeats: int = 300) -> dict:
    import numpy as np

    from improv.generate import ImproviserSettings, build_improviser
    from improv.theory.tunes import DEFAULT_TUNE, find_tune
    from improv.theory.values import Note

    tune = find_tune(DEFAULT_TUNE)
    imp = build_improviser(tune.progression, ImproviserSettings(seed=1, temperature=1.0))
    rng = np.random.default_rng(0)
    phrase, tick = [], 0
    for _ in range(32):
        length = int(rng.choice([3, 6, 6, 12]))
        phrase.append(Note(tick, length, int(rng.integers(55, 80)), 90))
        tick += length
    for _ in range(10):
        imp.reseed(phrase, 0.7)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        imp.reseed(phrase, 0.7)
        times.append((time.perf_counter() - t0) * 1000)
    return {"ms": _summary(times), "notes": len(phrase)}


# ---------------------------------------------------------------------------------- clock
CLOCK_SENDER = OPEN_OUT + textwrap.dedent(
    """
    target, bpm, beats = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
    out = open_out(target, "clksrc")
    time.sleep(0.3)
    period = 60.0 / (24 * bpm)
    t0 = time.perf_counter() + 0.02
    out.send_message([0xFA])
    for n in range(int(beats * 24)):
        due = t0 + n * period
        while time.perf_counter() < due:
            if due - time.perf_counter() > 0.002:
                time.sleep(0.001)
        out.send_message([0xF8])
    out.close_port()
    """
)


def bench_clock(env: dict, tempos=(20.0, 100.0, 120.0, 140.0, 300.0)) -> dict:
    import rtmidi

    from improv.live.midi_input import MidiInput
    from improv.live.midiclock import MidiClock

    out = {}
    for bpm in tempos:
        beats = 4 if bpm < 60 else 16
        inp = MidiInput(rtmidi.API_UNIX_JACK, virtual="clk", client_name=f"bclk{int(bpm)}")
        try:
            sender = subprocess.run([sys.executable, "-c", CLOCK_SENDER, f"bclk{int(bpm)}:clk",
                                     str(bpm), str(beats)], env=env, capture_output=True,
                                    text=True, timeout=60 + beats * 60 / bpm)
            time.sleep(0.2)
            messages = inp.drain()
        finally:
            inp.close()
        if sender.returncode != 0:
            out[bpm] = {"error": sender.stderr.strip()[-300:]}
            continue
        clock = MidiClock()
        ticks: list[float] = []
        predictions: dict[int, float] = {}
        errors: list[float] = []
        # the emitter binds a beat to a time just before sending, from the latest clock state: its
        # horizon is the next tick, so that prediction's error is the phase error of what is played
        next_predictions: dict[int, float] = {}
        next_errors: list[float] = []
        tempo_after_2 = None
        for data, t in messages:
            clock.feed(data, t)
            if data[0] != 0xF8 or not clock.running:
                continue
            k = clock.tick
            ticks.append(t)
            if k in predictions:
                errors.append(abs(t - predictions.pop(k)) * 1000)
            if k in next_predictions:
                next_errors.append(abs(t - next_predictions.pop(k)) * 1000)
            if k >= 48:
                guess = clock.tick_time(k + 24)
                if guess is not None:
                    predictions[k + 24] = guess
                guess = clock.tick_time(k + 1)
                if guess is not None:
                    next_predictions[k + 1] = guess
            if k == 48:
                tempo_after_2 = clock.tempo_bpm
        out[bpm] = {
            "tempo_error_after_2_beats": None if tempo_after_2 is None
            else round(abs(tempo_after_2 - bpm), 3),
            "phase_error_ms": _summary(errors), "next_tick_phase_error_ms": _summary(next_errors),
            "ticks": len(ticks)}
    return out


# ---------------------------------------------------------------------------------- follow
# The sender of the follow scenario: clock while stopped, Start, 4.5 beats, Stop, a Song Position
# (beat 8), Continue, 3 beats, Stop; prints the perf_counter times of each and of every tick.
FOLLOW_SENDER = OPEN_OUT + textwrap.dedent(
    """
    target, bpm = sys.argv[1], float(sys.argv[2])
    out = open_out(target, "clk")
    time.sleep(0.3)
    period = 60.0 / (24 * bpm)
    t0 = time.perf_counter() + 0.05
    n = 0
    sent = {}
    def tick(count, position=None):
        global n
        for _ in range(count):
            due = t0 + n * period
            while time.perf_counter() < due:
                if due - time.perf_counter() > 0.002:
                    time.sleep(0.001)
            out.send_message([0xF8])
            if position is not None:
                sent[position] = time.perf_counter()
                position += 1
            n += 1
        return position
    def now(message):
        out.send_message(message)
        return time.perf_counter()
    tick(48)                                   # 2 beats of clock while stopped: the tempo
    starts = now([0xFA])
    tick(24 * 4 + 12, 0)                       # 4.5 beats: stop in the middle of a bar
    stop = now([0xFC])
    tick(24)                                   # clock goes on while stopped
    now([0xF2, 32, 0])                         # song position: 16th 32 = beat 8
    cont = now([0xFB])
    tick(24 * 3, 192)
    end = now([0xFC])
    tick(12)
    out.close_port()
    print(json.dumps({"start": starts, "stop": stop, "continue": cont, "end": end,
                      "ticks": sent}))
    """
)


def follow_errors(times: dict, sent: list[dict]) -> list[float]:
    """ms between each note-on sent (after beat 1) and the arrival of the tick it sits on."""
    ticks = {int(k): v for k, v in times["ticks"].items()}
    ons = [e for e in sent if "msg" in e and e["msg"][0] == 0x90 and e["msg"][2] > 0]
    return [(e["t"] - ticks[round(e["beat"] * 24)]) * 1000 for e in ons
            if round(e["beat"] * 24) in ticks and e["beat"] >= 1]


def bench_follow(env: dict, tmp: Path, model: str | None = None, runs: int = 3) -> dict:
    errors, panic = [], []
    for run in range(runs):
        events = tmp / f"follow{run}.jsonl"
        cmd = [sys.executable, "-m", "improv", "play", "--api", "jack", "--virtual", f"bf{run}",
               "--virtual-input", f"bf{run}", "--clock", "input", "--seed", "3", "--tempo", "180",
               "--json-events", str(events), "--session-log", str(tmp / f"follow{run}.session")]
        if model:
            cmd += ["--model", model]
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            sender = subprocess.run([sys.executable, "-c", FOLLOW_SENDER, f"improv-in:bf{run}", "100"],
                                    env=env, capture_output=True, text=True, timeout=30)
            time.sleep(0.3)
            proc.send_signal(2)
            proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        if sender.returncode != 0:
            return {"error": sender.stderr.strip()[-300:]}
        times = json.loads(sender.stdout)
        sent = [json.loads(line) for line in events.read_text().splitlines()]
        errors += follow_errors(times, sent)
        panic += [(e["t"] - times["stop"]) * 1000 for e in sent if "msg" in e
                  and times["stop"] < e["t"] < times["continue"] and e["msg"][:2] == [0xB0, 120]][:1]
    return {"note_on_vs_tick_arrival_ms": _summary([abs(x) for x in errors]),
            "stop_to_panic_ms": _summary(panic), "runs": runs}


# ---------------------------------------------------------------------------------- answers
def bench_answers(env: dict, tmp: Path, calls: int) -> dict:
    import rtmidi

    bars = 2 * calls + 2
    events = tmp / "answers.jsonl"
    cmd = [sys.executable, "-m", "improv", "play", "--api", "jack", "--virtual", "bans",
           "--virtual-input", "bans", "--mode", "respond", "--gate", "1", "--tempo", str(TEMPO),
           "--swing", "0",  # the calls are straight eighths: an answer's cell compares in straight time
           "--bars", str(bars), "--clock-out", "--seed", "4", "--json-events", str(events),
           "--session-log", str(tmp / "answers.session.jsonl")]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    rx = _Receiver()
    _player_on_time()
    player = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name="bplayer")
    player.open_virtual_port("out")
    try:
        rx.connect("bans")
        deadline = time.monotonic() + 15
        while subprocess.run(["jack_connect", "bplayer:out", "improv-in:bans"], env=env,
                             capture_output=True).returncode != 0:
            if time.monotonic() > deadline:
                raise RuntimeError("the daemon's input never appeared")
            time.sleep(0.05)
        while not any(m == (0xFA,) for _, m in list(rx.got)):
            if time.monotonic() > deadline:
                raise RuntimeError("no MIDI Start from the daemon")
            time.sleep(0.002)
        t0 = next(t for t, m in list(rx.got) if m == (0xFA,))
        gates, played = [], []
        for call in range(calls):
            start = 1.0 + call * 8.0  # a call every two bars
            played.append([[round((start + i * 0.5) * TICKS), round(0.4 * TICKS), 60 + 2 * i, 100]
                           for i in range(4)])
            for i in range(4):
                on = start + i * 0.5
                for beat, msg in ((on, [0x90, 60 + 2 * i, 100]), (on + 0.4, [0x80, 60 + 2 * i, 0])):
                    due = t0 + beat * SPB
                    while time.perf_counter() < due:
                        if due - time.perf_counter() > 0.002:
                            time.sleep(0.001)
                    player.send_message(msg)
            gates.append(t0 + (start + 1.5 + 0.4 + 1.0) * SPB)
        proc.communicate(timeout=bars * 4 * SPB + 30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        player.close_port()
        player.delete()
        rx._stop.set()
    got = list(rx.got)
    ons = [t for t, m in got if len(m) == 3 and m[0] == 0x90 and m[2] > 0]
    sent = [json.loads(line) for line in events.read_text().splitlines()]
    sent_ons = [e for e in sent if "msg" in e and e["msg"][0] == 0x90 and e["msg"][2] > 0]
    gate_to_note, slot_error, kinds = [], [], []
    for k, gate in enumerate(gates):
        first = next((t for t in ons if t > gate), None)
        if first is None:
            continue
        gate_to_note.append((first - gate) * 1000)
        beat = next((e["beat"] for e in sent_ons if e["t"] >= gate - 0.005), None)
        if beat is not None:
            slot_error.append((first - (t0 + beat * SPB)) * 1000)
        kinds.append(_reuse(played[k], sent_ons, gate, gates[k + 1] if k + 1 < len(gates) else None))
    sixteenth = SPB / 4 * 1000
    return {"gate_to_first_note_ms": _summary(gate_to_note),
            "within_a_16th": round(sum(ms <= sixteenth for ms in gate_to_note) / calls, 3) if calls else None,
            "first_note_vs_its_slot_ms": _summary(slot_error), "calls": calls,
            "answered": len(gate_to_note), "slot_ms": round(SPB / 4 * 1000, 1),
            "reuse_a_transformed_cell": round(kinds.count("cell") / calls, 3) if calls else None,
            "echo_the_whole_call": round(kinds.count("echo") / calls, 3) if calls else None}


def _player_on_time() -> None:
    """The calls are sent from this thread at SCHED_FIFO (after the daemon started: it does not inherit
    it), as a keyboard's notes come on time however loaded the daemon's machine is; a late call would
    count against the answer."""
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(5))
    except (AttributeError, OSError):
        pass


def _reuse(call: list[list[int]], sent_ons: list[dict], gate: float, next_gate: float | None) -> str | None:
    """How the answer the daemon sent after ``gate`` (until the next call) restates the call."""
    from benchmarks.bench_musicianship import reuse_of

    end = next_gate - 3 * SPB if next_gate is not None else float("inf")  # (its call starts 2.9 beats before)
    answer = [(round(e["beat"] * TICKS), e["msg"][1]) for e in sent_ons if gate - 0.005 <= e["t"] < end]
    return reuse_of(call, answer) if answer else None


def run(only_answers: bool = False) -> dict:
    result: dict = {} if only_answers else {"prime": bench_prime()}
    calls = int(os.environ.get("BENCH_CALLS", "12"))
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        server = _Server(f"benchlisten{os.getpid()}", PERIOD, tmp / "jackd.log")
        env = dict(os.environ, JACK_DEFAULT_SERVER=server.name, JACK_NO_AUDIO_RESERVATION="1",
                   IMPROV_CACHE=str(tmp))
        saved = {k: os.environ.get(k) for k in ("JACK_DEFAULT_SERVER", "JACK_NO_AUDIO_RESERVATION")}
        os.environ.update(JACK_DEFAULT_SERVER=server.name, JACK_NO_AUDIO_RESERVATION="1")
        try:
            result["jackd"] = f"dummy -p {PERIOD} ({server.mode}), period {PERIOD / 48:.2f} ms"
            if not only_answers:
                result["clock"] = bench_clock(env)
                result["follow"] = bench_follow(env, tmp)
            result["answers"] = bench_answers(env, tmp, calls)
        finally:
            server.stop()
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
    return result


def markdown(result: dict) -> str:
    lines = [f"JACK: {result.get('jackd', '-')}", ""]
    ans = result.get("answers", {})
    if ans:
        g, s = ans["gate_to_first_note_ms"], ans["first_note_vs_its_slot_ms"]
        lines += [
            f"Call and response, {ans['answered']}/{ans['calls']} calls answered (answers start on "
            f"the next 16th after the gate, {ans['slot_ms']} ms at 120 BPM):", "",
            "| measure | median | p99 | max |", "|---|---|---|---|",
            f"| gate closed -> first answer note arrives (ms) | {g['median']} | {g['p99']} | "
            f"{g['max']} |",
            f"| first answer note arrival - its grid slot (ms; target <= 20) | {s['median']} | "
            f"{s['p99']} | {s['max']} |", "",
            f"Answers whose first note arrives within a 16th of the gate (target 100 %): "
            f"{ans.get('within_a_16th')}; that restate a transformed cell of the call (target >= 50 %): "
            f"{ans.get('reuse_a_transformed_cell')}; that echo the whole call: "
            f"{ans.get('echo_the_whole_call')}", ""]
    if "clock" not in result:  # answers only
        return "\n".join(lines)
    lines += ["Clock following (24 ppqn through JACK into MidiInput + MidiClock):", "",
              "| BPM | tempo error after 2 beats (BPM; target <= 0.5) | phase error at emission "
              "(next-tick horizon) median / p99 (ms; target p99 <= period + 2) | beat-ahead "
              "phase error median / p99 (ms) |", "|---|---|---|---|"]
    for bpm, row in result.get("clock", {}).items():
        if "error" in row:
            lines.append(f"| {bpm:g} | failed: {row['error']} | |")
            continue
        ph, nx = row["phase_error_ms"], row["next_tick_phase_error_ms"]
        lines.append(f"| {bpm:g} | {row['tempo_error_after_2_beats']} | {nx['median']} / "
                     f"{nx['p99']} | {ph['median']} / {ph['p99']} |")
    follow = result.get("follow", {})
    if "note_on_vs_tick_arrival_ms" in follow:
        e, p = follow["note_on_vs_tick_arrival_ms"], follow["stop_to_panic_ms"]
        lines += ["", f"Following Start/Stop/Song Position/Continue at 100 BPM ({follow['runs']} runs; "
                  "the test's former limits 15 ms and 150 ms):", "",
                  "| measure | median | p99 | max |", "|---|---|---|---|",
                  f"| note-on sent - its tick's arrival, abs (ms) | {e['median']} | {e['p99']} | "
                  f"{e['max']} |",
                  f"| Stop -> panic CC120 sent (ms) | {p['median']} | {p['p99']} | {p['max']} |"]
    prime = result["prime"]["ms"]
    lines += ["", f"Priming a {result['prime']['notes']}-note phrase (Improviser.reseed, shipped "
              f"model): median {prime['median']} ms, p99 {prime['p99']} ms (target <= 1 ms)."]
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown(run(only_answers=sys.argv[1:] == ["answers"])))
