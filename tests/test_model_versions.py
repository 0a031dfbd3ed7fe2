"""Model versions: the previous default (kind/leap values) ships as ``v1`` and still plays as it did;
a session log that names it replays with it after the default changed."""

from __future__ import annotations

import json

import pytest

from improv.cli.replay import replay_log, shipped_model_with_hash
from improv.generate import (
    ImproviserSettings,
    build_improviser,
    default_model_dir,
    generate_solo,
    load_model,
    model_version,
)
from improv.live.listener import ChordFollower
from improv.model.store import model_hash
from improv.motifs import MotifSettings
from improv.perform.log import SessionLog, progression_record
from improv.perform.performer import Performer, PerformerSettings
from improv.shaping import Shaping
from improv.theory.degrees import DegreeVocabulary
from improv.theory.progression import parse_progression
from improv.theory.values import Vocabulary

V1 = default_model_dir().parent / "v1"
CHANGES = "Dm7 | G7 | Cmaj7 | %"


def test_v1_is_the_kind_leap_model_and_loads():
    model = load_model(V1)
    assert isinstance(model.vocab, Vocabulary) and model.cond_version == 1 and model.cell.layers == 1
    assert model_version(V1) == 1
    assert json.loads((V1 / "card.json").read_text())["model_version"] == 1


def test_the_default_model_is_the_degree_model():
    model = load_model()
    assert isinstance(model.vocab, DegreeVocabulary) and model.cond_version == 3
    assert model_version(default_model_dir()) == 2  # the values version: degree values


def test_v1_generates_the_same_notes_for_a_seed():
    prog = parse_progression(CHANGES)
    settings = ImproviserSettings(seed=4, temperature=1.0)
    first = generate_solo(build_improviser(prog, settings, model_dir=V1), 8)
    again = generate_solo(build_improviser(prog, settings, model_dir=V1), 8)
    assert first == again and len(first) > 8


def test_a_log_naming_the_old_default_replays_with_v1(tmp_path):
    assert shipped_model_with_hash(model_hash(V1)) == V1
    progression = parse_progression(CHANGES)
    chords = ChordFollower(progression)
    # made before the shaping: the log names no improviser version, so replay rebuilds version 1
    imp = build_improviser(chords, ImproviserSettings(seed=9, temperature=0.9), model_dir=V1,
                           shaping=Shaping.off(), motifs=MotifSettings.off())
    perf = Performer(imp, PerformerSettings(), chords=chords)
    path = tmp_path / "s.jsonl"
    log = SessionLog(path)
    # an old log: it names the default directory, whose files were v1's when it was made
    log.header(seed=9, model=str(default_model_dir()), model_hash=model_hash(V1),
               progression=progression_record(progression, None), follow_chords=True,
               chords_sticky=False, performer=vars(PerformerSettings()).copy(), channel=0, end=None,
               tempo=120.0, options={"temperature": 0.9, "low": 52, "high": 84, "swing": 0.0,
                                     "velocity": None})
    played = [perf.next_note() for _ in range(30)]
    log.close(notes=len(played))
    from improv.perform.log import read_log

    header, records = read_log(path)
    result = replay_log(header, records)
    assert [(n.onset, n.pitch) for n in result.notes[:30]] == [(n.onset, n.pitch) for n in played]


def test_a_log_whose_model_is_gone_says_why(tmp_path):
    from improv.errors import InputError

    header = {"model": str(default_model_dir()), "model_hash": "0" * 64, "seed": 1,
              "progression": {}, "options": {}}
    with pytest.raises(InputError, match="no shipped model has the logged hash"):
        replay_log(header, [])
