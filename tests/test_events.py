"""Typed performer events (improv.perform.events): the log's lines stay as they were, every record of
every version reads and writes back exactly, and a replay's band follows the logged chords."""

from __future__ import annotations

import json
from dataclasses import asdict

from improv.cli.replay import band_of
from improv.generate import session_band
from improv.live.inputs import TradeTurns
from improv.live.listener import ChordFollower, Phrase
from improv.perform import logformat
from improv.perform.band import BandChannels
from improv.perform.events import (
    EVENT_TYPES,
    Answer,
    BargeEvent,
    ChordEvent,
    JumpEvent,
    ParamEvent,
    PhraseEvent,
    TurnEvent,
    event_from_record,
)
from improv.perform.log import SessionLog, progression_record
from improv.perform.performer import PerformerSettings
from improv.theory.progression import parse_progression
from improv.theory.values import Note

CALL = (Note(6, 6, 60, 90), Note(12, 3, 62, 80))

# the lines `improv play` has written (before the events were typed), as they are on disk
LINES = [
    '{"type":"event","step":4,"event":{"type":"phrase","notes":[[6,6,60,90],[12,3,62,80]],"start":6,'
    '"end":16,"reason":"silence","answer":18,"length":12}}',
    '{"type":"event","step":5,"event":{"type":"turn","block":1,"notes":[[6,6,60,90],[12,3,62,80]]}}',
    '{"type":"event","step":6,"event":{"type":"chord","tick":48,"symbol":"G7"}}',
    '{"type":"event","step":7,"event":{"type":"param","param":"temperature","value":1.2,"raw":71}}',
    '{"type":"event","step":8,"event":{"type":"jump","tick":96}}',
    '{"type":"event","step":9,"event":{"type":"barge","tick":100}}',
    '{"type":"answer","step":9,"tick":108,"cell":[1,4],"transform":"sequence","shift":-2}',
]


def test_typed_events_write_the_lines_the_log_always_had(tmp_path):
    log = SessionLog(tmp_path / "s.jsonl")
    log.event(4, PhraseEvent(notes=CALL, start=6, end=16, reason="silence", answer=18, length=12))
    log.event(5, TurnEvent(1, CALL))
    log.event(6, ChordEvent(48, "G7"))
    log.event(7, ParamEvent("temperature", 1.2, 71))
    log.event(8, JumpEvent(96))
    log.event(9, BargeEvent(100))
    log.write(Answer(9, 108, (1, 4), "sequence", -2))
    log.close(notes=3)
    lines = (tmp_path / "s.jsonl").read_text().splitlines()
    assert lines[:-1] == LINES


def test_every_record_of_every_version_reads_and_writes_back_exactly():
    records = [json.loads(line) for line in LINES]
    older = [  # keys that came later within version 1, or that only some sessions write
        {"type": "phrase", "notes": [[0, 6, 60, 90]], "answer": 15, "length": 12},
        {"type": "barge"},
        {"type": "param", "param": "panic", "value": 1.0},
        {"type": "param", "param": "mode", "value": "respond", "raw": 64},
        {"type": "chord", "tick": 48, "symbol": "Gb7", "at": 4.024},
        {"type": "turn", "block": 3, "notes": []},
    ]
    events = [r["event"] for r in records if r["type"] == "event"] + older
    for record in events:
        assert logformat.check_event(record) is None, record
        event = event_from_record(record)
        assert isinstance(event, EVENT_TYPES[record["type"]])
        assert json.dumps(event.to_record()) == json.dumps(record)
    answer = records[-1]
    assert logformat.check_record(answer, "s.jsonl:7") == answer
    assert Answer.from_record(answer).to_record() == answer
    assert event_from_record({"type": "later"}) is None  # a kind this improv does not know
    typed = event_from_record(events[0])
    assert typed.notes == CALL and isinstance(typed.notes[0], Note) and typed.answer == 18


def test_the_event_classes_and_the_log_schemas_name_the_same_kinds():
    assert set(EVENT_TYPES) == set(logformat.EVENTS)


def test_a_trading_turn_is_a_typed_event_with_its_notes_in_order():
    turns = TradeTurns(guard=0.06)  # 1.44 ticks at 0.5 s a beat
    block_ticks = 48
    phrases = [Phrase((Note(60, 6, 64, 90), Note(50, 3, 62, 80)), 50, 66, "flush"),
               Phrase((Note(20, 6, 55, 70),), 20, 26, "flush")]  # before the turn (block 1 starts at 48)
    assert turns.check(49.0, block_ticks, 0.5, lambda: []) is None  # the turn started: nothing yet
    event = turns.check(95.9, block_ticks, 0.5, lambda: phrases)
    assert event == TurnEvent(1, (Note(50, 3, 62, 80), Note(60, 6, 64, 90)))
    assert event.to_record() == {"type": "turn", "block": 1, "notes": [[50, 3, 62, 80], [60, 6, 64, 90]]}


def _band_log(chords: list[dict]) -> tuple[dict, list[dict]]:
    """The header and records of a 4-bar session over C7 whose band followed ``chords``."""
    base = parse_progression("C7 | C7 | C7 | C7")
    header = {"type": "header", "version": logformat.LOG_VERSION, "seed": 7, "model": "m", "model_hash": "h",
              "progression": progression_record(base, None), "follow_chords": True, "chords_sticky": False,
              "performer": asdict(PerformerSettings()), "channel": 0, "end": 16.0, "tempo": 120.0,
              "options": {"temperature": 0.9, "low": 52, "high": 84},
              "band": {"parts": ["bass", "comp", "drums"], "channels": asdict(BandChannels()), "swing": 0.5,
                       "groove": "swing"}}
    records = [{"type": "event", "step": 3 + i, "event": chord} for i, chord in enumerate(chords)]
    return header, records + [{"type": "end", "notes": 0}]


def _key(note) -> tuple:
    return (note.onset, note.channel, note.pitch, note.offset, note.velocity)


def _bar(notes, bar: int) -> list[tuple[float, int, int]]:
    return sorted((n.onset, n.channel, n.pitch) for n in notes if 4 * bar <= n.onset < 4 * bar + 4)


def test_a_replayed_band_follows_the_logged_chords_of_an_older_log():
    """A log from before ``at`` was kept: the band takes each chord at its tick, so the replay's bar 2 is
    what a band that played bar 1 on C7 makes of bar 2 on the played Gb7."""
    header, records = _band_log([{"type": "chord", "tick": 48, "symbol": "Gb7"}])
    replayed = band_of(header, [], records)
    unfollowed = band_of({**header, "follow_chords": False}, [], records)
    follower = ChordFollower(parse_progression("C7 | C7 | C7 | C7"))
    reference = session_band(follower, seed=7, tempo=120.0, swing=0.5, parts=("bass", "comp", "drums"),
                             channels=BandChannels())
    reference.bar(0)
    follower.override(48, "Gb7")
    expected = sorted((n.onset, n.channel, n.pitch) for notes in reference.bar(1).values() for n in notes)
    assert _bar(replayed, 0) == _bar(unfollowed, 0)  # bar 1: before the chord, as written
    assert _bar(replayed, 1) == expected != _bar(unfollowed, 1)  # bar 2 on Gb7
    comp = {n.pitch % 12 for n in replayed if n.channel == 2 and 4.0 <= n.onset < 8.0}
    assert comp and comp <= {6, 8, 10, 0, 1, 3, 4}  # the comping voices Gb7 (Gb mixolydian), not C7
    assert all(n.offset <= 16.0 for n in replayed) and max(n.onset for n in replayed) < 16.0


def test_a_replayed_band_without_chords_is_the_written_band():
    header, records = _band_log([])
    followed = band_of(header, [], records)
    written = band_of({**header, "follow_chords": False}, [], records)
    assert followed and sorted(followed, key=_key) == sorted(written, key=_key)
