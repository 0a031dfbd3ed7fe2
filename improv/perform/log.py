"""The session log: writing it (:class:`SessionLog`, thread-safe appends) and reading it back
(:func:`read_log`, every record checked by :mod:`improv.perform.logformat`).

Session log (JSON lines): a ``header`` (seed, model path and hash, the progression, every option
that affects notes), ``input`` lines (each player message with its beat), ``event`` lines (step,
event), ``skip`` lines (notes the engine did not play: too late, silenced by a transport stop or
jump, dropped by a barge-in), ``cut`` lines (notes that sounded but were ended early, with the beat
they ended on), ``answer`` lines (log version 2: the performer's journal of which cell of a call an
answer took and how it transformed it: ``cell`` [first note, notes], ``transform``, ``shift``
semitones, ``tick`` where the answer starts) and an ``end`` line (how many notes the performer gave).

Events: ``phrase`` (a call: reseed, and in respond mode answer it), ``turn`` (the player's trading
turn), ``chord`` (with ``at``, the form beat it was taken, when a band followed it), ``param``,
``jump`` (the transport moved) and ``barge`` (respond mode: the player started a new call while
improv was answering; the answer stops and improv listens again).
Ticks inside events (improv.theory.timing); beats in ``input`` lines. In memory the events and the
answers are the typed values of :mod:`improv.perform.events`; the log alone turns them into these
records (``to_record``) and back (``from_record``, after :mod:`improv.perform.logformat` checked them).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any, Protocol

from improv.errors import InputError, excerpt
from improv.perform import logformat
from improv.perform.events import Event
from improv.perform.logformat import LOG_VERSION

CACHE_ENV = "IMPROV_CACHE"


def default_log_path() -> Path:
    """``$IMPROV_CACHE/sessions`` (else ``~/.cache/improv/sessions``)/session-<time>-<pid>.jsonl."""
    base = Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "improv")
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return base / "sessions" / f"session-{stamp}-{os.getpid()}.jsonl"


class Record(Protocol):
    """A typed value the log keeps as a JSON object (an event, an answer)."""

    def to_record(self) -> dict[str, Any]: ...


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

    def write(self, record: dict | Record) -> None:
        """Append one record (a typed one, e.g. the performer's :class:`Answer`, as its ``to_record``)."""
        if not isinstance(record, dict):
            record = record.to_record()
        line = json.dumps(record, separators=(",", ":")) + "\n"
        with self._lock:
            if self._file is not None:
                self._file.write(line)

    def header(self, **fields: Any) -> None:
        self.write({"type": "header", "version": LOG_VERSION,
                    "created": _dt.datetime.now().isoformat(timespec="seconds"), **fields})

    def input(self, beat: float, message: Sequence[int]) -> None:
        self.write({"type": "input", "beat": round(beat, 6), "msg": list(message)})

    def event(self, step: int, event: Event | dict) -> None:
        """The event applied after ``step`` improviser steps (a dict: already a record)."""
        record = event if isinstance(event, dict) else event.to_record()
        self.write({"type": "event", "step": step, "event": record})

    def skip(self, note: int, why: str) -> None:
        self.write({"type": "skip", "note": note, "why": why})

    def cut(self, note: int, offset: float) -> None:
        """Note ``note`` sounded but ended at beat ``offset``."""
        self.write({"type": "cut", "note": note, "offset": offset})

    def close(self, **fields: Any) -> None:
        with self._lock:
            if self._file is None:
                return
            self._file.write(json.dumps({"type": "end", **fields}) + "\n")
            self._file.close()
            self._file = None


def read_log(path: Path | str) -> tuple[dict, list[dict]]:
    """The header and the other records of a session log, every one checked
    (:mod:`improv.perform.logformat`); InputError naming the line and the key if bad."""
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


__all__ = ["CACHE_ENV", "Record", "SessionLog", "default_log_path", "progression_from_record",
           "progression_record", "read_log"]
