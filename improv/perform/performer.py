"""The performer: modes, reseeding and live parameters around an improviser.

The :class:`Performer` is the deterministic part of a live session. It owns the improviser and
changes it only through :meth:`Performer.apply` (a typed event of :mod:`improv.perform.events`: a
phrase, a trading turn, a chord, a parameter, a jump, a barge-in; dispatched on its class) and
:meth:`Performer.next_note`. The engine's generator thread is the only caller, so nothing touches
the cell from another thread. Every event is logged with the number of
improviser steps taken before it was applied; driving a new performer with the same events at the
same step counts (:func:`replay`) gives the same notes, with no ports and no clock.

Modes are objects (:mod:`improv.perform.modes`); the settings keep the mode's name (the log
header stores them as written), ``Performer.mode`` is the object. The log is :mod:`improv.perform.log`,
replay :mod:`improv.perform.replay`. Ticks inside (improv.theory.timing); one thread only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from improv.perform.events import (
    Answer,
    BargeEvent,
    ChordEvent,
    Event,
    JumpEvent,
    ParamEvent,
    PhraseEvent,
    TurnEvent,
    event_from_record,
)
from improv.perform.modes import AGAIN, DEFAULT_MODE, MODE_NAMES, MODES, WAIT, Mode
from improv.theory.pitch import DEFAULT_REGISTER
from improv.theory.timing import TICKS_PER_BEAT

if TYPE_CHECKING:
    from improv.theory.values import Note

log = logging.getLogger(__name__)

ANSWER_GRID = 3  # ticks: answers start on the next 16th after the gate


# ---------------------------------------------------------------------------------- settings


@dataclass
class PerformerSettings:
    """What the performer does with what it hears (all changeable live by a mapped CC)."""

    mode: str = DEFAULT_MODE.name  # a key of improv.perform.modes.MODES
    trade_bars: int = 4
    response_bars: int | None = None  # None: the answer lasts as long as the call
    reseed_weight: float = 0.7
    density: float = 1.0  # share of the improviser's notes played (the rest become rests)


def param_value(param: str, x: float, low: int = DEFAULT_REGISTER[0], high: int = DEFAULT_REGISTER[1]) -> Any:
    """The setting a controller position ``x`` (0..1) means for ``param``."""
    x = min(1.0, max(0.0, float(x)))
    if param == "temperature":
        return round(0.1 + 1.9 * x, 4)
    if param == "density":
        return round(0.1 + 0.9 * x, 4)
    if param == "register_centre":
        return int(round(low + x * (high - low)))
    if param == "response_length":
        return 1 + int(round(7 * x))
    if param == "mode":
        return MODE_NAMES[min(len(MODE_NAMES) - 1, int(x * len(MODE_NAMES)))]
    if param == "reseed_weight":
        return round(x, 4)
    return x  # panic, gate: triggers, no setting


def answer_start(gate_tick: int, grid: int = ANSWER_GRID) -> int:
    """The grid slot strictly after the tick where the call ended."""
    return (gate_tick // grid + 1) * grid


def answer_length(call_ticks: int, response_bars: int | None, beats_per_bar: int) -> int:
    """Ticks of an answer: ``response_bars`` bars, else the call's length in whole beats."""
    if response_bars:
        return response_bars * beats_per_bar * TICKS_PER_BEAT
    beats = max(1, -(-call_ticks // TICKS_PER_BEAT))
    return beats * TICKS_PER_BEAT


# ---------------------------------------------------------------------------------- the performer


class Performer:
    """Modes, reseeding and live parameters around an improviser (one thread only).

    ``live`` performers in trade mode wait for the player's turn before playing on; a replaying
    one (``live=False``) never waits, since the log says when the turn came.
    """

    def __init__(self, improviser, settings: PerformerSettings | None = None, *,
                 chords=None, live: bool = True) -> None:
        self.imp = improviser
        self.settings = settings or PerformerSettings()
        if self.settings.mode not in MODES:
            raise ValueError(f"mode must be one of {MODE_NAMES}")
        self.chords = chords  # a ChordFollower (the improviser's progression) or None
        self.live = live
        self.steps = 0
        self.answer_end: int | None = None
        self.turns: set[int] = set()
        self.reseeds = 0
        self.developed = 0  # answers that took a cell of their call
        self.journal: Callable[[Answer], None] | None = None  # gets an Answer per developed answer
        self._bar = improviser.progression.beats_per_bar * TICKS_PER_BEAT

    @property
    def mode(self) -> Mode:
        """The mode object of ``settings.mode`` (the one place the mode is stored)."""
        return MODES[self.settings.mode]

    @property
    def block_ticks(self) -> int:
        """Ticks of one trading turn."""
        return self.settings.trade_bars * self._bar

    def listening_block(self, tick: float) -> int | None:
        """In trade mode, the index of the player's turn that ``tick`` falls in (else None)."""
        return self.mode.listening_block(self, tick)

    # ------------------------------------------------------------------ events
    def apply(self, event: Event | dict) -> None:
        """Apply one event (see the module doc). A dict is a record as the log keeps it (read with
        :func:`improv.perform.events.event_from_record`); a kind this improv does not know is ignored."""
        if isinstance(event, dict):
            event = event_from_record(event)
        match event:
            case PhraseEvent():
                self._reseed(event.notes)
                self.mode.on_phrase(self, event)
            case TurnEvent():
                self._reseed(event.notes)
                self.turns.add(event.block)
                self.mode.on_turn(self, event)
            case ChordEvent():
                if self.chords is not None:
                    self.chords.override(event.tick, event.symbol)
            case ParamEvent():
                self._set(event.param, event.value)
            case JumpEvent():
                self.imp.jump(event.tick)
                self._drop_plan()
                self.answer_end = None
            case BargeEvent():
                self._drop_plan()
                self.answer_end = None  # stop answering; the next call's phrase jumps to its answer

    @property
    def answering(self) -> bool:
        """Respond mode: an answer is still to be generated (its end not reached)."""
        return self.answer_end is not None and self.imp.position < self.answer_end

    def _drop_plan(self) -> None:
        motifs = getattr(self.imp, "motifs", None)
        if motifs is not None:
            motifs.drop()

    def develop(self, notes: Sequence[Note], start: int, end: int) -> None:
        """Plan the answer at ``start`` (to ``end``) on a cell of the call ``notes`` (improviser version 3;
        older ones answer as before) and journal which cell and transform it took (an :class:`Answer`)."""
        motifs = getattr(self.imp, "motifs", None)  # a source without a motif memory answers as before
        chosen = motifs.answer(self.imp, list(notes), start, end) if motifs is not None else None
        if chosen is None:
            return
        self.developed += 1
        if self.journal is not None:
            self.journal(Answer.from_record({"step": self.steps, **chosen.record()}))

    def _reseed(self, notes: Sequence[Note]) -> None:
        if notes:
            self.imp.reseed(list(notes), self.settings.reseed_weight)
            self.reseeds += 1

    def _set(self, param: str, value: Any) -> None:
        s, imp = self.settings, self.imp
        if param == "temperature":
            imp.sampler.temperature = float(value)
        elif param == "density":
            s.density = float(value)
        elif param == "register_centre":
            imp.centre = int(value)
        elif param == "response_length":
            s.response_bars = int(value)
        elif param == "mode" and str(value) in MODES:
            s.mode = str(value)
            self.answer_end = None
        elif param == "reseed_weight":
            s.reseed_weight = float(value)

    # ------------------------------------------------------------------ notes
    def next_note(self):
        """The next note to play, or None while there is nothing to play (waiting to listen)."""
        imp, s = self.imp, self.settings
        while True:
            gate = self.mode.gate(self)
            if gate == WAIT:
                return None
            if gate == AGAIN:
                continue
            step = imp.step()
            self.steps += 1
            note = imp.note_for(step)
            if note is None:
                continue
            if s.density < 1.0 and imp.rng.random() >= s.density:
                continue
            return note


__all__ = ["ANSWER_GRID", "DEFAULT_REGISTER", "Performer", "PerformerSettings", "answer_length",
           "answer_start", "param_value"]
