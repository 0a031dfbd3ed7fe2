"""A polled MIDI input: python-rtmidi ``MidiIn`` read by a small Python thread into a bounded deque.

No Python callback is installed, so nothing of ours runs in JACK's process thread (a callback waiting
for the GIL there loses messages, see the realtime spec §1a). The poll thread calls ``get_message()``
in a loop and sleeps ~0.5 ms when the queue is empty.

Timestamps are the running sum of rtmidi's delta times (stamped in the driver thread, so a late poll
does not move them), anchored to ``time.perf_counter`` by the smallest recent ``arrival - sum``.
RtMidi's JACK backend measures each delta from the previous message *including ignored ones*, so
active sensing is not ignored in rtmidi (that would lose the time between a keyboard's FE bytes);
it is dropped here instead. Sysex is ignored in rtmidi (rare; big).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable

import rtmidi

from improv.errors import InputError
from improv.live.ports import (
    DEFAULT_CLIENT,
    RTMIDI_ERRORS,
    api_name,
    close_rtmidi,
    find_port,
    input_names,
    match_ports,
    open_virtual,
    port_label,
    quiet_stderr,
)
from improv.midi.messages import ACTIVE_SENSING, SYSEX

log = logging.getLogger(__name__)


Message = tuple[bytes, float]  # raw bytes, time in perf_counter seconds


class TimeBase:
    """Message times from rtmidi deltas, anchored to a local clock by the smallest recent lag.

    ``arrival - sum_of_deltas`` is the clock offset plus the poll latency (never negative), so the
    minimum over ``window`` seconds estimates the offset; a window (not an all-time minimum) lets
    the estimate recover when deltas went missing (rtmidi queue overflow, an ignored message).
    """

    def __init__(self, window: float = 2.0) -> None:
        self.window = window
        self._sum: float | None = None
        self._candidates: deque[tuple[float, float]] = deque()  # (arrival, offset), offsets rising

    def reset(self) -> None:
        """Forget the delta sum (a port was reopened: rtmidi restarts its deltas)."""
        self._sum = None
        self._candidates.clear()

    def stamp(self, delta: float, arrival: float) -> float:
        """The time of a message with rtmidi ``delta`` that the poll thread saw at ``arrival``."""
        self._sum = 0.0 if self._sum is None else self._sum + max(0.0, delta)
        offset = arrival - self._sum
        cands = self._candidates
        while cands and cands[-1][1] >= offset:
            cands.pop()
        cands.append((arrival, offset))
        while cands[0][0] < arrival - self.window:
            cands.popleft()
        return self._sum + cands[0][1]


class MidiInput:
    """One MIDI input port (existing, by name, or virtual) polled into a bounded queue.

    Read with :meth:`get`, :meth:`drain` or :meth:`wait`. When the queue is full the oldest message
    is dropped and counted in ``dropped``. An existing port that vanishes is reopened by name.
    """

    def __init__(
        self,
        api: int,
        *,
        port: str | None = None,
        virtual: str | None = None,
        client_name: str = DEFAULT_CLIENT,
        maxlen: int = 4096,
        queue_size_limit: int = 8192,
        poll_sleep: float = 0.0005,
        check_interval: float = 0.5,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        if (port is None) == (virtual is None):
            raise InputError("choose exactly one of --input NAME or --virtual-input [NAME]")
        if maxlen < 1 or queue_size_limit < 1:
            raise ValueError("maxlen and queue_size_limit must be positive")
        self.api = api
        self.query = port
        self.virtual = virtual
        self.client_name = client_name
        self.port_name: str | None = None
        self.poll_sleep = poll_sleep
        self.check_interval = check_interval
        self.clock = clock
        self.connected = True
        self.received = 0  # messages put in the queue (including those later dropped)
        self.dropped = 0  # messages pushed out of the full queue
        self.ignored = 0  # active sensing and sysex filtered here
        self.reopened = 0
        self.settle: Callable[[], object] | None = None  # waits for the JACK graph before a port goes
        self._queue: deque[Message] = deque(maxlen=maxlen)
        self._ready = threading.Event()
        self._stop = threading.Event()
        self._time = TimeBase()
        try:
            with quiet_stderr():
                self._in = rtmidi.MidiIn(api, name=client_name, queue_size_limit=queue_size_limit)
        except RTMIDI_ERRORS as exc:
            raise InputError(f"MIDI API {api_name(api)!r} is not available: {exc}") from None
        self._in.ignore_types(sysex=True, timing=False, active_sense=False)
        try:
            if virtual is not None:
                open_virtual(self._in, self.api, virtual, "--virtual-input", "--input")
            else:
                self._open_existing(port or "")
        except BaseException:
            self._in.delete()
            raise
        self._thread = threading.Thread(target=self._run, name="improv-midi-in", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ opening

    def _open_existing(self, query: str) -> None:
        names = list(self._in.get_ports())
        index = find_port(query, names, api_name(self.api), what="input", option="--input")
        self._in.open_port(index)
        self.port_name = names[index]

    @property
    def label(self) -> str:
        """What the user sees: the opened port, or our virtual port's full name."""
        return port_label(self.api, self.client_name, self.virtual, self.port_name)

    # ------------------------------------------------------------------ reading

    def get(self) -> Message | None:
        """The oldest queued message, or None."""
        try:
            return self._queue.popleft()
        except IndexError:
            return None

    def drain(self, limit: int | None = None) -> list[Message]:
        """Up to ``limit`` queued messages (all by default), oldest first."""
        out: list[Message] = []
        while limit is None or len(out) < limit:
            item = self.get()
            if item is None:
                break
            out.append(item)
        return out

    def wait(self, timeout: float | None = None) -> bool:
        """Block until a message is queued (True) or ``timeout`` passes (False)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._queue:
            self._ready.clear()
            if self._queue:  # queued between the check and the clear
                break
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return False
            self._ready.wait(remaining)
        return True

    def __len__(self) -> int:
        return len(self._queue)

    # ------------------------------------------------------------------ the poll thread

    def _run(self) -> None:
        get_message = self._in.get_message
        queue = self._queue
        next_check = self.clock() + self.check_interval
        while not self._stop.is_set():
            try:
                item = get_message()
            except RTMIDI_ERRORS as exc:  # a dead server: keep polling the port list
                log.warning("reading MIDI input %s failed: %s", self.label, exc)
                item = None
            if item is not None:
                data, delta = item
                now = self.clock()
                t = self._time.stamp(delta, now)
                if not data or data[0] in (ACTIVE_SENSING, SYSEX):
                    self.ignored += 1
                    continue
                if len(queue) == queue.maxlen:
                    self.dropped += 1
                queue.append((bytes(data), t))
                self.received += 1
                self._ready.set()
                continue
            now = self.clock()
            if self.virtual is None and now >= next_check:
                next_check = now + self.check_interval
                self._check_port()
            time.sleep(self.poll_sleep)

    def _check_port(self) -> None:
        """Notice a vanished port; reopen it by name when it is back."""
        try:
            names = self._current_names()
        except RTMIDI_ERRORS:
            names = []
        if self.port_name in names:
            if not self.connected:
                self._reopen(names.index(self.port_name), names)
            return
        if self.connected:
            log.debug("MIDI input %s vanished; waiting for it to come back", self.port_name)
            self.connected = False
        pool = input_names(names)  # never reopen onto one of improv's own outputs
        hits = [pool[j] for j in match_ports(self.query or "", [names[i] for i in pool], api_name(self.api))]
        if len(hits) == 1:
            self._reopen(hits[0], names)

    def _current_names(self) -> list[str]:
        if self.api == rtmidi.API_LINUX_ALSA:  # old ALSA clients can list stale ports
            with quiet_stderr():
                probe = rtmidi.MidiIn(self.api, name=f"{self.client_name}-poll")
            try:
                return list(probe.get_ports())
            finally:
                probe.delete()
        return list(self._in.get_ports())

    def _reopen(self, index: int, names: list[str]) -> None:
        if self.settle is not None:
            self.settle()
        try:
            self._in.close_port()
            self._in.open_port(index)
        except RTMIDI_ERRORS as exc:
            log.warning("reopening MIDI input %s failed: %s", names[index], exc)
            return
        self._time.reset()
        self.port_name = names[index]
        self.connected = True
        self.reopened += 1
        log.info("MIDI input %s reopened", self.port_name)

    # ------------------------------------------------------------------ closing

    def close(self) -> None:
        """Stop the poll thread, then close and free the port. Safe to call twice."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=2.0)
        midi_in, self._in = getattr(self, "_in", None), None
        if midi_in is None:
            return
        close_rtmidi(midi_in, self.settle, "MIDI input")

    def __enter__(self) -> MidiInput:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
