"""Ideas (issue 9, items 3 and 7): cells and their transforms, the motif memory, answers that develop a call,
and the improviser versions that keep the old behaviour for old session logs."""

from __future__ import annotations

import pytest

from improv.generate import ImproviserSettings, build_improviser, load_model
from improv.improviser import IMPROVISER_VERSION, settings_for_version
from improv.motifs import TRANSFORMS, Cell, MotifSettings, cells, place
from improv.motifs.cells import octave_near, on_grid, shape_matches
from improv.perform.events import Answer
from improv.perform.performer import Performer, PerformerSettings, answer_start
from improv.shaping import Shaping, Steering
from improv.theory.harmony import parse_chord
from improv.theory.progression import parse_progression
from improv.theory.timing import TICKS_PER_BEAT

PROG = parse_progression("Dm7 | G7 | Cmaj7 | A7 | Dm7 | G7 | Em7 A7 | Dm7 G7")
CALL = [[0, 6, 62, 90], [6, 6, 65, 90], [12, 6, 69, 90], [18, 6, 72, 90], [24, 12, 71, 90]]
DM7, G7 = parse_chord("Dm7"), parse_chord("G7")


@pytest.fixture(scope="module")
def model():
    return load_model()  # the shipped degree model: real values, so cells find their values


def _imp(model, motifs=None, seed=3, temperature=0.9):
    """An improviser on the shared model's cell (reset here: use one improviser at a time)."""
    return build_improviser(PROG, ImproviserSettings(seed=seed, temperature=temperature), model=model,
                            motifs=motifs)


class Inert:
    """A motif memory that does nothing: the improviser as it was before the memory existed."""

    def record(self, *args):
        pass

    def before_step(self, *args):
        pass

    def take(self, *args):
        return None

    def answer(self, *args):
        return None


# ------------------------------------------------------------------------------------------ cells
def test_cells_are_runs_of_3_to_6_notes_never_across_a_rest_or_a_gap():
    events = [(0, 6, 60), (6, 6, 62), (12, 6, 64), (18, 6, None), (24, 6, 65), (30, 6, 67), (36, 6, 69),
              (42, 6, 71), (60, 6, 72), (66, 6, 74), (72, 6, 76)]
    found = cells(events, lambda tick: 0)
    assert all(3 <= len(c) <= 6 for c in found)
    groups = [{0, 1, 2}, {3, 4, 5, 6}, {7, 8, 9}]  # note indices of the runs (a rest, then a gap)
    assert all(any(set(range(c.first, c.first + len(c))) <= g for g in groups) for c in found)
    assert sorted((c.first, len(c)) for c in found) == [(0, 3), (3, 3), (3, 4), (4, 3), (7, 3)]
    assert found[1].pitches == (65, 67, 69) and found[1].onsets == (24, 30, 36)


def test_each_transform_keeps_the_cell_and_moves_it_onto_the_new_chord():
    cell = Cell(0, (0, 6, 12, 18), (6, 6, 6, 12), (62, 65, 69, 72), DM7.root)  # D F A C over Dm7
    moved = place(cell, "transpose", 48, G7)
    assert moved.pitches == (67, 70, 74, 77) and moved.onsets == (48, 54, 60, 66) and moved.shift == 5
    assert place(cell, "transpose", 48, DM7) is None  # the same root: that is a repeat, not a transposition
    seq = place(cell, "sequence", 48, DM7, step=1)
    assert seq.shift in (1, 2, -1, -2) and (seq.pitches[0] % 12) in DM7.tones | DM7.tensions
    assert _intervals(seq.pitches) == _intervals(cell.pitches)
    inv = place(cell, "invert", 48, G7)
    assert inv.pitches[0] == 67 and _intervals(inv.pitches) == [-3, -4, -3]
    late = place(cell, "displace", 48, G7, lead=6)
    assert late.onsets == (54, 60, 66, 72) and late.pitches == moved.pitches and late.lead == 6
    triplets = Cell(0, (0, 4, 8), (4, 4, 4), (60, 62, 64), 0)
    assert place(triplets, "displace", 48, G7, lead=6) is None  # triplets an eighth late leave the grid
    with pytest.raises(ValueError, match="unknown transform"):
        place(cell, "retrograde", 48, G7)


def test_a_chain_moves_a_restatement_on_the_way_it_was_moved():
    from improv.motifs.cells import chained

    cell = Cell(0, (0, 6, 12, 18), (6, 6, 6, 6), (62, 65, 69, 72), DM7.root)
    seq = place(cell, "sequence", 24, DM7, step=1)  # a step up over the same chord
    again = chained(seq, seq.pitches, DM7.root, 48, DM7)
    assert again.shift == seq.shift and again.onsets == (48, 54, 60, 66)
    assert _intervals(again.pitches) == _intervals(cell.pitches)
    assert again.pitches[0] == seq.pitches[0] + seq.shift
    moved = place(cell, "transpose", 48, G7)  # ii -> V, then V -> I: the same root motion again
    onto_c = chained(moved, moved.pitches, G7.root, 96, parse_chord("Cmaj7"))
    assert onto_c.pitches[0] - moved.pitches[0] == 5 and onto_c.transform == "transpose"
    assert chained(moved, moved.pitches, G7.root, 96, G7) is None  # no root motion: a plain repeat
    assert chained(place(cell, "invert", 48, G7), moved.pitches, G7.root, 96, parse_chord("C7")) is None


def test_the_grid_octaves_and_the_shape_judge():
    assert on_grid((0, 3, 6, 9, 12, 16, 20)) and not on_grid((0, 3, 4)) and not on_grid((1,))
    assert octave_near((50, 60, 70), 66, 52, 84) == (62, 72, 82)
    assert octave_near((40, 80), 60, 52, 84) is None
    assert shape_matches([60, 62, 65], [67, 69, 72]) == "same"
    assert shape_matches([60, 62, 65], [67, 65, 62]) == "inverted"
    assert shape_matches([60, 62, 65], [67, 68, 72]) is None
    assert shape_matches([60, 62, 65], [67, 68, 72], tolerance=1) == "same"


def _intervals(pitches):
    return [b - a for a, b in zip(pitches, pitches[1:], strict=False)]


# ------------------------------------------------------------------------------------------ memory
def test_the_memory_restates_cells_deterministically(model):
    beats = 8 * PROG.length / TICKS_PER_BEAT
    a = _imp(model)
    notes = a.notes_until(beats)
    assert notes == _imp(model).notes_until(beats)
    assert sum(a.motifs.made.values()) >= 3 and set(a.motifs.made) <= set(TRANSFORMS)
    last = a.motifs.last
    sounded = {(round(n.onset * TICKS_PER_BEAT), n.pitch) for n in notes}
    assert all((s.tick, s.pitch) in sounded for s in last.steps if s.pitch is not None)


def test_a_restatement_is_chosen_by_the_model_not_forced(model):
    beats = 4 * PROG.length / TICKS_PER_BEAT
    never = _imp(model, MotifSettings(appetite=0.0, chance=1.0))
    never.notes_until(beats)
    assert not never.motifs.made  # no appetite: the free continuation always wins the draw
    eager = _imp(model, MotifSettings(appetite=1e6, chance=1.0))
    eager.notes_until(beats)
    assert sum(eager.motifs.made.values()) > sum(_made(model, MotifSettings()))


def _made(model, settings):
    imp = _imp(model, settings)
    imp.notes_until(4 * PROG.length / TICKS_PER_BEAT)
    return imp.motifs.made.values()


def test_motifs_off_is_the_improviser_without_a_memory(model):
    beats = 4 * PROG.length / TICKS_PER_BEAT
    off = _imp(model, MotifSettings.off())
    notes = off.notes_until(beats)
    bare = _imp(model, MotifSettings.off())
    bare.motifs = Inert()
    assert notes == bare.notes_until(beats)
    assert not off.motifs.events and not off.motifs.made
    assert _imp(model).notes_until(beats) != notes


def test_each_improviser_version_has_its_settings():
    assert IMPROVISER_VERSION == 5
    assert settings_for_version(5, 140.0) == (Shaping(tempo=140.0), MotifSettings())
    assert Steering().density > 0 and MotifSettings().chance == 0.35 and Steering().guide == 1.0
    assert settings_for_version(4, 140.0) == (Shaping(tempo=140.0, steering=Steering(guide=2.0, density=0.0)),
                                              MotifSettings(chance=0.5))
    v3 = Shaping(tempo=140.0, steering=Steering(guide=2.0, reference=None, density=0.0), centre_control=False)
    assert settings_for_version(3, 140.0) == (v3, MotifSettings(chance=0.5))
    assert settings_for_version(2, 140.0) == (Shaping(tempo=140.0, steering=None, centre_control=False),
                                              MotifSettings.off())
    assert settings_for_version(1) == (Shaping.off(), MotifSettings.off())
    from improv.errors import InputError

    with pytest.raises(InputError, match="improviser version 99"):
        settings_for_version(99)


# ------------------------------------------------------------------------------------------ answers
def _answer(model, call, seed, motifs=None, length=48):
    imp = _imp(model, motifs, seed=seed)
    perf = Performer(imp, PerformerSettings(mode="respond"))
    journal: list[Answer] = []
    perf.journal = journal.append
    gate = call[-1][0] + call[-1][1] + TICKS_PER_BEAT
    start = answer_start(gate)
    perf.apply({"type": "phrase", "notes": call, "answer": start, "length": length})
    notes = []
    while (note := perf.next_note()) is not None:
        notes.append(note)
    return start, notes, journal


@pytest.mark.parametrize("seed", range(6))
def test_an_answer_starts_on_its_slot_with_a_transformed_cell_of_the_call(model, seed):
    start, notes, journal = _answer(model, CALL, seed)
    assert notes[0].onset == start / TICKS_PER_BEAT  # no leading rest
    assert len(journal) == 1
    record = journal[0]
    first, size = record.cell
    assert record.tick == start and record.transform in TRANSFORMS
    assert 3 <= size <= len(CALL) - 1  # one cell, never the whole call
    call = [n[2] for n in CALL[first : first + size]]
    answer = [n.pitch for n in notes[:size]]
    kind = shape_matches(call, answer, tolerance=2)  # an avoid note may have moved by a semitone
    assert kind == ("inverted" if record.transform == "invert" else "same"), (record, call, answer)
    rhythm = [round((n.onset - notes[0].onset) * TICKS_PER_BEAT) for n in notes[:size]]
    assert rhythm == [n[0] - CALL[first][0] for n in CALL[first : first + size]]
    assert [n.pitch for n in notes] != [n[2] for n in CALL]  # never an echo of the call


@pytest.mark.parametrize("seed", range(8))
def test_a_call_too_short_for_a_cell_still_answers_on_its_first_slot(model, seed):
    start, notes, journal = _answer(model, CALL[:3], seed)
    assert not journal  # three notes: any cell would be the whole call
    assert notes and notes[0].onset == start / TICKS_PER_BEAT


def test_the_version_2_improviser_answers_as_before(model):
    start, notes, journal = _answer(model, CALL, 1, MotifSettings.off())
    imp = _imp(model, MotifSettings.off(), seed=1)
    imp.motifs = Inert()
    perf = Performer(imp, PerformerSettings(mode="respond"))
    perf.apply({"type": "phrase", "notes": CALL, "answer": start, "length": 48})
    again = []
    while (note := perf.next_note()) is not None:
        again.append(note)
    assert not journal and perf.developed == 0 and notes == again


def test_trade_answers_the_players_turn_with_one_of_its_cells(model):
    imp = _imp(model, seed=2)
    perf = Performer(imp, PerformerSettings(mode="trade", trade_bars=1))
    journal: list[Answer] = []
    perf.journal = journal.append
    while perf.next_note() is not None:  # improv's turn (bar 1), then it waits for the player
        pass
    turn = [[48 + n[0], n[1], n[2] + 5, n[3]] for n in CALL]  # the player's bar (over G7)
    perf.apply({"type": "turn", "block": 1, "notes": turn})
    first = perf.next_note()
    assert first.onset == 96 / TICKS_PER_BEAT  # improv's next turn starts on its downbeat
    assert len(journal) == 1 and journal[0].tick == 96 and journal[0].transform in TRANSFORMS


# ------------------------------------------------------------------------------------------ logs
def _logged_session(model, tmp_path, version):
    """A respond session with two calls, logged as `improv play` logs it, improviser ``version``."""
    from improv.generate import default_model_dir
    from improv.model.store import model_hash
    from improv.perform.log import SessionLog, progression_record

    shaping, motifs = settings_for_version(version, 120.0)
    imp = build_improviser(PROG, ImproviserSettings(seed=5, temperature=0.9), model=model, shaping=shaping,
                           motifs=motifs)
    settings = PerformerSettings(mode="respond")
    perf = Performer(imp, settings)
    log = SessionLog(tmp_path / f"v{version}.jsonl")
    perf.journal = log.write
    log.header(seed=5, improviser_version=version, model=str(default_model_dir()),
               model_hash=model_hash(default_model_dir()), progression=progression_record(PROG, None),
               performer=vars(settings).copy(), channel=0, end=None, tempo=120.0,
               options={"temperature": 0.9, "low": 52, "high": 84, "swing": 0.0, "velocity": None})
    played = []
    for call_start in (0, 192):
        call = [[call_start + n[0], n[1], n[2], n[3]] for n in CALL]
        start = answer_start(call[-1][0] + call[-1][1] + TICKS_PER_BEAT)
        event = {"type": "phrase", "notes": call, "answer": start, "length": 48}
        log.event(perf.steps, event)
        perf.apply(event)
        while (note := perf.next_note()) is not None:
            played.append((note.onset, note.pitch))
    log.close(notes=len(played))
    return played, log.path


@pytest.mark.parametrize("version", [2, 3, 4])
def test_a_session_log_replays_with_the_improviser_version_it_names(model, tmp_path, version):
    from improv.cli.replay import replay_log
    from improv.perform.log import read_log

    played, path = _logged_session(model, tmp_path, version)
    header, records = read_log(path)
    answers = [r for r in records if r["type"] == "answer"]
    assert len(answers) == (2 if version >= 3 else 0)
    result = replay_log(header, records)
    assert [(n.onset, n.pitch) for n in result.notes] == played
    assert result.answers == answers
    if version >= 3:
        older, _ = _logged_session(model, tmp_path, 2)
        assert older != played  # the versions really differ, and each log keeps its own
