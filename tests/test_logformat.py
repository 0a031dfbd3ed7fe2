"""Session logs: header and every record checked before replay; versions named; old logs still read."""

from __future__ import annotations

import json

import pytest
from modelkit import random_model_dir

from improv.cli import main
from improv.errors import InputError
from improv.model.store import model_hash
from improv.perform.log import SessionLog, progression_record, read_log
from improv.perform.logformat import LOG_VERSION, READABLE_VERSIONS
from improv.perform.performer import PerformerSettings
from improv.theory.progression import parse_progression


@pytest.fixture()
def model(tmp_path):
    return random_model_dir(tmp_path / "m")


def _lines(model) -> list[dict]:
    """The records of a small valid log, as `improv play` writes them (version 1)."""
    progression = parse_progression("Dm7 G7 | Cmaj7")
    return [
        {"type": "header", "version": LOG_VERSION, "created": "2026-11-24T20:15:00", "seed": 3,
         "model": str(model), "model_hash": model_hash(model),
         "progression": progression_record(progression, None), "follow_chords": True,
         "chords_sticky": False, "performer": vars(PerformerSettings(mode="respond")), "channel": 0,
         "end": 16.0, "tempo": 120.0,
         "options": {"temperature": 0.9, "low": 52, "high": 84, "swing": 0.0, "velocity": None,
                     "tune": None, "bars": 4, "mode": "respond"}},
        {"type": "input", "beat": 0.5, "msg": [144, 60, 90]},
        {"type": "event", "step": 0, "event": {"type": "phrase", "notes": [[6, 6, 60, 90]],
                                               "start": 6, "end": 12, "reason": "gate",
                                               "answer": 15, "length": 12}},
        {"type": "event", "step": 2, "event": {"type": "param", "param": "mode", "value": "solo",
                                               "raw": 0}},
        {"type": "event", "step": 3, "event": {"type": "chord", "tick": 48, "symbol": "G7"}},
        {"type": "skip", "note": 1, "why": "late"},
        {"type": "end", "notes": 5, "reason": "stop"},
    ]


def _write(tmp_path, records) -> str:
    path = tmp_path / "s.jsonl"
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records))
    return str(path)


def test_a_version_1_log_reads_and_replays(tmp_path, model):
    """Logs written before `cut` records and `barge` events existed (the first version 1) still read."""
    lines = _lines(model)
    lines[0]["version"] = 1
    path = _write(tmp_path, lines)
    header, records = read_log(path)
    assert header["seed"] == 3 and [r["type"] for r in records][-1] == "end"
    assert main(["replay", path, "--out", str(tmp_path / "x.mid")]) == 0
    assert READABLE_VERSIONS == (1, 2) and LOG_VERSION == 2


def test_a_version_2_log_reads_its_answer_records(tmp_path, model):
    lines = _lines(model)
    answer = {"type": "answer", "step": 0, "tick": 15, "cell": [0, 3], "transform": "sequence", "shift": 2}
    path = _write(tmp_path, [*lines[:3], answer, *lines[3:]])
    assert read_log(path)[1][2] == answer
    for key, bad, why in (("transform", "retrograde", "is not one of"), ("cell", [0], "has 1 items"),
                          ("tick", 1.5, "must be a whole number")):
        damaged = {**answer, key: bad}
        with pytest.raises(InputError, match=f"s.jsonl:4: answer '{key}' .*{why}"):
            read_log(_write(tmp_path, [*lines[:3], damaged, *lines[3:]]))


def test_the_log_play_writes_reads(tmp_path, model):
    log = SessionLog(tmp_path / "w.jsonl")
    first = _lines(model)[0]
    log.header(**{k: v for k, v in first.items() if k not in ("type", "version", "created")})
    log.event(0, {"type": "jump", "tick": 96})
    log.event(1, {"type": "barge", "tick": 100})
    log.write({"type": "cut", "note": 0, "offset": 1.5})
    log.close(notes=2, reason="stop")
    assert len(read_log(tmp_path / "w.jsonl")[1]) == 4


def _edit(index, change):
    def apply(records):
        change(records[index])
        return records

    return apply


def _pop(index, key):
    return _edit(index, lambda record: record.pop(key))


def _set(index, key, value):
    return _edit(index, lambda record: record.__setitem__(key, value))


BAD = [
    (_pop(0, "progression"), r"s.jsonl:1: header has no 'progression'"),
    (_set(6, "notes", float("nan")), r"s.jsonl:7: end 'notes' must be a whole number, not nan"),
    (_set(6, "notes", 10**15), r"s.jsonl:7: end 'notes' 1000000000000000 is outside 0..200000"),
    (_set(0, "end", 2.0**52), r"s.jsonl:1: header 'end' 4503599627370496.0 is outside 0..100800"),
    (_set(0, "seed", "seven"), r"s.jsonl:1: header 'seed' must be a whole number, not 'seven'"),
    (_set(0, "seed", -1), r"header 'seed' -1 is outside 0..9223372036854775807"),
    (_set(0, "channel", 16), r"header 'channel' 16 is outside 0..15"),
    (_set(0, "performer", {"mode": "solo", "volume": 3}), r"header 'performer' has an unknown key 'volume'"),
    (_set(0, "performer", {"mode": "jam"}), r"'performer' 'mode' 'jam' is not one of"),
    (_set(0, "options", {"temperature": 0.9, "low": 52}), r"header 'options' has no 'high'"),
    (_set(0, "progression", {"spans": [["Dm7", 0, 24], ["G7", 30, 24]], "beats_per_bar": 4}),
     r"header progression: span 2 \['G7', 30, 24\] is not \[symbol, 24, ticks\]"),
    (_set(0, "progression", {"spans": [["C7((((", 0, 48]], "beats_per_bar": 4}),
     r"unknown chord symbol 'C7\(\(\(\(' at .* span 1"),
    (_set(0, "progression", {"spans": [["C7", 0, 48]], "beats_per_bar": 99999}),
     r"'beats_per_bar' 99999 is outside 1..32"),
    (_set(0, "version", 3), r"s.jsonl:1: the session log is in a newer format \(version 3\): "
                            r"this improv reads versions 1, 2"),
    (_set(0, "version", 0), r"the session log is in an older or unknown format \(version 0\)"),
    (_pop(0, "version"), r"older or unknown format \(version None\)"),
    (_set(1, "msg", [144, 60, 900]), r"s.jsonl:2: input 'msg' item 3 900 is outside 0..255"),
    (_set(1, "beat", float("inf")), r"s.jsonl:2: input 'beat' inf is outside"),
    (_set(2, "event", {"type": "phrase", "notes": [[1, 2, 3]], "answer": 0, "length": 1}),
     r"s.jsonl:3: event 'event' \(phrase\) 'notes' item 1 has 3 items"),
    (_set(2, "event", {"type": "dance"}), r"s.jsonl:3: event 'event' is not a known event \('dance'"),
    (_set(3, "event", {"type": "param", "param": "temperature", "value": "hot"}),
     r"\(param\) value must be a number, not 'hot'"),
    (_set(4, "event", {"type": "chord", "tick": 48}), r"s.jsonl:5: event 'event' \(chord\) has no 'symbol'"),
    (_set(5, "type", "teleport"), r"s.jsonl:6: not a session log record \(type 'teleport'"),
    (lambda records: records + ["[1, 2]"], r"s.jsonl:8: not a session log record \(type \[1, 2\]"),
    (lambda records: records[1:], r"s.jsonl:1: not a session log \(no header line first\)"),
    (lambda records: [records[0], "{nope"], r"s.jsonl:2: not a JSON line"),
]


@pytest.mark.parametrize(("damage", "message"), BAD)
def test_a_damaged_log_names_line_and_key(tmp_path, model, damage, message):
    path = _write(tmp_path, damage(_lines(model)))
    with pytest.raises(InputError, match=message):
        read_log(path)


def test_replay_of_a_damaged_log_is_one_line_exit_2(tmp_path, model, capsys):
    records = _lines(model)
    del records[0]["progression"]
    path = _write(tmp_path, records)
    assert main(["replay", path, "--out", str(tmp_path / "x.mid")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "has no 'progression'" in err


def test_replay_out_a_directory_is_an_input_error(tmp_path, model, capsys):
    path = _write(tmp_path, _lines(model))
    assert main(["replay", path, "--out", "/"]) == 2
    assert "--out: / is a directory" in capsys.readouterr().err


def test_a_log_that_is_not_text(tmp_path):
    path = tmp_path / "s.jsonl"
    path.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(InputError, match="not UTF-8 text"):
        read_log(path)
