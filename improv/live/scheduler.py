"""The emitter: a heap of timed MIDI messages sent at their due time from one dedicated thread.

Messages carry their time in beats; the beat becomes a deadline (the clock's seconds, perf_counter
unless a test hands a manual clock) only when it is next (late binding, so tempo changes move future
notes). The thread sleeps until shortly before the deadline, spins the rest, sends. It alone sends
notes and keeps the active-note table ``(channel, pitch) -> count``, so the panic (note-offs, CC64=0,
CC123, CC120) can silence exactly what sounds. ``silence`` is a panic the emitter survives (a
transport stop): the thread does it between two sends, so no note-on slips past it. Without the
thread (a unit test), :meth:`Emitter.send_due` sends what is due at a given time.

Threads: producers call ``push``/``push_note``/``cut``/``silence`` (one producer thread for notes);
the emitter thread alone sends while it runs. The queue's lock guards the heap and the note table.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import os
import threading
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from improv.live.clock import Clock, clock_now
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
    silences: int = 0  # panics the emitter survived (transport stops, the panic controller)
    realtime: bool = False  # the thread got SCHED_FIFO
    first_note_time: float | None = None  # when the first note-on was sent
    last_note: tuple[int, int] | None = None  # (channel, pitch) of the last note-on


@dataclass(frozen=True)
class Timing:
    """How the emitter keeps time: seconds late that count as late / drop a note-on, the spin."""

    late_threshold: float = 0.002
    max_late: float = 0.05
    spin: float = 0.001
    realtime: bool = True  # try SCHED_FIFO for the thread


# SCHED_FIFO priorities: the emitter keeps time, so it preempts the threads that feed it (the listen
# thread, then the generator), which in turn preempt every ordinary process on a loaded machine.
EMITTER_PRIORITY, LISTEN_PRIORITY, GENERATOR_PRIORITY = 5, 4, 3


def try_realtime(priority: int = EMITTER_PRIORITY) -> bool:
    """Make the calling thread SCHED_FIFO when the OS allows it (silently no otherwise)."""
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
    except (AttributeError, OSError):
        return False
    return True


class MessageQueue:
    """The heap of ``(beat, prio, seq, message, note_id)`` behind one lock; ``wake`` is set when the
    head changes (the emitter thread waits on it)."""

    def __init__(self) -> None:
        self.heap: list = []
        self.lock = threading.Lock()
        self.wake = threading.Event()
        self._count = itertools.count(1)  # push order (ties) and note ids

    def next_id(self) -> int:
        return next(self._count)

    def push(self, beat: float, message: Message, prio: int, note_id: int) -> None:
        item = (beat, prio, next(self._count), message, note_id)
        with self.lock:
            heapq.heappush(self.heap, item)
            first = self.heap[0] is item
        if first:
            self.wake.set()

    def remove(self, note_ids: set[int]) -> tuple[set[int], list]:
        """Take the messages of ``note_ids`` out: (ids whose note-on was still queued, their note-offs
        whose note-on had been sent)."""
        with self.lock:
            heap = self.heap
            dropped = {item[4] for item in heap if item[4] in note_ids and item[1] == PRIO_ON}
            offs = [item for item in heap if item[4] in note_ids and item[1] == PRIO_OFF
                    and item[4] not in dropped]
            heap[:] = [item for item in heap if item[4] not in note_ids]
            heapq.heapify(heap)
        return dropped, offs

    def pop_due(self, due_at: Callable[[float], float], now: float) -> tuple | None:
        """The head when it is due at ``now`` (within 0.2 ms), popped, with its due time."""
        with self.lock:
            if not self.heap:
                return None
            due = due_at(self.heap[0][0])
            if due > now + 0.0002:
                return None
            return heapq.heappop(self.heap), due


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
        self.now = clock_now(clock)
        self.channels = set(channels)
        self.timing = Timing(late_threshold, max_late, spin, realtime)
        self.stats = EmitterStats()
        self.active: dict[tuple[int, int], int] = {}
        self.events: deque | None = deque() if keep_events else None
        self.stop_messages: list[Message] = []  # sent first by the panic (e.g. MIDI Stop)
        self.stalls: deque = deque(maxlen=256)  # (due, sent, message) of sends later than STALL
        self.on_error = on_error
        self.on_done: Callable[[], None] | None = None  # called (lock-free) when the thread ends
        self._queue = MessageQueue()
        self._dropped_ids: set[int] = set()
        self._stop = threading.Event()
        self._draining = False
        self._panicked = False
        self._silences: deque[threading.Event] = deque()  # silence requests for the thread
        self.done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="improv-emitter", daemon=True)

    @property
    def first_note_time(self) -> float | None:
        return self.stats.first_note_time

    @property
    def last_note(self) -> tuple[int, int] | None:
        return self.stats.last_note

    @property
    def is_realtime(self) -> bool:
        return self.stats.realtime

    # ----------------------------------------------------------------------------- producer side
    def push(self, beat: float, message: Message, prio: int = PRIO_CONTROL,
             note_id: int = 0) -> None:
        """Queue one message for ``beat``."""
        self._queue.push(beat, message, prio, note_id)

    def push_note(self, onset: float, offset: float, channel: int, pitch: int,
                  velocity: int) -> int:
        """Queue a note-on and its note-off together; returns the note id."""
        note_id = self._queue.next_id()
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
        dropped, offs = self._queue.remove(note_ids)
        for item in offs:
            self.push(beat, item[3], PRIO_OFF, item[4])
        return {item[4] for item in offs}, dropped

    def pending(self) -> int:
        """Messages waiting in the heap."""
        return len(self._queue.heap)

    def last_beat(self) -> float | None:
        """The latest beat queued, None when empty."""
        with self._queue.lock:
            return max((item[0] for item in self._queue.heap), default=None)

    # ------------------------------------------------------------------------------- control
    def start(self) -> None:
        self._thread.start()

    def drain(self) -> None:
        """Finish (and panic) once every queued message has been sent."""
        self._draining = True
        self._queue.wake.set()

    def stop(self) -> None:
        """Stop now: the thread panics and ends."""
        self._stop.set()
        self._queue.wake.set()

    def silence(self, timeout: float = 1.0) -> None:
        """Drop everything queued and end every sounding note now (the panic's messages, the stop
        messages first), and keep going: later pushes play. Done by the thread while it runs."""
        if self.running:
            request = threading.Event()
            self._silences.append(request)
            self._queue.wake.set()
            if request.wait(timeout):
                return
            log.warning("the emitter did not silence in %.1f s: silencing from this thread", timeout)
        self._silence_now()

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
        if self.timing.realtime:
            self.stats.realtime = try_realtime(EMITTER_PRIORITY)
        try:
            self._loop()
        except BaseException as exc:  # the panic below still runs; the engine reports it
            log.exception("emitter failed")
            if self.on_error is not None:
                self.on_error(exc)
        finally:
            self.panic()
            while self._silences:  # a silence asked for as the thread ended: the panic did it
                self._silences.popleft().set()
            self.done.set()
            if self.on_done is not None:
                self.on_done()

    def _loop(self) -> None:
        clock, queue, perf = self.clock, self._queue, self.now
        spin = self.timing.spin
        while not self._stop.is_set():
            while self._silences:
                self._silence_now()
                self._silences.popleft().set()
            with queue.lock:
                head = queue.heap[0] if queue.heap else None
            if head is None:
                if self._draining:
                    return
                queue.wake.wait(0.05)
                queue.wake.clear()
                continue
            due = clock.time_at(head[0])
            wait = due - perf()
            if wait > spin:
                queue.wake.wait(min(wait - spin, 0.05))
                queue.wake.clear()
                continue
            while perf() < due:
                pass
            self.send_due()

    def send_due(self, now: float | None = None) -> None:
        """Send every message whose deadline has come (by ``now``: the clock's time, default its now)."""
        time_at = self.clock.time_at
        while True:
            at = self.now() if now is None else now
            popped = self._queue.pop_due(time_at, at)
            if popped is None:
                return
            (beat, prio, _, message, note_id), due = popped
            self._emit(message, prio, note_id, beat, due, at)

    def _emit(self, message: Message, prio: int, note_id: int, beat: float, due: float,
              now: float) -> None:
        if not message:  # a marker (e.g. the end of the last bar): nothing to send
            return
        late = now - due
        stats = self.stats
        if prio == PRIO_ON:
            if late > self.timing.max_late:
                stats.dropped += 1
                self._dropped_ids.add(note_id)
                return
            key = (message[0] & 0x0F, message[1])
            count = self.active.get(key, 0)
            if count:
                self._send((NOTE_OFF | key[0], key[1], 0), due, beat)
                stats.retriggers += 1
            self.active[key] = count + 1
            stats.last_note = key
            if stats.first_note_time is None:
                stats.first_note_time = now
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
        if late > self.timing.late_threshold:
            stats.late += 1
            if late > STALL:
                self.stalls.append((due, now, message))
        if late * 1000.0 > stats.max_late_ms:
            stats.max_late_ms = late * 1000.0
        self._send(message, due, beat)

    def _send(self, message: Message, due: float | None, beat: float | None) -> None:
        sent_at = self.now()
        if self.sink.send(message):
            self.stats.sent += 1
            if self.events is not None:
                self.events.append((due, sent_at, beat, message))

    # ---------------------------------------------------------------------------------- panic
    def panic(self) -> None:
        """Note-offs for every sounding note, then CC64=0, CC123, CC120 on every channel used.

        Runs once; later calls do nothing. Errors sending are logged, never raised.
        """
        with self._queue.lock:
            if self._panicked:
                return
            self._panicked = True
        self._silence_now(count=False)

    def _silence_now(self, *, count: bool = True) -> None:
        with self._queue.lock:
            self._queue.heap.clear()
            active = sorted(self.active)
            self.active.clear()
            self._dropped_ids.clear()
        if count:
            self.stats.silences += 1
        for message in [*self.stop_messages, *panic_messages(active, self.channels)]:
            try:
                self._send(message, None, None)
            except Exception as exc:  # keep going: the rest may still get through
                log.error("panic: sending %s failed: %s", message, exc)
