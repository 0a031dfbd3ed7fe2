"""The listen side of the live engine (listen thread only): what it reads and what it makes of it.

`Inputs` reads every input (:class:`InputSource`), feeds the player's messages to the listener, the
chord input's to the chord listener and the clock's to the clock watch, echoes the player
(`Passthrough`), keeps the player's messages for the log and ``--record``, gathers trading turns
(`TradeTurns`) and reports inputs vanishing. What it makes of it goes to the generator thread as inbox
items through the ``post`` callback: ``("event", event, t)`` for the performer (a typed event of
:mod:`improv.perform.events`), ``("call", tick)`` (a
call started: a barge-in if improv answers), ``("transport", kind, clock tick)``. Its listeners place
what they hear on the engine's timeline (ticks from the form's beat 0), given at construction.
`Passthrough` keeps which echoed notes sound so a vanished input or the shutdown can end them.
Seconds are the clock's (perf_counter); no locks of its own.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from improv.live.clock import Timeline
from improv.live.health import InputHealth
from improv.live.listener import ChordChange, Control, Listener, ListenerConfig, Phrase
from improv.live.midiclock import MidiClock
from improv.live.recording import MessageStore
from improv.live.scheduler import PRIO_CONTROL, PRIO_OFF, PRIO_ON, Emitter
from improv.midi.messages import NOTE_OFF, NOTE_ON, SYSEX, THREE_BYTE, Message, note_off
from improv.perform.events import ChordEvent, ParamEvent, PhraseEvent, TurnEvent
from improv.perform.log import SessionLog
from improv.perform.modes import DEFAULT_MODE, Mode
from improv.perform.performer import Performer, answer_length, answer_start, param_value
from improv.theory.pitch import DEFAULT_REGISTER
from improv.theory.timing import TICKS_PER_BEAT
from improv.theory.values import Note

log = logging.getLogger(__name__)
# seconds the answer's first grid slot must be ahead of the gate's closing: the generator thread reseeds
# and plans the answer on a cell of the call (about 1 ms quiet, several under load) before its first note
# is queued; a slot nearer than this would be dropped as late, so the answer starts a 16th later instead
ANSWER_MARGIN = 0.010


def slot_ahead(timeline, tick: int, now: float, margin: float = ANSWER_MARGIN) -> int:
    """``tick``, or the first 16th after it, that is still ``margin`` seconds ahead of ``now``."""
    while timeline.time_of(tick / TICKS_PER_BEAT) < now + margin:
        tick += TICKS_PER_BEAT // 4
    return tick

Post = Callable[[tuple], None]


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
    """What the engine listens to, and how (the listeners are made with the engine's timeline)."""

    sources: list[InputSource]
    config: ListenerConfig = field(default_factory=ListenerConfig)
    chord_config: ListenerConfig | None = None  # a chords-only input's listener
    midiclock: MidiClock | None = None  # follow this clock (from a source with clock=True)
    passthrough: bool = False
    trade_guard: float = 0.06  # s before the end of the player's turn when it is handed over
    poll_interval: float = 0.001


class Passthrough:
    """The player's messages echoed: through the emitter while it runs, else straight to the sink."""

    def __init__(self, send: Callable[[Sequence[int]], object]) -> None:
        self.send = send  # the sink's send (direct echo)
        self.held: set[tuple[int, int]] = set()  # (channel, pitch) echoed directly (not by the emitter)
        self.keys: set[tuple[int, int]] = set()  # every echoed note sounding

    def echo(self, message: Message, emitter: Emitter | None, beat_at: Callable[[], float]) -> None:
        """Echo ``message``; ``emitter`` None sends it now (paused, or the emitter stopped)."""
        status = message[0] & 0xF0
        channel = message[0] & 0x0F
        if len(message) < 3 and status in THREE_BYTE:
            return
        if status == NOTE_ON and message[2] > 0:
            self.keys.add((channel, message[1]))
        elif status in (NOTE_OFF, NOTE_ON):
            self.keys.discard((channel, message[1]))
        if emitter is None:
            self.send(message)
            key = (channel, message[1])
            if status == NOTE_ON and message[2] > 0:
                self.held.add(key)
            elif status in (NOTE_OFF, NOTE_ON):
                self.held.discard(key)
            return
        emitter.channels.add(channel)
        beat = beat_at()
        if status == NOTE_ON and message[2] > 0:
            emitter.push(beat, message, PRIO_ON)
        elif status in (NOTE_OFF, NOTE_ON):
            emitter.push(beat, note_off(channel, message[1]), PRIO_OFF)
        else:
            emitter.push(beat, message, PRIO_CONTROL)

    def releases(self) -> list[Message]:
        """Note-offs for every echoed note still sounding (the player's input vanished)."""
        return [note_off(channel, pitch) for channel, pitch in sorted(self.keys)]

    def silence_direct(self) -> None:
        """Note-offs, straight to the sink, for the notes echoed directly (the emitter never saw them)."""
        for channel, pitch in sorted(self.held):
            self.send(note_off(channel, pitch))


class TradeTurns:
    """Trading, listen side: the player's notes gathered per turn, the turn handed over
    ``guard`` seconds before it ends (what came before the turn is not the call)."""

    def __init__(self, guard: float) -> None:
        self.guard = guard
        self.notes: list[Note] = []
        self._started: set[int] = set()
        self._done: set[int] = set()

    def check(self, tick: float, block_ticks: int, seconds_per_beat: float,
              flush: Callable[[], list]) -> TurnEvent | None:
        """At form tick ``tick``: the ``turn`` event when the player's turn is to be handed over."""
        block = int(tick // block_ticks)
        if tick < 0 or block % 2 == 0:
            return None
        if block not in self._started:
            self._started.add(block)
            flush()  # notes before the turn are not the call
            self.notes = []
        guard = self.guard / seconds_per_beat * TICKS_PER_BEAT
        if block in self._done or tick < (block + 1) * block_ticks - guard:
            return None
        self._done.add(block)
        for phrase in flush():
            self.notes.extend(phrase.notes)
        first = block * block_ticks - 3
        notes = sorted((n for n in self.notes if n.onset >= first),
                       key=lambda n: (n.onset, n.duration, n.pitch, n.velocity))
        self.notes = []
        return TurnEvent(block, tuple(notes))


class Inputs:
    """The listen thread's work, one :meth:`poll` at a time (see the module doc)."""

    def __init__(self, listening: Listening, timeline: Timeline, post: Post, *,
                 performer: Performer | None = None, beats_per_bar: int = 4,
                 session_log: SessionLog | None = None, record: bool = False,
                 note: Callable[..., None] | None = None, clock_watch=None,
                 passthrough: Passthrough | None = None, route: Callable[[], Emitter | None] = lambda: None,
                 paused: Callable[[], bool] = lambda: False) -> None:
        self.listening = listening
        self.timeline = timeline
        self.listener = Listener(timeline.ticks, listening.config)
        chord_config = listening.chord_config
        self.chord_listener = Listener(timeline.ticks, chord_config) if chord_config is not None else None
        self.post = post
        self.performer = performer  # read only here (mode, register, answer length)
        self.beats_per_bar = beats_per_bar
        self.log = session_log
        self.player = MessageStore() if record else None  # the player's messages (--record)
        self.note = note  # telemetry's record(t, kind, **fields)
        self.clock_watch = clock_watch  # a transport.ClockWatch when following a MIDI clock
        self.passthrough = passthrough  # echoes the player (None: no --passthrough)
        self.route = route  # the emitter to echo through (None: straight to the sink)
        self.turns = TradeTurns(listening.trade_guard)
        self.health = InputHealth(listening.sources)
        self.paused = paused  # the transport is stopped
        self.phrases = 0

    @property
    def mode(self) -> Mode:
        """The performer's mode (stored once, in the performer; Solo without one)."""
        return self.performer.mode if self.performer is not None else DEFAULT_MODE

    def poll(self) -> bool:
        """Read every input once, close a call whose gate passed, hand over a trading turn, check
        the clock and the inputs. True when a message came (else the thread may nap)."""
        got = False
        for source in self.listening.sources:
            for data, t in source.port.drain(256):
                got = True
                self.on_message(source, data, t)
        now = self.timeline.now()
        self._events(self.listener.poll(now), now)
        self._check_turn(now)
        if self.clock_watch is not None:
            self.clock_watch.check(now)
        self._check_inputs(now)
        return got

    def on_message(self, source: InputSource, data: bytes, t: float) -> None:
        if not data:
            return
        if data[0] >= SYSEX:
            if source.clock and self.clock_watch is not None:
                self.clock_watch.feed(data, t)
            return
        if source.role == "clock":
            return
        if source.role == "chords":
            if self.chord_listener is not None:
                self._events(self.chord_listener.feed(data, t), t)
            return
        message = tuple(data)
        beat = self.timeline.beat(t)
        if self.player is not None:
            self.player.append(beat, message)
        if self.log is not None:
            self.log.input(beat, message)
        self.echo(message)
        listener = self.listener
        in_call = listener.in_call
        self._events(listener.feed(data, t), t)
        if self.mode.answers and not in_call and listener.in_call:
            self.post(("call", int(self.timeline.ticks(t))))  # a barge-in if improv answers

    def echo(self, message: Message) -> None:
        """The player echoed to the output (with --passthrough)."""
        if self.passthrough is not None:
            self.passthrough.echo(message, self.route(), self.timeline.clock.beat_at)

    # ------------------------------------------------------------------ events
    def _events(self, events: list, t: float) -> None:
        for event in events:
            if isinstance(event, Phrase):
                self._phrase(event)
            elif isinstance(event, ChordChange):
                # a chord played in the count-in sounds from the form's first beat
                self.post(("event", ChordEvent(max(int(event.tick), 0), event.symbol), t))
            elif isinstance(event, Control):
                self._control(event, t)

    def _phrase(self, phrase: Phrase) -> None:
        notes = phrase.notes
        if self.mode.trades:
            self.turns.notes.extend(notes)
            return
        if not notes:
            return
        self.phrases += 1
        now = self.timeline.now()
        start = slot_ahead(self.timeline, answer_start(phrase.end), now)
        bars = self.performer.settings.response_bars if self.performer is not None else None
        length = answer_length(phrase.end - phrase.start, bars, self.beats_per_bar)
        log.info("call ended (%s): %d notes; answer at tick %d for %d ticks", phrase.reason,
                 len(notes), start, length)
        self.post(("event", PhraseEvent(notes=notes, start=phrase.start, end=phrase.end, reason=phrase.reason,
                                        answer=start, length=length), now))

    def _control(self, control: Control, t: float) -> None:
        perf = self.performer
        low, high = (perf.imp.register.low, perf.imp.register.high) if perf else DEFAULT_REGISTER
        value = param_value(control.param, control.value, low, high)
        if control.param == "gate":
            return  # the listener ended the call already
        self.post(("event", ParamEvent(control.param, value, control.raw), t))
        if self.note is not None:
            self.note(t, "param", param=control.param, value=value, cc=control.cc, raw=control.raw)
        log.info("%s = %s (CC%d %d)", control.param, value, control.cc, control.raw)

    def _check_turn(self, now: float) -> None:
        perf = self.performer
        if perf is None or not perf.mode.trades or self.paused():
            return
        event = self.turns.check(self.timeline.ticks(now), perf.block_ticks,
                                 self.timeline.clock.seconds_per_beat, lambda: self.listener.flush(now))
        if event is not None:
            self.phrases += 1
            self.post(("event", event, now))

    # ------------------------------------------------------------------ health
    def _check_inputs(self, now: float) -> None:
        """Report an input that vanished or came back (each input reopens itself by name)."""
        for source, connected in self.health.changes():
            label = getattr(source.port, "label", "?")
            if self.note is not None:
                self.note(now, "input", role=source.role, port=label,
                          state="back" if connected else "vanished")
            if connected:
                log.warning("the %s input %s is back: listening again", source.role, label)
            else:
                log.warning("the %s input %s vanished: its call ends, its notes are released; "
                            "it is reopened by name when it returns", source.role, label)
                self._input_lost(source, now)

    def _input_lost(self, source: InputSource, now: float) -> None:
        """End what a vanished input left open: the call, held keys, pedals, echoed notes."""
        if source.role == "player":
            self._events(self.listener.flush(now), now)
            self.listener.reset()
            if self.passthrough is not None:
                for message in self.passthrough.releases():
                    self.echo(message)
        elif source.role == "chords" and self.chord_listener is not None:
            self.chord_listener.reset()


__all__ = ["InputSource", "Inputs", "Listening", "Passthrough", "TradeTurns"]
