"""Where the F8 ticks of an incoming MIDI clock fall: the tempo, the phase and how many ticks each counts.

A pure state machine over tick arrival times (seconds, e.g. the running sum of rtmidi delta times): no
ports, no threads, and no transport (Start / Stop / song position are improv.live.midiclock's
``Transport``; this loop runs on a free-running tick index whether the song plays or not).

* Each tick drives a 2nd-order delay-locked loop (Adriaensen) at about 1 Hz bandwidth. The first
  ``warmup_ticks`` (2 beats) after a (re)lock use a least-squares line, so the estimate is good after two
  beats. ``tempo_bpm`` averages the loop's period over the last 8 ticks; ``next_time`` is the raw loop
  state (late binding: ask just before use).
* Gap-aware: a tick ``m`` periods after the predicted one counts ``m`` ticks, so lost ticks do not slip
  the position. A tick that then arrives right behind it shows the first was late, not after a loss (a
  starved client gets a burst of ticks in one cycle), and the count is taken back (``TickCount.late``).
  Gaps are only counted while the timestamp jitter (the 5-95 % range of phase errors) is below 0.6 tick:
  with a driver period near the tick interval (JACK -p 1024 at 120 BPM) every F8 counts one.
* The phase error is clamped to ±½ tick (or the jitter range, if larger). A tempo jump the loop cannot
  follow (three doubled intervals, or six clamped errors with a different mean interval) restarts the
  lock (event "relock"; after doubled intervals the ticks they counted are taken back,
  ``TickCount.uncounted``); more than ``max_lost_ticks`` without a tick is a "dropout".

Times in seconds; periods in seconds per F8 tick (24 per quarter note); tempi in quarter notes per minute.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from dataclasses import dataclass

log = logging.getLogger(__name__)

CLOCKS_PER_BEAT = 24
TEMPO_SMOOTHING = 8  # ticks of loop periods averaged for tempo_bpm
MAX_TICK_INTERVAL = 0.5  # s between ticks (5 BPM): anything slower starts a new lock
JITTER_WINDOW = 48  # phase errors kept for the jitter range


def bpm_to_period(bpm: float) -> float:
    """Seconds between two F8 ticks at ``bpm`` quarter notes per minute."""
    return 60.0 / (CLOCKS_PER_BEAT * bpm)


def period_to_bpm(period: float) -> float:
    """Quarter notes per minute for an F8 period in seconds."""
    return 60.0 / (CLOCKS_PER_BEAT * period)


@dataclass(frozen=True, slots=True)
class TickCount:
    """What one tick meant to the loop, for whoever keeps the song position.

    ``ticks``: tick periods it counts (1, or more after lost ticks). ``uncounted``: ticks counted before
    that were not lost after all (the tempo dropped; take them back). ``late``: ticks counted as lost
    that came late instead (a burst; take back those that moved the position). ``revocable``: ticks
    counted as lost that a later burst may still take back. ``event``: "relock" or "dropout" when the
    loop restarted on this tick.
    """

    ticks: int = 1
    uncounted: int = 0
    late: int = 0
    revocable: int = 0
    event: str | None = None


ONE = TickCount()  # the usual tick: one period, nothing taken back
_DROPOUT = TickCount(event="dropout")


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
        """(slope, value at ``_n0`` relative to ``_t0``) or None before two distinct samples."""
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


class _Jitter:
    """The recent phase errors (s): their 5-95 % range is about one driver period when quantised."""

    def __init__(self) -> None:
        self._errors: deque[float] = deque(maxlen=JITTER_WINDOW)

    def add(self, error: float) -> None:
        self._errors.append(error)

    def clear(self) -> None:
        self._errors.clear()

    def spread(self) -> float:
        """Percentiles, not max - min, so one burst of late ticks does not switch gap counting off."""
        if len(self._errors) < 2:
            return 0.0
        ordered = sorted(self._errors)
        last = len(ordered) - 1
        return ordered[round(0.95 * last)] - ordered[round(0.05 * last)]

    def tells_gaps(self, period: float) -> bool:
        """Whether a long interval can be told from jitter: the spread must be well below a tick."""
        return len(self._errors) >= 8 and self.spread() < 0.6 * period


class _JumpWatch:
    """Runs of clamped phase errors: six in a row with another mean interval are a tempo jump."""

    def __init__(self) -> None:
        self._run = 0
        self._sum = 0.0  # raw intervals (per tick) over the run

    def clear(self) -> None:
        self._run, self._sum = 0, 0.0

    def jumped(self, interval: float, period: float, spread: float) -> bool:
        """Count one clamped error after ``interval`` s per tick; True when the tempo jumped."""
        self._run += 1
        self._sum += interval
        drift = abs(self._sum / self._run - period)
        return self._run >= 6 and drift > 0.1 * period + spread / self._run


class TickLoop:
    """The tempo loop. Call :meth:`tick` with each F8's time; read ``period`` and ``next_time``."""

    def __init__(self, *, bandwidth_hz: float = 1.0, warmup_ticks: int = 48,
                 max_lost_ticks: int = 24) -> None:
        if bandwidth_hz <= 0 or warmup_ticks < 2 or max_lost_ticks < 1:
            raise ValueError("bandwidth_hz > 0, warmup_ticks >= 2 and max_lost_ticks >= 1 required")
        self.bandwidth_hz = bandwidth_hz
        self.warmup_ticks = warmup_ticks
        self.max_lost_ticks = max_lost_ticks
        self.received = 0  # F8 messages seen
        self.lost = 0  # ticks inferred from gaps
        self.relocks = 0
        self._n = -1  # free-running index of the latest tick
        self._t_last = 0.0  # raw time of the latest tick
        self._t1 = 0.0  # predicted time of tick _n + 1
        self._period: float | None = None
        self._fit = _LineFit()
        self._locked = False  # True once the DLL runs (after the warm-up)
        self._gap_run = 0  # consecutive intervals read as gaps
        self._gap_run_extra = 0  # ticks those intervals added
        self._undo_budget = 0  # ticks counted as lost that a burst may still show were late
        self._jitter = _Jitter()
        self._jumps = _JumpWatch()
        self._recent: deque[float] = deque(maxlen=TEMPO_SMOOTHING)  # recent period estimates

    # ------------------------------------------------------------------ state
    @property
    def period(self) -> float | None:
        """The current F8 period estimate in seconds (None before two ticks)."""
        return self._period

    @property
    def tempo_bpm(self) -> float | None:
        """The loop's period averaged over the last few ticks, in BPM (None before two ticks)."""
        if self._recent:
            return period_to_bpm(sum(self._recent) / len(self._recent))
        return None if self._period is None else period_to_bpm(self._period)

    @property
    def locked(self) -> bool:
        """True once the estimate is past its warm-up (``warmup_ticks`` after a (re)lock)."""
        return self._locked

    @property
    def started(self) -> bool:
        """A tick has come."""
        return self._n >= 0

    @property
    def next_time(self) -> float:
        """The predicted time (s) of the next tick (meaningful once ``period`` is known)."""
        return self._t1

    def is_stale(self, now: float, periods: float = 8.0) -> bool:
        """True if no tick came for ``periods`` tick periods (at least 0.25 s) before ``now``."""
        if self._n < 0 or self._period is None:
            return True
        return now - self._t_last > max(0.25, periods * self._period)

    # ------------------------------------------------------------------ a tick
    def tick(self, t: float) -> TickCount:
        """Take the F8 that arrived at ``t``; say how many ticks it counts."""
        self.received += 1
        count = self._advance(t)
        if self._period is not None:
            self._recent.append(self._period)
        return count

    def _advance(self, t: float) -> TickCount:
        if self._n < 0:
            self._restart(0, t)
            return ONE
        period = self._period
        if period is None:  # the second tick of a lock
            if not 0.0 <= t - self._t_last <= MAX_TICK_INTERVAL:
                self._restart(self._n + 1, t)
                return ONE
            self._warm(self._n + 1, t)
            return ONE
        if t - self._t_last > (self.max_lost_ticks + 0.5) * period:
            log.info("clock dropout: %.3f s without a tick", t - self._t_last)
            self._restart(self._n + 1, t)
            return _DROPOUT
        m, late = self._count(t, period)
        if m >= 2:
            self._undo_budget = m - 1
            self._gap_run += 1
            self._gap_run_extra += m - 1
            if self._gap_run >= 3:  # not lost ticks: the tempo dropped
                extra = self._gap_run_extra - (m - 1)
                self.lost -= extra
                self._restart(self._n + 1, t)
                return TickCount(uncounted=extra, event="relock")
            self.lost += m - 1
        else:
            self._gap_run = self._gap_run_extra = 0
        return self._follow(t, period, m, late)

    def _count(self, t: float, period: float) -> tuple[int, int]:
        """(tick periods since the last tick, ticks counted as lost that this one shows were late)."""
        if not self._jitter.tells_gaps(period):
            return 1, 0
        m = round((t - self._t1) / period) + 1
        late = 0
        if m <= 0 and self._undo_budget:  # right behind the last tick: that one was late
            late = min(self._undo_budget, 1 - m)
            self._undo_gap(late, period)
        elif m == 1:
            self._undo_budget = 0  # on time: the gap before was real
        return max(1, m), late

    def _follow(self, t: float, period: float, m: int, late: int) -> TickCount:
        """The phase error of a tick ``m`` periods on: warm up, or run the DLL (clamped)."""
        n = self._n + m
        dt = t - self._t_last
        predicted = self._t1 + (m - 1) * period
        error = t - predicted
        self._jitter.add(error)
        if not self._locked:
            self._warm(n, t)
            return self._counted(m, late)
        spread = self._jitter.spread()
        limit = max(0.5 * period, 0.6 * spread)
        if abs(error) > limit:
            if self._jumps.jumped(dt / m, period, spread):
                self._restart(n, t)  # the tempo jumped beyond what the loop can follow
                return TickCount(m, late=late, event="relock")
            error = limit if error > 0 else -limit
        else:
            self._jumps.clear()
        omega = 2.0 * math.pi * self.bandwidth_hz * period
        b, c = math.sqrt(2.0) * omega, omega * omega
        self._t1 = predicted + b * error + period
        self._period = period + c * error
        self._n, self._t_last = n, t
        return self._counted(m, late)

    def _counted(self, m: int, late: int) -> TickCount:
        if m == 1 and not late and not self._undo_budget:
            return ONE
        return TickCount(m, late=late, revocable=self._undo_budget)

    def _undo_gap(self, extra: int, period: float) -> None:
        """Ticks counted as lost came late instead (a burst): take ``extra`` of them back."""
        self._n -= extra
        self._t1 -= extra * period
        self.lost -= extra
        self._undo_budget -= extra
        if self._undo_budget == 0:
            self._gap_run = max(0, self._gap_run - 1)
        self._gap_run_extra = max(0, self._gap_run_extra - extra)

    def _warm(self, n: int, t: float) -> None:
        """A warm-up tick: refit the least-squares line; hand over to the DLL when it is long."""
        self._fit.add(n, t)
        self._n, self._t_last = n, t
        self._from_fit()
        if self._fit.count >= self.warmup_ticks and self._period is not None:
            self._locked = True

    def _restart(self, n: int, t: float) -> None:
        """Start a new lock with tick index ``n`` at ``t``; keep the old period as a guess."""
        if self._n >= 0:
            self.relocks += 1
        self._fit = _LineFit()
        self._fit.add(n, t)
        self._locked = False
        self._gap_run = self._gap_run_extra = 0
        self._jumps.clear()
        self._undo_budget = 0
        self._jitter.clear()
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
