"""A listening session: the performer (modes, reseeding, live parameters), its log and its recording.

The :class:`Performer` is the deterministic part of a live session. It owns the improviser and
changes it only through :meth:`Performer.apply` (an event: a phrase, a trading turn, a chord, a
parameter, a jump) and :meth:`Performer.next_note`. The engine's generator thread is the only
caller, so nothing touches the cell from another thread. Every event is logged with the number of
improviser steps taken before it was applied; driving a new performer with the same events at the
same step counts (:func:`replay`) gives the same notes, with no ports and no clock.

Session log (JSON lines): a ``header`` (seed, model path and hash, the progression, every option
that affects notes), ``input`` lines (each player message with its beat), ``event`` lines (step,
event), ``skip`` lines (notes the engine did not play: too late, silenced by a transport stop or
jump, dropped by a barge-in), ``cut`` lines (notes that sounded but were ended early, with the beat
they ended on) and an ``end`` line (how many notes the performer gave).

Events: ``phrase`` (a call: reseed, and in respond mode answer it), ``turn`` (the player's trading
turn), ``chord``, ``param``, ``jump`` (the transport moved) and ``barge`` (respond mode: the player
started a new call while improv was answering; the answer stops and improv listens again).
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from improv.errors import InputError, excerpt
from improv.live import logformat
from improv.live.logformat import LOG_VERSION, MODES
from improv.midi import midifile
from improv.midi.messages import is_channel_message, note_off, note_on
from improv.model.store import model_hash
from improv.theory.timing import TICKS_PER_BEAT
from improv.theory.values import Note

log = logging.getLogger(__name__)

ANSWER_GRID = 3  # ticks: answers start on the next 16th after the gate
CACHE_ENV = "IMPROV_CACHE"


# ---------------------------------------------------------------------------------- settings


@dataclass
class PerformerSettings:
    """What the performer does with what it hears (all changeable live by a mapped CC)."""

    mode: str = "solo"
    trade_bars: int = 4
    response_bars: int | None = None  # None: the answer lasts as long as the call
    reseed_weight: float = 0.7
    density: float = 1.0  # share of the improviser's notes played (the rest become rests)


def param_value(param: str, x: float, low: int = 52, high: int = 84) -> Any:
    """The setting a controller position ``x`` (0..1) means for ``param``."""
    x = min(1.0, max(0.0, float(x)))
    if param == "temperature":
        return round(0.1 + 1.9 * x, 4)
    if param == "density":
        return round(0.1 + 0.9 * x, 4)
    if param == "register_centre":
        return int(round(low + x * (high - low)))
    if param == "response_length":
        return 1 + int(round(7 * x))
    if param == "mode":
        return MODES[min(len(MODES) - 1, int(x * len(MODES)))]
    if param == "reseed_weight":
        return round(x, 4)
    return x  # panic, gate: triggers, no setting


def answer_start(gate_tick: int, grid: int = ANSWER_GRID) -> int:
    """The grid slot strictly after the tick where the call ended."""
    return (gate_tick // grid + 1) * grid


def answer_length(call_ticks: int, response_bars: int | None, beats_per_bar: int) -> int:
    """Ticks of an answer: ``response_bars`` bars, else the call's length in whole beats."""
    if response_bars:
        return response_bars * beats_per_bar * TICKS_PER_BEAT
    beats = max(1, -(-call_ticks // TICKS_PER_BEAT))
    return beats * TICKS_PER_BEAT


# ---------------------------------------------------------------------------------- the performer


class Performer:
    """Modes, reseeding and live parameters around an improviser (one thread only).

    ``live`` performers in trade mode wait for the player's turn before playing on; a replaying
    one (``live=False``) never waits, since the log says when the turn came.
    """

    def __init__(self, improviser, settings: PerformerSettings | None = None, *,
                 chords=None, live: bool = True) -> None:
        self.imp = improviser
        self.settings = settings or PerformerSettings()
        if self.settings.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        self.chords = chords  # a ChordFollower (the improviser's progression) or None
        self.live = live
        self.steps = 0
        self.answer_end: int | None = None
        self.turns: set[int] = set()
        self.reseeds = 0
        self._bar = improviser.progression.beats_per_bar * TICKS_PER_BEAT

    @property
    def block_ticks(self) -> int:
        """Ticks of one trading turn."""
        return self.settings.trade_bars * self._bar

    def listening_block(self, tick: float) -> int | None:
        """In trade mode, the index of the player's turn that ``tick`` falls in (else None)."""
        if self.settings.mode != "trade":
            return None
        block = int(tick // self.block_ticks)
        return block if block % 2 == 1 else None

    # ------------------------------------------------------------------ events
    def apply(self, event: dict) -> None:
        """Apply one event (see the module doc); unknown kinds are ignored."""
        kind = event.get("type")
        imp = self.imp
        if kind == "phrase":
            self._reseed(event["notes"])
            if self.settings.mode == "respond":
                start = int(event["answer"])
                imp.jump(start)
                self.answer_end = start + int(event["length"])
        elif kind == "turn":
            self._reseed(event["notes"])
            self.turns.add(int(event["block"]))
        elif kind == "chord" and self.chords is not None:
            self.chords.override(int(event["tick"]), str(event["symbol"]))
        elif kind == "param":
            self._set(str(event["param"]), event["value"])
        elif kind == "jump":
            imp.jump(int(event["tick"]))
            self.answer_end = None
        elif kind == "barge":
            self.answer_end = None  # stop answering; the next call's phrase jumps to its answer

    @property
    def answering(self) -> bool:
        """Respond mode: an answer is still to be generated (its end not reached)."""
        return self.answer_end is not None and self.imp.position < self.answer_end

    def _reseed(self, notes: Sequence[Sequence[int]]) -> None:
        if notes:
            played = [Note(int(n[0]), int(n[1]), int(n[2]), int(n[3])) for n in notes]
            self.imp.reseed(played, self.settings.reseed_weight)
            self.reseeds += 1

    def _set(self, param: str, value: Any) -> None:
        s, imp = self.settings, self.imp
        if param == "temperature":
            imp.sampler.temperature = float(value)
        elif param == "density":
            s.density = float(value)
        elif param == "register_centre":
            imp.centre = int(value)
        elif param == "response_length":
            s.response_bars = int(value)
        elif param == "mode":
            s.mode = str(value)
            self.answer_end = None
        elif param == "reseed_weight":
            s.reseed_weight = float(value)

    # ------------------------------------------------------------------ notes
    def next_note(self):
        """The next note to play, or None while there is nothing to play (waiting to listen)."""
        imp, s = self.imp, self.settings
        while True:
            if s.mode == "respond":
                if self.answer_end is None or imp.position >= self.answer_end:
                    return None
            elif s.mode == "trade":
                block = imp.position // self.block_ticks
                if block % 2 == 1:
                    if self.live and block not in self.turns:
                        return None
                    imp.jump((block + 1) * self.block_ticks)
                    continue
            step = imp.step()
            self.steps += 1
            note = imp.note_for(step)
            if note is None:
                continue
            if s.density < 1.0 and imp.rng.random() >= s.density:
                continue
            return note


# ---------------------------------------------------------------------------------- the log


def default_log_path() -> Path:
    """``$IMPROV_CACHE/sessions`` (else ``~/.cache/improv/sessions``)/session-<time>-<pid>.jsonl."""
    base = Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "improv")
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return base / "sessions" / f"session-{stamp}-{os.getpid()}.jsonl"


class SessionLog:
    """Append-only JSON-lines session log, safe to write from several threads."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file: IO[str] | None = open(self.path, "w", encoding="utf-8")  # noqa: SIM115
        except OSError as exc:
            raise InputError(f"--session-log: cannot write {self.path}: {exc}") from None
        self._lock = threading.Lock()

    def write(self, record: dict) -> None:
        line = json.dumps(record, separators=(",", ":")) + "\n"
        with self._lock:
            if self._file is not None:
                self._file.write(line)

    def header(self, **fields: Any) -> None:
        self.write({"type": "header", "version": LOG_VERSION,
                    "created": _dt.datetime.now().isoformat(timespec="seconds"), **fields})

    def input(self, beat: float, message: Sequence[int]) -> None:
        self.write({"type": "input", "beat": round(beat, 6), "msg": list(message)})

    def event(self, step: int, event: dict) -> None:
        self.write({"type": "event", "step": step, "event": event})

    def skip(self, note: int, why: str) -> None:
        self.write({"type": "skip", "note": note, "why": why})

    def close(self, **fields: Any) -> None:
        with self._lock:
            if self._file is None:
                return
            self._file.write(json.dumps({"type": "end", **fields}) + "\n")
            self._file.close()
            self._file = None


def read_log(path: Path | str) -> tuple[dict, list[dict]]:
    """The header and the other records of a session log, every one checked
    (:mod:`improv.live.logformat`); InputError naming the line and the key if bad."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not a session log (not UTF-8 text, offset {exc.start})") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read the session log: {exc.strerror or exc}") from None
    header: dict | None = None
    records = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            record = json.loads(line)
        except ValueError as exc:
            raise InputError(f"{where}: not a JSON line: {str(exc)[:100]}") from None
        if header is None:
            header = logformat.check_header(record, where)
        else:
            records.append(logformat.check_record(record, where))
    if header is None:
        raise InputError(f"{path}: not a session log (no header line)")
    progression_from_record(header["progression"], f"{path}: header progression")
    return header, records


# ---------------------------------------------------------------------------------- recording


@dataclass(frozen=True)
class PlayedNote:
    """A note as the engine queued it: beats from bar 1, channel 0..15."""

    onset: float
    offset: float
    channel: int
    pitch: int
    velocity: int


def clip_note(note, channel: int, end: float | None) -> PlayedNote:
    """A performer note as played: cut at the session's end (``end`` beats, None for none)."""
    stop = note.onset + note.duration
    if end is not None:
        stop = min(stop, end)
    return PlayedNote(note.onset, max(note.onset, stop), channel, int(note.pitch),
                      max(1, min(127, int(note.velocity))))


def write_midi(path: Path | str, player: Iterable[tuple[float, Sequence[int]]],
               improv: Iterable[PlayedNote], *, tempo: float, beats_per_bar: int = 4) -> Path:
    """A type-1 MIDI file: track 1 the player (as received), track 2 improv."""
    mid = midifile.new_file("player", tempo=tempo, beats_per_bar=beats_per_bar)
    timed = [(max(0.0, b), 1, tuple(m)) for b, m in player if is_channel_message(m)]
    midifile.append_events(mid.tracks[0], timed)
    events = []
    for n in improv:
        events.append((n.offset, 0, note_off(n.channel, n.pitch)))
        events.append((n.onset, 2, note_on(n.channel, n.pitch, n.velocity)))
    mid.tracks.append(midifile.events_track("improv", events))
    return midifile.save(mid, path)


# ---------------------------------------------------------------------------------- replay


@dataclass
class ReplayResult:
    """What a replay produced: improv's notes and the player's messages."""

    notes: list[PlayedNote]
    player: list[tuple[float, tuple[int, ...]]]
    header: dict


def replay(header: dict, records: list[dict], improviser, *, chords=None) -> ReplayResult:
    """Drive ``improviser`` (built from the header) with the logged events; no ports, no clock."""
    perf = Performer(improviser, PerformerSettings(**header["performer"]), chords=chords,
                     live=False)
    events = [r for r in records if r["type"] == "event"]
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
        while index < len(events) and events[index]["step"] <= perf.steps:
            perf.apply(events[index]["event"])
            index += 1
        note = perf.next_note()
        if note is None:
            if index >= len(events):
                log.warning("replay: the log ends after %d of %d notes", taken, total)
                break
            perf.apply(events[index]["event"])  # idle until the next event (defensive)
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
    return ReplayResult(notes, player, header)


def progression_record(progression, sections: Sequence[str] | None) -> dict:
    """The progression as the log keeps it (symbols and ticks)."""
    return {"spans": [[s.chord.symbol, s.start, s.length] for s in progression.spans],
            "beats_per_bar": progression.beats_per_bar, "title": progression.title,
            "sections": list(sections) if sections else None}


def progression_from_record(record: dict, where: str = "session log"):
    """The progression a log's header describes (checked: symbols, contiguous spans from 0)."""
    from improv.theory.harmony import parse_chord
    from improv.theory.progression import ChordSpan, Progression

    spans, position = [], 0
    for number, span in enumerate(record["spans"], 1):
        symbol, start, length = span
        if not isinstance(symbol, str) or start != position or isinstance(length, bool) \
                or not isinstance(length, int) or not 0 < length <= 2**31:
            raise InputError(f"{where}: span {number} {excerpt(span)} is not [symbol, {position}, ticks]")
        spans.append(ChordSpan(parse_chord(symbol, f"{where}, span {number}"), start, length))
        position += length
    return Progression(tuple(spans), int(record["beats_per_bar"]), record.get("title") or "")


__all__ = ["MODES", "Performer", "PerformerSettings", "PlayedNote", "ReplayResult", "SessionLog",
           "answer_length", "answer_start", "clip_note", "default_log_path",
           "model_hash", "param_value", "progression_from_record", "progression_record",
           "read_log", "replay", "write_midi"]
