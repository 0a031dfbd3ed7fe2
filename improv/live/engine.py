"""The live engine: the threads, the run loop, the shutdown and the signals. The parts it runs are
built by the caller (:func:`improv.live.build.build_engine` assembles them) and passed in.

Threads. The generator thread alone drives the parts: it keeps every feeder (the soloist, the band:
:mod:`improv.live.feeder`) and the transport's clock ticks a lookahead ahead of the clock on the
emitter, and handles the inbox (events for the performer, calls, transport items) one :meth:`pump`
at a time. The listen thread runs :class:`improv.live.inputs.Inputs` (what the player, the chord
input and the followed clock send) and posts to the inbox. The emitter thread
(:class:`improv.live.scheduler.Emitter`) sends on time. The main thread waits on a wake pipe: it
handles signals, port health and telemetry (:mod:`improv.live.telemetry`), and does all the stop
work itself. Where the OS allows it the emitter, the listen and the generator threads run at SCHED_FIFO
in that order of priority (``improv.live.scheduler``); the main thread stays ordinary.

Generation never blocks emission; a note generated too late to play on time becomes a rest (counted).
Every way out (the end of ``bars``, every catchable terminating signal, an error) goes through the
emitter's panic. Signal handlers only record the signal (improv.live.stopsignals). In respond mode a
new call started while improv answers is a barge-in: the answer's sounding notes get their note-offs
at once, its queued notes are dropped (logged as skipped or cut, so replay stays exact) and improv
listens again. With chord following, a played chord makes the band cut and re-make what it had
queued past it. Beats: emitter beats (the count-in included); seconds are the clock's.
"""

from __future__ import annotations

import gc
import logging
import queue
import signal
import sys
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

from improv.errors import ImprovError, RuntimeFailure
from improv.live import stopsignals
from improv.live.bandfeed import BandFeed
from improv.live.clock import Timeline
from improv.live.feeder import Feeder, NoteSource, SoloFeeder, TimedNoteLike
from improv.live.health import PortWatch
from improv.live.inputs import ANSWER_MARGIN, Inputs, InputSource, Listening, slot_ahead
from improv.live.scheduler import (
    GENERATOR_PRIORITY,
    LISTEN_PRIORITY,
    PRIO_CONTROL,
    Emitter,
    Sink,
    try_realtime,
)
from improv.live.stalls import WATCH as GC_WATCH
from improv.live.telemetry import EngineResult, Telemetry, totals
from improv.live.transport import Transport, silence_all
from improv.midi.messages import note_name, panic_messages
from improv.perform.events import ChordEvent, Event, ParamEvent, PhraseEvent
from improv.perform.performer import Performer
from improv.perform.played import write_midi
from improv.theory.timing import DEFAULT_TEMPO

log = logging.getLogger(__name__)


@dataclass
class EngineOptions:
    """How to play; validated by the CLI (channel is 0-based here)."""

    tempo: float = DEFAULT_TEMPO
    channel: int = 0
    velocity: int | None = None  # None: the source's own dynamics (swing is the improviser's)
    bars: int | None = None  # None: until stopped
    beats_per_bar: int = 4
    count_in: int = 0  # bars of clicks before the first note
    lookahead: float = 1.0  # beats
    latency_offset_ms: float = 0.0
    clock_out: bool = False
    json_events: Path | None = None
    record: Path | None = None
    status: bool | None = None  # None: a status line when stderr is a TTY
    start_delay: float = 0.05  # seconds between the prefill and beat 0
    realtime: bool = True  # try SCHED_FIFO for the emitter, and below it for the listen and generator threads
    announce: str | None = None  # one line printed to stderr when playing starts


class Engine:
    """Runs a session: the soloist (and the band) on the emitter until ``bars`` are done, the source
    ends or a stop signal. Every part is passed in; the engine attaches its error and wake callbacks
    to the emitter and owns the threads."""

    def __init__(self, solo: SoloFeeder, sink: Sink, options: EngineOptions, *, clock, emitter: Emitter,
                 timeline: Timeline, transport: Transport, telemetry: Telemetry, inbox: queue.SimpleQueue,
                 band: BandFeed | None = None, inputs: Inputs | None = None,
                 watch: PortWatch | None = None) -> None:
        self.options = options
        self.sink = sink
        self.clock = clock
        self.emitter = emitter
        self.timeline = timeline
        self.solo = solo
        self.band = band
        self.parts: list[Feeder] = [solo, band] if band is not None else [solo]
        self.transport = transport
        self.telemetry = telemetry
        self.inputs = inputs
        self.watch = watch
        self._inbox = inbox
        self._wake = stopsignals.WakePipe()  # signals and threads wake the main loop
        self._stop = threading.Event()
        self._reason = ""
        self._error: BaseException | None = None
        self._stop_time: float | None = None  # perf_counter when the stop was requested
        self._threads = [threading.Thread(target=self._generate, name="improv-generator", daemon=True)]
        if inputs is not None:
            self._threads.append(threading.Thread(target=self._listen, name="improv-listen", daemon=True))
        emitter.on_error = self._failed
        emitter.on_done = self._wake.wake

    # ------------------------------------------------------------------------------ public
    @property
    def performer(self) -> Performer | None:
        return self.solo.performer

    @property
    def phrases(self) -> int:
        """Calls and trading turns heard."""
        return self.inputs.phrases if self.inputs is not None else 0

    @property
    def barge_ins(self) -> int:
        return self.solo.counts.barges

    def request_stop(self, reason: str = "stop") -> None:
        """Ask the session to end (thread-safe; takes locks: never call it from a signal handler)."""
        if not self._reason:
            self._reason = reason
            self._stop_time = time.perf_counter()
        self._stop.set()
        self._inbox.put(None)
        self.emitter.stop()  # the emitter thread panics at once; the main loop catches up
        self._wake.wake()

    def post(self, event: Event) -> None:
        """Hand an event to the generator thread (the performer's owner); thread-safe."""
        self._inbox.put(("event", event, None))

    def run(self) -> EngineResult:
        """Play until done; always silences the output. Raises RuntimeFailure on a failure."""
        self.telemetry.open()
        previous = self._install_signals()  # first: from here on a signal asks for a clean stop
        old_switch = sys.getswitchinterval()
        sys.setswitchinterval(0.001)
        try:
            self.prepare()
            self.emitter.start()  # (following a clock: nothing is due until it runs)
            if self.options.announce:
                sys.stderr.write(self.options.announce + "\n")
                sys.stderr.flush()
            for thread in self._threads:
                thread.start()
            self._main_loop()
        except BaseException as exc:  # whatever happens, the panic below runs
            self._failed(exc)
        finally:
            self._shutdown()
            self._restore_signals(previous)
            self._wake.close()
            sys.setswitchinterval(old_switch)
        return self._result()

    def prepare(self, at: float | None = None) -> None:
        """Queue what comes before beat 0 (the count-in, the clock's Start, the first lookahead) and
        start the clock: beat 0 at the clock's time ``at`` (default: ``start_delay`` from now). A
        followed clock starts with its transport instead. The emitter is started by :meth:`run`."""
        opts = self.options
        if self.transport.paused:
            return
        self.transport.prefill(self.emitter)
        self._fill(opts.lookahead, check_late=False)
        if at is None:
            self._settle()
            # a negative latency offset sends early: start late enough that beat 0 is not late
            at = self.timeline.now() + opts.start_delay + max(0.0, -opts.latency_offset_ms / 1000.0)
        self.clock.start(at)

    @staticmethod
    def _settle() -> None:
        """Before beat 0: what start-up built (modules, the model) leaves the collector's view, so
        a collection while playing walks only what playing allocates; collections are watched."""
        gc.freeze()
        GC_WATCH.install()

    # ---------------------------------------------------------------------------- generation
    def _generate(self) -> None:
        """The generator thread: pump until everything is queued or the session stops."""
        self._realtime("generator", GENERATOR_PRIORITY)
        try:
            while not self._stop.is_set():
                if self.pump():
                    return
        except BaseException as exc:
            self._failed(exc)

    def pump(self, *, block: bool = True) -> bool:
        """One generator pass: fill to the horizon, then handle the inbox (waiting a moment for an
        item when ``block``). True when everything up to the end is queued (the emitter drains)."""
        lookahead = self.options.lookahead
        if not self.transport.paused and self._fill(self.clock.beat_at() + lookahead, check_late=True):
            return True
        try:
            if block:
                item = self._inbox.get(timeout=min(0.02, self.clock.seconds(lookahead) / 4))
            else:
                item = self._inbox.get_nowait()
        except queue.Empty:
            return False
        while item is not None:
            self._handle(item)
            try:
                item = self._inbox.get_nowait()
            except queue.Empty:
                item = None
        return False

    def _handle(self, item: tuple) -> None:
        """One inbox item, in the generator thread."""
        kind = item[0]
        if kind == "event":
            self._event(item[1], item[2])
        elif kind == "transport":
            self.transport.handle(item[1], item[2], self.emitter, self.parts, self.timeline.beat())
        elif kind == "call":
            self._barge(item[1])

    def _event(self, event: Event, arrived: float | None) -> None:
        """An event for the performer (logged by the soloist); a played chord also re-makes the band."""
        if isinstance(event, ParamEvent) and event.param == "panic":
            silence_all(self.emitter, self.parts, self.timeline.beat())
            return
        if isinstance(event, PhraseEvent):
            self._plan(event)
            return
        band = self.band
        if isinstance(event, ChordEvent) and band is not None and band.follow and not self.transport.paused:
            self._rechord(band, event, arrived)
        else:
            self.solo.apply(event)

    def _plan(self, event: PhraseEvent) -> None:
        """A call: the answer is planned here, now, so its first slot must still be ahead once planned
        (the listen thread chose it a moment ago): ahead by the margin, or by what planning the last call
        took (a loaded machine), else the answer's first note would come too late and be dropped."""
        counts, started = self.solo.counts, self.timeline.now()
        margin = max(ANSWER_MARGIN, 1.5 * counts.plan_ms / 1000.0)
        self.solo.apply(replace(event, answer=slot_ahead(self.timeline, event.answer, started, margin)))
        counts.plan_ms = (self.timeline.now() - started) * 1000.0

    def _rechord(self, band: BandFeed, event: ChordEvent, arrived: float | None) -> None:
        """A played chord the band follows: the performer takes it, then the band cuts and re-makes what it
        had queued past it. The chord is logged with the form beat the band re-made from (``at``), so a
        replay re-makes the band from the same beat."""
        at = round(self.clock.beat_at() - band.frame.offset, 6)
        event = replace(event, at=at)
        self.solo.apply(event)
        started, now = self.timeline.now(), at + band.frame.offset
        cut, dropped = band.rechord(self.emitter, now, event.tick)
        band.fill(self.emitter, now + self.options.lookahead)  # the re-made notes, at once
        done = self.timeline.now()
        band.remake_ms.append((done - started) * 1000.0)
        if arrived is not None:
            band.reactions_ms.append((done - arrived) * 1000.0)
        log.info("band: %s from tick %d (%d notes cut, %d dropped and made again)",
                 event.symbol, event.tick, cut, dropped)

    def _barge(self, tick: int) -> None:
        """Respond mode: the player started a new call (at ``tick``) while improv answers: end the
        answer now and listen. Nothing happens when the answer is over."""
        counts = self.solo.barge(self.emitter, self.clock.beat_at(), tick)
        if counts is None:
            return
        now = self.timeline.now()
        self.telemetry.record(now, "barge", cut=counts[0], dropped=counts[1])
        log.info("barge-in at beat %.2f: the answer stops (%d notes cut, %d dropped); listening",
                 self.timeline.beat(now), *counts)

    def _fill(self, horizon: float, *, check_late: bool) -> bool:
        """Queue every part's notes and the clock ticks starting before ``horizon``; True when
        everything up to the end is queued (then the end marker goes in and the emitter drains)."""
        emitter = self.emitter
        too_late = self._too_late if check_late else None
        for part in self.parts:
            part.fill(emitter, horizon, too_late)
        self.transport.fill(emitter, horizon)
        end = self.transport.frame.end
        if not self.solo.done:
            return False
        if end is not None:
            if not self.transport.queued_to(end) or not all(p.queued_to(end) for p in self.parts):
                return False  # the band and the clock play to the end of the last bar too
            emitter.push(end, (), PRIO_CONTROL)  # a marker: play on to the end of the last bar
        emitter.drain()
        return True

    def _too_late(self, beat: float) -> bool:
        return self.clock.time_at(beat) < self.timeline.now() + 0.001

    def _failed(self, exc: BaseException) -> None:
        if self._error is None:
            self._error = exc
        self.request_stop("error")

    # ------------------------------------------------------------------------------ listening
    def _listen(self) -> None:
        """The listen thread: poll the inputs, nap when nothing came."""
        self._realtime("listen", LISTEN_PRIORITY)
        inputs = self.inputs
        try:
            while not self._stop.is_set():
                if not inputs.poll():
                    time.sleep(inputs.listening.poll_interval)
        except BaseException as exc:
            self._failed(exc)

    def _realtime(self, thread: str, priority: int) -> None:
        """SCHED_FIFO for this thread, below the emitter's, when the OS allows it: on a loaded machine
        a call's end is heard and its answer planned on time (each pass is short: the thread sleeps
        again within a lookahead, so it never holds a core)."""
        if not self.options.realtime:
            return
        if try_realtime(priority):
            log.info("%s thread: SCHED_FIFO %d", thread, priority)
        else:
            log.info("%s thread: ordinary scheduling (SCHED_FIFO needs root or rtprio)", thread)

    # ------------------------------------------------------------------------------ main loop
    def _main_loop(self) -> None:
        next_watch = 0.0
        while not self._stop.is_set():
            self._wake.wait(0.1)
            signum = stopsignals.received()
            if signum:
                self.request_stop(f"signal {signal.Signals(signum).name}")
                break
            if self.emitter.done.is_set():
                self.request_stop("bars" if self.transport.frame.end is not None else "source ended")
                break
            self.telemetry.flush(self.emitter)
            now = time.perf_counter()
            if self.watch is not None and now >= next_watch:
                next_watch = now + self.watch.interval
                if not self.watch.poll(self.emitter.channels):
                    raise RuntimeFailure("the MIDI server stopped: no more output possible")
            self.telemetry.show(self.emitter, self.solo.counts, paused=self.transport.paused)
        self.telemetry.clear_line()

    # ------------------------------------------------------------------------------ shutdown
    def _shutdown(self) -> None:
        """Stop the threads, let the emitter panic, close the port, write the files."""
        self._stop.set()
        self._inbox.put(None)
        for thread in reversed(self._threads):
            if thread.ident is not None:
                thread.join(timeout=1.0)
        self.emitter.stop()
        if self.emitter.join(timeout=3.0):
            self.emitter.panic()  # no-op when the emitter thread already did it
        else:
            log.error("the emitter did not stop in time; sending the panic from the main thread")
            self._panic_direct()
        if self.inputs is not None and self.inputs.passthrough is not None:
            self.inputs.passthrough.silence_direct()
        close = getattr(self.sink, "close", None)
        if close is not None:
            close()
        self.telemetry.close(self.emitter)
        if self.solo.log is not None:
            self.solo.log.close(notes=self.solo.logged_notes(), reason=self._reason or "stop")
        if self.options.record is not None:
            self._write_record(self.options.record)

    def _write_record(self, path: Path) -> None:
        notes = [note for part in self.parts for note in part.played]
        player = self.inputs.player if self.inputs is not None and self.inputs.player is not None else []
        write_midi(path, player, notes, tempo=self.options.tempo, beats_per_bar=self.options.beats_per_bar)
        log.info("recorded %d notes and %d player messages to %s", len(notes), len(player), path)

    def _panic_direct(self) -> None:
        for message in panic_messages(list(self.emitter.active), self.emitter.channels):
            try:
                self.sink.send(message)
            except Exception as exc:
                log.error("panic: %s", exc)

    def _install_signals(self) -> dict:
        """Every stop signal now only records itself and wakes the main loop (main thread)."""
        if threading.current_thread() is not threading.main_thread():
            return {}
        stopsignals.set_mode("flag")  # stays so: a signal after the session is over is ignored
        previous = stopsignals.install()
        self._wake.catch_signals()
        return previous

    @staticmethod
    def _restore_signals(previous: dict) -> None:
        stopsignals.restore(previous)

    def _result(self) -> EngineResult:
        error = self._error
        result = totals(self._reason or "stop", self.emitter, self.solo.counts,
                        start_time=self.clock.time_at(0.0), stop_time=self._stop_time)
        if self.band is not None:
            result.band_reactions_ms = list(self.band.reactions_ms)
            result.band_remake_ms = list(self.band.remake_ms)
            if self.band.late:
                log.info("band: %d notes skipped (too late to queue)", self.band.late)
        if error is not None:
            if isinstance(error, ImprovError):
                raise error
            raise RuntimeFailure(f"the live engine failed: {type(error).__name__}: {error}")
        return result


__all__ = ["Engine", "EngineOptions", "EngineResult", "InputSource", "Listening", "NoteSource",
           "TimedNoteLike", "note_name"]
