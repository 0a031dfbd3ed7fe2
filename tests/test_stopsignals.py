"""Stop signals take no locks and are never lost (improv.live.stopsignals, the engine's use of it)."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap

import pytest

from improv.live import stopsignals

# A signal lands while the main thread holds the lock of the engine's stop Event (as when a second
# Ctrl-C arrives during the first one's Event.set): a handler that took that lock would deadlock.
NESTED = textwrap.dedent("""
    import os, signal, time
    from improv.live import stopsignals
    from improv.live.build import build_engine
    from improv.live.engine import EngineOptions

    class Sink:
        def send(self, message):
            return True

    engine = build_engine([], Sink(), EngineOptions(status=False, realtime=False))
    previous = engine._install_signals()
    with engine._stop._cond:  # the lock Event.set takes
        os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.05)
    engine._wake.wait(0.5)  # the signal also woke the main loop's pipe
    print(stopsignals.received())
    engine._restore_signals(previous)
""")


def test_a_signal_inside_the_engine_s_own_lock_is_recorded_not_deadlocked():
    try:
        out = subprocess.run([sys.executable, "-c", NESTED], capture_output=True, text=True,
                             timeout=30)
    except subprocess.TimeoutExpired:
        pytest.fail("the signal handler blocked on a lock the interrupted code held")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(int(signal.SIGINT))  # the first signal wins


def test_a_swallowed_signal_exit_still_stops_the_engine():
    previous = stopsignals.install()
    try:
        stopsignals.set_mode("raise")
        try:
            signal.raise_signal(signal.SIGUSR1)
        except BaseException:  # a bare `except:` in some import swallows the SignalExit
            pass
        stopsignals.set_mode("flag")  # the engine starts: the signal is still there
        assert stopsignals.received() == signal.SIGUSR1
        stopsignals.set_mode("flag")  # a second engine in the same process starts afresh
        assert stopsignals.received() == 0
    finally:
        stopsignals.restore(previous)


def test_every_catchable_terminating_signal_is_a_stop_signal():
    for name in ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2"):
        assert getattr(signal, name) in stopsignals.STOP_SIGNALS
