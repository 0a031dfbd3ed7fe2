"""Load corpus files of any supported kind into `Line`s, with an on-disk cache.

Dispatch by path: a directory holding ``wjazzd_notes_with_chords.csv`` (or that CSV itself) is
the Weimar Jazz Database, ``.mid``/``.midi`` a MIDI file, ``.xml``/``.musicxml``/``.mxl`` a
MusicXML lead sheet, ``.ls`` (or a directory of them, read recursively) Impro-Visor leadsheets.
Results are pickled in ``$IMPROV_CACHE`` (default ``~/.cache/improv``),
keyed by the file's path, size and mtime, the reader options and a hash of the reader and theory
source code.

The readers import `ReadResult` from here; this module imports the readers lazily (MusicXML pulls in
music21, which is slow to import).
"""

from __future__ import annotations

import bisect
import hashlib
import logging
import os
import pickle
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from improv.errors import InputError
from improv.theory.timing import TICKS_PER_BEAT

if TYPE_CHECKING:
    from improv.theory.values import Line

log = logging.getLogger(__name__)

CACHE_FORMAT = 1
MAX_REST_BARS = 16  # a longer silence ends a line (WJazzD's longest is 14.5 bars): work stays per note
WJAZZD_NOTES = "wjazzd_notes_with_chords.csv"
MIDI_SUFFIXES = (".mid", ".midi")
MUSICXML_SUFFIXES = (".xml", ".musicxml", ".mxl")
IMPRO_VISOR_SUFFIX = ".ls"

# (done, total) -> None; called by slow readers so the CLI can show progress
Progress = Callable[[int, int], None]


@dataclass
class ReadResult:
    """What a reader produced from one source: lines, how many notes it read and what it skipped."""

    source: str
    kind: str
    lines: list[Line]
    notes_read: int
    skipped: Counter[str] = field(default_factory=Counter)
    unparsed_chords: Counter[str] = field(default_factory=Counter)  # symbol -> notes read as N.C.

    @property
    def notes_kept(self) -> int:
        """Notes in the lines (read minus skipped)."""
        return sum(len(line.notes) for line in self.lines)

    def skipped_summary(self) -> str:
        """``"3 zero duration, 2 same onset"`` or ``"none"``."""
        if not self.skipped:
            return "none"
        return ", ".join(f"{n} {why}" for why, n in self.skipped.most_common())


def kind_of(path: Path) -> str:
    """``"wjazzd"``, ``"midi"``, ``"musicxml"`` or ``"impro-visor"``; InputError for anything else."""
    if path.is_dir():
        if (path / WJAZZD_NOTES).is_file():
            return "wjazzd"
        if next(path.rglob(f"*{IMPRO_VISOR_SUFFIX}"), None) is not None:
            return "impro-visor"
        raise InputError(f"{path}: directory without {WJAZZD_NOTES} or {IMPRO_VISOR_SUFFIX} leadsheets")
    if not path.exists():
        raise InputError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if path.name == WJAZZD_NOTES or (suffix == ".csv" and "wjazzd" in path.name.lower()):
        return "wjazzd"
    if suffix in MIDI_SUFFIXES:
        return "midi"
    if suffix in MUSICXML_SUFFIXES:
        return "musicxml"
    if suffix == IMPRO_VISOR_SUFFIX:
        return "impro-visor"
    raise InputError(
        f"{path}: unknown corpus file type (expected a WJazzD directory or {WJAZZD_NOTES}, "
        f"{'/'.join(MIDI_SUFFIXES)}, {'/'.join(MUSICXML_SUFFIXES)} or {IMPRO_VISOR_SUFFIX})"
    )


def cache_dir() -> Path:
    """``$IMPROV_CACHE`` or ``~/.cache/improv``."""
    env = os.environ.get("IMPROV_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "improv"


def load(
    path: str | Path,
    *,
    use_cache: bool = True,
    progress: Progress | None = None,
    **options: Any,
) -> ReadResult:
    """Read one corpus source (see module doc); ``options`` go to the reader (MIDI ``melody=``)."""
    path = Path(path)
    kind = kind_of(path)
    source = _data_file(path, kind)
    key = _cache_key(source, kind, options) if use_cache else None
    if key is not None:
        cached = _cache_get(key)
        if cached is not None:
            log.info("corpus cache hit for %s", source)
            return cached
    result = _read(path, kind, progress, options)
    result.lines = [piece for line in result.lines for piece in split_long_rests(line)]
    if key is not None:
        _cache_put(key, result)
    return result


def load_many(
    paths: Iterable[str | Path],
    *,
    use_cache: bool = True,
    progress: Progress | None = None,
    **options: Any,
) -> list[ReadResult]:
    """`load` each path in turn (same options for all)."""
    return [load(p, use_cache=use_cache, progress=progress, **options) for p in paths]


def _read(path: Path, kind: str, progress: Progress | None, options: dict[str, Any]) -> ReadResult:
    if kind == "wjazzd":
        from improv.corpus import wjazzd

        return wjazzd.read_wjazzd(path, progress=progress, **options)
    if kind == "midi":
        from improv.corpus import midi

        return midi.read_midi(path, **options)
    if kind == "impro-visor":
        from improv.corpus import impro_visor

        return impro_visor.read_impro_visor(path, **options)
    from improv.corpus import musicxml

    return musicxml.read_musicxml(path, **options)


def _data_file(path: Path, kind: str) -> Path:
    return path / WJAZZD_NOTES if kind == "wjazzd" and path.is_dir() else path


def _code_version() -> str:
    """Hash of the code that shapes cached results: the readers and the theory types."""
    import improv

    root = Path(improv.__file__).parent
    digest = hashlib.sha1(f"{improv.__version__}/{CACHE_FORMAT}".encode())
    for rel in (
        "corpus/loader.py",
        "corpus/wjazzd.py",
        "corpus/midi.py",
        "corpus/musicxml.py",
        "corpus/impro_visor.py",
        "theory/harmony.py",
        "theory/values.py",
        "theory/timing.py",
    ):
        try:
            digest.update((root / rel).read_bytes())
        except OSError:
            digest.update(b"-")
    return digest.hexdigest()


def _cache_key(source: Path, kind: str, options: dict[str, Any]) -> str | None:
    """``<source+options hash>-<content+code hash>``: the first part finds stale entries to prune."""
    try:
        stat = source.stat()
    except OSError:
        return None
    extra = ""
    if kind == "wjazzd":  # the solos table gives names; include it in the key
        solos = source.with_name("wjazzd_solos.csv")
        if solos.is_file():
            s = solos.stat()
            extra = f"{s.st_size}:{s.st_mtime_ns}"
    elif kind == "impro-visor" and source.is_dir():  # a folder of leadsheets: every file's size and mtime
        files = sorted(source.rglob(f"*{IMPRO_VISOR_SUFFIX}"))
        stamps = "".join(f"{f}:{f.stat().st_size}:{f.stat().st_mtime_ns}" for f in files)
        extra = hashlib.sha1(stamps.encode()).hexdigest()
    what = f"{source.resolve()}|{sorted(options.items())!r}"
    version = f"{stat.st_size}|{stat.st_mtime_ns}|{extra}|{_code_version()}"
    short = hashlib.sha1(what.encode()).hexdigest()[:16]
    return f"{short}-{hashlib.sha1(version.encode()).hexdigest()[:24]}"


def _cache_get(key: str) -> ReadResult | None:
    file = cache_dir() / f"corpus-{key}.pickle"
    if not file.is_file():
        return None
    try:
        with file.open("rb") as fh:
            result = pickle.load(fh)
    except Exception as exc:  # a stale or damaged cache is never fatal
        log.warning("ignoring unreadable corpus cache %s: %s", file, exc)
        return None
    return result if isinstance(result, ReadResult) else None


def _cache_put(key: str, result: ReadResult) -> None:
    """Write the entry atomically and drop older entries of the same source and options."""
    directory = cache_dir()
    tmp: str | None = None
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".corpus-", suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            pickle.dump(result, fh, protocol=pickle.HIGHEST_PROTOCOL)
        target = directory / f"corpus-{key}.pickle"
        os.replace(tmp, target)
        tmp = None
        for old in directory.glob(f"corpus-{key.split('-')[0]}-*.pickle"):
            if old != target:
                old.unlink(missing_ok=True)
    except (OSError, pickle.PicklingError, TypeError, AttributeError) as exc:
        log.warning("could not write corpus cache in %s: %s", directory, exc)
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)


def split_long_rests(line: Line) -> list[Line]:
    """``line`` cut where a silence (also before the first note) lasts more than ``MAX_REST_BARS``
    bars, each piece moved to
    start on the bar line before its first note, notes held at most that long. A tiny file with
    huge gaps then costs what its notes cost (the encoder writes a rest value per whole note)."""
    from dataclasses import replace

    bar = line.beats_per_bar * TICKS_PER_BEAT
    limit = MAX_REST_BARS * bar
    notes = sorted(line.notes, key=lambda n: n.onset)
    if (not notes or notes[0].onset <= limit) and all(n.duration <= limit for n in notes) and all(
        b.onset - a.onset - a.duration <= limit for a, b in zip(notes, notes[1:], strict=False)
    ):
        return [line]
    pieces: list[list] = []
    for note in notes:
        note = replace(note, duration=min(note.duration, limit))
        if not pieces or note.onset - pieces[-1][-1].onset - pieces[-1][-1].duration > limit:
            pieces.append([])
        pieces[-1].append(note)
    lines = []
    for number, piece in enumerate(pieces, 1):
        origin = piece[0].onset // bar * bar
        moved = [replace(n, onset=n.onset - origin) for n in piece]
        name = line.name if len(pieces) == 1 else f"{line.name} ({number})"
        meta = {**line.meta, "from_bar": origin // bar + 1}
        lines.append(replace(line, name=name, notes=moved, chord_at=ShiftedChords(line.chord_at, origin),
                             meta=meta))
    return lines


MAX_SOLO_REST_BEATS = 64  # a solo to measure (evaluate) may rest this long between notes


def bound_rests(notes: list, source: str, limit_beats: int = MAX_SOLO_REST_BEATS) -> list:
    """A solo's notes (sorted, in ticks) held at most ``limit_beats``; InputError where the next
    note starts more than ``limit_beats`` after that (the silence would cost time, not music)."""
    from dataclasses import replace

    limit = limit_beats * TICKS_PER_BEAT
    held = [n if n.duration <= limit else replace(n, duration=limit) for n in notes]
    for number, (a, b) in enumerate(zip(held, held[1:], strict=False), 1):
        if b.onset - a.onset - a.duration > limit:
            raise InputError(f"{source}: note {number + 1} starts {(b.onset - a.onset) // TICKS_PER_BEAT} "
                             f"beats after note {number} (at most {limit_beats} beats of silence, "
                             "notes held at most as long): cut the file")
    return held


class ShiftedChords:
    """``chord_at`` of a piece of a line: the line's chords ``origin`` ticks later (picklable)."""

    __slots__ = ("chords", "origin")

    def __init__(self, chords: Callable[[int], Any], origin: int) -> None:
        self.chords, self.origin = chords, origin

    def __call__(self, tick: int) -> Any:
        return self.chords(tick + self.origin)


class StepChords:
    """``chord_at`` for a Line: the chord of the last change at or before a tick (a step function).

    Ticks before the first change get the first chord. Picklable, so cached lines keep it.
    """

    __slots__ = ("ticks", "chords")

    def __init__(self, changes: Iterable[tuple[int, Any]]) -> None:
        ticks: list[int] = []
        chords: list[Any] = []
        for tick, chord in sorted(changes, key=lambda change: change[0]):
            if chords and chord == chords[-1]:
                continue
            if ticks and ticks[-1] == tick:  # two changes at one tick: the later wins
                chords[-1] = chord
                continue
            ticks.append(tick)
            chords.append(chord)
        if not chords:
            raise ValueError("StepChords needs at least one chord")
        self.ticks = tuple(ticks)
        self.chords = tuple(chords)

    def __call__(self, tick: int) -> Any:
        i = bisect.bisect_right(self.ticks, tick) - 1
        return self.chords[max(i, 0)]

    def __getstate__(self) -> tuple[tuple[int, ...], tuple[Any, ...]]:
        return self.ticks, self.chords

    def __setstate__(self, state: tuple[tuple[int, ...], tuple[Any, ...]]) -> None:
        self.ticks, self.chords = state

    def __repr__(self) -> str:
        return f"StepChords({len(self.ticks)} changes)"
