"""The transport: the count-in, MIDI clock out, and a followed MIDI clock's Start / Stop / Continue /
Song Position.

:class:`Transport` lives in the engine's generator thread: it queues the count-in clicks and MIDI Start
before beat 0, the clock ticks (24 per beat) up to each horizon, and handles the followed clock's
transport items. Stop (or the clock stalling) silences every part at once: the emitter's panic, then
every feeder forgets what it had queued; Start, Continue and a Song Position while playing silence,
jump every feeder to the position and play on. :class:`ClockWatch` is the listen thread's side: it
feeds the follower, reports its events and notices the clock stopping without a Stop (and coming
back), and posts transport items for the generator thread. Beats: emitter beats; MIDI clock ticks
(24 per beat) for song positions.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence

from improv.live.clock import Frame
from improv.live.feeder import Feeder
from improv.live.midiclock import MidiClock, TransportClock
from improv.live.scheduler import PRIO_CONTROL, PRIO_FIRST, Emitter
from improv.midi.messages import START, STOP, TIMING_CLOCK, Message

log = logging.getLogger(__name__)

CLOCKS_PER_BEAT = 24
CLICK_CHANNEL = 9  # MIDI channel 10, General MIDI drums
CLICK_PITCH, CLICK_ACCENT = 37, 76  # side stick; hi wood block on the downbeat

Post = Callable[[tuple], None]  # hands an item to the generator thread


def silence_all(emitter: Emitter, feeders: Sequence[Feeder], beat: float) -> None:
    """Every part silent now (form beat ``beat``): the emitter's panic, then every feeder forgets
    what it had queued after ``beat``. Generator thread only."""
    emitter.silence()
    for feeder in feeders:
        feeder.silenced(beat)


class Transport:
    """Count-in, clock out and the followed clock's transport (generator thread only)."""

    def __init__(self, frame: Frame, *, beats_per_bar: int = 4, count_in: bool = False,
                 clock_out: bool = False, following: bool = False) -> None:
        self.frame = frame
        self.beats_per_bar = beats_per_bar
        self.count_in_beats = int(frame.offset) if count_in else 0
        self.clock_out = clock_out
        self.paused = following  # following a clock: wait for Start / Continue
        self.next_tick = 0  # next MIDI clock tick to queue

    @property
    def stop_messages(self) -> list[Message]:
        """What the emitter's panic sends first (MIDI Stop when we send the clock)."""
        return [(STOP,)] if self.clock_out else []

    def prefill(self, emitter: Emitter) -> None:
        """The count-in clicks and the clock's Start, before beat 0."""
        for beat in range(self.count_in_beats):
            accent = beat % self.beats_per_bar == 0
            emitter.push_note(beat, beat + 0.25, CLICK_CHANNEL, CLICK_ACCENT if accent else CLICK_PITCH,
                              110 if accent else 80)
        if self.clock_out:
            emitter.push(0.0, (START,), PRIO_FIRST)

    def fill(self, emitter: Emitter, horizon: float) -> None:
        """Clock ticks up to ``horizon`` (and the end)."""
        if not self.clock_out:
            return
        last = self.frame.clip(horizon)
        while self.next_tick / CLOCKS_PER_BEAT < last:
            emitter.push(self.next_tick / CLOCKS_PER_BEAT, (TIMING_CLOCK,), PRIO_CONTROL)
            self.next_tick += 1

    def queued_to(self, beat: float) -> bool:
        """Whether the clock ticks are queued up to ``beat``."""
        return not self.clock_out or self.next_tick / CLOCKS_PER_BEAT >= beat

    def handle(self, kind: str, clock_tick: int, emitter: Emitter, feeders: Sequence[Feeder],
               beat: float) -> None:
        """A transport item from the followed clock (``beat``: the form beat now)."""
        if kind in ("stop", "stall"):
            if not self.paused:
                silence_all(emitter, feeders, beat)
                self.paused = True
            return
        if kind == "position" and self.paused:
            return  # Continue will start there
        # start, continue, position while running, resume after a stall: play from the position
        at = max(0, clock_tick) / CLOCKS_PER_BEAT
        silence_all(emitter, feeders, beat)
        for feeder in feeders:
            feeder.jump(at)
        self.next_tick = int(math.ceil(at * CLOCKS_PER_BEAT))
        self.paused = False


class ClockWatch:
    """The followed clock on the listen thread: feeds the follower, posts ``("transport", kind,
    clock tick)`` items, and notices the ticks stopping without a Stop (a stall) and returning."""

    def __init__(self, midiclock: MidiClock, clock: TransportClock, post: Post) -> None:
        self.midiclock = midiclock
        self.clock = clock
        self.post = post
        self.stalled = False

    def feed(self, data: bytes, t: float) -> None:
        """A system message from a clock source, received at ``t``."""
        midiclock = self.midiclock
        midiclock.feed(data, t)
        self.clock.update()
        for event in midiclock.drain_events():
            if event.kind in ("start", "continue", "stop", "position"):
                log.info("clock %s at song position %d", event.kind, event.tick)
                self.post(("transport", event.kind, event.tick))
            else:
                log.info("clock %s (tempo %.1f BPM)", event.kind, midiclock.tempo_bpm or 0.0)
        if self.stalled and midiclock.running:
            self.stalled = False
            log.warning("the MIDI clock is back; resuming at song position %d", midiclock.tick)
            self.post(("transport", "resume", midiclock.tick + 1))

    def check(self, now: float) -> None:
        """A running clock whose ticks stopped arriving: silent until it returns."""
        midiclock = self.midiclock
        if not midiclock.running or self.stalled:
            return
        if midiclock.period is not None and midiclock.is_stale(now):
            self.stalled = True
            log.warning("the MIDI clock stopped arriving (no Stop): silent until it returns")
            self.post(("transport", "stall", midiclock.tick + 1))


__all__ = ["CLICK_CHANNEL", "ClockWatch", "Transport", "silence_all"]
