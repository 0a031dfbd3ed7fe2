"""Load corpus files of any supported kind into `Line`s, with an on-disk cache.

Dispatch by path: a directory holding ``wjazzd_notes_with_chords.csv`` (or that CSV itself) is
the Weimar Jazz Database, ``.mid``/``.midi`` a MIDI file, ``.xml``/``.musicxml``/``.mxl`` a
MusicXML lead sheet, ``.ls`` (or a directory of them, read recursively) Impro-Visor leadsheets.
Results are pickled in ``$IMPROV_CACHE`` (default ``~/.cache/improv``),
keyed by the file's path, size and mtime, the reader options and a hash of the reader and theory
source code.

The readers are registered in `READERS` (one line each) and import `ReadResult` from
`improv.corpus.base`; this module imports a reader lazily when it is needed (MusicXML pulls in
music21, which is slow to import).
"""

from __future__ import annotations

import hashlib
import importlib
import logging
import os
import pickle
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path
from typing import TYPE_CHECKING, Any

from improv.corpus.base import WJAZZD_NOTES, Progress, ReadResult, ShiftedChords, StepChords
from improv.errors import InputError
from improv.theory.timing import TICKS_PER_BEAT

if TYPE_CHECKING:
    from improv.theory.values import Line

__all__ = ["READERS", "Progress", "ReadResult", "Reader", "ShiftedChords", "StepChords", "kind_of", "load",
           "load_many", "split_long_rests", "bound_rests"]

log = logging.getLogger(__name__)

CACHE_FORMAT = 1
MAX_REST_BARS = 16  # a longer silence ends a line (WJazzD's longest is 14.5 bars): work stays per note
MIDI_SUFFIXES = (".mid", ".midi")
MUSICXML_SUFFIXES = (".xml", ".musicxml", ".mxl")
IMPRO_VISOR_SUFFIX = ".ls"


@dataclass(frozen=True)
class Reader:
    """One corpus reader: which paths it takes and where its function lives (imported lazily)."""

    kind: str
    module: str  # improv.corpus.<module>
    function: str  # (path, **options) -> ReadResult
    suffixes: tuple[str, ...] = ()  # a file with one of these suffixes
    names: tuple[str, ...] = ()  # a file matching one of these globs (case-insensitive)
    directory: str | None = None  # a directory holding a file that matches this glob
    progress: bool = False  # the function takes ``progress=``


# The registry: adding a reader is one module plus one line here. Order decides ties.
READERS: tuple[Reader, ...] = (
    Reader("wjazzd", "wjazzd", "read_wjazzd", names=(WJAZZD_NOTES, "*wjazzd*.csv"), directory=WJAZZD_NOTES,
           progress=True),
    Reader("impro-visor", "impro_visor", "read_impro_visor", (IMPRO_VISOR_SUFFIX,),
           directory=f"**/*{IMPRO_VISOR_SUFFIX}"),
    Reader("midi", "midi_reader", "read_midi", MIDI_SUFFIXES),
    Reader("musicxml", "musicxml", "read_musicxml", MUSICXML_SUFFIXES),
)


def reader_for(kind: str) -> Reader:
    """The registered reader of ``kind`` (KeyError for an unknown kind)."""
    for reader in READERS:
        if reader.kind == kind:
            return reader
    raise KeyError(kind)


def kind_of(path: Path) -> str:
    """The kind of a registered reader (``"wjazzd"``, ``"midi"``, ...); InputError for anything else."""
    if path.is_dir():
        for reader in READERS:
            if reader.directory and next(path.glob(reader.directory), None) is not None:
                return reader.kind
        raise InputError(f"{path}: directory without {WJAZZD_NOTES} or {IMPRO_VISOR_SUFFIX} leadsheets")
    if not path.exists():
        raise InputError(f"{path}: no such file")
    name = path.name.lower()
    for reader in READERS:
        if path.suffix.lower() in reader.suffixes or any(fnmatch(name, n.lower()) for n in reader.names):
            return reader.kind
    wanted = ", ".join("/".join(r.suffixes) for r in READERS if r.suffixes)
    raise InputError(
        f"{path}: unknown corpus file type (expected a WJazzD directory or {WJAZZD_NOTES}, {wanted})"
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
    reader = reader_for(kind)
    function = getattr(importlib.import_module(f"improv.corpus.{reader.module}"), reader.function)
    if reader.progress:
        options = {**options, "progress": progress}
    return function(path, **options)


def _data_file(path: Path, kind: str) -> Path:
    return path / WJAZZD_NOTES if kind == "wjazzd" and path.is_dir() else path


def _code_version() -> str:
    """Hash of the code that shapes cached results: the readers and the theory types."""
    import improv

    root = Path(improv.__file__).parent
    digest = hashlib.sha1(f"{improv.__version__}/{CACHE_FORMAT}".encode())
    for rel in (
        "corpus/loader.py",
        "corpus/base.py",
        *(f"corpus/{reader.module}.py" for reader in READERS),
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
