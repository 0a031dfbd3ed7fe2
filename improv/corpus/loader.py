"""Load corpus files of any supported kind into `Line`s, with an on-disk cache.

Dispatch by path, from the `READERS` registry (one line each, asked in order): a directory holding
``wjazzd_notes_with_chords.csv`` (or that CSV itself) is the Weimar Jazz Database, ``.ls`` (or a
directory of them, read recursively) Impro-Visor leadsheets, ``.mid``/``.midi`` a MIDI file,
``.xml``/``.musicxml``/``.mxl`` a MusicXML lead sheet. Results are pickled in ``$IMPROV_CACHE``
(default ``~/.cache/improv``), keyed by the path, the size and mtime of every file the reader reads
(the directory's matching files and the reader's companion files), the reader options and a hash
of the source of the reader module and every improv module it imports.

The readers import `ReadResult` from `improv.corpus.base`; this module imports a reader lazily
when it is needed (MusicXML pulls in music21, which is slow to import). Adding a reader is one
module plus one `Reader` line: nothing here names a kind.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib
import logging
import os
import pickle
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path
from typing import TYPE_CHECKING, Any

from improv.charts.leadsheet import MUSICXML_SUFFIXES
from improv.corpus.base import WJAZZD_NOTES, Progress, ReadResult, ShiftedChords, StepChords
from improv.errors import InputError
from improv.theory.timing import TICKS_PER_BEAT

if TYPE_CHECKING:
    from improv.theory.values import Line

__all__ = ["READERS", "Progress", "ReadResult", "Reader", "ShiftedChords", "StepChords", "kind_of", "load",
           "load_many", "split_long_rests", "bound_rests"]

log = logging.getLogger(__name__)

CACHE_FORMAT = 2
MAX_REST_BARS = 16  # a longer silence ends a line (WJazzD's longest is 14.5 bars): work stays per note


@dataclass(frozen=True)
class Reader:
    """One corpus reader: which paths it takes and where its function lives (imported lazily)."""

    kind: str
    module: str  # improv.corpus.<module>
    function: str  # (path, **options) -> ReadResult
    suffixes: tuple[str, ...] = ()  # a file with one of these suffixes
    names: tuple[str, ...] = ()  # a file matching one of these globs (case-insensitive)
    directory: str | None = None  # a directory holding a file that matches this glob
    label: str = ""  # what such a directory holds, for messages
    companions: tuple[str, ...] = ()  # files beside the source the reader also reads (in the cache key)
    progress: bool = False  # the function takes ``progress=``


# The registry: adding a reader is one module plus one line here. Order decides ties.
READERS: tuple[Reader, ...] = (
    Reader("wjazzd", "wjazzd", "read_wjazzd", names=(WJAZZD_NOTES, "*wjazzd*.csv"), directory=WJAZZD_NOTES,
           label=WJAZZD_NOTES, companions=("wjazzd_solos.csv",), progress=True),
    Reader("impro-visor", "impro_visor", "read_impro_visor", (".ls",), directory="**/*.ls",
           label=".ls leadsheets"),
    Reader("midi", "midi_reader", "read_midi", (".mid", ".midi")),
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
    folders = " or ".join(r.label for r in READERS if r.directory)
    if path.is_dir():
        for reader in READERS:
            if reader.directory and next(path.glob(reader.directory), None) is not None:
                return reader.kind
        raise InputError(f"{path}: directory without {folders}")
    if not path.exists():
        raise InputError(f"{path}: no such file")
    name = path.name.lower()
    for reader in READERS:
        if path.suffix.lower() in reader.suffixes or any(fnmatch(name, n.lower()) for n in reader.names):
            return reader.kind
    wanted = ", ".join("/".join((*r.names[:1], *r.suffixes)) for r in READERS)
    raise InputError(f"{path}: unknown corpus file type (expected {wanted}, or a directory with {folders})")


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
    reader = reader_for(kind_of(path))
    key = _cache_key(path, reader, options) if use_cache else None

    def read() -> ReadResult:
        result = _read(path, reader, progress, options)
        result.lines = [piece for line in result.lines for piece in split_long_rests(line)]
        return result

    return cached("corpus", key, read, lambda entry: isinstance(entry, ReadResult))


def load_many(
    paths: Iterable[str | Path],
    *,
    use_cache: bool = True,
    progress: Progress | None = None,
    **options: Any,
) -> list[ReadResult]:
    """`load` each path in turn (same options for all)."""
    return [load(p, use_cache=use_cache, progress=progress, **options) for p in paths]


def _read(path: Path, reader: Reader, progress: Progress | None, options: dict[str, Any]) -> ReadResult:
    function = getattr(importlib.import_module(f"improv.corpus.{reader.module}"), reader.function)
    if reader.progress:
        options = {**options, "progress": progress}
    return function(path, **options)


def _source_files(path: Path, reader: Reader) -> list[Path]:
    """The files a reader reads for ``path``: the file, or the directory's matching files, and the
    companion files beside them."""
    folder = path if path.is_dir() else path.parent
    files = sorted(path.glob(reader.directory)) if path.is_dir() and reader.directory else [path]
    return files + [folder / name for name in reader.companions if (folder / name).is_file()]


@functools.cache
def _code_version(module: str) -> str:
    """Hash of the code that shapes a reader's cached results: the loader, the reader module and every
    improv module it imports (transitively)."""
    import improv

    root = Path(improv.__file__).parent
    digest = hashlib.sha1(f"{improv.__version__}/{CACHE_FORMAT}".encode())
    for file in [root / "corpus" / "loader.py", *_imported_files(root, f"improv.corpus.{module}")]:
        try:
            digest.update(file.read_bytes())
        except OSError:
            digest.update(b"-")
    return digest.hexdigest()


def _imported_files(root: Path, module: str) -> list[Path]:
    """The source files of ``module`` and of every improv module it imports, at any depth, sorted."""
    found: dict[str, Path] = {}
    todo = [module]
    while todo:
        name = todo.pop()
        parts = name.split(".")[1:]
        candidates = [root.joinpath(*parts).with_suffix(".py"), root.joinpath(*parts, "__init__.py")]
        file = next((c for c in candidates if c.is_file()), None)
        if name in found or file is None:
            continue
        found[name] = file
        for node in ast.walk(ast.parse(file.read_bytes())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("improv"):
                todo += [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
            elif isinstance(node, ast.Import):
                todo += [alias.name for alias in node.names if alias.name.startswith("improv")]
    return sorted(found.values())


def _cache_key(path: Path, reader: Reader, options: dict[str, Any]) -> str | None:
    """``<source+options hash>-<content+code hash>``: the first part finds stale entries to prune."""
    try:
        stats = [(f, f.stat()) for f in _source_files(path, reader)]
    except OSError:
        return None
    stamps = "".join(f"{f}:{st.st_size}:{st.st_mtime_ns}|" for f, st in stats)
    what = f"{path.resolve()}|{sorted(options.items())!r}"
    version = f"{hashlib.sha1(stamps.encode()).hexdigest()}|{_code_version(reader.module)}"
    short = hashlib.sha1(what.encode()).hexdigest()[:16]
    return f"{short}-{hashlib.sha1(version.encode()).hexdigest()[:24]}"


def cached(kind: str, key: str | None, compute: Callable[[], Any], valid: Callable[[Any], bool]):
    """The entry cached as ``<kind>-<key>`` if there is a valid one, else ``compute()``, then cached
    (``key`` None: no cache)."""
    if key is not None:
        entry = cache_get(kind, key)
        if entry is not None and valid(entry):
            log.info("%s cache hit (%s)", kind, key)
            return entry
    entry = compute()
    if key is not None:
        cache_put(kind, key, entry)
    return entry


def cache_get(kind: str, key: str):
    """The object cached as ``<kind>-<key>.pickle`` in ``cache_dir()``, or None (a stale or damaged
    entry is never fatal)."""
    file = cache_dir() / f"{kind}-{key}.pickle"
    if not file.is_file():
        return None
    try:
        with file.open("rb") as fh:
            return pickle.load(fh)
    except Exception as exc:  # a stale or damaged cache is never fatal
        log.warning("ignoring unreadable %s cache %s: %s", kind, file, exc)
        return None


def cache_put(kind: str, key: str, entry) -> None:
    """Write ``entry`` atomically as ``<kind>-<key>.pickle``, dropping older entries whose key starts
    the same (``<what>-<version>``: the same source, another version)."""
    directory = cache_dir()
    tmp: str | None = None
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{kind}-", suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            pickle.dump(entry, fh, protocol=pickle.HIGHEST_PROTOCOL)
        target = directory / f"{kind}-{key}.pickle"
        os.replace(tmp, target)
        tmp = None
        for old in directory.glob(f"{kind}-{key.split('-')[0]}-*.pickle"):
            if old != target:
                old.unlink(missing_ok=True)
    except (OSError, pickle.PicklingError, TypeError, AttributeError) as exc:
        log.warning("could not write %s cache in %s: %s", kind, directory, exc)
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
