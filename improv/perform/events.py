"""Performer events, typed: what the performer is told, in the types it works in.

The live path builds these (:mod:`improv.live.inputs`: a call, a trading turn, a chord, a parameter;
:mod:`improv.live.feeder`: a jump, a barge-in), :meth:`improv.perform.performer.Performer.apply`
dispatches on the class, and only the session log turns them into JSON and back: ``to_record()``
gives the record exactly as the log has always kept it (same keys, same order), ``from_record()``
reads one that :func:`improv.perform.logformat.check_record` accepted (the table
:data:`EVENT_TYPES`, the record's ``type`` -> class, is the one place a name picks a class).
:class:`Answer` is the performer's journal record (log version 2: which cell of a call an answer took).

Units: ticks (improv.theory.timing) as ints, notes as :class:`improv.theory.values.Note`; ``at`` is the
one beat (form beats, 6 decimals). Frozen values: safe to hand between threads. No I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from improv.theory.values import Note


def notes_record(notes: Iterable[Note]) -> list[list[int]]:
    """Notes as the log keeps them: ``[onset, duration, pitch, velocity]`` ticks."""
    return [[n.onset, n.duration, n.pitch, n.velocity] for n in notes]


def notes_of(record: Iterable[Sequence[int]]) -> tuple[Note, ...]:
    """Notes from the log's ``[onset, duration, pitch, velocity]`` lists."""
    return tuple(Note(int(n[0]), int(n[1]), int(n[2]), int(n[3])) for n in record)


def _given(**fields: Any) -> dict[str, Any]:
    """The optional fields that are set (None: the key is not written)."""
    return {key: value for key, value in fields.items() if value is not None}


@dataclass(frozen=True, kw_only=True)
class PhraseEvent:
    """A call ended: reseed on its notes; respond mode answers at tick ``answer`` for ``length`` ticks.
    ``start``/``end``/``reason`` say where the call ran and why it ended (not in every old log)."""

    kind: ClassVar[str] = "phrase"
    notes: tuple[Note, ...]
    answer: int
    length: int
    start: int | None = None
    end: int | None = None
    reason: str | None = None

    def to_record(self) -> dict[str, Any]:
        return {"type": self.kind, "notes": notes_record(self.notes),
                **_given(start=self.start, end=self.end, reason=self.reason),
                "answer": self.answer, "length": self.length}

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> PhraseEvent:
        return cls(notes=notes_of(record["notes"]), answer=int(record["answer"]),
                   length=int(record["length"]), start=record.get("start"), end=record.get("end"),
                   reason=record.get("reason"))


@dataclass(frozen=True)
class TurnEvent:
    """The player's trading turn ``block`` (an index of turns) ended with ``notes``."""

    kind: ClassVar[str] = "turn"
    block: int
    notes: tuple[Note, ...]

    def to_record(self) -> dict[str, Any]:
        return {"type": self.kind, "block": self.block, "notes": notes_record(self.notes)}

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> TurnEvent:
        return cls(int(record["block"]), notes_of(record["notes"]))


@dataclass(frozen=True)
class ChordEvent:
    """The player's chord ``symbol`` sounds from ``tick`` on. ``at``: the form beat the engine took it
    for a band that follows the played chords (the band re-made its notes from there, or from ``tick``
    if later); None when no band followed, and in logs written before it was kept."""

    kind: ClassVar[str] = "chord"
    tick: int
    symbol: str
    at: float | None = None

    def to_record(self) -> dict[str, Any]:
        return {"type": self.kind, "tick": self.tick, "symbol": self.symbol, **_given(at=self.at)}

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> ChordEvent:
        at = record.get("at")
        return cls(int(record["tick"]), str(record["symbol"]), None if at is None else float(at))


@dataclass(frozen=True)
class ParamEvent:
    """A mapped controller set ``param`` to ``value`` (``raw``: the controller's 0..127)."""

    kind: ClassVar[str] = "param"
    param: str
    value: Any = None
    raw: int | None = None

    def to_record(self) -> dict[str, Any]:
        return {"type": self.kind, "param": self.param, "value": self.value, **_given(raw=self.raw)}

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> ParamEvent:
        return cls(str(record["param"]), record.get("value"), record.get("raw"))


@dataclass(frozen=True)
class JumpEvent:
    """The transport moved: the performer goes on from ``tick``."""

    kind: ClassVar[str] = "jump"
    tick: int

    def to_record(self) -> dict[str, Any]:
        return {"type": self.kind, "tick": self.tick}

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> JumpEvent:
        return cls(int(record["tick"]))


@dataclass(frozen=True)
class BargeEvent:
    """Respond mode: the player started a new call (at ``tick``) while improv answered."""

    kind: ClassVar[str] = "barge"
    tick: int | None = None

    def to_record(self) -> dict[str, Any]:
        return {"type": self.kind, **_given(tick=self.tick)}

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> BargeEvent:
        tick = record.get("tick")
        return cls(None if tick is None else int(tick))


Event = PhraseEvent | TurnEvent | ChordEvent | ParamEvent | JumpEvent | BargeEvent
EVENT_TYPES: dict[str, type[Event]] = {cls.kind: cls for cls in Event.__args__}  # type: ignore[attr-defined]


def event_from_record(record: Mapping[str, Any]) -> Event | None:
    """The event a (checked) log record describes; None for a kind this improv does not know."""
    cls = EVENT_TYPES.get(record.get("type"))  # type: ignore[arg-type]
    return None if cls is None else cls.from_record(record)


@dataclass(frozen=True)
class Answer:
    """The journal's record of an answer that developed its call (log version 2): after ``step``
    improviser steps, the answer at ``tick`` took cell [first note's index, notes] of the call,
    transformed by ``transform`` (``shift`` semitones)."""

    kind: ClassVar[str] = "answer"
    step: int
    tick: int
    cell: tuple[int, int]
    transform: str
    shift: int | None = None

    def to_record(self) -> dict[str, Any]:
        return {"type": self.kind, "step": self.step, "tick": self.tick, "cell": list(self.cell),
                "transform": self.transform, **_given(shift=self.shift)}

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Answer:
        first, size = record["cell"]
        shift = record.get("shift")
        return cls(int(record["step"]), int(record["tick"]), (int(first), int(size)),
                   str(record["transform"]), None if shift is None else int(shift))


__all__ = ["EVENT_TYPES", "Answer", "BargeEvent", "ChordEvent", "Event", "JumpEvent", "ParamEvent",
           "PhraseEvent", "TurnEvent", "event_from_record", "notes_of", "notes_record"]
