"""Wait for the JACK graph to settle before a port of ours goes (main thread; seconds).

libjack answers the server's latency notifications in each client's notification thread by walking
that client's port list (``JackClient::HandleLatencyCallback``), while ``jack_port_unregister`` (what
rtmidi's ``close_port`` and ``delete`` call) erases from the same ``std::list`` in the caller's thread,
without a lock. When the two overlap the process dies with SIGSEGV in HandleLatencyCallback (jack2
#216, #340; libjack 1.9.22 bundled in python-rtmidi 1.5.8). The server keeps sending those
notifications to every client for a while after any change in the graph: a port of ours closing, a
client of ours closing, a peer connecting or leaving (measured: 2-7 more of them within 0.3 s after
a client has opened and connected). rtmidi offers no way to deactivate its clients first, so improv
waits for the graph to go quiet before each port it closes.

:class:`GraphSettle` is a ctypes JACK client whose input is connected to an rtmidi output that
never sends (only clients connected to a processing one are told); its process callback is libc's
``sched_yield`` (a synchronous server waits for every activated client each cycle). Its latency
callback is libc's ``clock_gettime`` with a buffer as its clock argument: every notification stamps
the buffer from libjack's thread with no Python and no GIL. :meth:`GraphSettle.wait` returns
once the stamp has not changed for a quiet window (at least four JACK periods).

:class:`LazySettle` is what ``improv play`` uses: the listener joins the graph only when the first port
is about to close or reopen (at the end of a session, or when a port came back), so no client of it
is woken during the session; joining stirs the graph too, and the wait outlasts that as well.
Threads: ``wait`` may be called from the main thread and an emitter's (a reopen); creation is locked.
"""

from __future__ import annotations

import ctypes
import logging
import re
import threading
import time

import rtmidi

from improv.errors import RuntimeFailure
from improv.live.ports import DEFAULT_CLIENT, libjack

log = logging.getLogger(__name__)

JACK_NO_START_SERVER = 0x01
JACK_PORT_IS_INPUT, JACK_PORT_IS_OUTPUT = 0x01, 0x02
MIDI_TYPE = b"8 bit raw midi"


class GraphSettle:
    """A silent JACK client that sees every latency notification (see the module doc)."""

    def __init__(self, client_name: str = DEFAULT_CLIENT) -> None:
        lib = libjack()
        if lib is None:
            raise RuntimeFailure("cannot follow the JACK graph: libjack not found")
        _declare(lib)
        self._lib = lib
        self._stamp = (ctypes.c_char * 32)()  # both latency modes' timespecs land in here
        status = ctypes.c_int()
        listener = lib.jack_client_open(f"{client_name}-settle".encode(), JACK_NO_START_SERVER,
                                        ctypes.byref(status))
        if not listener:
            raise RuntimeFailure(f"cannot follow the JACK graph (status 0x{status.value:x})")
        self._client = listener
        # called (mode, arg): clock_gettime(clock = the mode, timespec = our buffer), C all the way
        stamp = ctypes.cast(ctypes.CDLL(None).clock_gettime, ctypes.c_void_p)
        lib.jack_set_latency_callback(listener, stamp, ctypes.addressof(self._stamp))
        # an activated client must process every cycle (a synchronous server waits for it): libc's
        # sched_yield takes no argument and returns 0, "go on", from JACK's thread without Python
        process = ctypes.cast(ctypes.CDLL(None).sched_yield, ctypes.c_void_p)
        lib.jack_set_process_callback(listener, process, None)
        lib.jack_port_register(listener, b"in", MIDI_TYPE, JACK_PORT_IS_INPUT, 0)
        lib.jack_activate(listener)
        # only clients connected to a processing one are told: an rtmidi output that never sends
        self._peer = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name=f"{client_name}-settle-peer")
        self._peer.open_virtual_port("out")
        pattern = f"^{re.escape(client_name)}-settle-peer(-[0-9]+)?:out$".encode()
        found = lib.jack_get_ports(listener, pattern, MIDI_TYPE, JACK_PORT_IS_OUTPUT)
        if found:
            lib.jack_connect(listener, found[0], lib.jack_get_client_name(listener) + b":in")
            lib.jack_free(found)
        self.period = lib.jack_get_buffer_size(listener) / max(1, lib.jack_get_sample_rate(listener))

    @property
    def notified(self) -> bytes:
        """What the last latency notification stamped (it changes with every notification)."""
        return self._stamp.raw

    def wait(self, quiet: float = 0.02, timeout: float = 2.0) -> bool:
        """Until no latency notification came for ``quiet`` s (and four periods); False at ``timeout``."""
        if not self._client:
            return True
        window = max(quiet, 4 * self.period)
        start = last_change = time.monotonic()
        seen = self._stamp.raw
        while True:
            time.sleep(0.002)
            now = time.monotonic()
            if self._stamp.raw != seen:
                seen, last_change = self._stamp.raw, now
            elif now - last_change >= window:
                return True
            if now - start >= timeout:
                return False

    def close(self) -> None:
        """Leave the graph: the peer's port once the graph is quiet, then the listener (whose port the
        server removes with the client: nothing of it is unregistered here)."""
        client, self._client = self._client, None
        if not client:
            return
        self.wait()
        self._peer.close_port()
        self._peer.delete()
        self._lib.jack_deactivate(client)
        self._lib.jack_client_close(client)


def _declare(lib) -> None:
    """The signatures of the libjack functions a GraphSettle calls (beyond those ports.libjack declares)."""
    void, text = ctypes.c_void_p, ctypes.c_char_p
    for name in ("jack_activate", "jack_deactivate", "jack_get_buffer_size", "jack_get_sample_rate"):
        getattr(lib, name).argtypes = [void]
    for name in ("jack_set_latency_callback", "jack_set_process_callback"):
        getattr(lib, name).argtypes = [void, void, void]
    lib.jack_get_client_name.restype = text
    lib.jack_get_client_name.argtypes = [void]
    lib.jack_connect.argtypes = [void, text, text]
    lib.jack_get_ports.restype = ctypes.POINTER(text)
    lib.jack_get_ports.argtypes = [void, text, text, ctypes.c_ulong]
    lib.jack_free.argtypes = [void]
    lib.jack_port_register.restype = void
    lib.jack_port_register.argtypes = [void, text, text, ctypes.c_ulong, ctypes.c_ulong]


class LazySettle:
    """A :class:`GraphSettle` made at the first ``wait`` (none while nothing closes); a graph it cannot
    join (no server any more) is not waited for."""

    def __init__(self, client_name: str = DEFAULT_CLIENT) -> None:
        self.client_name = client_name
        self._graph: GraphSettle | None = None
        self._failed = False
        self._lock = threading.Lock()

    def wait(self) -> bool:
        with self._lock:
            if self._graph is None and not self._failed:
                try:
                    self._graph = GraphSettle(self.client_name)
                except RuntimeFailure as exc:
                    log.debug("not waiting for the JACK graph: %s", exc)
                    self._failed = True
            graph = self._graph
        return graph.wait() if graph is not None else True

    def close(self) -> None:
        with self._lock:
            graph, self._graph = self._graph, None
        if graph is not None:
            graph.close()


__all__ = ["GraphSettle", "LazySettle"]
