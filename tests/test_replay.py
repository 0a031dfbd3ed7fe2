"""The performer and the session log, offline: modes, live parameters, replay note for note."""

from __future__ import annotations

import pytest

from improv.cli import main
from improv.generate import build_improviser
from improv.live.listener import ChordFollower
from improv.live.session import (
    Performer,
    PerformerSettings,
    SessionLog,
    answer_length,
    answer_start,
    clip_note,
    model_hash,
    progression_record,
    read_log,
    replay,
)
from improv.theory.progression import parse_progression

CHANGES = "Dm7 | G7 | Cmaj7 | %"
CALL = [[0, 6, 60, 90], [6, 6, 62, 90], [12, 6, 64, 90], [18, 6, 67, 90]]


def _session(tiny_model, tmp_path, settings: PerformerSettings, script: dict[int, list[dict]],
             notes: int = 40):
    """A performer driven like the engine does: events between notes, everything logged."""
    progression = parse_progression(CHANGES)
    chords = ChordFollower(progression)
    imp = build_improviser(chords, model_dir=tiny_model, seed=9, temperature=0.9)
    perf = Performer(imp, settings, chords=chords)
    path = tmp_path / "s.jsonl"
    log = SessionLog(path)
    log.header(seed=9, model=str(tiny_model), model_hash=model_hash(tiny_model),
               progression=progression_record(progression, None), follow_chords=True,
               chords_sticky=False, performer=vars(settings).copy(), channel=0, end=None,
               tempo=120.0, options={"temperature": 0.9, "low": 52, "high": 84, "swing": 0.0,
                                     "velocity": None})
    played = []
    for index in range(notes):
        for event in script.get(index, []):
            log.event(perf.steps, event)
            perf.apply(event)
        note = perf.next_note()
        if note is None:
            break
        played.append(clip_note(note, 0, None))
    log.close(notes=len(played))
    return played, path


def _replay(path, tiny_model):
    header, records = read_log(path)
    progression = parse_progression(CHANGES)
    chords = ChordFollower(progression)
    imp = build_improviser(chords, model_dir=tiny_model, seed=header["seed"], temperature=0.9)
    return replay(header, records, imp, chords=chords).notes


def test_solo_with_reseeds_params_and_chords_replays_exactly(tiny_model, tmp_path):
    script = {5: [{"type": "phrase", "notes": CALL, "answer": 0, "length": 0}],
              10: [{"type": "param", "param": "temperature", "value": 1.7},
                   {"type": "chord", "tick": 96, "symbol": "Eb7"}],
              20: [{"type": "param", "param": "density", "value": 0.5}]}
    played, path = _session(tiny_model, tmp_path, PerformerSettings(), script)
    assert len(played) == 40
    assert _replay(path, tiny_model) == played
    plain, _ = _session(tiny_model, tmp_path / "plain", PerformerSettings(), {})
    assert plain[:5] == played[:5] and plain != played  # the events changed what came after


def test_respond_waits_for_a_call_and_answers_for_its_length(tiny_model, tmp_path):
    event = {"type": "phrase", "notes": CALL, "answer": answer_start(40),
             "length": answer_length(24, None, 4)}
    played, path = _session(tiny_model, tmp_path, PerformerSettings(mode="respond"), {0: [event]})
    assert played and played[0].onset >= 42 / 12
    assert all(n.onset < (42 + 24) / 12 for n in played)
    assert _replay(path, tiny_model) == played


def test_trade_skips_the_players_turns(tiny_model, tmp_path):
    turn = {"type": "turn", "block": 1, "notes": [[48, 6, 65, 90]]}
    settings = PerformerSettings(mode="trade", trade_bars=1)
    played, path = _session(tiny_model, tmp_path, settings, {}, notes=30)
    assert played and all(n.onset < 4 for n in played)  # waits at the player's turn
    played, path = _session(tiny_model, tmp_path, settings, {3: [turn]}, notes=30)
    assert all(int(n.onset // 4) % 2 == 0 for n in played) and played[-1].onset >= 8
    assert _replay(path, tiny_model) == played


def test_chord_follower_overrides_to_the_end_of_the_span():
    follower = ChordFollower(parse_progression(CHANGES))
    follower.override(54, "Ab7")
    assert follower.chord_at(53).symbol == "G7"
    assert follower.chord_at(54).symbol == "Ab7" and follower.chord_at(95).symbol == "Ab7"
    assert follower.chord_at(96).symbol == "Cmaj7"
    sticky = ChordFollower(parse_progression("N.C."), sticky=True)
    sticky.override(10, "F7")
    assert sticky.chord_at(1000).symbol == "F7" and sticky.chord_at(5).symbol == "N.C."


def test_replay_rejects_a_bad_log(tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"type": "input", "beat": 0, "msg": [144, 60, 90]}\n')
    assert main(["replay", str(bad), "--out", str(tmp_path / "x.mid")]) == 2
    assert "no header" in capsys.readouterr().err
    with pytest.raises(Exception, match="not a JSON line"):
        bad.write_text("{nope\n")
        read_log(bad)
