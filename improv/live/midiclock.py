"""Follow an incoming MIDI clock: tempo, song position and beat → time prediction.

A pure state machine over raw MIDI bytes with timestamps (seconds, e.g. the running sum of rtmidi
delta times). It knows nothing of ports or threads: feed it messages, read its state.

* F8 Timing Clock (24 per quarter note) drives a 2nd-order delay-locked loop (Adriaensen) at about
  1 Hz bandwidth. The first ``warmup_ticks`` (2 beats) after a (re)lock use a least-squares line,
  so the estimate is good after two beats. ``tempo_bpm`` averages the loop's period over the last
  8 ticks; :meth:`MidiClock.beat_time` uses the raw loop state (late binding: ask just before use).
* Gap-aware: a tick ``m`` periods after the predicted one counts ``m`` ticks, so lost ticks do not
  slip the position. A tick that then arrives right behind it shows the first was late, not after a
  loss (a starved client gets a burst of ticks in one cycle), and the count is taken back. Gaps are
  only counted while the timestamp jitter (the 5-95 % range of phase errors) is below 0.6 tick:
  with a driver period near the tick interval (JACK -p 1024 at 120 BPM) every F8 counts one.
* The phase error is clamped to ±½ tick (or the jitter range, if larger). A tempo jump the loop
  cannot follow (three doubled intervals, or six clamped errors with a different mean interval)
  restarts the lock (event "relock"); more than ``max_lost_ticks`` without a tick is a "dropout".
* FA Start: the next F8 is position 0. FB Continue: the next F8 is the current song position.
  FC Stop: the position freezes (F8 while stopped still tracks the tempo). F2 Song Position Pointer
  (MIDI beats of 6 clocks) sets the position; while running it relocates (event "position").

Synthetic JACK-quantised clocks (tests/test_midiclock.py), -p 256: tempo error after 2 beats at a
steady 120 BPM max 0.26 BPM; a 120 -> 140 step is within 1 BPM after 0.5 s; a 6.7 BPM/s ramp p99
2.4 BPM; beat-ahead phase error p99 6 ms. Positions in MIDI clocks (24 per quarter); ``beat``
arguments are quarter notes from Start.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from improv.midi.messages import CONTINUE, NOTE_OFF, REALTIME, SONG_POSITION, START, STOP, TIMING_CLOCK
from improv.theory.timing import DEFAULT_TEMPO

log = logging.getLogger(__name__)

CLOCKS_PER_BEAT = 24
CLOCKS_PER_MIDI_BEAT = 6  # one Song Position Pointer unit (a 16th)


TEMPO_SMOOTHING = 8  # ticks of loop periods averaged for tempo_bpm
MAX_TICK_INTERVAL = 0.5  # s between ticks (5 BPM): anything slower starts a new lock

EVENT_KINDS = ("start", "stop", "continue", "position", "relock", "dropout")


@dataclass(frozen=True)
class ClockEvent:
    """A transport event: ``kind`` in EVENT_KINDS, the time it arrived, the song position after it.

    ``tick`` is the position (MIDI clocks since Start) of the next F8 to come.
    """

    kind: str
    t: float
    tick: int


def bpm_to_period(bpm: float) -> float:
    """Seconds between two F8 ticks at ``bpm`` quarter notes per minute."""
    return 60.0 / (CLOCKS_PER_BEAT * bpm)


def period_to_bpm(period: float) -> float:
    """Quarter notes per minute for an F8 period in seconds."""
    return 60.0 / (CLOCKS_PER_BEAT * period)


class _LineFit:
    """Incremental least-squares line t = a + T·n over (tick index, time) samples."""

    def __init__(self) -> None:
        self.count = 0
        self._n0 = 0
        self._t0 = 0.0
        self._sx = self._sy = self._sxx = self._sxy = 0.0

    def add(self, n: int, t: float) -> None:
        if self.count == 0:
            self._n0, self._t0 = n, t
        x, y = float(n - self._n0), t - self._t0
        self.count += 1
        self._sx += x
        self._sy += y
        self._sxx += x * x
        self._sxy += x * y

    def fit(self) -> tuple[float, float] | None:
        """(period, fitted time of index 0 relative offset) as (slope, value at ``_n0``) or None."""
        if self.count < 2:
            return None
        k = float(self.count)
        den = k * self._sxx - self._sx * self._sx
        if den <= 0.0:
            return None
        slope = (k * self._sxy - self._sx * self._sy) / den
        intercept = (self._sy - slope * self._sx) / k
        return slope, intercept

    def time_at(self, n: int) -> float | None:
        """The fitted time of tick index ``n``."""
        f = self.fit()
        if f is None:
            return None
        slope, intercept = f
        return self._t0 + intercept + slope * (n - self._n0)


class MidiClock:
    """A MIDI clock follower. Call :meth:`feed` with every incoming message and its timestamp."""

    def __init__(
        self,
        *,
        bandwidth_hz: float = 1.0,
        warmup_ticks: int = 48,
        max_lost_ticks: int = 24,
        on_event: Callable[[ClockEvent], None] | None = None,
        max_events: int = 256,
    ) -> None:
        if bandwidth_hz <= 0 or warmup_ticks < 2 or max_lost_ticks < 1:
            raise ValueError("bandwidth_hz > 0, warmup_ticks >= 2 and max_lost_ticks >= 1 required")
        self.bandwidth_hz = bandwidth_hz
        self.warmup_ticks = warmup_ticks
        self.max_lost_ticks = max_lost_ticks
        self.on_event = on_event
        self.events: deque[ClockEvent] = deque(maxlen=max_events)
        self.running = False
        self.ticks_received = 0  # F8 messages seen
        self.ticks_lost = 0  # ticks inferred from gaps
        self.relocks = 0
        # loop state, on a free-running tick index that ignores the transport
        self._n = -1  # index of the latest tick
        self._t_last = 0.0  # raw time of the latest tick
        self._t1 = 0.0  # predicted time of tick _n + 1
        self._period: float | None = None
        self._fit = _LineFit()
        self._locked = False  # True once the DLL runs (after the warm-up)
        self._gap_run = 0  # consecutive intervals read as gaps
        self._gap_run_extra = 0  # ticks those intervals added
        self._clamp_run = 0  # consecutive clamped phase errors
        self._errors: deque[float] = deque(maxlen=48)  # recent phase errors (s)
        self._recent: deque[float] = deque(maxlen=TEMPO_SMOOTHING)  # recent period estimates
        self._clamp_sum = 0.0  # raw intervals over the current clamp run
        self._undo_budget = 0  # ticks counted as lost that a burst may still show were late
        self._pos_budget = 0  # of those, how many moved the song position
        # transport state
        self._pos = -1  # song position of the latest tick received while running
        self._next_pos: int | None = 0  # position of the next F8 if set by Start/Continue/SPP
        self._spp_pending = 0  # the position (clocks) to resume from

    # ------------------------------------------------------------------ state

    @property
    def tempo_bpm(self) -> float | None:
        """The tempo in BPM (quarter notes): the loop's period averaged over the last few ticks.

        None before two ticks. The average removes most of the loop's jitter (see the module doc).
        """
        if self._recent:
            return period_to_bpm(sum(self._recent) / len(self._recent))
        return None if self._period is None else period_to_bpm(self._period)

    @property
    def period(self) -> float | None:
        """The current F8 period estimate in seconds (None before two ticks)."""
        return self._period

    @property
    def locked(self) -> bool:
        """True once the tempo estimate is past its warm-up (``warmup_ticks`` after a (re)lock)."""
        return self._locked

    @property
    def tick(self) -> int:
        """Song position in MIDI clocks of the latest tick (-1 before the first tick after Start).

        While stopped this is the position a Continue would resume after (the next tick is
        ``tick + 1``); a Song Position Pointer moves it.
        """
        if self._next_pos is not None:
            return self._next_pos - 1
        return self._pos

    @property
    def beat(self) -> float:
        """Song position of the latest tick in quarter notes."""
        return self.tick / CLOCKS_PER_BEAT

    def tick_time(self, tick: float) -> float | None:
        """Predicted time (s) of song position ``tick`` (MIDI clocks) from the latest loop state.

        None while stopped or before a tempo is known. Call it as late as possible: tempo changes
        then move future events without regenerating them.
        """
        if not self.running or self._period is None or self._n < 0:
            return None
        return self._t1 + (tick - (self.tick + 1)) * self._period

    def beat_time(self, beat: float) -> float | None:
        """Predicted time (s) of quarter-note ``beat`` since Start (see :meth:`tick_time`)."""
        return self.tick_time(beat * CLOCKS_PER_BEAT)

    def beat_at(self, t: float) -> float | None:
        """The song position in quarter notes at time ``t`` (s); None while stopped or unlocked."""
        if not self.running or self._period is None or self._n < 0:
            return None
        return (self.tick + 1 + (t - self._t1) / self._period) / CLOCKS_PER_BEAT

    def is_stale(self, now: float, periods: float = 8.0) -> bool:
        """True if no tick came for ``periods`` tick periods (at least 0.25 s) before ``now``."""
        if self._n < 0 or self._period is None:
            return True
        return now - self._t_last > max(0.25, periods * self._period)

    def drain_events(self) -> list[ClockEvent]:
        """Return and clear the pending transport events (oldest first)."""
        out = list(self.events)
        self.events.clear()
        return out

    # ------------------------------------------------------------------ input

    def feed(self, data: bytes | bytearray | Iterable[int], t: float) -> None:
        """Process one MIDI message (or a run of bytes) received at time ``t`` seconds.

        Realtime bytes are honoured wherever they appear; an F2 needs its two data bytes;
        everything else is ignored.
        """
        if not math.isfinite(t):
            return
        try:
            raw = data if isinstance(data, bytes | bytearray) else bytes(data)
        except (TypeError, ValueError):
            return  # not a byte sequence: garbage
        spp: list[int] = []
        in_spp = False
        for byte in raw:
            if byte >= REALTIME:
                self._realtime(byte, t)
            elif byte == SONG_POSITION:
                in_spp, spp = True, []
            elif byte >= NOTE_OFF:
                in_spp = False
            elif in_spp:
                spp.append(byte)
                if len(spp) == 2:
                    self._song_position(spp[0] | (spp[1] << 7), t)
                    in_spp = False

    def _realtime(self, byte: int, t: float) -> None:
        if byte == TIMING_CLOCK:
            self._clock(t)
        elif byte == START:
            self.running = True
            self._next_pos = 0
            self._spp_pending = 0
            self._emit("start", t)
        elif byte == CONTINUE:
            self.running = True
            self._next_pos = self._spp_pending
            self._emit("continue", t)
        elif byte == STOP:
            if self.running:
                self._spp_pending = self.tick + 1
                self._next_pos = self._spp_pending
            self.running = False
            self._emit("stop", t)

    def _song_position(self, midi_beats: int, t: float) -> None:
        self._spp_pending = midi_beats * CLOCKS_PER_MIDI_BEAT
        self._next_pos = self._spp_pending
        self._emit("position", t)

    def _emit(self, kind: str, t: float) -> None:
        event = ClockEvent(kind, t, self.tick + 1)
        self.events.append(event)
        log.debug("clock %s at %.4f, next tick %d", kind, t, event.tick)
        if self.on_event is not None:
            self.on_event(event)

    # ------------------------------------------------------------------ the loop

    def _clock(self, t: float) -> None:
        self.ticks_received += 1
        m = self._advance(t)
        if self._period is not None:
            self._recent.append(self._period)
        if not self.running:
            self._pos_budget = 0
        elif self._next_pos is not None:
            self._pos = self._next_pos
            self._next_pos = None
            self._pos_budget = 0
        else:
            self._pos += m
            self._pos_budget = m - 1 if m >= 2 else min(self._pos_budget, self._undo_budget)

    def _advance(self, t: float) -> int:
        """Update the tempo loop with a tick at ``t``; return how many tick periods it counts."""
        if self._n < 0:
            self._restart(0, t)
            return 1
        period = self._period
        if period is None:  # the second tick of a lock
            if not 0.0 <= t - self._t_last <= MAX_TICK_INTERVAL:
                self._restart(self._n + 1, t)
                return 1
            return self._warm(self._n + 1, t, 1)
        if t - self._t_last > (self.max_lost_ticks + 0.5) * period:
            log.info("clock dropout: %.3f s without a tick", t - self._t_last)
            self._restart(self._n + 1, t)
            self._emit("dropout", t)
            return 1
        m = 1
        if self._gap_aware(period):
            m = round((t - self._t1) / period) + 1
            if m <= 0 and self._undo_budget:  # right behind the last tick: that one was late
                self._undo_gap(min(self._undo_budget, 1 - m), period)
            elif m == 1:
                self._undo_budget = 0  # on time: the gap before was real
            m = max(1, m)
        if m >= 2:
            self._undo_budget = m - 1
            self._gap_run += 1
            self._gap_run_extra += m - 1
            if self._gap_run >= 3:  # not lost ticks: the tempo dropped
                extra = self._gap_run_extra - (m - 1)
                self.ticks_lost -= extra
                if self.running and self._next_pos is None:
                    self._pos -= extra
                self._restart(self._n + 1, t)
                self._emit("relock", t)
                return 1
            self.ticks_lost += m - 1
        else:
            self._gap_run = self._gap_run_extra = 0
        n = self._n + m
        dt = t - self._t_last
        predicted = self._t1 + (m - 1) * period
        error = t - predicted
        self._errors.append(error)
        if not self._locked:
            return self._warm(n, t, m)
        limit = max(0.5 * period, 0.6 * self._spread())
        if abs(error) > limit:
            self._clamp_run += 1
            self._clamp_sum += dt / m
            drift = abs(self._clamp_sum / self._clamp_run - period)
            if self._clamp_run >= 6 and drift > 0.1 * period + self._spread() / self._clamp_run:
                self._restart(n, t)  # the tempo jumped beyond what the loop can follow
                self._emit("relock", t)
                return m
            error = limit if error > 0 else -limit
        else:
            self._clamp_run, self._clamp_sum = 0, 0.0
        omega = 2.0 * math.pi * self.bandwidth_hz * period
        b, c = math.sqrt(2.0) * omega, omega * omega
        self._t1 = predicted + b * error + period
        self._period = period + c * error
        self._n, self._t_last = n, t
        return m

    def _undo_gap(self, extra: int, period: float) -> None:
        """Ticks counted as lost came late instead (a burst): take ``extra`` of them back."""
        self._n -= extra
        self._t1 -= extra * period
        self.ticks_lost -= extra
        self._undo_budget -= extra
        if self._undo_budget == 0:
            self._gap_run = max(0, self._gap_run - 1)
        self._gap_run_extra = max(0, self._gap_run_extra - extra)
        undo = min(extra, self._pos_budget)
        self._pos -= undo
        self._pos_budget -= undo

    def _spread(self) -> float:
        """The 5-95 % range of the recent phase errors: about one driver period when quantised.

        Percentiles, not max - min, so one burst of late ticks does not switch gap counting off.
        """
        if len(self._errors) < 2:
            return 0.0
        ordered = sorted(self._errors)
        last = len(ordered) - 1
        return ordered[round(0.95 * last)] - ordered[round(0.05 * last)]

    def _gap_aware(self, period: float) -> bool:
        """Whether a long interval can be told from jitter: the spread must be well below a tick."""
        return len(self._errors) >= 8 and self._spread() < 0.6 * period

    def _warm(self, n: int, t: float, m: int) -> int:
        """A warm-up tick: refit the least-squares line; hand over to the DLL when it is long."""
        self._fit.add(n, t)
        self._n, self._t_last = n, t
        self._from_fit()
        if self._fit.count >= self.warmup_ticks and self._period is not None:
            self._locked = True
        return m

    def _restart(self, n: int, t: float) -> None:
        """Start a new lock with tick index ``n`` at ``t``; keep the old period as a guess."""
        if self._n >= 0:
            self.relocks += 1
        self._fit = _LineFit()
        self._fit.add(n, t)
        self._locked = False
        self._gap_run = self._gap_run_extra = self._clamp_run = 0
        self._clamp_sum = 0.0
        self._undo_budget = self._pos_budget = 0
        self._errors.clear()
        self._recent.clear()
        self._n, self._t_last = n, t
        if self._period is not None:
            self._t1 = t + self._period

    def _from_fit(self) -> None:
        fit = self._fit.fit()
        if fit is None:
            return
        slope = fit[0]
        if slope <= 0:  # all samples in one driver period so far
            return
        t_now = self._fit.time_at(self._n)
        assert t_now is not None
        self._period = slope
        self._t1 = t_now + slope


class TransportClock:
    """The engine's clock (``time_at`` / ``beat_at`` / ``seconds``) backed by a :class:`MidiClock`.

    Beats are quarter notes from the incoming Start. The feeding thread calls :meth:`update` after
    each message; readers (the emitter, converting beats to times as late as possible) see one
    consistent snapshot. While stopped, or before a tempo is known, ``time_at`` is +inf (nothing
    is due) and ``beat_at`` is the frozen song position.
    """

    def __init__(self, clock: MidiClock, latency_offset_ms: float = 0.0,
                 default_tempo: float = DEFAULT_TEMPO) -> None:
        self.midi = clock
        self.offset = latency_offset_ms / 1000.0
        self.started = True
        self._default_spb = 60.0 / default_tempo
        self._snap: tuple[bool, float, float, float | None] = (False, -1.0, 0.0, None)

    def update(self) -> None:
        """Take a new snapshot of the follower (call from the thread that feeds it)."""
        c = self.midi
        period = c.period
        ready = c.running and period is not None and c._n >= 0
        self._snap = (ready, float(c.tick + 1), c._t1, period)

    @property
    def running(self) -> bool:
        return self._snap[0]

    @property
    def tempo(self) -> float:
        bpm = self.midi.tempo_bpm
        return bpm if bpm is not None else 60.0 / self._default_spb

    @property
    def seconds_per_beat(self) -> float:
        period = self._snap[3]
        return period * CLOCKS_PER_BEAT if period else self._default_spb

    def time_at(self, beat: float) -> float:
        """perf_counter seconds of ``beat`` (+inf while stopped)."""
        ready, next_tick, t1, period = self._snap
        if not ready or period is None:
            return math.inf
        return t1 + (beat * CLOCKS_PER_BEAT - next_tick) * period + self.offset

    def beat_at(self, t: float | None = None) -> float:
        """The song position (quarter notes) at perf_counter ``t`` (default now)."""
        import time

        ready, next_tick, t1, period = self._snap
        if not ready or period is None:
            return (next_tick - 1.0) / CLOCKS_PER_BEAT if next_tick > 0 else 0.0
        now = time.perf_counter() if t is None else t
        return (next_tick + (now - self.offset - t1) / period) / CLOCKS_PER_BEAT

    def seconds(self, beats: float) -> float:
        return beats * self.seconds_per_beat

    def start(self, at: float | None = None, beat: float = 0.0) -> None:
        """The transport, not the engine, starts this clock: a no-op."""
