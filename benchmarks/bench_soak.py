"""Soak: one long `improv play` session through JACK; per 5-minute window: messages lost, xruns,
send lateness p50/p99/max, resident memory, the machine's load.

`improv play --tune "Giant Steps" --tempo 240` (shipped model, generation running, no --record) on a
JACK dummy server ``-R -S -p 64`` (synchronous, as scripts/with-midi runs it); a separate rtmidi JACK
client (poll thread, SCHED_FIFO) records. Loss =
messages the daemon logged as sent (``--json-events``) that never arrived, matched in order.
Lateness = send time - scheduled time, from the same log. Sends later than 5 ms are also logged by
the daemon with the garbage collections that overlapped them (counted here).

Run: ``python -m benchmarks.bench_soak [SECONDS]`` (default 1800; ``SOAK_MODE=async`` for a server
without ``-S``); writes benchmarks/SOAK.md and
benchmarks/soak.json.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.bench_live import ROOT, _memory_mb, _model_dir, _Receiver, _Server, _summary

TEMPO, TUNE, PERIOD = 240.0, "Giant Steps", 64
WINDOW = float(os.environ.get("SOAK_WINDOW", "300"))  # seconds
SERVER = "improvsoak"
# "sync" (-R -S, what scripts/with-midi and the tests run: the server waits for a late client) or
# "async" (-R: a late client's MIDI for that cycle is dropped)
MODES = {"sync": (["-R", "-S"],), "async": (["-R"],)}
MODE = os.environ.get("SOAK_MODE", "sync")


def _rss_mb(pid: int) -> tuple[float, float]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "RssAnon"):
            fields[key] = int(value.split()[0]) / 1024.0
    return fields.get("VmRSS", 0.0), fields.get("RssAnon", 0.0)


def _xruns(log: Path) -> dict[str, int]:
    """Xruns in the jackd log so far, by client."""
    counts: dict[str, int] = {}
    if not log.is_file():
        return counts
    for line in log.read_text(errors="replace").splitlines():
        if "xrun" not in line.lower():
            continue
        found = re.search(r"client = (\S+)", line)
        name = found.group(1) if found else "(server)"
        counts[name] = counts.get(name, 0) + 1
    return counts


def _match(sent: list[dict], got: list[tuple[float, tuple[int, ...]]]) -> tuple[list[dict], int]:
    """Walk both streams in order: a sent message that is not the next received one was lost.
    Returns the lost events and the index of the first sent message the receiver could see."""
    if not got:
        return sent, 0
    first = got[0]
    start = next((i for i, e in enumerate(sent) if tuple(e["msg"]) == first[1]
                  and e["t"] >= first[0] - 0.1), 0)
    lost, j = [], 0
    for event in sent[start:]:
        if j < len(got) and tuple(event["msg"]) == got[j][1]:
            j += 1
        else:
            lost.append(event)
    return lost, start


def soak(seconds: float = 1800.0) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="improv-soak-"))
    print(f"soak files: {tmp}", flush=True)
    model, about = _model_dir(tmp)
    jack_log = tmp / "jackd.log"
    server = _Server(SERVER, PERIOD, jack_log, MODES[MODE])
    env = dict(os.environ, JACK_DEFAULT_SERVER=SERVER, JACK_NO_AUDIO_RESERVATION="1")
    os.environ["JACK_DEFAULT_SERVER"] = SERVER
    events, err_path = tmp / "events.jsonl", tmp / "daemon.log"
    cmd = [sys.executable, "-m", "improv", "--log-level", "INFO", "play", "--api", "jack",
           "--virtual", "soak", "--tune", TUNE, "--tempo", str(TEMPO), "--model", model,
           "--seed", "1", "--json-events", str(events)]
    receiver = _Receiver()
    samples: list[dict] = []
    with open(err_path, "w") as err:
        launch = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stderr=err, stdout=subprocess.DEVNULL)
        try:
            receiver.connect("soak")
            end = launch + seconds
            while time.perf_counter() < end and proc.poll() is None:
                time.sleep(min(5.0, max(0.0, end - time.perf_counter())))
                rss, anon = _rss_mb(proc.pid)
                samples.append({"t": time.perf_counter() - launch, "rss_mb": round(rss, 2),
                                "anon_mb": round(anon, 2), "load": os.getloadavg()[0],
                                "xruns": _xruns(jack_log)})
                with open(tmp / "samples.jsonl", "a") as handle:  # kept should this process die
                    handle.write(json.dumps(samples[-1]) + "\n")
            memory = _memory_mb(proc.pid)
            stopped = time.perf_counter()
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                memory["sigint_ignored"] = True
            memory["sigint_to_exit_ms"] = round((time.perf_counter() - stopped) * 1000, 1)
            time.sleep(0.3)
        finally:
            receiver.close()
            if proc.poll() is None:
                proc.kill()
            server.stop()
    sent = [json.loads(line) for line in events.read_text().splitlines() if '"msg"' in line]
    lost, start = _match(sent, receiver.got)
    daemon_log = err_path.read_text(errors="replace")
    return {"tempo": TEMPO, "tune": TUNE, "period": PERIOD, "jackd": server.mode, "seconds": seconds,
            "model": about, "exit_code": proc.returncode, "launch": launch, **memory,
            "windows": _windows(sent[start:], lost, samples, launch, seconds),
            "messages_sent": len(sent) - start, "messages_received": len(receiver.got),
            "lost": len(lost), "lost_messages": [{"t": round(e["t"] - launch, 3), "msg": e["msg"]}
                                                  for e in lost[:50]],
            "xruns_by_client": samples[-1]["xruns"] if samples else {},
            "late_send_lines": [line for line in daemon_log.splitlines() if "late send" in line][:50],
            "daemon_errors": [line for line in daemon_log.splitlines()
                              if " ERROR " in line or "Traceback" in line][:20]}


def _windows(sent: list[dict], lost: list[dict], samples: list[dict], launch: float,
             seconds: float) -> list[dict]:
    rows, previous_xruns = [], 0
    lost_ids = {id(e) for e in lost}
    for k in range(int(-(-seconds // WINDOW))):
        lo, hi = k * WINDOW, min(seconds, (k + 1) * WINDOW)
        inside = [e for e in sent if lo <= e["t"] - launch < hi]
        late = [(e["t"] - e["scheduled"]) * 1e3 for e in inside if e["scheduled"] is not None]
        window_samples = [s for s in samples if lo < s["t"] <= hi + 1.0]
        last = window_samples[-1] if window_samples else {"rss_mb": None, "anon_mb": None,
                                                          "xruns": {}}
        xruns = sum(last["xruns"].values())
        rows.append({"minutes": f"{lo / 60:g}-{hi / 60:g}", "sent": len(inside),
                     "lost": sum(1 for e in inside if id(e) in lost_ids),
                     "xruns": xruns - previous_xruns, "lateness_ms": _summary(late),
                     "rss_mb": last["rss_mb"], "anon_mb": last["anon_mb"],
                     "load": round(max((s["load"] for s in window_samples), default=0.0), 2)})
        previous_xruns = xruns
    return rows


def markdown(r: dict) -> str:
    rows = ["| minutes | sent | lost | xruns | lateness p50 / p99 / max ms | RSS MB (anon) | load max |",
            "|---|---|---|---|---|---|---|"]
    for w in r["windows"]:
        lat = w["lateness_ms"]
        rows.append(f"| {w['minutes']} | {w['sent']} | {w['lost']} | {w['xruns']} | {lat['median']} / "
                    f"{lat['p99']} / {lat['max']} | {w['rss_mb']} ({w['anon_mb']}) | {w['load']} |")
    return "\n".join(rows)


if __name__ == "__main__":
    figures = soak(float(sys.argv[1]) if len(sys.argv) > 1 else 1800.0)
    (ROOT / "benchmarks" / "soak.json").write_text(json.dumps(figures, indent=1) + "\n")
    print(markdown(figures))
    print(json.dumps({k: v for k, v in figures.items() if k != "windows"}, indent=1))
