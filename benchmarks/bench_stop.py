"""Where live messages die, and how fast `improv play` stops.

* flood: floods of note-ons (5000/s, 2 s) from a separate rtmidi JACK sender into improv's MidiInput on
  a dummy server, in JACK's default asynchronous mode and synchronous (-S): messages lost, and the
  server's "client not finished" xruns by client. In async mode a client that did not finish its
  cycle in time has that cycle's MIDI dropped by the server: on a loaded machine the starved sender's.
* stop: `improv play` mid-note, two SIGINTs 5 ms apart (as a terminal's Ctrl-C reaching a wrapper
  and improv both): signal -> process exit, and lines of libjack noise on stderr (target: exit
  <= 0.5 s, no noise).

Run: ``python -m benchmarks.bench_stop``.
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from benchmarks.bench_live import OPEN_OUT, _model_dir, _Receiver, _Server, _summary

# A separate rtmidi client (own process, so a stuck send cannot hang the test) that sends to a port.
FLOOD_SENDER = OPEN_OUT + textwrap.dedent(
    """
    target, rate, seconds, mode = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
    out = open_out(target, "sender")
    time.sleep(0.2)
    n = ignored = 0
    total = int(rate * seconds)
    t0 = time.perf_counter()
    if mode == "clock":
        out.send_message([0xFA])
    while n < total:
        due = t0 + n / rate
        while time.perf_counter() < due:
            if due - time.perf_counter() > 0.002:
                time.sleep(0.001)
        if mode == "clock":
            out.send_message([0xF8])
        else:
            out.send_message([0x90 | (n % 16), n % 128, 1 + n % 127])
            if n % 100 == 99:  # active sensing and sysex are dropped by the input
                out.send_message([0xFE])
                ignored += 1
            if n % 1000 == 999:
                out.send_message([0xF0, 0x7D, n % 128, 0xF7])
        n += 1
    out.close_port()  # waits for the JACK ring buffer to drain
    print(n, ignored)
    """
)


def flood_loss(floods: int = 3, rate: float = 5000.0, seconds: float = 2.0) -> dict:
    """Floods of note-ons from a separate rtmidi JACK sender into improv's MidiInput, on a dummy
    server in the default asynchronous mode and in synchronous mode (-S): messages lost and the
    server's xruns by client. In async mode a client that is "not finished" in its cycle has that
    cycle's MIDI dropped by the server (the sender's, when other processes starve it)."""
    import rtmidi

    from improv.live.midi_input import MidiInput

    out = {}
    with tempfile.TemporaryDirectory() as tmpdir:
        for label, mode in (("async -R", ["-R"]), ("sync -R -S", ["-R", "-S"])):
            log = Path(tmpdir) / f"{label[:4]}.log"
            server = _Server("improvflood", 64, log, modes=(mode,))
            env = dict(os.environ, JACK_DEFAULT_SERVER=server.name, JACK_NO_AUDIO_RESERVATION="1")
            os.environ["JACK_DEFAULT_SERVER"] = server.name
            sent_total = got_total = 0
            try:
                for k in range(floods):
                    inp = MidiInput(rtmidi.API_UNIX_JACK, virtual="in", client_name=f"flood{k}")
                    sender = subprocess.Popen([sys.executable, "-c", FLOOD_SENDER, f"flood{k}:in",
                                               str(rate), str(seconds), "notes"], env=env,
                                              stdout=subprocess.PIPE, text=True)
                    got = 0
                    while sender.poll() is None:
                        if inp.wait(0.05):
                            got += len(inp.drain())
                    sent_total += int(sender.communicate()[0].split()[0])
                    time.sleep(0.2)
                    got_total += got + len(inp.drain())
                    inp.close()
            finally:
                server.stop()
            xruns: dict[str, int] = {}
            for line in log.read_text(errors="replace").splitlines():
                if "not finished" in line:
                    name = line.split("client = ")[1].split()[0]
                    xruns[name] = xruns.get(name, 0) + 1
            out[label] = {"sent": sent_total, "lost": sent_total - got_total,
                          "clients_not_finished": xruns}
    return out


def double_sigint(trials: int = 10) -> dict:
    """SIGINT twice, 5 ms apart, mid-note: exit time (ms) and libjack noise lines."""
    exits, noisy = [], 0
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        model, _ = _model_dir(tmp)
        server = _Server("improvstop", 256, tmp / "jackd.log")
        env = dict(os.environ, JACK_DEFAULT_SERVER=server.name, JACK_NO_AUDIO_RESERVATION="1",
                   IMPROV_CACHE=str(tmp))
        os.environ["JACK_DEFAULT_SERVER"] = server.name
        try:
            for k in range(trials):
                receiver = _Receiver()
                proc = subprocess.Popen([sys.executable, "-m", "improv", "play", "--api", "jack",
                                         "--virtual", f"st{k}", "--model", model, "--tempo", "240"],
                                        env=env, stderr=subprocess.PIPE, text=True)
                try:
                    receiver.connect(f"st{k}")
                    while not any(m[0] == 0x90 for _, m in list(receiver.got)):
                        time.sleep(0.005)
                    time.sleep(0.1 + 0.05 * k)
                    start = time.perf_counter()
                    proc.send_signal(signal.SIGINT)
                    time.sleep(0.005)
                    proc.send_signal(signal.SIGINT)
                    _, err = proc.communicate(timeout=30)
                    exits.append((time.perf_counter() - start) * 1000)
                    noisy += any(n in err for n in ("Cannot read socket", "Interrupted system call"))
                finally:
                    if proc.poll() is None:
                        proc.kill()
                        proc.communicate()
                    receiver.close()
        finally:
            server.stop()
    return {"trials": trials, "exit_ms": _summary(exits), "trials_with_libjack_noise": noisy,
            "exit_ms_median": round(statistics.median(exits), 1) if exits else None}


if __name__ == "__main__":
    print(json.dumps({"flood": flood_loss(), "double_sigint": double_sigint()}, indent=2))
