"""Assembling a live session: the clock, the emitter, the feeders, the transport, the inputs and the
telemetry, built here and handed to :class:`improv.live.engine.Engine` (which builds none of them).

:func:`build_engine` is what ``improv play`` (and the tests) call. Beats: the count-in puts the form's
beat 0 at emitter beat ``count_in * beats_per_bar`` (0 when following a MIDI clock, whose song
position is the form's). No threads start here.
"""

from __future__ import annotations

import queue
from collections.abc import Callable, Iterable

from improv.live.bandfeed import BandFeed
from improv.live.clock import Clock, Frame, Timeline
from improv.live.engine import Engine, EngineOptions
from improv.live.feeder import SoloFeeder, TimedNoteLike
from improv.live.health import PortWatch
from improv.live.inputs import Inputs, Listening, Passthrough
from improv.live.midiclock import TransportClock
from improv.live.scheduler import Emitter, Sink
from improv.live.telemetry import Telemetry
from improv.live.transport import ClockWatch, Transport
from improv.perform.band import Band
from improv.perform.log import SessionLog
from improv.perform.performer import Performer


def session_frame(options: EngineOptions, following: bool) -> Frame:
    """Where the form sits on the emitter's beats: after the count-in, up to the last bar."""
    offset = 0.0 if following else float(options.count_in * options.beats_per_bar)
    end = offset + options.bars * options.beats_per_bar if options.bars is not None else None
    return Frame(offset, end)


def build_engine(notes: Iterable[TimedNoteLike] | Performer, sink: Sink, options: EngineOptions, *,
                 chord_at: Callable[[float], str] | None = None, watch: PortWatch | None = None,
                 listening: Listening | None = None, session_log: SessionLog | None = None,
                 band: Callable[[], Band] | None = None, clock=None) -> Engine:
    """The engine for a session: ``notes`` (a Performer or any timed notes) on ``sink``; ``clock``
    (e.g. Ableton Link's) instead of the internal one, unless a MIDI clock is followed; ``band``
    makes the rhythm section (it follows the played chords when the performer does)."""
    midiclock = listening.midiclock if listening is not None else None
    if midiclock is not None:
        clock = TransportClock(midiclock, options.latency_offset_ms, options.tempo)
    elif clock is None:
        clock = Clock(options.tempo, options.latency_offset_ms)
    frame = session_frame(options, midiclock is not None)
    recording = options.record is not None
    solo = SoloFeeder(notes, channel=options.channel, velocity=options.velocity, frame=frame,
                      session_log=session_log, record=recording)
    follows = solo.performer is not None and solo.performer.chords is not None
    feed = BandFeed(band, offset=frame.offset, end=frame.end, record=recording,
                    follow=follows) if band is not None else None
    emitter = Emitter(sink, clock, channels=(options.channel, *(feed.channels if feed else ())),
                      keep_events=options.json_events is not None, realtime=options.realtime)
    transport = Transport(frame, beats_per_bar=options.beats_per_bar, count_in=options.count_in > 0,
                          clock_out=options.clock_out, following=midiclock is not None)
    emitter.stop_messages = transport.stop_messages
    timeline = Timeline(clock, frame)
    telemetry = Telemetry(json_path=options.json_events, status=options.status,
                          beats_per_bar=options.beats_per_bar, channel=options.channel,
                          offset=frame.offset, beat_at=clock.beat_at, chord_at=chord_at)
    inbox: queue.SimpleQueue = queue.SimpleQueue()
    inputs = None
    if listening is not None:
        inputs = Inputs(
            listening, timeline, inbox.put, performer=solo.performer, beats_per_bar=options.beats_per_bar,
            session_log=session_log, record=recording, note=telemetry.record,
            clock_watch=ClockWatch(midiclock, clock, inbox.put) if midiclock is not None else None,
            passthrough=Passthrough(sink.send) if listening.passthrough else None,
            route=lambda: None if transport.paused or not emitter.running else emitter,
            paused=lambda: transport.paused)
    return Engine(solo, sink, options, clock=clock, emitter=emitter, timeline=timeline,
                  transport=transport, telemetry=telemetry, inbox=inbox, band=feed, inputs=inputs,
                  watch=watch)


__all__ = ["build_engine", "session_frame"]
