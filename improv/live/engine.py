"""The live engine: a generator thread keeps the notes a lookahead ahead of the clock, the emitter
thread sends them on time, the main thread handles signals, the status line and port health.

Any iterator of timed notes (onset/duration in beats, pitch, velocity) can be played; generation never
blocks emission, and a note generated too late to play on time becomes a rest (counted). Every way
out (the end of ``bars``, SIGINT/SIGTERM/SIGHUP, an error) goes through the emitter's panic.
"""

from __future__ import annotations

import json
import logging
import math
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Protocol

from improv.errors import ImprovError, InputError, RuntimeFailure
from improv.live.clock import Clock
from improv.live.recorder import Recorder
from improv.live.scheduler import PRIO_CONTROL, PRIO_FIRST, Emitter, Sink, panic_messages

log = logging.getLogger(__name__)

CLOCK_TICK, CLOCK_START, CLOCK_STOP = 0xF8, 0xFA, 0xFC
CLICK_CHANNEL = 9  # MIDI channel 10, General MIDI drums
CLICK_PITCH, CLICK_ACCENT = 37, 76  # side stick; hi wood block on the downbeat
STOP_SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP")


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

    tempo: float = 120.0
    channel: int = 0
    velocity: int | None = None  # None: the source's own dynamics
    swing: bool = False
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


def swing_beat(beat: float) -> float:
    """Swung eighths (2:1): the offbeat eighth moves from .5 to .667 of the beat."""
    whole = math.floor(beat)
    frac = beat - whole
    if frac <= 0.5:
        return whole + frac * (4.0 / 3.0)
    return whole + 2.0 / 3.0 + (frac - 0.5) * (2.0 / 3.0)


class Engine:
    """Plays a note source on a sink until ``bars`` are done, the source ends or a stop signal."""

    def __init__(self, notes: Iterable[TimedNoteLike], sink: Sink, options: EngineOptions,
                 *, chord_at: Callable[[float], str] | None = None,
                 watch: PortWatch | None = None) -> None:
        self.options = options
        self.sink = sink
        self.chord_at = chord_at
        self.watch = watch
        self.clock = Clock(options.tempo, options.latency_offset_ms)
        keep = options.json_events is not None or options.record is not None
        self.emitter = Emitter(sink, self.clock, channels=(options.channel,), keep_events=keep,
                               realtime=options.realtime, on_error=self._failed)
        if options.clock_out:
            self.emitter.stop_messages = [(CLOCK_STOP,)]
        self.recorder = Recorder(options.record, options.tempo) if options.record else None
        self._notes = iter(notes)
        self._pending: TimedNoteLike | None = None
        self._offset = float(options.count_in * options.beats_per_bar)
        self._end = (self._offset + options.bars * options.beats_per_bar
                     if options.bars is not None else None)
        self._next_tick = 0  # next MIDI clock tick (24 per beat) to queue
        self._source_done = False
        self._stop = threading.Event()
        self._reason = ""
        self._error: BaseException | None = None
        self._stop_time: float | None = None
        self.notes_queued = 0
        self.rests = 0
        self.step_ms = 0.0
        self.max_step_ms = 0.0
        self._json: IO[str] | None = None
        self._generator = threading.Thread(target=self._generate, name="improv-generator",
                                           daemon=True)

    # ------------------------------------------------------------------------------ public
    def request_stop(self, reason: str = "stop") -> None:
        """Ask the session to end (thread-safe, signal-safe)."""
        if not self._reason:
            self._reason = reason
            self._stop_time = time.perf_counter()
        self._stop.set()
        self.emitter.stop()  # the emitter thread panics at once; the main loop catches up

    def run(self) -> EngineResult:
        """Play until done; always silences the output. Raises RuntimeFailure on a failure."""
        opts = self.options
        if opts.json_events is not None:
            try:
                self._json = open(opts.json_events, "w", encoding="utf-8")  # noqa: SIM115
            except OSError as exc:
                raise InputError(f"--json-events: cannot write {opts.json_events}: {exc}") from None
        old_switch = sys.getswitchinterval()
        sys.setswitchinterval(0.001)
        previous = self._install_signals()
        try:
            self._prefill()
            # a negative latency offset sends early: start late enough that beat 0 is not late
            delay = opts.start_delay + max(0.0, -opts.latency_offset_ms / 1000.0)
            self.clock.start(time.perf_counter() + delay)
            self.emitter.start()
            self._generator.start()
            self._main_loop()
        except BaseException as exc:  # whatever happens, the panic below runs
            if self._error is None:
                self._error = exc
            self.request_stop("error")
        finally:
            self._shutdown()
            self._restore_signals(previous)
            sys.setswitchinterval(old_switch)
        return self._result()

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
            self.emitter.push(0.0, (CLOCK_START,), PRIO_FIRST)
        self._fill(opts.lookahead, check_late=False)

    def _generate(self) -> None:
        """The generator thread: keep the queue ``lookahead`` beats ahead of the clock."""
        opts = self.options
        period = min(0.02, self.clock.seconds(opts.lookahead) / 4)
        try:
            while not self._stop.is_set():
                horizon = self.clock.beat_at() + opts.lookahead
                if self._fill(horizon, check_late=True):
                    return
                self._stop.wait(period)
        except BaseException as exc:
            self._failed(exc)

    def _fill(self, horizon: float, *, check_late: bool) -> bool:
        """Queue notes and clock ticks starting before ``horizon``; True when all is queued."""
        opts, emitter, clock = self.options, self.emitter, self.clock
        end = self._end
        if end is not None:
            horizon = min(horizon, end)
        while not self._source_done and not self._stop.is_set():
            if self._pending is None:
                t0 = time.perf_counter()
                note = next(self._notes, None)
                self.step_ms = (time.perf_counter() - t0) * 1000.0
                self.max_step_ms = max(self.max_step_ms, self.step_ms)
                if note is None:
                    self._source_done = True
                    break
                self._pending = note
            note = self._pending
            onset = swing_beat(note.onset) if opts.swing else note.onset
            onset += self._offset
            if end is not None and onset >= end:
                self._source_done = True
                break
            if onset >= horizon:
                break
            self._pending = None
            if check_late and clock.time_at(onset) < time.perf_counter() + 0.001:
                self.rests += 1  # too late to play on time: a rest instead of a late burst
                continue
            stop = note.onset + note.duration
            offset = (swing_beat(stop) if opts.swing else stop) + self._offset
            if end is not None:
                offset = min(offset, end)
            velocity = opts.velocity if opts.velocity is not None else note.velocity
            emitter.push_note(onset, offset, opts.channel, int(note.pitch),
                              max(1, min(127, int(velocity))))
            self.notes_queued += 1
        if opts.clock_out:
            last = horizon if end is None else min(horizon, end)
            while self._next_tick / 24.0 < last:
                emitter.push(self._next_tick / 24.0, (CLOCK_TICK,), PRIO_CONTROL)
                self._next_tick += 1
        if not self._source_done:
            return False
        if end is not None:
            if opts.clock_out and self._next_tick / 24.0 < end:
                return False
            emitter.push(end, (), PRIO_CONTROL)  # a marker: play on to the end of the last bar
        emitter.drain()
        return True

    def _failed(self, exc: BaseException) -> None:
        if self._error is None:
            self._error = exc
        self.request_stop("error")

    # ------------------------------------------------------------------------------ main loop
    def _main_loop(self) -> None:
        opts = self.options
        tty = opts.status if opts.status is not None else sys.stderr.isatty()
        last_bar = -1
        next_watch = 0.0
        while not self._stop.is_set():
            if self.emitter.done.wait(0.1):
                self.request_stop("bars" if self._end is not None else "source ended")
                break
            self._flush_events()
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
                if bar != last_bar and beat >= 0:
                    last_bar = bar
                    log.info("%s", self.status_text(beat))
        if tty:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()

    def status_text(self, beat: float) -> str:
        """bar:beat, chord, last note, step time, late/dropped/rest counts."""
        bpb = self.options.beats_per_bar
        if beat < 0:
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
        """Move sent messages from the emitter to the JSON-lines file and the recorder."""
        events = self.emitter.events
        if events is None:
            return
        out, rec, clock = self._json, self.recorder, self.clock
        while events:
            due, sent, beat, message = events.popleft()
            if beat is None:
                beat = clock.beat_at(sent)
            if out is not None:
                record = {"t": round(sent, 6), "scheduled": None if due is None else round(due, 6),
                          "beat": round(beat - self._offset, 6), "msg": list(message)}
                out.write(json.dumps(record) + "\n")
            if rec is not None and beat >= self._offset:  # the count-in is not recorded
                rec.add(beat - self._offset, message)

    # ------------------------------------------------------------------------------ shutdown
    def _shutdown(self) -> None:
        """Stop the generator, let the emitter panic, close the port, write the files."""
        self._stop.set()
        self.emitter.stop()
        if self.emitter.join(timeout=3.0):
            self.emitter.panic()  # no-op when the emitter thread already did it
        else:
            log.error("the emitter did not stop in time; sending the panic from the main thread")
            self._panic_direct()
        if self._generator.ident is not None:
            self._generator.join(timeout=1.0)
        close = getattr(self.sink, "close", None)
        if close is not None:
            close()
        self._flush_events()
        if self._json is not None:
            self._json.close()
        if self.recorder is not None:
            self.recorder.write()

    def _panic_direct(self) -> None:
        for message in panic_messages(list(self.emitter.active), self.emitter.channels):
            try:
                self.sink.send(message)
            except Exception as exc:
                log.error("panic: %s", exc)

    def _install_signals(self) -> dict:
        if threading.current_thread() is not threading.main_thread():
            return {}
        previous = {}
        for name in STOP_SIGNALS:
            signum = getattr(signal, name, None)
            if signum is None:
                continue
            previous[signum] = signal.signal(signum, self._on_signal)
        return previous

    def _on_signal(self, signum: int, _frame: object) -> None:
        self.request_stop(f"signal {signal.Signals(signum).name}")

    @staticmethod
    def _restore_signals(previous: dict) -> None:
        for signum, handler in previous.items():
            signal.signal(signum, handler)

    def _result(self) -> EngineResult:
        stats = self.emitter.stats
        error = self._error
        result = EngineResult(
            reason=self._reason or "stop", notes=self.notes_queued, sent=stats.sent,
            late=stats.late, dropped=stats.dropped, rests_for_lateness=self.rests,
            max_late_ms=stats.max_late_ms, max_step_ms=self.max_step_ms,
            realtime=self.emitter.is_realtime, start_time=self.clock.time_at(0.0),
            first_note_time=self.emitter.first_note_time, stop_time=self._stop_time)
        if error is not None:
            if isinstance(error, ImprovError):
                raise error
            raise RuntimeFailure(f"the live engine failed: {type(error).__name__}: {error}")
        return result


class PortWatch:
    """Port health for the main loop: reopen a vanished port by name, notice a dead JACK server."""

    interval = 0.2

    def __init__(self, port, heartbeat=None) -> None:
        self.port = port
        self.heartbeat = heartbeat
        self.vanished = False

    def poll(self, channels: Iterable[int]) -> bool:
        """One health check; False when the server is gone and nothing can be sent any more."""
        if self.heartbeat is not None and not self.heartbeat.check():
            log.error("the JACK server stopped answering; output stopped")
            self.port.mark_dead()
            return False
        present = self.port.present()
        if self.vanished and present:
            if self.port.reopen():
                self.vanished = False
                log.warning("MIDI port %s is back; reconnected", self.port.label)
                for message in panic_messages((), channels):
                    self.port.send(message)
        elif not self.vanished and not present:
            self.vanished = True
            log.warning("MIDI port %s vanished; will reconnect when it returns", self.port.label)
        return True

    def close(self) -> None:
        if self.heartbeat is not None:
            self.heartbeat.close()


_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")


def note_name(pitch: int) -> str:
    """MIDI pitch as a name with octave, C4 = 60."""
    return f"{_NAMES[pitch % 12]}{pitch // 12 - 1}"


__all__ = ["Engine", "EngineOptions", "EngineResult", "NoteSource", "PortWatch", "note_name",
           "swing_beat"]
