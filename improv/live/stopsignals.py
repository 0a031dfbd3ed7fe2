"""Stop signals without locks: every catchable terminating signal ends improv the same clean way.

A handler here never takes a lock (no ``Event.set``, no ``Queue.put``, no logging): a second signal
can land while the first handler, or the main loop, is inside any of those. What a signal does
depends on the process's phase, one module-level word the main thread sets:

* ``"exit"`` (``improv.cli`` is importing, nothing is open): ``os._exit(128 + signum)`` at once;
* ``"raise"`` (``main`` runs, the engine does not yet): raise :class:`SignalExit` once (exit code
  128 + signum, no traceback), then ``"raised"``: later signals are only recorded;
* ``"flag"`` (the engine plays, or has played): record the first signal number. C writes a byte to
  the wake pipe (``signal.set_wakeup_fd``) before the Python handler runs, so the engine's main loop,
  which waits on that pipe, wakes at once and does all the stop work itself.

Handlers are installed with ``siginterrupt(False)`` (SA_RESTART): a system call that libjack is in
when a signal lands (a socket read while a port closes) is restarted, not failed with EINTR.
SIGHUP inherited as ignored (``nohup``) stays ignored; any other stop signal inherited as ignored
(a background job of a non-interactive shell starts with SIGINT and SIGQUIT ignored) is caught like
the rest: a Ctrl-C or a parent's SIGINT must never be lost. Main thread only.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable

# the catchable signals whose default action ends the process (SIGPIPE and SIGXFSZ: Python ignores)
NAMES = ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGALRM", "SIGVTALRM",
         "SIGPROF", "SIGXCPU", "SIGIO", "SIGPWR", "SIGSTKFLT")
STOP_SIGNALS: tuple[int, ...] = tuple(getattr(signal, n) for n in NAMES if hasattr(signal, n))


class SignalExit(BaseException):  # noqa: N818 - it is how the process ends, not an error
    """A stop signal before the engine ran: leave quietly with 128 + the signal number."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum
        self.exit_code = 128 + signum


class _State:
    mode = "exit"
    received = 0  # the first signal number recorded in "flag" (or after "raise") mode


_state = _State()


def _handler(signum: int, _frame: object) -> None:
    mode = _state.mode
    if mode in ("flag", "raised"):
        if not _state.received:
            _state.received = signum
        return
    if mode == "exit":
        os._exit(128 + signum)
    _state.mode = "raised"  # one SignalExit only: a second signal must not break its unwinding
    _state.received = signum
    raise SignalExit(signum)


def install() -> dict[int, Callable | int | None]:
    """Put the handler on every stop signal (main thread only) and unblock them; returns the
    previous handlers."""
    previous: dict[int, Callable | int | None] = {}
    for signum in STOP_SIGNALS:
        try:
            old = signal.getsignal(signum)
            if old == signal.SIG_IGN and signum == getattr(signal, "SIGHUP", None):
                continue  # nohup: hanging up is meant not to stop us
            signal.signal(signum, _handler)
            signal.siginterrupt(signum, False)
        except (OSError, ValueError):  # not the main thread, or not settable here
            continue
        previous[signum] = old
    try:  # scripts/with-midi starts improv with them blocked: one pending arrives now, handled
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
    except (OSError, ValueError, AttributeError):
        pass
    return previous


def restore(previous: dict[int, Callable | int | None]) -> None:
    """Put back what :func:`install` replaced."""
    for signum, handler in previous.items():
        try:
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
        except (OSError, ValueError):
            continue


def set_mode(mode: str) -> None:
    """``"exit"``, ``"raise"`` or ``"flag"`` (see the module docstring)."""
    if mode not in ("exit", "raise", "flag"):
        raise ValueError(mode)
    if mode != "flag" or _state.mode == "flag":  # a new command, or a new engine in this process
        _state.received = 0  # before the mode: a signal in between is raised, or recorded
    # from "raised" to "flag" the signal stays: its SignalExit may have been swallowed on the way
    # (a bare ``except:`` in an import), and the engine must still stop at once
    _state.mode = mode


def mode() -> str:
    return _state.mode


def received() -> int:
    """The first stop signal recorded since the engine started listening; 0 when none."""
    return _state.received


class WakePipe:
    """A non-blocking self-pipe: signals (via ``set_wakeup_fd``) and threads wake one waiter."""

    def __init__(self) -> None:
        self.read_fd, self.write_fd = os.pipe()
        os.set_blocking(self.read_fd, False)
        os.set_blocking(self.write_fd, False)
        self._previous_fd: int | None = None

    def wake(self) -> None:
        """Lock-free and safe from any thread."""
        try:
            os.write(self.write_fd, b"\0")
        except OSError:  # full (a wake is pending anyway) or closed
            pass

    def wait(self, timeout: float) -> None:
        """Sleep until woken or ``timeout`` seconds; swallows the pending wake bytes."""
        import select

        try:
            ready, _, _ = select.select([self.read_fd], [], [], timeout)
        except (OSError, ValueError):
            return
        if ready:
            try:
                while os.read(self.read_fd, 512):
                    pass
            except OSError:
                pass

    def catch_signals(self) -> bool:
        """Make signals write to this pipe (main thread only); False where that is not possible."""
        try:
            self._previous_fd = signal.set_wakeup_fd(self.write_fd, warn_on_full_buffer=False)
        except (ValueError, OSError):
            return False
        return True

    def close(self) -> None:
        if self._previous_fd is not None:
            try:
                signal.set_wakeup_fd(self._previous_fd)
            except (ValueError, OSError):
                pass
            self._previous_fd = None
        for fd in (self.read_fd, self.write_fd):
            try:
                os.close(fd)
            except OSError:
                pass


__all__ = ["STOP_SIGNALS", "SignalExit", "WakePipe", "install", "mode", "received", "restore",
           "set_mode"]
