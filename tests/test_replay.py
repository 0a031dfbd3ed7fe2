"""The performer and the session log, offline: modes, live parameters, replay note for note."""

from __future__ import annotations

import pytest

from improv.cli import main
from improv.generate import ImproviserSettings, build_improviser
from improv.live.listener import ChordFollower
from improv.model.store import model_hash
from improv.perform.log import SessionLog, progression_record, read_log
from improv.perform.performer import Performer, PerformerSettings, answer_length, answer_start
from improv.perform.played import clip_note
from improv.perform.replay import replay
from improv.theory.progression import parse_progression

CHANGES = "Dm7 | G7 | Cmaj7 | %"
CALL = [[0, 6, 60, 90], [6, 6, 62, 90], [12, 6, 64, 90], [18, 6, 67, 90]]


def _session(tiny_model, tmp_path, settings: PerformerSettings, script: dict[int, list[dict]],
             notes: int = 40):
    """A performer driven like the engine does: events between notes, everything logged."""
    progression = parse_progression(CHANGES)
    chords = ChordFollower(progression)
    imp = build_improviser(chords, ImproviserSettings(seed=9, temperature=0.9), model_dir=tiny_model)
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
    imp = build_improviser(chords, ImproviserSettings(seed=header["seed"], temperature=0.9),
                           model_dir=tiny_model)
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


def test_barge_in_stops_the_answer_and_replays_exactly(tiny_model, tmp_path):
    """The engine's barge-in: the answer's queued notes are skipped, the sounding one is cut, the
    performer waits for the next call; replay gives exactly what was played."""
    progression = parse_progression(CHANGES)
    imp = build_improviser(progression, ImproviserSettings(seed=9, temperature=0.9), model_dir=tiny_model)
    settings = PerformerSettings(mode="respond")
    perf = Performer(imp, settings)
    path = tmp_path / "barge.jsonl"
    log = SessionLog(path)
    log.header(seed=9, model=str(tiny_model), model_hash=model_hash(tiny_model),
               progression=progression_record(progression, None), follow_chords=False,
               chords_sticky=False, performer=vars(settings).copy(), channel=0, end=None,
               tempo=120.0, options={"temperature": 0.9, "low": 52, "high": 84, "swing": 0.0,
                                     "velocity": None})

    def apply(event: dict) -> None:
        log.event(perf.steps, event)
        perf.apply(event)

    apply({"type": "phrase", "notes": CALL, "answer": answer_start(40),
           "length": answer_length(0, 4, 4)})  # a 4-bar answer
    taken = [perf.next_note() for _ in range(6)]
    assert all(taken) and perf.answering
    # the player starts a new call: note 3 sounds (cut half-way), notes 4 and 5 were queued
    cut_at = round(taken[3].onset + taken[3].duration / 2, 6)
    log.write({"type": "cut", "note": 3, "offset": cut_at})
    log.skip(4, "barge-in")
    log.skip(5, "barge-in")
    apply({"type": "barge", "tick": int(cut_at * 12)})
    assert not perf.answering and perf.next_note() is None  # listening again
    second = 240
    apply({"type": "phrase", "notes": [[200, 6, 65, 90]], "answer": second, "length": 24})
    while (note := perf.next_note()) is not None:
        taken.append(note)
    log.close(notes=len(taken))
    assert len(taken) > 6 and all(n.onset >= second / 12 for n in taken[6:])
    played = [clip_note(n, 0, None) for i, n in enumerate(taken) if i not in (4, 5)]
    played[3] = type(played[3])(played[3].onset, cut_at, 0, played[3].pitch, played[3].velocity)
    header, records = read_log(path)
    again = build_improviser(progression, ImproviserSettings(seed=9, temperature=0.9), model_dir=tiny_model)
    assert replay(header, records, again).notes == played
