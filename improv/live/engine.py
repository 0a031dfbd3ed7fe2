"""The live engine: a generator thread keeps the notes a lookahead ahead of the clock, the emitter
thread sends them on time, the main thread handles signals, the status line and port health.

Any iterator of timed notes (onset/duration in beats, pitch, velocity) can be played; generation never
blocks emission, and a note generated too late to play on time becomes a rest (counted). Every way
out (the end of ``bars``, every catchable terminating signal, an error) goes through the emitter's
panic. Signal handlers only record the signal (improv.live.stopsignals); the main loop waits on a
wake pipe the signal writes to, and does all the stop work itself.

Listening (a :class:`Listening`): a listen thread reads the inputs and posts events to the
generator thread, which alone drives the performer. In respond mode a new call started while
improv answers is a barge-in: the answer's sounding notes get their note-offs at once, its queued
notes are dropped (logged as skipped or cut, so replay stays exact) and improv listens again. An
input that vanishes is reported (log and JSON events), the call it was playing ends and its echoed
notes are released; the input reopens itself by name and is reported back.
"""

from __future__ import annotations

import gc
import json
import logging
import math
import queue
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

from improv.errors import ImprovError, InputError, RuntimeFailure
from improv.live import stopsignals
from improv.live.bandfeed import BandFeed
from improv.live.clock import Clock
from improv.live.health import PortWatch
from improv.live.inputs import Passthrough
from improv.live.listener import ChordChange, Control, Listener, Phrase
from improv.live.midiclock import MidiClock, TransportClock
from improv.live.recording import MessageStore, NoteStore
from improv.live.scheduler import (
    PRIO_CONTROL,
    PRIO_FIRST,
    Emitter,
    Sink,
)
from improv.live.stalls import WATCH as GC_WATCH
from improv.live.stalls import run_delay_ms
from improv.midi.messages import (
    START,
    STOP,
    SYSEX,
    TIMING_CLOCK,
    note_name,
    panic_messages,
)
from improv.perform.log import SessionLog
from improv.perform.modes import DEFAULT_MODE, Mode
from improv.perform.performer import Performer, answer_length, answer_start, param_value
from improv.perform.played import PlayedNote, write_midi
from improv.theory.pitch import DEFAULT_REGISTER
from improv.theory.timing import DEFAULT_TEMPO, TICKS_PER_BEAT

log = logging.getLogger(__name__)

RECENT_NOTES = 512  # notes kept as objects (a cut or a barge-in may still change them)
CLICK_CHANNEL = 9  # MIDI channel 10, General MIDI drums
CLICK_PITCH, CLICK_ACCENT = 37, 76  # side stick; hi wood block on the downbeat


class TimedNoteLike(Protocol):
    """What the engine plays: ``improv.improviser.TimedNote`` or anything shaped like it."""

    onset: float
    duration: float
    pitch: int
    velocity: int


class NoteSource(Protocol):
    """An (endless or finite) iterator of timed notes with non-decreasing onsets, in beats."""

    def __iter__(self) -> Iterator[TimedNoteLike]: ...


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
    realtime: bool = True  # try SCHED_FIFO for the emitter
    announce: str | None = None  # one line printed to stderr when playing starts


@dataclass
class EngineResult:
    """What happened, for the CLI's summary line and the benchmarks."""

    reason: str  # "bars", "signal SIGINT", "source ended", "error"
    notes: int = 0
    sent: int = 0
    late: int = 0
    dropped: int = 0
    rests_for_lateness: int = 0
    max_late_ms: float = 0.0
    max_step_ms: float = 0.0
    realtime: bool = False
    start_time: float = 0.0  # perf_counter of beat 0
    first_note_time: float | None = None
    stop_time: float | None = None  # perf_counter when the stop was requested
    events: list = field(default_factory=list)


@dataclass
class InputSource:
    """One MIDI input the engine reads: ``drain(limit) -> [(bytes, perf_counter seconds)]``.

    ``role`` is "player" (phrases, controls, passthrough), "chords" (chord following only) or
    "clock" (transport only); ``clock`` True also feeds its system messages to the clock follower.
    """

    port: Any
    role: str = "player"
    clock: bool = False


@dataclass
class Listening:
    """What the engine listens to, and how."""

    sources: list[InputSource]
    listener: Listener
    chord_listener: Listener | None = None
    midiclock: MidiClock | None = None  # follow this clock (from a source with clock=True)
    passthrough: bool = False
    trade_guard: float = 0.06  # s before the end of the player's turn when it is handed over
    poll_interval: float = 0.001


class Engine:
    """Plays a note source on a sink until ``bars`` are done, the source ends or a stop signal.

    The source is any iterator of timed notes, or a :class:`Performer` (it may have nothing to
    play for a while; it gets the listening events through a queue the generator thread drains).
    """

    def __init__(self, notes: Iterable[TimedNoteLike] | Performer, sink: Sink,
                 options: EngineOptions, *, chord_at: Callable[[float], str] | None = None,
                 watch: PortWatch | None = None, listening: Listening | None = None,
                 session_log: SessionLog | None = None, band: BandFeed | None = None,
                 clock: Clock | None = None) -> None:
        self.options = options
        self.sink = sink
        self.chord_at = chord_at
        self.watch = watch
        self.listening = listening
        self.session_log = session_log
        follow = listening is not None and listening.midiclock is not None
        if follow:
            self.clock: Clock | TransportClock = TransportClock(
                listening.midiclock, options.latency_offset_ms, options.tempo)
        else:  # the clock given (e.g. Ableton Link's) or the internal one
            self.clock = clock or Clock(options.tempo, options.latency_offset_ms)
        self._keep = options.json_events is not None
        self._wake = stopsignals.WakePipe()  # signals and threads wake the main loop
        self._run_delay: float | None = None  # the emitter's CPU wait when stalls were last logged
        self.band = band  # the rhythm section, fed with the solo (improv.live.bandfeed)
        self.emitter = self._new_emitter((options.channel, *(band.channels if band else ())))
        if options.clock_out:
            self.emitter.stop_messages = [(STOP,)]
        self._retired: list = []  # stats of emitters replaced by a transport stop or a panic
        self.performer = notes if isinstance(notes, Performer) else None
        self._notes = iter(()) if self.performer is not None else iter(notes)
        self._pending: TimedNoteLike | None = None
        self._taken = 0  # notes taken from the source (queued, skipped or pending)
        self._played: dict[int, PlayedNote] = {}  # recent note index -> as queued (cuts, record)
        recording = options.record is not None
        self._recorded = NoteStore() if recording else None  # older notes, compact (--record)
        self._ids: dict[int, int] = {}  # note index -> emitter note id (recent notes, for cuts)
        self._player = MessageStore() if recording else None  # the player's messages (--record)
        self._offset = 0.0 if follow else float(options.count_in * options.beats_per_bar)
        self._end = (self._offset + options.bars * options.beats_per_bar
                     if options.bars is not None else None)
        if band is not None:
            band.offset, band.end, band.record = self._offset, self._end, recording
        self._next_tick = 0  # next MIDI clock tick (24 per beat) to queue
        self._source_done = False
        self._paused = follow  # following a clock: wait for Start / Continue
        self._stop = threading.Event()
        self._inbox: queue.SimpleQueue = queue.SimpleQueue()
        self._reason = ""
        self._error: BaseException | None = None
        self._stop_time: float | None = None
        self.notes_queued = 0
        self.rests = 0
        self.step_ms = 0.0
        self.max_step_ms = 0.0
        self.params: list[dict] = []  # parameter changes applied (also in the JSON events)
        self.phrases = 0
        self.barge_ins = 0
        self._json: IO[str] | None = None
        self._json_extra: deque = deque()
        self._generator = threading.Thread(target=self._generate, name="improv-generator",
                                           daemon=True)
        self._listener_thread = threading.Thread(target=self._listen, name="improv-listen",
                                                 daemon=True)
        # listen-thread state
        self._turn_notes: list = []
        self._turns_done: set[int] = set()
        self._turns_started: set[int] = set()
        self._stalled = False
        self._passthrough = Passthrough(sink.send)
        self._connected: dict[int, bool] = {}  # id(source) -> connected when last looked
        if listening is not None:  # listeners place what they hear on this engine's timeline
            listening.listener.to_ticks = self._to_ticks
            if listening.chord_listener is not None:
                listening.chord_listener.to_ticks = self._to_ticks

    def _new_emitter(self, channels: Iterable[int]) -> Emitter:
        emitter = Emitter(self.sink, self.clock, channels=channels, keep_events=self._keep,
                          realtime=self.options.realtime, on_error=self._failed)
        emitter.on_done = self._wake.wake
        return emitter

    # ------------------------------------------------------------------------------ public
    def request_stop(self, reason: str = "stop") -> None:
        """Ask the session to end (thread-safe; takes locks: never call it from a signal handler)."""
        if not self._reason:
            self._reason = reason
            self._stop_time = time.perf_counter()
        self._stop.set()
        self._inbox.put(None)
        self.emitter.stop()  # the emitter thread panics at once; the main loop catches up
        self._wake.wake()

    def post(self, event: dict) -> None:
        """Hand an event to the generator thread (the performer's owner); thread-safe."""
        self._inbox.put(("event", event))

    def run(self) -> EngineResult:
        """Play until done; always silences the output. Raises RuntimeFailure on a failure."""
        opts = self.options
        if opts.json_events is not None:
            try:
                self._json = open(opts.json_events, "w", encoding="utf-8")  # noqa: SIM115
            except OSError as exc:
                raise InputError(f"--json-events: cannot write {opts.json_events}: {exc}") from None
        previous = self._install_signals()  # first: from here on a signal asks for a clean stop
        old_switch = sys.getswitchinterval()
        sys.setswitchinterval(0.001)
        try:
            if not self._paused:
                self._prefill()
                # a negative latency offset sends early: start late enough that beat 0 is not late
                delay = opts.start_delay + max(0.0, -opts.latency_offset_ms / 1000.0)
                self._settle()
                self.clock.start(time.perf_counter() + delay)
                self.emitter.start()
            if opts.announce:
                sys.stderr.write(opts.announce + "\n")
                sys.stderr.flush()
            if self.listening is not None:
                self._listener_thread.start()
            self._generator.start()
            self._main_loop()
        except BaseException as exc:  # whatever happens, the panic below runs
            if self._error is None:
                self._error = exc
            self.request_stop("error")
        finally:
            self._shutdown()
            self._restore_signals(previous)
            self._wake.close()
            sys.setswitchinterval(old_switch)
        return self._result()

    @staticmethod
    def _settle() -> None:
        """Before beat 0: what start-up built (modules, the model) leaves the collector's view, so
        a collection while playing walks only what playing allocates; collections are watched."""
        gc.freeze()
        GC_WATCH.install()

    # ---------------------------------------------------------------------------- generation
    def _prefill(self) -> None:
        """Queue the count-in, the clock start and the first lookahead before beat 0."""
        opts = self.options
        if opts.count_in:
            for beat in range(int(self._offset)):
                accent = beat % opts.beats_per_bar == 0
                pitch = CLICK_ACCENT if accent else CLICK_PITCH
                self.emitter.push_note(beat, beat + 0.25, CLICK_CHANNEL, pitch,
                                       110 if accent else 80)
        if opts.clock_out:
            self.emitter.push(0.0, (START,), PRIO_FIRST)
        self._fill(opts.lookahead, check_late=False)

    def _generate(self) -> None:
        """The generator thread: apply what was heard, keep the queue ``lookahead`` beats ahead."""
        opts = self.options
        try:
            while not self._stop.is_set():
                if not self._paused:
                    horizon = self.clock.beat_at() + opts.lookahead
                    if self._fill(horizon, check_late=True):
                        return
                period = min(0.02, self.clock.seconds(opts.lookahead) / 4)
                try:
                    item = self._inbox.get(timeout=period)
                except queue.Empty:
                    continue
                while item is not None:
                    self._handle(item)
                    try:
                        item = self._inbox.get_nowait()
                    except queue.Empty:
                        item = None
        except BaseException as exc:
            self._failed(exc)

    def _handle(self, item: tuple) -> None:
        """One inbox item, in the generator thread."""
        kind = item[0]
        perf = self.performer
        if kind == "event":
            event = item[1]
            if event.get("type") == "param" and event.get("param") == "panic":
                self._silence(start=not self._paused)
                return
            if perf is None:
                return
            if self.session_log is not None:
                self.session_log.event(perf.steps, event)
            perf.apply(event)
        elif kind == "transport":
            self._transport(item[1], item[2])
        elif kind == "call":
            self._barge(item[1])

    def _transport(self, kind: str, clock_tick: int) -> None:
        """Start / Continue / Stop / Song Position from the followed clock."""
        if kind in ("stop", "stall"):
            if not self._paused:
                self._silence(start=False)
                self._paused = True
            return
        if kind == "position" and self._paused:
            return  # Continue will start there
        # start, continue, position while running, resume after a stall: play from the position
        beat = max(0, clock_tick) / 24.0
        tick = int(math.ceil(beat * TICKS_PER_BEAT))
        self._silence(start=True)
        if self.band is not None:
            self.band.jump(beat)
        if self.performer is not None:
            self.post_jump(tick)
        self._next_tick = int(math.ceil(beat * 24))
        self._paused = False

    def post_jump(self, tick: int) -> None:
        """Jump the performer (generator thread only): logged like every event."""
        event = {"type": "jump", "tick": int(tick)}
        if self.session_log is not None:
            self.session_log.event(self.performer.steps, event)
        self.performer.apply(event)

    def _silence(self, *, start: bool) -> None:
        """Note-offs for everything sounding and drop what is queued (a panic), then go on with a
        fresh emitter (started when ``start``). Generator thread only."""
        old = self.emitter
        new = self._new_emitter(old.channels)
        new.events = old.events
        self.emitter = new
        old.stop()
        if not old.join(timeout=1.0) or not old.started:
            old.panic()
        self._retired.append(old.stats)
        self._ids.clear()  # note ids are per emitter
        now = self.clock.beat_at() - self._offset
        self._forget_after(now)
        if self.band is not None:
            self.band.forget_after(now)
        if self._pending is not None:
            self._skip(self._taken - 1, "silenced")
            self._pending = None
        if start:
            new.start()

    def _forget_after(self, beat: float) -> None:
        """Notes queued but cut by a panic: drop (or shorten) them in the record and the log."""
        for index in sorted(self._played)[-64:]:
            note = self._played[index]
            if note.offset <= beat:
                continue
            if note.onset >= beat:
                del self._played[index]
                self._skip(index, "silenced")
            else:
                self._cut(index, beat)

    def _cut(self, index: int, beat: float) -> None:
        """Note ``index`` sounded but ended at ``beat``: in the record and the log."""
        note = self._played[index]
        end = max(note.onset, round(beat, 6))  # the log keeps 6 decimals: so does the record
        self._played[index] = PlayedNote(note.onset, end, note.channel, note.pitch, note.velocity)
        if self.session_log is not None:
            self.session_log.write({"type": "cut", "note": index, "offset": end})

    def _barge(self, tick: int) -> None:
        """Respond mode: the player started a new call (at ``tick``) while improv answers: end the
        answer now and listen (generator thread). Nothing happens when the answer is over."""
        perf = self.performer
        if perf is None or not perf.mode.answers or perf.answer_end is None:
            return
        now = self.clock.beat_at()
        beat = now - self._offset
        live = {index: note_id for index, note_id in self._ids.items()
                if index in self._played and self._played[index].offset > beat}
        if not live and self._pending is None and not perf.answering:
            return
        sounding, dropped = self.emitter.cut(set(live.values()), now)
        for index in sorted(live):
            del self._ids[index]
            if live[index] in sounding:
                self._cut(index, beat)
            elif live[index] in dropped:
                del self._played[index]
                self._skip(index, "barge-in")
        cut, dropped_count = len(sounding), len(dropped)
        if self._pending is not None:
            self._skip(self._taken - 1, "barge-in")
            self._pending = None
        event = {"type": "barge", "tick": int(tick)}
        if self.session_log is not None:
            self.session_log.event(perf.steps, event)
        perf.apply(event)
        self.barge_ins += 1
        self._json_extra.append({"t": round(time.perf_counter(), 6), "type": "barge",
                                 "beat": round(beat, 6), "cut": cut, "dropped": dropped_count})
        log.info("barge-in at beat %.2f: the answer stops (%d notes cut, %d dropped); listening",
                 beat, cut, dropped_count)

    def _skip(self, index: int, why: str) -> None:
        if self.session_log is not None:
            self.session_log.skip(index, why)

    def _take(self) -> TimedNoteLike | None:
        """The next note from the source; None when it ended (or the performer waits)."""
        t0 = time.perf_counter()
        if self.performer is not None:
            note = self.performer.next_note()
        else:
            note = next(self._notes, None)
            if note is None:
                self._source_done = True
        self.step_ms = (time.perf_counter() - t0) * 1000.0
        self.max_step_ms = max(self.max_step_ms, self.step_ms)
        if note is not None:
            self._taken += 1
        return note

    def _fill(self, horizon: float, *, check_late: bool) -> bool:
        """Queue notes and clock ticks starting before ``horizon``; True when all is queued."""
        opts, emitter, clock = self.options, self.emitter, self.clock
        end = self._end
        if end is not None:
            horizon = min(horizon, end)
        while not self._source_done and not self._stop.is_set():
            if self._pending is None:
                note = self._take()
                if note is None:  # the performer has nothing to play yet
                    if self.performer is not None and end is not None and horizon >= end:
                        self._source_done = True
                    break
                self._pending = note
            note = self._pending
            onset = note.onset + self._offset
            if end is not None and onset >= end:
                self._source_done = True
                break
            if onset >= horizon:
                break
            self._pending = None
            index = self._taken - 1
            if check_late and clock.time_at(onset) < time.perf_counter() + 0.001:
                self.rests += 1  # too late to play on time: a rest instead of a late burst
                self._skip(index, "late")
                continue
            offset = note.onset + note.duration + self._offset
            if end is not None:
                offset = min(offset, end)
            velocity = opts.velocity if opts.velocity is not None else note.velocity
            velocity = max(1, min(127, int(velocity)))
            note_id = emitter.push_note(onset, offset, opts.channel, int(note.pitch), velocity)
            if len(self._played) >= RECENT_NOTES:  # the oldest has ended: record it compactly
                old = self._played.pop(next(iter(self._played)))
                if self._recorded is not None:
                    self._recorded.append(old)
            self._played[index] = PlayedNote(onset - self._offset, offset - self._offset,
                                             opts.channel, int(note.pitch), velocity)
            self._ids[index] = note_id
            if len(self._ids) > 512:  # keep the recent ones: older notes have ended
                del self._ids[next(iter(self._ids))]
            self.notes_queued += 1
        if self.band is not None:
            late = (lambda beat: clock.time_at(beat) < time.perf_counter() + 0.001) if check_late else None
            self.band.fill(emitter, horizon, too_late=late)
        if opts.clock_out:
            last = horizon if end is None else min(horizon, end)
            while self._next_tick / 24.0 < last:
                emitter.push(self._next_tick / 24.0, (TIMING_CLOCK,), PRIO_CONTROL)
                self._next_tick += 1
        if not self._source_done or not self._queued_to_end():
            return False
        if end is not None:
            emitter.push(end, (), PRIO_CONTROL)  # a marker: play on to the end of the last bar
        emitter.drain()
        return True

    def _queued_to_end(self) -> bool:
        """Whether the clock ticks and the band are queued up to the end of the last bar, if any."""
        end = self._end
        if end is None:
            return True
        if self.options.clock_out and self._next_tick / 24.0 < end:
            return False
        return self.band is None or self.band.queued_to(end)  # the band plays to the end too

    def _failed(self, exc: BaseException) -> None:
        if self._error is None:
            self._error = exc
        self.request_stop("error")

    # ------------------------------------------------------------------------------ listening
    def _listen(self) -> None:
        """The listen thread: read the inputs, feed the listener and the clock, post events."""
        lis = self.listening
        try:
            while not self._stop.is_set():
                got = False
                for source in lis.sources:
                    for data, t in source.port.drain(256):
                        got = True
                        self._on_message(source, data, t)
                now = time.perf_counter()
                self._events(lis.listener.poll(now), now)
                self._check_turn(now)
                self._check_clock(now)
                self._check_inputs(now)
                if not got:
                    time.sleep(lis.poll_interval)
        except BaseException as exc:
            self._failed(exc)

    def _on_message(self, source: InputSource, data: bytes, t: float) -> None:
        if not data:
            return
        lis = self.listening
        if data[0] >= SYSEX:
            if source.clock and lis.midiclock is not None:
                lis.midiclock.feed(data, t)
                self.clock.update()
                self._clock_events(t)
            return
        if source.role == "clock":
            return
        if source.role == "chords":
            if lis.chord_listener is not None:
                self._events(lis.chord_listener.feed(data, t), t)
            return
        beat = self.clock.beat_at(t) - self._offset
        message = tuple(data)
        if self._player is not None:
            self._player.append(beat, message)
        if self.session_log is not None:
            self.session_log.input(beat, message)
        if lis.passthrough:
            self._thru(message)
        in_call = lis.listener.in_call
        self._events(lis.listener.feed(data, t), t)
        if self._mode.answers and not in_call and lis.listener.in_call:
            self._inbox.put(("call", int(self._to_ticks(t))))  # a barge-in if improv answers

    @property
    def _mode(self) -> Mode:
        """The performer's mode (stored once, in its settings; Solo without a performer)."""
        return self.performer.mode if self.performer is not None else DEFAULT_MODE

    def _to_ticks(self, t: float) -> float:
        return (self.clock.beat_at(t) - self._offset) * TICKS_PER_BEAT

    def _events(self, events: list, t: float) -> None:
        for event in events:
            if isinstance(event, Phrase):
                self._phrase(event, t)
            elif isinstance(event, ChordChange):
                self.post({"type": "chord", "tick": int(event.tick), "symbol": event.symbol})
            elif isinstance(event, Control):
                self._control(event, t)

    def _phrase(self, phrase: Phrase, t: float) -> None:
        notes = [[n.onset, n.duration, n.pitch, n.velocity] for n in phrase.notes]
        if self._mode.trades:
            self._turn_notes.extend(notes)
            return
        if not notes:
            return
        self.phrases += 1
        perf = self.performer
        start = answer_start(phrase.end)
        now = time.perf_counter()
        while self.clock.time_at(start / TICKS_PER_BEAT + self._offset) < now + 0.004:
            start += 3  # the slot must still be ahead of us
        bpb = self.options.beats_per_bar
        bars = perf.settings.response_bars if perf is not None else None
        length = answer_length(phrase.end - phrase.start, bars, bpb)
        log.info("call ended (%s): %d notes; answer at tick %d for %d ticks", phrase.reason,
                 len(notes), start, length)
        self.post({"type": "phrase", "notes": notes, "start": phrase.start, "end": phrase.end,
                   "reason": phrase.reason, "answer": start, "length": length})

    def _control(self, control: Control, t: float) -> None:
        perf = self.performer
        low, high = (perf.imp.register.low, perf.imp.register.high) if perf else DEFAULT_REGISTER
        value = param_value(control.param, control.value, low, high)
        if control.param == "gate":
            return  # the listener ended the call already
        event = {"type": "param", "param": control.param, "value": value, "raw": control.raw}
        self.post(event)
        record = {"t": round(t, 6), "type": "param", "param": control.param, "value": value,
                  "cc": control.cc, "raw": control.raw,
                  "beat": round(self.clock.beat_at(t) - self._offset, 6)}
        self.params.append(record)
        self._json_extra.append(record)
        log.info("%s = %s (CC%d %d)", control.param, value, control.cc, control.raw)

    def _check_turn(self, now: float) -> None:
        """Trading: hand the player's turn over just before it ends; forget what came before."""
        perf = self.performer
        if perf is None or not perf.mode.trades or self._paused:
            return
        tick = self._to_ticks(now)
        block_ticks = perf.block_ticks
        block = int(tick // block_ticks)
        if tick < 0 or block % 2 == 0:
            return
        if block not in self._turns_started:
            self._turns_started.add(block)
            self.listening.listener.flush(now)  # notes before the turn are not the call
            self._turn_notes = []
        guard = self.listening.trade_guard / self.clock.seconds_per_beat * TICKS_PER_BEAT
        if block in self._turns_done or tick < (block + 1) * block_ticks - guard:
            return
        self._turns_done.add(block)
        for phrase in self.listening.listener.flush(now):
            self._turn_notes.extend([n.onset, n.duration, n.pitch, n.velocity]
                                    for n in phrase.notes)
        first = block * block_ticks - 3
        notes = sorted(n for n in self._turn_notes if n[0] >= first)
        self._turn_notes = []
        self.phrases += 1
        self.post({"type": "turn", "block": block, "notes": notes})

    def _clock_events(self, t: float) -> None:
        midiclock = self.listening.midiclock
        for event in midiclock.drain_events():
            if event.kind in ("start", "continue", "stop", "position"):
                log.info("clock %s at song position %d", event.kind, event.tick)
                self._inbox.put(("transport", event.kind, event.tick))
            else:
                log.info("clock %s (tempo %.1f BPM)", event.kind, midiclock.tempo_bpm or 0.0)
        if self._stalled and midiclock.running:
            self._stalled = False
            log.warning("the MIDI clock is back; resuming at song position %d", midiclock.tick)
            self._inbox.put(("transport", "resume", midiclock.tick + 1))

    def _check_clock(self, now: float) -> None:
        midiclock = None if self.listening is None else self.listening.midiclock
        if midiclock is None or not midiclock.running or self._stalled:
            return
        if midiclock.period is not None and midiclock.is_stale(now):
            self._stalled = True
            log.warning("the MIDI clock stopped arriving (no Stop): silent until it returns")
            self._inbox.put(("transport", "stall", midiclock.tick + 1))

    def _check_inputs(self, now: float) -> None:
        """Report an input that vanished or came back (each input reopens itself by name)."""
        for source in self.listening.sources:
            connected = bool(getattr(source.port, "connected", True))
            if self._connected.get(id(source), True) == connected:
                continue
            self._connected[id(source)] = connected
            label = getattr(source.port, "label", "?")
            self._json_extra.append({
                "t": round(now, 6), "type": "input", "role": source.role, "port": label,
                "state": "back" if connected else "vanished",
                "beat": round(self.clock.beat_at(now) - self._offset, 6)})
            if connected:
                log.warning("the %s input %s is back: listening again", source.role, label)
            else:
                log.warning("the %s input %s vanished: its call ends, its notes are released; "
                            "it is reopened by name when it returns", source.role, label)
                self._input_lost(source, now)

    def _input_lost(self, source: InputSource, now: float) -> None:
        """End what a vanished input left open: the call, held keys, pedals, echoed notes."""
        lis = self.listening
        if source.role == "player":
            self._events(lis.listener.flush(now), now)
            lis.listener.reset()
            for message in self._passthrough.releases():
                self._thru(message)
        elif source.role == "chords" and lis.chord_listener is not None:
            lis.chord_listener.reset()

    def _thru(self, message: tuple[int, ...]) -> None:
        """Echo the player to the output, through the emitter's note bookkeeping while it runs."""
        emitter = self.emitter
        direct = self._paused or not emitter.running
        self._passthrough.echo(message, None if direct else emitter, self.clock.beat_at)

    # ------------------------------------------------------------------------------ main loop
    def _main_loop(self) -> None:
        opts = self.options
        tty = opts.status if opts.status is not None else sys.stderr.isatty()
        last_bar = -1
        next_watch = 0.0
        while not self._stop.is_set():
            emitter = self.emitter
            self._wake.wait(0.1)
            signum = stopsignals.received()
            if signum:
                self.request_stop(f"signal {signal.Signals(signum).name}")
                break
            if emitter.done.is_set() and emitter is self.emitter:
                self.request_stop("bars" if self._end is not None else "source ended")
                break
            self._flush_events()
            self._log_stalls()
            now = time.perf_counter()
            if self.watch is not None and now >= next_watch:
                next_watch = now + self.watch.interval
                if not self.watch.poll(self.emitter.channels):
                    raise RuntimeFailure("the MIDI server stopped: no more output possible")
            beat = self.clock.beat_at() - self._offset
            if tty:
                sys.stderr.write("\r" + self.status_text(beat) + "\x1b[K")
                sys.stderr.flush()
            else:
                bar = math.floor(beat / opts.beats_per_bar)
                if bar != last_bar and beat >= 0 and not self._paused:
                    last_bar = bar
                    log.info("%s", self.status_text(beat))
        if tty:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()

    def status_text(self, beat: float) -> str:
        """bar:beat, chord, last note, step time, late/dropped/rest counts."""
        bpb = self.options.beats_per_bar
        if self._paused:
            where = "stopped"
        elif beat < 0:
            where = f"count-in {int(math.floor(beat + self._offset)) % bpb + 1}"
        else:
            where = f"{int(beat // bpb) + 1}:{int(beat % bpb) + 1}"
        chord = self.chord_at(max(0.0, beat)) if self.chord_at is not None else ""
        last = self.emitter.last_note
        name = note_name(last[1]) if last and last[0] == self.options.channel else "-"
        stats = self.emitter.stats
        return (f"{where:>8}  {chord:<8} note {name:<4} step {self.step_ms:5.1f} ms  "
                f"late {stats.late}  dropped {stats.dropped}  rests {self.rests}")

    def _flush_events(self) -> None:
        """Move sent messages from the emitter to the JSON-lines file."""
        events = self.emitter.events
        out, clock = self._json, self.clock
        while self._json_extra:
            record = self._json_extra.popleft()
            if out is not None:
                out.write(json.dumps(record) + "\n")
        if events is None:
            return
        while events:
            due, sent, beat, message = events.popleft()
            if beat is None:
                beat = clock.beat_at(sent)
            if out is not None:
                record = {"t": round(sent, 6), "scheduled": None if due is None else round(due, 6),
                          "beat": round(beat - self._offset, 6), "msg": list(message)}
                out.write(json.dumps(record) + "\n")

    def _log_stalls(self) -> None:
        """Log each send later than scheduler.STALL with the collections that overlapped it and
        how long the emitter thread waited for a CPU since the last look (main loop, every 0.1 s)."""
        delay = run_delay_ms(self.emitter.native_id)
        waited = None if delay is None or self._run_delay is None else delay - self._run_delay
        self._run_delay = delay
        stalls = self.emitter.stalls
        while stalls:
            due, sent, message = stalls.popleft()
            cpu = "" if waited is None else f"; the emitter waited {waited:.1f} ms for a CPU lately"
            log.info("late send: %.1f ms after its time (%s): %s%s", (sent - due) * 1e3,
                     " ".join(f"{b:02X}" for b in message), GC_WATCH.during(due, sent), cpu)

    # ------------------------------------------------------------------------------ shutdown
    def _shutdown(self) -> None:
        """Stop the threads, let the emitter panic, close the port, write the files."""
        self._stop.set()
        self._inbox.put(None)
        if self._listener_thread.ident is not None:
            self._listener_thread.join(timeout=1.0)
        if self._generator.ident is not None:
            self._generator.join(timeout=1.0)
        self.emitter.stop()
        if self.emitter.join(timeout=3.0):
            self.emitter.panic()  # no-op when the emitter thread already did it
        else:
            log.error("the emitter did not stop in time; sending the panic from the main thread")
            self._panic_direct()
        self._passthrough.silence_direct()
        close = getattr(self.sink, "close", None)
        if close is not None:
            close()
        self._flush_events()
        self._log_stalls()
        if self._json is not None:
            self._json.close()
        if self.session_log is not None:
            taken = self._taken - (1 if self._pending is not None else 0)
            self.session_log.close(notes=taken, reason=self._reason or "stop")
        if self.options.record is not None:
            notes = [*self._recorded, *(self._played[k] for k in sorted(self._played))]
            notes += self.band.played if self.band is not None else []
            write_midi(self.options.record, self._player, notes, tempo=self.options.tempo,
                       beats_per_bar=self.options.beats_per_bar)
            log.info("recorded %d notes and %d player messages to %s", len(notes),
                     len(self._player), self.options.record)

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
        all_stats = [*self._retired, self.emitter.stats]
        error = self._error
        result = EngineResult(
            reason=self._reason or "stop", notes=self.notes_queued,
            sent=sum(s.sent for s in all_stats), late=sum(s.late for s in all_stats),
            dropped=sum(s.dropped for s in all_stats), rests_for_lateness=self.rests,
            max_late_ms=max(s.max_late_ms for s in all_stats), max_step_ms=self.max_step_ms,
            realtime=self.emitter.is_realtime, start_time=self.clock.time_at(0.0),
            first_note_time=self.emitter.first_note_time, stop_time=self._stop_time)
        if error is not None:
            if isinstance(error, ImprovError):
                raise error
            raise RuntimeFailure(f"the live engine failed: {type(error).__name__}: {error}")
        return result


__all__ = ["Engine", "EngineOptions", "EngineResult", "InputSource", "Listening",
           "NoteSource", "note_name"]
