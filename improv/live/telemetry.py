"""What a live session shows and writes that replay does not need: the status line (on a TTY; else
one log line per bar), the JSON-lines event file (every message sent, plus records other threads
hand in: parameter changes, barge-ins, inputs vanishing), late sends with what overlapped them, and
the totals (:class:`EngineResult`).

The main thread calls :meth:`Telemetry.show`, :meth:`Telemetry.flush` and :meth:`Telemetry.close`;
:meth:`Telemetry.record` may be called from any thread (a deque append). Beats in records are form
beats (the count-in taken off); times are the clock's seconds (perf_counter).
"""

from __future__ import annotations

import json
import logging
import math
import sys
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from improv.errors import InputError
from improv.live.feeder import SoloCounts
from improv.live.scheduler import Emitter
from improv.live.stalls import WATCH as GC_WATCH
from improv.live.stalls import run_delay_ms
from improv.midi.messages import note_name

log = logging.getLogger(__name__)


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
    band_reactions_ms: list = field(default_factory=list)  # chord following: chord heard -> band re-made
    band_remake_ms: list = field(default_factory=list)  # of which the cut and the re-making


def totals(reason: str, emitter: Emitter, counts: SoloCounts, *, start_time: float,
           stop_time: float | None) -> EngineResult:
    """The session's totals from the emitter's and the soloist's counters."""
    stats = emitter.stats
    return EngineResult(
        reason=reason, notes=counts.queued, sent=stats.sent, late=stats.late, dropped=stats.dropped,
        rests_for_lateness=counts.rests, max_late_ms=stats.max_late_ms, max_step_ms=counts.max_step_ms,
        realtime=stats.realtime, start_time=start_time, first_note_time=stats.first_note_time,
        stop_time=stop_time)


class Telemetry:
    """The status line, the JSON event file and late-send reports of one session."""

    def __init__(self, *, json_path: Path | None = None, status: bool | None = None,
                 beats_per_bar: int = 4, channel: int = 0, offset: float = 0.0,
                 beat_at: Callable[..., float], chord_at: Callable[[float], str] | None = None) -> None:
        self.json_path = json_path
        self.tty = status if status is not None else sys.stderr.isatty()
        self.beats_per_bar = beats_per_bar
        self.channel = channel  # the solo's channel: the status line names its last note
        self.offset = offset  # emitter beat of form beat 0
        self.beat_at = beat_at  # the clock's beat_at (emitter beats)
        self.chord_at = chord_at
        self._json: IO[str] | None = None
        self._extra: deque[dict] = deque()
        self._last_bar = -1
        self._run_delay: float | None = None  # the emitter's CPU wait when stalls were last logged

    def open(self) -> None:
        """Open the JSON event file (InputError when it cannot be written)."""
        if self.json_path is not None:
            try:
                self._json = open(self.json_path, "w", encoding="utf-8")  # noqa: SIM115
            except OSError as exc:
                raise InputError(f"--json-events: cannot write {self.json_path}: {exc}") from None

    def record(self, t: float, kind: str, **fields: object) -> None:
        """A record for the event file at time ``t`` (any thread), with its form beat."""
        self._extra.append({"t": round(t, 6), "type": kind, **fields,
                            "beat": round(self.beat_at(t) - self.offset, 6)})

    def add(self, record: dict) -> None:
        """A record as it is (any thread)."""
        self._extra.append(record)

    # ------------------------------------------------------------------ main thread
    def show(self, emitter: Emitter, counts: SoloCounts, *, paused: bool) -> None:
        """The status line (TTY) or a log line when a new bar starts."""
        beat = self.beat_at() - self.offset
        if self.tty:
            sys.stderr.write("\r" + self.status_text(beat, emitter, counts, paused=paused) + "\x1b[K")
            sys.stderr.flush()
            return
        bar = math.floor(beat / self.beats_per_bar)
        if bar != self._last_bar and beat >= 0 and not paused:
            self._last_bar = bar
            log.info("%s", self.status_text(beat, emitter, counts, paused=paused))

    def status_text(self, beat: float, emitter: Emitter, counts: SoloCounts, *, paused: bool) -> str:
        """bar:beat, chord, last note, step time, late/dropped/rest counts."""
        bpb = self.beats_per_bar
        if paused:
            where = "stopped"
        elif beat < 0:
            where = f"count-in {int(math.floor(beat + self.offset)) % bpb + 1}"
        else:
            where = f"{int(beat // bpb) + 1}:{int(beat % bpb) + 1}"
        chord = self.chord_at(max(0.0, beat)) if self.chord_at is not None else ""
        last = emitter.last_note
        name = note_name(last[1]) if last and last[0] == self.channel else "-"
        stats = emitter.stats
        return (f"{where:>8}  {chord:<8} note {name:<4} step {counts.step_ms:5.1f} ms  "
                f"late {stats.late}  dropped {stats.dropped}  rests {counts.rests}")

    def flush(self, emitter: Emitter) -> None:
        """Move the records and the sent messages to the JSON-lines file; log late sends."""
        out = self._json
        while self._extra:
            record = self._extra.popleft()
            if out is not None:
                out.write(json.dumps(record) + "\n")
        events = emitter.events
        while events:
            due, sent, beat, message = events.popleft()
            if beat is None:
                beat = self.beat_at(sent)
            if out is not None:
                record = {"t": round(sent, 6), "scheduled": None if due is None else round(due, 6),
                          "beat": round(beat - self.offset, 6), "msg": list(message)}
                out.write(json.dumps(record) + "\n")
        self._log_stalls(emitter)

    def _log_stalls(self, emitter: Emitter) -> None:
        """Each send later than scheduler.STALL with the collections that overlapped it and how long
        the emitter thread waited for a CPU since the last look."""
        delay = run_delay_ms(emitter.native_id)
        waited = None if delay is None or self._run_delay is None else delay - self._run_delay
        self._run_delay = delay
        stalls = emitter.stalls
        while stalls:
            due, sent, message = stalls.popleft()
            cpu = "" if waited is None else f"; the emitter waited {waited:.1f} ms for a CPU lately"
            log.info("late send: %.1f ms after its time (%s): %s%s", (sent - due) * 1e3,
                     " ".join(f"{b:02X}" for b in message), GC_WATCH.during(due, sent), cpu)

    def clear_line(self) -> None:
        if self.tty:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()

    def close(self, emitter: Emitter) -> None:
        """The last records and messages, then the file closed."""
        self.flush(emitter)
        if self._json is not None:
            self._json.close()
            self._json = None


__all__ = ["EngineResult", "Telemetry", "totals"]
