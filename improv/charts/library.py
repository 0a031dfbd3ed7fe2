"""Load tunes from files musicians already have: iReal Pro playlists, JCPC text, MusicXML.

``load_library(path)`` looks at the content, not only the name: each importer in `IMPORTERS`
says whether it ``claims`` the source, in order, and the first that does loads it:

* a MusicXML lead sheet (``.musicxml``, ``.xml``, ``.mxl``) with chord symbols ->
  :mod:`improv.charts.leadsheet`;
* a text or HTML file holding ``irealb://`` / ``irealbook://`` URLs -> :mod:`improv.charts.ireal`;
* a Jazz Chord Progressions Corpus ``.txt`` file (``Title = ...`` header, ``|`` bars), or a
  directory of them -> :mod:`improv.charts.jcpc`.

Adding an importer is one module with ``KIND``, ``claims(ChartFile) -> bool`` and
``load(ChartFile, failures) -> list[Tune]`` plus one line in `IMPORTERS`: the dispatch, the
messages and the commands that take a library (``tunes --library``, ``changes FILE``) all ask
the registry (:func:`importer_for`).

A library of many tunes loads what it can: a tune that cannot be read is skipped with a
:class:`LoadFailure` (which tune, why) appended to ``errors`` when a list is given, and logged
otherwise. A file that holds nothing readable at all is an ``InputError``. No threads.
"""

from __future__ import annotations

import logging
from pathlib import Path
from types import ModuleType

from improv.charts import ireal, jcpc, leadsheet
from improv.charts.build import ChartFile, LoadFailure
from improv.errors import InputError
from improv.theory.tunes import Tune

__all__ = ["IMPORTERS", "MUSICXML_SUFFIXES", "LoadFailure", "importer_for", "load_library"]

log = logging.getLogger(__name__)

# The registry, in the order the importers are asked: one line per importer.
IMPORTERS: tuple[ModuleType, ...] = (leadsheet, ireal, jcpc)

MUSICXML_SUFFIXES = leadsheet.MUSICXML_SUFFIXES


def importer_for(chart: ChartFile) -> ModuleType | None:
    """The first importer in `IMPORTERS` that claims ``chart`` (None when none does)."""
    return next((i for i in IMPORTERS if i.claims(chart)), None)


def load_library(path: str | Path | ChartFile, errors: list[LoadFailure] | None = None) -> list[Tune]:
    """All tunes readable from ``path`` (see the module docstring). Tunes that fail are
    reported in ``errors`` (or logged); raises ``InputError`` if nothing at all loads."""
    chart = path if isinstance(path, ChartFile) else ChartFile(Path(path))
    source = chart.path
    if not source.exists():
        raise InputError(f"library {str(source)!r} does not exist")
    failures: list[LoadFailure] = [] if errors is None else errors
    before = len(failures)
    importer = importer_for(chart)
    if importer is None:
        kinds = ", ".join(i.KIND for i in IMPORTERS[:-1]) + f" or {IMPORTERS[-1].KIND}"
        raise InputError(f"library {str(source)!r}: not a {kinds}")
    tunes = importer.load(chart, failures)
    kind = importer.KIND
    failed = failures[before:]
    if not tunes:
        first = str(failed[0]).removeprefix(f"{source}: ") if failed else "no tunes in it"
        count = f" ({len(failed)} failed; the first: " if len(failed) > 1 else " ("
        raise InputError(f"no tune could be loaded from {kind} {str(source)!r}{count}{first[:200]})")
    if errors is None and failed:
        first = str(failed[0]).removeprefix(f"{source}: ")[:150]
        log.warning("skipped %d of %d tunes in %s (the first: %s)", len(failed), len(failed) + len(tunes),
                    source.name, first)
        for failure in failed:
            log.info("skipped %s", failure)
    log.info("loaded %d tunes from %s %s (%d failed)", len(tunes), kind, source, len(failures) - before)
    return tunes
