"""Performing modes as objects: what improv does with the player's calls, and when it plays.

A mode is one class here: defining a `Mode` subclass registers it in `MODES` (in the order the classes
are defined), and the ``--mode`` choices, their help, config validation, the ``mode`` controller's
positions and the session log's check all come from the registry.
Modes hold no state (the performer does): one instance each, safe to share. Ticks throughout.

- `Solo`: improv plays on; a call reseeds it.
- `Respond`: call and response: a call is answered after it ends; improv waits otherwise.
- `Trade`: ``trade N``: N bars each, improv first; the player's turn reseeds the next one.

An answer (a respond answer, or improv's turn after the player's) develops the call
(``Performer.develop``, improviser version 3): its first note sounds on the answer's first grid slot,
on a cell (3-6 notes, never the whole call) of the call transformed onto the chord there (transposed,
sequenced, inverted or displaced: ``improv.motifs``), then the model goes on in its own words.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from improv.errors import InputError

if TYPE_CHECKING:
    from improv.perform.events import PhraseEvent, TurnEvent
    from improv.perform.performer import Performer

PLAY, WAIT, AGAIN = "play", "wait", "again"  # Mode.gate: step now, nothing to play yet, ask again
# The registry: one instance per mode, by name, in the order of the ``mode`` controller's positions.
MODES: dict[str, Mode] = {}


class Mode:
    """The default behaviour (solo): always play, answer nothing, no turns."""

    name: ClassVar[str] = "solo"
    usage: ClassVar[str] = "solo"
    help: ClassVar[str] = "default: plays on, the player reseeds it"
    listens: ClassVar[bool] = False  # the mode needs a player input
    answers: ClassVar[bool] = False  # calls get answers (and a new call barges in)
    trades: ClassVar[bool] = False  # the player has turns (phrases are gathered per turn)

    def __init_subclass__(cls, **kwargs) -> None:
        """Register the new mode (a subclass reusing a name replaces that mode)."""
        super().__init_subclass__(**kwargs)
        MODES[cls.name] = cls()

    def parse(self, words: Sequence[str], where: str) -> int | None:
        """The mode's argument from the words after its name (none here)."""
        if words:
            raise InputError(f"{where}: {self.name} takes no number, got {' '.join(words)[:30]!r}")
        return None

    def on_phrase(self, perf: Performer, event: PhraseEvent) -> None:
        """A call ended (the performer reseeded already)."""

    def on_turn(self, perf: Performer, event: TurnEvent) -> None:
        """The player's trading turn ended (the performer reseeded already)."""

    def gate(self, perf: Performer) -> str:
        """Whether the performer may step now: PLAY, WAIT (return no note) or AGAIN (it moved)."""
        return PLAY

    def listening_block(self, perf: Performer, tick: float) -> int | None:
        """The index of the player's turn ``tick`` falls in, None outside one."""
        return None


class Solo(Mode):
    pass


class Respond(Mode):
    name = usage = "respond"
    help = "call and response"
    listens = answers = True

    def on_phrase(self, perf: Performer, event: PhraseEvent) -> None:
        perf.imp.jump(event.answer)
        perf.answer_end = event.answer + event.length
        perf.develop(event.notes, event.answer, perf.answer_end)

    def gate(self, perf: Performer) -> str:
        if perf.answer_end is None or perf.imp.position >= perf.answer_end:
            return WAIT
        return PLAY


class Trade(Mode):
    name = "trade"
    usage = "trade N"
    help = "N bars each"
    listens = trades = True
    DEFAULT_BARS = 4
    MAX_BARS = 32

    def parse(self, words: Sequence[str], where: str) -> int | None:
        if not words:
            return self.DEFAULT_BARS
        if len(words) > 1 or not words[0].isdigit() or not 1 <= int(words[0]) <= self.MAX_BARS:
            raise InputError(f"{where}: trade takes a number of bars 1..{self.MAX_BARS}, e.g. --mode trade 4")
        return int(words[0])

    def on_turn(self, perf: Performer, event: TurnEvent) -> None:
        start = (event.block + 1) * perf.block_ticks  # improv's next turn answers this one
        perf.develop(event.notes, start, start + perf.block_ticks)

    def gate(self, perf: Performer) -> str:
        block = perf.imp.position // perf.block_ticks
        if block % 2 == 0:
            return PLAY
        if perf.live and block not in perf.turns:
            return WAIT
        perf.imp.jump((block + 1) * perf.block_ticks)
        return AGAIN

    def listening_block(self, perf: Performer, tick: float) -> int | None:
        block = int(tick // perf.block_ticks)
        return block if block % 2 == 1 else None


DEFAULT_MODE: Mode = MODES[Solo.name]
MODE_NAMES: tuple[str, ...] = tuple(MODES)


def mode_help() -> str:
    """``solo (...), respond (...) or trade N (...)`` for --help."""
    parts = [f"{m.usage} ({m.help})" for m in MODES.values()]
    return ", ".join(parts[:-1]) + " or " + parts[-1]


def parse_mode(text: str, where: str) -> tuple[str, int | None]:
    """``'solo'``, ``'respond'`` or ``'trade N'`` -> (name, argument); InputError naming ``where``."""
    words = text.split()
    if not words or words[0] not in MODES:
        usages = ", ".join(m.usage for m in MODES.values())
        raise InputError(f"{where}: {text[:40]!r} is not a mode ({usages})")
    return words[0], MODES[words[0]].parse(words[1:], where)


__all__ = ["AGAIN", "DEFAULT_MODE", "MODES", "MODE_NAMES", "PLAY", "WAIT", "Mode", "Respond", "Solo", "Trade",
           "mode_help", "parse_mode"]
