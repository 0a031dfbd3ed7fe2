"""The mode registry (improv.perform.modes): parsing, help, and each mode's gate on a performer."""

import pytest

from improv.errors import InputError
from improv.perform.events import PhraseEvent, TurnEvent
from improv.perform.modes import AGAIN, MODE_NAMES, MODES, PLAY, WAIT, mode_help, parse_mode
from improv.theory.values import Note


class FakeImp:
    def __init__(self, position=0):
        self.position = position
        self.jumps = []

    def jump(self, tick):
        self.jumps.append(tick)
        self.position = tick


class FakePerf:
    def __init__(self, position=0, *, live=True, turns=(), block_ticks=48 * 4):
        self.imp = FakeImp(position)
        self.answer_end = None
        self.live = live
        self.turns = set(turns)
        self.block_ticks = block_ticks
        self.developed = []

    def develop(self, notes, start, end):
        self.developed.append((notes, start, end))


def test_parse_mode_reads_every_registered_mode_and_names_the_place():
    assert parse_mode("solo", "--mode") == ("solo", None)
    assert parse_mode("respond", "--mode") == ("respond", None)
    assert parse_mode("trade", "--mode") == ("trade", 4)
    assert parse_mode("trade 8", "--mode") == ("trade", 8)
    for bad, why in (("jam", "is not a mode"), ("trade 0", "1..32"), ("trade x", "1..32"),
                     ("solo 2", "takes no number"), ("", "is not a mode")):
        with pytest.raises(InputError, match=why) as info:
            parse_mode(bad, "config.toml: mode")
        assert str(info.value).startswith("config.toml: mode")


def test_help_and_controller_positions_come_from_the_registry():
    assert MODE_NAMES == tuple(MODES) == ("solo", "respond", "trade")
    text = mode_help()
    assert all(mode.usage in text for mode in MODES.values())
    assert [m.listens for m in MODES.values()] == [False, True, True]


def test_respond_waits_until_a_call_gives_it_an_answer_window():
    respond, perf = MODES["respond"], FakePerf()
    assert respond.gate(perf) == WAIT
    call = (Note(0, 6, 60, 90),)
    respond.on_phrase(perf, PhraseEvent(notes=call, answer=96, length=48))
    assert perf.imp.jumps == [96] and perf.answer_end == 144
    assert perf.developed == [(call, 96, 144)]  # the answer develops the call
    assert respond.gate(perf) == PLAY
    perf.imp.position = 144
    assert respond.gate(perf) == WAIT


def test_trade_plays_its_turns_waits_for_the_player_and_skips_a_heard_turn():
    trade = MODES["trade"]
    block = 48 * 4
    assert trade.gate(FakePerf(10, block_ticks=block)) == PLAY
    waiting = FakePerf(block + 5, block_ticks=block)
    assert trade.gate(waiting) == WAIT and waiting.imp.jumps == []
    heard = FakePerf(block + 5, turns={1}, block_ticks=block)
    assert trade.gate(heard) == AGAIN and heard.imp.position == 2 * block
    replaying = FakePerf(block + 5, live=False, block_ticks=block)
    assert trade.gate(replaying) == AGAIN
    assert trade.listening_block(heard, block + 1) == 1 and trade.listening_block(heard, 1) is None
    assert MODES["solo"].listening_block(heard, block + 1) is None


def test_improvs_next_turn_develops_the_players_turn():
    trade, solo = MODES["trade"], MODES["solo"]
    perf = FakePerf(48 * 4 + 5, block_ticks=48 * 4)
    turn = (Note(200, 6, 60, 90),)
    trade.on_turn(perf, TurnEvent(1, turn))
    assert perf.developed == [(turn, 2 * 48 * 4, 3 * 48 * 4)]
    solo.on_turn(perf, TurnEvent(3, ()))
    assert len(perf.developed) == 1
