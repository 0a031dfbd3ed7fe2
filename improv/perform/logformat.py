"""The session log's format: which versions can be read, and every record checked before replay.

A session log is JSON lines (see :mod:`improv.perform.log`). :func:`check_record` checks one record
against the schema of its type (required keys, types, finite numbers, ranges), so a replay of a
damaged or hand-edited log stops with the line and the key at fault, never in the middle of the
improviser. The schemas are plain tables: a new record field or event type is one more entry.

Versions: ``LOG_VERSION`` is what ``improv play`` writes; ``READABLE_VERSIONS`` every version this
project has written (1: since session logs exist; ``cut`` records and ``barge`` events came later
within it and are optional; 2: adds ``answer`` records, which cell of a call an answer developed and
how; a version-1 log has none and reads as before). Optional keys that came later within a version:
``at`` on a ``chord`` event (the form beat a band following the played chords re-made its notes from;
without it a replay re-makes from the chord's tick). The event schemas here and the event classes of
:mod:`improv.perform.events` have the same names (a test holds them together); the classes read a
record only after :func:`check_record` accepted it. A log from another version says whether it is
newer or older.
No threads, no I/O: pure checks on decoded JSON.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from improv.errors import InputError, excerpt
from improv.model.sampling import TEMPERATURES
from improv.motifs.cells import TRANSFORMS
from improv.perform.modes import MODE_NAMES

LOG_VERSION = 2
READABLE_VERSIONS = (1, 2)
MODES = MODE_NAMES  # the registry in improv.perform.modes
BIG = 2**53  # ticks, steps and note counts: integers JSON keeps exactly
MAX_NOTES = 200_000  # notes a replay may make: 7 hours of eighths at 240 BPM, under a minute of work
MAX_BEATS = 100_800  # where a logged session may end: those 7 hours at 240 BPM (the band is made to it)

Check = Callable[[Any], str | None]  # None if fine, else what is wrong


def integer(low: int = -BIG, high: int = BIG) -> Check:
    def check(value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, int):
            return f"must be a whole number, not {excerpt(value, 30)}"
        return None if low <= value <= high else f"{value} is outside {low}..{high}"

    return check


def number(low: float = -BIG, high: float = BIG) -> Check:
    def check(value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"must be a number, not {excerpt(value, 30)}"
        if not math.isfinite(value) or not low <= value <= high:
            return f"{value} is outside {low:g}..{high:g}"
        return None

    return check


def of_type(kind: type, name: str) -> Check:
    def check(value: Any) -> str | None:
        return None if isinstance(value, kind) else f"must be {name}, not {excerpt(value, 30)}"

    return check


def optional(inner: Check) -> Check:
    return lambda value: None if value is None else inner(value)


def one_of(choices: tuple) -> Check:
    return lambda value: None if value in choices else f"{excerpt(value, 30)} is not one of {choices}"


def list_of(inner: Check, low: int = 0, high: int = BIG, length: int | None = None) -> Check:
    """A list of ``low..high`` items each passing ``inner`` (``length``: exactly that many)."""

    def check(value: Any) -> str | None:
        if not isinstance(value, list):
            return f"must be a list, not {excerpt(value, 30)}"
        if (length is not None and len(value) != length) or not low <= len(value) <= high:
            return f"has {len(value)} items"
        for index, item in enumerate(value):
            problem = inner(item)
            if problem:
                return f"item {index + 1} {problem}"
        return None

    return check


def fields(required: dict[str, Check], extra: dict[str, Check] | None = None,
           closed: bool = False) -> Check:
    """A JSON object with ``required`` keys and optional ``extra`` ones (``closed``: no others)."""
    known = {**required, **(extra or {})}

    def check(value: Any) -> str | None:
        if not isinstance(value, dict):
            return f"must be an object, not {excerpt(value, 30)}"
        for key in required:
            if key not in value:
                return f"has no {key!r}"
        for key, item in value.items():
            if key in known:
                problem = known[key](item)
                if problem:
                    return f"{key!r} {problem}"
            elif closed:
                return f"has an unknown key {excerpt(key, 30)}"
        return None

    return check


TEXT, FLAG = of_type(str, "text"), of_type(bool, "true or false")
PITCH, TICK = integer(0, 127), integer()
NOTE = list_of(integer(), length=4)  # onset ticks, duration ticks, pitch, velocity
SPAN = list_of(lambda item: None, length=3)  # [symbol, start, length]: checked in the progression
PROGRESSION = fields(
    {"spans": list_of(SPAN, 1, 100_000), "beats_per_bar": integer(1, 32)},
    {"title": optional(TEXT), "sections": optional(list_of(optional(TEXT)))},
)
PERFORMER = fields(
    {},
    {"mode": one_of(MODES), "trade_bars": integer(1, 64), "response_bars": optional(integer(1, 64)),
     "reseed_weight": number(0, 1), "density": number(0, 1)},
    closed=True,
)
OPTIONS = fields(
    {"temperature": number(*TEMPERATURES), "low": PITCH, "high": PITCH},
    {"swing": optional(number(0, 0.75)), "velocity": optional(integer(1, 127)),
     "lookahead": optional(number(0.01, 64))},
)
HEADER = fields(
    {"version": integer(), "seed": integer(0, 2**63 - 1), "model": TEXT, "model_hash": TEXT,
     "progression": PROGRESSION, "performer": PERFORMER, "channel": integer(0, 15),
     "options": OPTIONS},
    {"follow_chords": FLAG, "chords_sticky": FLAG, "end": optional(number(0, MAX_BEATS)),
     "tempo": optional(number(1, 1000)), "created": TEXT},
)
NUMERIC_PARAMS = ("temperature", "density", "register_centre", "response_length", "reseed_weight")
EVENTS: dict[str, Check] = {
    "phrase": fields({"notes": list_of(NOTE), "answer": TICK, "length": integer(0, BIG)}),
    "turn": fields({"notes": list_of(NOTE), "block": integer(0, BIG)}),
    "chord": fields({"tick": TICK, "symbol": TEXT}, {"at": number()}),  # at: a following band re-made
    "param": fields({"param": TEXT}),
    "jump": fields({"tick": TICK}),
    "barge": fields({}, {"tick": TICK}),
}
RECORDS: dict[str, Check] = {
    "input": fields({"beat": number(), "msg": list_of(integer(0, 255), 1, 3)}),
    "event": fields({"step": integer(0, BIG), "event": lambda value: check_event(value)}),
    "skip": fields({"note": integer(0, BIG)}, {"why": TEXT}),
    "cut": fields({"note": integer(0, BIG), "offset": number()}),
    "end": fields({"notes": integer(0, MAX_NOTES)}, {"reason": TEXT}),
    # version 2: an answer took cell [first note's index in the call, notes] of the call, transformed
    "answer": fields({"step": integer(0, BIG), "tick": TICK, "cell": list_of(integer(0, BIG), length=2),
                      "transform": one_of(TRANSFORMS)}, {"shift": integer(-127, 127)}),
}


def check_event(event: Any) -> str | None:
    """What is wrong with a performer event (None if nothing)."""
    if not isinstance(event, dict) or event.get("type") not in EVENTS:
        kind = event.get("type") if isinstance(event, dict) else event
        return f"is not a known event ({excerpt(kind, 30)}; known: {', '.join(EVENTS)})"
    problem = EVENTS[event["type"]](event)
    if problem is None and event["type"] == "param":
        value, param = event.get("value"), event["param"]
        if param == "mode":
            problem = one_of(MODES)(value)
        elif param in NUMERIC_PARAMS:
            problem = number()(value)
        problem = problem and f"value {problem}"
    return problem and f"({event['type']}) {problem}"


def check_header(record: Any, where: str) -> dict:
    """The header, checked: a readable version first, then its fields."""
    if not isinstance(record, dict) or record.get("type") != "header":
        raise InputError(f"{where}: not a session log (no header line first)")
    version = record.get("version")
    if version not in READABLE_VERSIONS:
        if isinstance(version, int) and not isinstance(version, bool) and version > LOG_VERSION:
            age = f"a newer format (version {version}): this improv reads versions"
        else:
            age = f"an older or unknown format (version {excerpt(version, 20)}): this improv reads versions"
        raise InputError(f"{where}: the session log is in {age} "
                         f"{', '.join(map(str, READABLE_VERSIONS))}")
    problem = HEADER(record)
    if problem:
        raise InputError(f"{where}: header {problem}")
    return record


def check_record(record: Any, where: str) -> dict:
    """One record after the header, checked against the schema of its type."""
    if not isinstance(record, dict) or record.get("type") not in RECORDS:
        kind = record.get("type") if isinstance(record, dict) else record
        raise InputError(f"{where}: not a session log record (type {excerpt(kind, 30)}; "
                         f"known: header, {', '.join(RECORDS)})")
    problem = RECORDS[record["type"]](record)
    if problem:
        raise InputError(f"{where}: {record['type']} {problem}")
    return record
