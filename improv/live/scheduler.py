"""The emitter: a heap of timed MIDI messages sent at their due time from one dedicated thread.

Messages carry their time in beats; the beat becomes a perf_counter deadline only when it is next
(late binding, so tempo changes move future notes). The thread sleeps until shortly before the
deadline, spins the rest, sends. It alone sends notes and keeps the active-note table
``(channel, pitch) -> count``, so the panic (note-offs, CC64=0, CC123, CC120) can silence exactly
what sounds.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from improv.live.clock import Clock
from improv.midi.messages import (  # noqa: F401  (re-exported: the emitter's vocabulary)
    CC_ALL_NOTES_OFF,
    CC_ALL_SOUND_OFF,
    CC_SUSTAIN,
    CONTROL,
    NOTE_OFF,
    NOTE_ON,
    Message,
    panic_messages,
)

log = logging.getLogger(__name__)

# order of messages due on the same beat: note-offs first, then clock/controls, then note-ons
PRIO_FIRST, PRIO_OFF, PRIO_CONTROL, PRIO_ON = -1, 0, 1, 2  # FIRST: e.g. MIDI Start
STALL = 0.005  # s: a send this late is a stall, reported with what the process was doing



class Sink(Protocol):
    """Where messages go: ``OutputPort`` or anything with ``send(message) -> bool``."""

    def send(self, message: Sequence[int]) -> bool: ...


@dataclass
class EmitterStats:
    """Counters the status line and the benchmarks read."""

    sent: int = 0
    late: int = 0  # sent more than ``late_threshold`` after the deadline
    dropped: int = 0  # note-ons too late to play (their note-offs are dropped too)
    max_late_ms: float = 0.0
    retriggers: int = 0


def _try_realtime(priority: int = 5) -> bool:
    """Make the calling thread SCHED_FIFO when the OS allows it (silently no otherwise)."""
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
    except (AttributeError, OSError):
        return False
    return True


class Emitter:
    """Sends timed messages on a ``Sink`` from its own thread; ``panic`` on every way out.

    ``events`` (when ``keep_events``) receives ``(scheduled, sent, beat, message)`` per message
    sent, ``scheduled`` None for panic messages; another thread drains it.
    """

    def __init__(self, sink: Sink, clock: Clock, *, channels: Iterable[int] = (0,),
                 late_threshold: float = 0.002, max_late: float = 0.05, spin: float = 0.001,
                 keep_events: bool = False, realtime: bool = True,
                 on_error: Callable[[BaseException], None] | None = None) -> None:
        self.sink = sink
        self.clock = clock
        self.channels = set(channels)
        self.late_threshold = late_threshold
        self.max_late = max_late
        self.spin = spin
        self.realtime = realtime
        self.is_realtime = False
        self.stats = EmitterStats()
        self.active: dict[tuple[int, int], int] = {}
        self.events: deque | None = deque() if keep_events else None
        self.last_note: tuple[int, int] | None = None  # (channel, pitch) of the last note-on
        self.stop_messages: list[Message] = []  # sent first by the panic (e.g. MIDI Stop)
        self.first_note_time: float | None = None
        self.stalls: deque = deque(maxlen=256)  # (due, sent, message) of sends later than STALL
        self._on_error = on_error
        self.on_done: Callable[[], None] | None = None  # called (lock-free) when the thread ends
        self._heap: list = []
        self._seq = itertools.count()
        self._ids = itertools.count(1)
        self._dropped_ids: set[int] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._draining = False
        self._panicked = False
        self.done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="improv-emitter", daemon=True)

    # ----------------------------------------------------------------------------- producer side
    def push(self, beat: float, message: Message, prio: int = PRIO_CONTROL,
             note_id: int = 0) -> None:
        """Queue one message for ``beat``."""
        item = (beat, prio, next(self._seq), message, note_id)
        with self._lock:
            heapq.heappush(self._heap, item)
            first = self._heap[0] is item
        if first:
            self._wake.set()

    def push_note(self, onset: float, offset: float, channel: int, pitch: int,
                  velocity: int) -> int:
        """Queue a note-on and its note-off together; returns the note id."""
        note_id = next(self._ids)
        self.push(max(offset, onset), (NOTE_OFF | channel, pitch, 0), PRIO_OFF, note_id)
        self.push(onset, (NOTE_ON | channel, pitch, velocity), PRIO_ON, note_id)
        self.channels.add(channel)
        return note_id

    def cut(self, note_ids: set[int], beat: float) -> tuple[set[int], set[int]]:
        """Cut the notes ``note_ids`` short: those not started yet are dropped, those sounding get
        their note-off at ``beat`` (now: sent at once); notes already over are left alone.
        Returns (the ids that were sounding, the ids dropped).

        Call it from the thread that pushes notes (a note's two messages are then never half
        queued); the emitter thread's note bookkeeping stays its own.
        """
        if not note_ids:
            return set(), set()
        with self._lock:
            heap = self._heap
            dropped = {item[4] for item in heap if item[4] in note_ids and item[1] == PRIO_ON}
            offs = [item for item in heap if item[4] in note_ids and item[1] == PRIO_OFF
                    and item[4] not in dropped]
            heap[:] = [item for item in heap if item[4] not in note_ids]
            heapq.heapify(heap)
        for item in offs:
            self.push(beat, item[3], PRIO_OFF, item[4])
        return {item[4] for item in offs}, dropped

    def pending(self) -> int:
        """Messages waiting in the heap."""
        return len(self._heap)

    def last_beat(self) -> float | None:
        """The latest beat queued, None when empty."""
        with self._lock:
            return max((item[0] for item in self._heap), default=None)

    # ------------------------------------------------------------------------------- control
    def start(self) -> None:
        self._thread.start()

    def drain(self) -> None:
        """Finish (and panic) once every queued message has been sent."""
        self._draining = True
        self._wake.set()

    def stop(self) -> None:
        """Stop now: the thread panics and ends."""
        self._stop.set()
        self._wake.set()

    @property
    def started(self) -> bool:
        """The thread was started (it may have ended since)."""
        return self._thread.ident is not None

    @property
    def native_id(self) -> int | None:
        """The OS thread id of the emitter thread (None before it starts)."""
        return self._thread.native_id

    @property
    def running(self) -> bool:
        """The thread is sending."""
        return self._thread.is_alive()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread; True when it ended (or never started)."""
        if self._thread.ident is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    # ------------------------------------------------------------------------------ the thread
    def _run(self) -> None:
        if self.realtime:
            self.is_realtime = _try_realtime()
        try:
            self._loop()
        except BaseException as exc:  # the panic below still runs; the engine reports it
            log.exception("emitter failed")
            if self._on_error is not None:
                self._on_error(exc)
        finally:
            self.panic()
            self.done.set()
            if self.on_done is not None:
                self.on_done()

    def _loop(self) -> None:
        clock, heap, lock = self.clock, self._heap, self._lock
        perf = time.perf_counter
        while not self._stop.is_set():
            with lock:
                head = heap[0] if heap else None
            if head is None:
                if self._draining:
                    return
                self._wake.wait(0.05)
                self._wake.clear()
                continue
            due = clock.time_at(head[0])
            wait = due - perf()
            if wait > self.spin:
                self._wake.wait(min(wait - self.spin, 0.05))
                self._wake.clear()
                continue
            while perf() < due:
                pass
            self._emit_due()

    def _emit_due(self) -> None:
        """Send every message whose deadline has come."""
        clock, heap, lock = self.clock, self._heap, self._lock
        perf = time.perf_counter
        while True:
            with lock:
                if not heap:
                    return
                beat = heap[0][0]
                due = clock.time_at(beat)
                now = perf()
                if due > now + 0.0002:
                    return
                _, prio, _, message, note_id = heapq.heappop(heap)
            self._emit(message, prio, note_id, beat, due, now)

    def _emit(self, message: Message, prio: int, note_id: int, beat: float, due: float,
              now: float) -> None:
        if not message:  # a marker (e.g. the end of the last bar): nothing to send
            return
        late = now - due
        stats = self.stats
        if prio == PRIO_ON:
            if late > self.max_late:
                stats.dropped += 1
                self._dropped_ids.add(note_id)
                return
            key = (message[0] & 0x0F, message[1])
            count = self.active.get(key, 0)
            if count:
                self._send((NOTE_OFF | key[0], key[1], 0), due, beat)
                stats.retriggers += 1
            self.active[key] = count + 1
            self.last_note = key
            if self.first_note_time is None:
                self.first_note_time = now
        elif prio == PRIO_OFF:
            if note_id in self._dropped_ids:
                self._dropped_ids.discard(note_id)
                return
            key = (message[0] & 0x0F, message[1])
            count = self.active.get(key, 0)
            if count > 1:
                self.active[key] = count - 1
                return
            self.active.pop(key, None)
        if late > self.late_threshold:
            stats.late += 1
            if late > STALL:
                self.stalls.append((due, now, message))
        if late * 1000.0 > stats.max_late_ms:
            stats.max_late_ms = late * 1000.0
        self._send(message, due, beat)

    def _send(self, message: Message, due: float | None, beat: float | None) -> None:
        sent_at = time.perf_counter()
        if self.sink.send(message):
            self.stats.sent += 1
            if self.events is not None:
                self.events.append((due, sent_at, beat, message))

    # ---------------------------------------------------------------------------------- panic
    def panic(self) -> None:
        """Note-offs for every sounding note, then CC64=0, CC123, CC120 on every channel used.

        Runs once; later calls do nothing. Errors sending are logged, never raised.
        """
        with self._lock:
            if self._panicked:
                return
            self._panicked = True
            self._heap.clear()
            active = sorted(self.active)
            self.active.clear()
        beat = None
        for message in [*self.stop_messages, *panic_messages(active, self.channels)]:
            try:
                self._send(message, None, beat)
            except Exception as exc:  # keep going: the rest may still get through
                log.error("panic: sending %s failed: %s", message, exc)
