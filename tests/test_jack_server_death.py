"""`improv play` when its JACK server dies mid-performance: it must notice, stop and exit 1.

This test runs its own jackd under a fixed dedicated name (never the session's server, which the
other JACK tests share), stops it with SIGTERM while notes flow, and checks that the daemon exits by
itself with one clear error line instead of hanging (a dead JACK server makes rtmidi's send spin
forever holding the GIL; see docs/ARCHITECTURE.md and JackWatch in improv.live.ports).
"""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import _clean_shm, _free_name, _start_jackd, _stop, require_jack

log = logging.getLogger(__name__)

SERVER_BASE = "improvdeath"  # fixed: a crashed predecessor's registry slot is reclaimed by name
EXIT_BOUND = 10.0  # seconds the daemon may take to give up after the server stops (hang guard)

# A separate JACK client (in its own process, so it has left the server before the server dies):
# connects to the daemon's output and exits once it has received a few note-ons.
_PROBE = """
import sys, time, rtmidi
want, target = int(sys.argv[1]), sys.argv[2]
midi_in = rtmidi.MidiIn(rtmidi.API_UNIX_JACK, name="deathprobe")
deadline = time.monotonic() + float(sys.argv[3])
while target not in midi_in.get_ports():
    if time.monotonic() > deadline:
        sys.exit(f"no port {target!r}: {midi_in.get_ports()}")
    time.sleep(0.01)
midi_in.open_port(midi_in.get_ports().index(target))
notes = 0
while notes < want:
    if time.monotonic() > deadline:
        sys.exit(f"only {notes} note-ons arrived")
    item = midi_in.get_message()
    if item is None:
        time.sleep(0.002)
    elif item[0][0] & 0xF0 == 0x90 and item[0][2] > 0:
        notes += 1
midi_in.close_port()
midi_in.delete()
print(notes)
"""


def _end(proc: subprocess.Popen | None) -> str:
    """SIGKILL a still-running daemon (a plain JACK client, not a server), reap it; its stderr."""
    if proc is None or proc.returncode is not None:
        return ""
    if proc.poll() is None:
        proc.kill()
    return proc.communicate(timeout=10)[1]


@pytest.mark.jack
def test_play_exits_1_when_the_jack_server_stops(tiny_model: Path, tmp_path: Path):
    require_jack()
    server = _start_jackd(_free_name(SERVER_BASE), 256, tmp_path / "jackd.log")
    daemon: subprocess.Popen | None = None
    try:
        cmd = [sys.executable, "-m", "improv", "play", "--api", "jack", "--virtual", "x",
               "--model", str(tiny_model), "--tempo", "240", "--seed", "7"]
        daemon = subprocess.Popen(cmd, env=server.env(), stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        try:
            probe = subprocess.run([sys.executable, "-c", _PROBE, "3", "improv:x", "15"],
                                   env=server.env(), capture_output=True, text=True, timeout=30)
        except subprocess.TimeoutExpired:
            pytest.fail("the probe client hung while waiting for notes")
        if probe.returncode != 0 or daemon.poll() is not None:
            err = _end(daemon)
            pytest.fail(f"no notes from improv play (probe: {probe.stderr.strip()}; "
                        f"daemon exit {daemon.returncode}: {err})")
        assert int(probe.stdout) == 3
        assert daemon.poll() is None, "improv play stopped before the server did"

        stopped = time.monotonic()
        _stop(server.process)  # SIGTERM, wait up to 10 s (SIGKILL only as a last resort)
        server_gone = time.monotonic()
        try:
            out, err = daemon.communicate(timeout=EXIT_BOUND)
        except subprocess.TimeoutExpired:
            err = _end(daemon)
            pytest.fail(f"improv play still running {EXIT_BOUND} s after the JACK server "
                        f"stopped:\n{err}")
        log.info("jackd (%s) SIGTERM -> exit %.2f s (code %s); -> improv play exit %.2f s",
                 "-R" if server.realtime else "-S", server_gone - stopped,
                 server.process.returncode, time.monotonic() - stopped)
        log.info("improv play stderr:\n%s", err)
    finally:
        _end(daemon)
        _stop(server.process)
        _clean_shm(server.name)

    assert daemon.returncode == 1, err
    assert "Traceback" not in err, err
    errors = [line for line in err.splitlines() if line.startswith("improv: error:")]
    assert len(errors) == 1, err
    assert "server" in errors[0] and ("MIDI" in errors[0] or "JACK" in errors[0]), err
    assert err.rstrip().splitlines()[-1] == errors[0], err  # the last word is that line
    assert out == ""
