"""Replay a session log: drive a new performer with the logged events at the logged step counts
and get the same notes, with no ports and no clock. The records (checked by
:mod:`improv.perform.log`) become typed events (:mod:`improv.perform.events`) here, once. No threads.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from improv.errors import InputError
from improv.perform.events import Answer, ChordEvent, Event, event_from_record
from improv.perform.performer import Performer, PerformerSettings
from improv.perform.played import PlayedNote, clip_note

log = logging.getLogger(__name__)


@dataclass
class ReplayResult:
    """What a replay produced: improv's notes and the player's messages."""

    notes: list[PlayedNote]
    player: list[tuple[float, tuple[int, ...]]]
    header: dict
    answers: list[dict] = field(default_factory=list)  # the answer records the replay made (as logged)


def replay(header: dict, records: list[dict], improviser, *, chords=None) -> ReplayResult:
    """Drive ``improviser`` (built from the header) with the logged events; no ports, no clock."""
    perf = Performer(improviser, PerformerSettings(**header["performer"]), chords=chords,
                     live=False)
    answers: list[Answer] = []
    perf.journal = answers.append
    events = logged_events(records)
    skips = {int(r["note"]) for r in records if r["type"] == "skip"}
    cuts = {int(r["note"]): float(r["offset"]) for r in records if r["type"] == "cut"}
    ends = [r for r in records if r["type"] == "end"]
    if not ends:
        raise InputError("the session log has no end line (the session did not finish cleanly)")
    total = int(ends[-1]["notes"])
    channel, end = int(header["channel"]), header.get("end")
    notes: list[PlayedNote] = []
    index = 0
    taken = 0
    while taken < total:
        while index < len(events) and events[index][0] <= perf.steps:
            perf.apply(events[index][1])
            index += 1
        note = perf.next_note()
        if note is None:
            if index >= len(events):
                log.warning("replay: the log ends after %d of %d notes", taken, total)
                break
            perf.apply(events[index][1])  # idle until the next event (defensive)
            index += 1
            continue
        if taken not in skips:
            played = clip_note(note, channel, end)
            if taken in cuts:
                played = PlayedNote(played.onset, cuts[taken], channel, played.pitch,
                                    played.velocity)
            notes.append(played)
        taken += 1
    player = [(float(r["beat"]), tuple(r["msg"])) for r in records if r["type"] == "input"]
    logged = [Answer.from_record(r) for r in records if r["type"] == "answer"]
    if logged and logged != answers[: len(logged)]:
        log.warning("replay: the answers differ from the logged ones (%d logged, %d made)", len(logged),
                    len(answers))
    return ReplayResult(notes, player, header, [a.to_record() for a in answers])


def logged_events(records: list[dict]) -> list[tuple[int, Event]]:
    """(step, typed event) of every ``event`` record, in the log's order (kinds this improv does not
    know are left out)."""
    pairs = [(int(r["step"]), event_from_record(r["event"])) for r in records if r["type"] == "event"]
    return [(step, event) for step, event in pairs if event is not None]


def logged_chords(records: list[dict]) -> list[ChordEvent]:
    """The played chords the session took, in order (what a band following them re-made)."""
    return [event for _, event in logged_events(records) if isinstance(event, ChordEvent)]

__all__ = ["ReplayResult", "logged_chords", "logged_events", "replay"]
