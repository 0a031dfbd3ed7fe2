"""Real solos as the yardstick: the issue-9 measures of WJazzD and Impro-Visor solos, as median and p10-p90.

The corpora are read through ``improv.corpus.loader`` (its cache holds the parsed Lines); the per-solo
measures are cached too, as JSON in the same cache directory, keyed by the data files' size and mtime and a
hash of the measuring code. Which solos count:

- WJazzD: 4/4 solos with a swing feel (``wjazzd_solos.csv``: ``signature`` 4/4, ``rhythmfeel`` SWING) whose
  notes are at least half chord-labelled; tempo = ``avgtempo`` (BPM).
- Impro-Visor: the ``transcriptions`` folder's 4/4 leadsheets, without ``TunesWithHeads/`` (the same solos
  again, with the head) and ``JSBach/`` (not jazz), at least half chord-labelled; tempo = the ``(tempo)``.

Single-threaded; safe to call from any one thread.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from improv.errors import InputError
from improv.measures import TEMPO_BINS, measure_line, tempo_bin
from improv.theory.values import Line

log = logging.getLogger(__name__)

CACHE_FORMAT = 1
MIN_LABELLED = 0.5  # share of notes with a chord under them
IV_SKIP = ("TunesWithHeads", "JSBach")


@dataclass
class Band:
    """Median and p10..p90 of one measure over the reference solos that have it."""

    median: float
    p10: float
    p90: float
    count: int

    def holds(self, value: float | None) -> bool | None:
        """Whether a value is inside p10..p90 (None for no value)."""
        return None if value is None else self.p10 <= value <= self.p90


@dataclass
class Reference:
    """One reference corpus: its name, per-solo measures (with ``tempo``) and the bands."""

    name: str
    solos: list[dict]
    bands: dict[str, Band] = field(default_factory=dict)

    def __post_init__(self) -> None:
        keys = {k for solo in self.solos for k, v in solo.items() if isinstance(v, int | float)}
        self.bands = {k: b for k in sorted(keys) if (b := band([s.get(k) for s in self.solos])) is not None}
        for _, _, name in TEMPO_BINS:
            found = band([s["density"] for s in self.solos if tempo_bin(s.get("tempo")) == name])
            if found is not None:
                self.bands[f"density {name}"] = found


def band(values: list) -> Band | None:
    """The Band of the values that are not None (None if there are none)."""
    kept = np.array([v for v in values if v is not None], dtype=np.float64)
    if not kept.size:
        return None
    p10, median, p90 = np.percentile(kept, [10, 50, 90])
    return Band(float(median), float(p10), float(p90), int(kept.size))


def labelled_share(line: Line) -> float:
    """Share of notes with a chord (not N.C.) under them."""
    if not line.notes:
        return 0.0
    return sum(line.chord_at(n.onset).root is not None for n in line.notes) / len(line.notes)


def shared_dir() -> Path:
    """``$IMPROV_SHARED``, else ``shared`` beside the checkout (``../shared``)."""
    env = os.environ.get("IMPROV_SHARED")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "shared"


def wjazzd_dir() -> Path:
    """Where the Weimar Jazz Database is expected."""
    return shared_dir() / "data" / "wjazzd"


def impro_visor_dir() -> Path:
    """Where the Impro-Visor transcriptions are expected."""
    return shared_dir() / "data" / "impro-visor-solos" / "transcriptions"


def wjazzd_solos(folder: Path) -> list[tuple[Line, float]]:
    """(line, tempo) of the WJazzD 4/4 swing solos that are at least half chord-labelled."""
    from improv.corpus.loader import load

    info = {}
    try:
        with (folder / "wjazzd_solos.csv").open(newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                info[row.get("melid", "")] = row
    except (OSError, csv.Error) as exc:
        raise InputError(f"{folder}: cannot read wjazzd_solos.csv: {exc}") from exc
    out = []
    for line in load(folder).lines:
        row = info.get(str(line.meta.get("melid")), {})
        if row.get("signature") != "4/4" or row.get("rhythmfeel") != "SWING":
            continue
        if labelled_share(line) >= MIN_LABELLED:
            out.append((line, _float(row.get("avgtempo"))))
    return out


def impro_visor_solos(folder: Path) -> list[tuple[Line, float]]:
    """(line, tempo) of the usable 4/4 Impro-Visor transcriptions."""
    from improv.corpus.loader import load

    out = []
    for line in load(folder).lines:
        path = str(line.meta.get("path", ""))
        if path.split("/")[0] in IV_SKIP or line.meta.get("signature") != "4/4":
            continue
        if labelled_share(line) >= MIN_LABELLED:
            out.append((line, _float(line.meta.get("tempo"))))
    return out


def _float(text) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def _code_hash() -> str:
    here = Path(__file__).resolve().parent
    digest = hashlib.sha1(f"{CACHE_FORMAT}".encode())
    for rel in ("reference.py", "measures.py", "evaluate.py", "corpus/loader.py", "corpus/wjazzd.py",
                "corpus/impro_visor.py", "theory/harmony.py"):
        try:
            digest.update((here / rel).read_bytes())
        except OSError:
            digest.update(b"-")
    return digest.hexdigest()[:16]


def _data_stamp(folder: Path) -> str:
    files = sorted(folder.rglob("*.ls")) if not (folder / "wjazzd_solos.csv").exists() else sorted(
        folder.glob("wjazzd_*.csv"))
    return hashlib.sha1("".join(f"{f}:{f.stat().st_size}:{f.stat().st_mtime_ns}" for f in files).encode()
                        ).hexdigest()[:16]


def load_reference(name: str, folder: Path, *, use_cache: bool = True) -> Reference:
    """The Reference of a corpus folder (``name`` "WJazzD" or "Impro-Visor"), from the cache if fresh."""
    from improv.corpus.loader import cache_dir

    if not folder.exists():
        raise InputError(f"{name} reference not found at {folder}")
    key = hashlib.sha1(f"{folder.resolve()}|{_data_stamp(folder)}|{_code_hash()}".encode()).hexdigest()[:24]
    file = cache_dir() / f"reference-{name.lower()}-{key}.json"
    if use_cache and file.is_file():
        try:
            return Reference(name, json.loads(file.read_text()))
        except (OSError, ValueError) as exc:
            log.warning("ignoring unreadable reference cache %s: %s", file, exc)
    reader = wjazzd_solos if name == "WJazzD" else impro_visor_solos
    solos = [{**measure_line(line), "tempo": tempo, "name": line.name} for line, tempo in reader(folder)]
    if use_cache:
        try:
            file.parent.mkdir(parents=True, exist_ok=True)
            tmp = file.with_suffix(".tmp")
            tmp.write_text(json.dumps(solos))
            os.replace(tmp, file)
            for old in file.parent.glob(f"reference-{name.lower()}-*.json"):
                if old != file:
                    old.unlink(missing_ok=True)
        except OSError as exc:
            log.warning("could not write reference cache %s: %s", file, exc)
    return Reference(name, solos)


def default_references() -> tuple[list[Reference], list[str]]:
    """WJazzD and Impro-Visor references where found, and a note for each one missing."""
    refs, notes = [], []
    for name, folder in (("WJazzD", wjazzd_dir()), ("Impro-Visor", impro_visor_dir())):
        if folder.exists():
            refs.append(load_reference(name, folder))
        else:
            notes.append(f"{name} not found at {folder} (set IMPROV_SHARED): no {name} band")
    return refs, notes
