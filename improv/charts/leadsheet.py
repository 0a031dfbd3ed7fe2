"""MusicXML lead sheets (chord symbols over a melody) to tunes, read with music21.

The first part that holds chord symbols (``<harmony>``) gives the changes: each chord sounds
from its offset to the next one; the last one to the end of the piece (rounded up to a whole
bar); before the first chord the form wraps (the last chord goes on). ``<kind>none</kind>`` is
N.C. The chord symbol text is rebuilt from the MusicXML root, kind, degrees and bass (music21's
own ``figure`` misreads some, e.g. ``m7b5``) and read by ``parse_chord``. The time signature is
the first one in the part (later changes are not followed: bars keep the first meter).
Title, composer and tempo come from the score metadata when present.
"""

from __future__ import annotations

import io
import logging
import warnings
from pathlib import Path

from improv.charts.build import ChartFile, LoadFailure, build_progression, changes_text
from improv.errors import InputError
from improv.theory.progression import time_signature_beats
from improv.theory.timing import DEFAULT_TEMPO, TICKS_PER_BEAT
from improv.theory.tunes import Tune

log = logging.getLogger(__name__)

MUSICXML_SUFFIXES = (".musicxml", ".xml", ".mxl")

# MusicXML <kind> values (and music21's names for them) -> a suffix parse_chord reads.
_KINDS = {
    "major": "",
    "minor": "m",
    "augmented": "+",
    "diminished": "dim",
    "dominant": "7",
    "dominant-seventh": "7",
    "major-seventh": "maj7",
    "minor-seventh": "m7",
    "diminished-seventh": "o7",
    "augmented-seventh": "7#5",
    "half-diminished": "m7b5",
    "half-diminished-seventh": "m7b5",
    "major-minor": "mMaj7",
    "minor-major-seventh": "mMaj7",
    "major-sixth": "6",
    "minor-sixth": "m6",
    "dominant-ninth": "9",
    "major-ninth": "maj9",
    "minor-ninth": "m9",
    "dominant-11th": "11",
    "major-11th": "maj11",
    "minor-11th": "m11",
    "dominant-13th": "13",
    "major-13th": "maj13",
    "minor-13th": "m13",
    "suspended-second": "sus2",
    "suspended-fourth": "sus4",
    "suspended-fourth-seventh": "7sus4",
    "seventh-flat-five": "7b5",
    "power": "5",
    "pedal": "",
    "augmented-ninth": "9#5",
    "6/9": "69",
    "major-sixth-add-ninth": "69",
}


MAX_XML_BYTES = 32 * 2**20  # a lead sheet is kilobytes; a whole score a few megabytes


def parse_musicxml(path: str | Path):
    """The music21 score of a MusicXML file (.musicxml, .xml, .mxl), its meters checked first
    (music21 spends minutes on ``<beats>99999</beats>``): one InputError path for both readers."""
    from music21 import converter  # slow import: only when used

    source = Path(path)
    check_meters(_xml_bytes(source), str(source))
    try:
        with warnings.catch_warnings():  # music21 warns, then raises: the error says it once
            warnings.simplefilter("ignore")
            return converter.parse(str(source))
    except Exception as exc:  # music21 raises many kinds on bad files
        raise InputError(f"cannot read MusicXML {str(source)!r}: {str(exc)[:150]}") from None


def check_meters(data: bytes, source: str) -> None:
    """Every ``<time>`` of a MusicXML document within the meters the progression reader allows."""
    import xml.etree.ElementTree as ET

    try:
        for _, element in ET.iterparse(io.BytesIO(data)):
            if element.tag.rpartition("}")[2] != "time":
                continue
            beats = [e.text or "" for e in element if e.tag.rpartition("}")[2] == "beats"]
            types = [e.text or "" for e in element if e.tag.rpartition("}")[2] == "beat-type"]
            for count, unit in zip(beats, types, strict=False):
                total = sum(int(p) for p in count.split("+") if p.strip().isdigit() and len(p) < 7)
                time_signature_beats(f"{total}/{unit.strip()[:7]}", f"{source}: <time>: ")
            element.clear()
    except ET.ParseError as exc:
        raise InputError(f"MusicXML {source!r} is not well-formed XML ({str(exc)[:100]})") from None


def _xml_bytes(source: Path) -> bytes:
    """The XML of a MusicXML file (the score inside an .mxl archive), bounded in size."""
    import zipfile

    try:
        if source.stat().st_size > MAX_XML_BYTES:
            raise InputError(f"MusicXML {str(source)!r} is larger than {MAX_XML_BYTES} bytes")
        if not zipfile.is_zipfile(source):
            return source.read_bytes()
        with zipfile.ZipFile(source) as archive:
            scores = [i for i in archive.infolist()
                      if not i.filename.startswith("META-INF") and i.filename.endswith((".xml", ".musicxml"))]
            if not scores or scores[0].file_size > MAX_XML_BYTES:
                raise InputError(f"MusicXML {str(source)!r}: no score of at most {MAX_XML_BYTES} bytes in it")
            return archive.read(scores[0])
    except (OSError, zipfile.BadZipFile) as exc:
        raise InputError(f"cannot read MusicXML {str(source)!r}: {exc}") from None


def load_leadsheet(path: str | Path) -> Tune:
    """A MusicXML file (.musicxml, .xml, .mxl) with chord symbols as a Tune."""
    from music21 import harmony, metadata, meter  # slow import: only when used

    source = Path(path)
    score = parse_musicxml(source)
    parts = list(getattr(score, "parts", [])) or [score]
    part = next((p for p in parts if p.flatten().getElementsByClass(harmony.Harmony)), None)
    if part is None:
        raise InputError(
            f"MusicXML {str(source)!r} has no chord symbols (<harmony>): "
            "a lead sheet needs chords over the melody"
        )
    flat = part.flatten()
    signatures = list(flat.getElementsByClass(meter.TimeSignature))
    signature = signatures[0] if signatures else meter.TimeSignature("4/4")
    time = signature.ratioString
    beats = time_signature_beats(time, f"{source}: time signature: ")
    bar_ticks = beats * TICKS_PER_BEAT
    scale = bar_ticks / (signature.barDuration.quarterLength * TICKS_PER_BEAT)
    events: list[tuple[int, str]] = []
    for number, element in enumerate(flat.getElementsByClass(harmony.Harmony), 1):
        tick = round(float(element.offset) * TICKS_PER_BEAT * scale)
        symbol = chord_text(element, f"chord symbol {number} of {source}")
        if events and events[-1][0] == tick:
            events[-1] = (tick, symbol)  # two symbols at one offset: the later one wins
        else:
            events.append((tick, symbol))
    end = round(float(flat.highestTime) * TICKS_PER_BEAT * scale)
    end = max(end, events[-1][0] + 1)
    end = -(-end // bar_ticks) * bar_ticks
    meta = score.metadata if isinstance(getattr(score, "metadata", None), metadata.Metadata) else None
    title = (meta.title or meta.movementName or "") if meta else ""
    title = title or source.stem
    composer = (meta.composer or "") if meta else ""
    bars = _bars(events, end, bar_ticks)
    progression = build_progression(bars, beats, title=title, where=str(source))
    return Tune(
        title=title,
        composer=composer,
        key="",
        form="",
        tempo=_tempo(flat),
        feel="waltz" if time.startswith("3/") else "swing",
        time=time,
        changes=changes_text(progression, [bar_ticks] * len(bars)),
        progression=progression,
    )


def chord_text(element: object, where: str) -> str:
    """A parse_chord symbol for a music21 ChordSymbol / NoChord read from MusicXML."""
    from music21 import harmony

    if isinstance(element, harmony.NoChord):
        return "NC"
    root = element.root() if hasattr(element, "root") else None
    if root is None:
        raise InputError(f"{where} has no root")
    kind = getattr(element, "chordKind", "") or ""
    if kind in ("none", "NC"):
        return "NC"
    if kind in _KINDS:
        suffix = _KINDS[kind]
    else:
        suffix = getattr(element, "chordKindStr", "") or ""
        if not suffix:
            raise InputError(f"{where}: chord kind {kind!r} is not supported")
    text = _note(root.name) + suffix
    for mod in element.getChordStepModifications():
        text += _degree(mod)
    bass = element.bass()
    if bass is not None and bass.name != root.name:
        text += "/" + _note(bass.name)
    return text


def _degree(mod: object) -> str:
    """A MusicXML <degree> as symbol text: alter 5 -1 -> 'b5', add 9 -> 'add9', subtract 5 -> 'no5'."""
    alter = int(getattr(mod.interval, "semitones", 0) or 0) if mod.interval is not None else 0
    accidental = "#" if alter > 0 else "b" if alter < 0 else ""
    degree = int(mod.degree)
    if mod.modType == "subtract":
        return f"no{degree}" if degree in (3, 5) else ""
    if mod.modType == "add" and not accidental:
        return f"add{degree}"
    return f"{accidental}{degree}"


def _note(name: str) -> str:
    """music21 'B-' -> 'Bb'."""
    return name.replace("-", "b")


def _bars(events: list[tuple[int, str]], end: int, bar_ticks: int) -> list[list[tuple[str, int]]]:
    """Cut the chord events into bars of (symbol, ticks); ``""`` continues the chord before."""
    bars: list[list[tuple[str, int]]] = []
    k = 0
    for start in range(0, end, bar_ticks):
        stop = start + bar_ticks
        bar: list[tuple[str, int]] = []
        position = start
        while k < len(events) and events[k][0] < stop:
            tick, symbol = events[k]
            if tick > position:
                bar.append(("", tick - position))
                position = tick
            bar.append((symbol, 0))
            k += 1
            nxt = events[k][0] if k < len(events) else end
            length = min(nxt, stop) - position
            bar[-1] = (symbol, length)
            position += length
        if position < stop:
            bar.append(("", stop - position))
        bars.append([(s, t) for s, t in bar if t > 0])
    return bars


def _tempo(flat: object) -> float:
    from music21 import tempo

    marks = list(flat.getElementsByClass(tempo.MetronomeMark))
    if marks and marks[0].number and 20 <= marks[0].number <= 400:
        return float(marks[0].number)
    return DEFAULT_TEMPO


# ---------------------------------------------------------------- the importer (improv.charts.library)

KIND = "MusicXML lead sheet"


def claims(chart: ChartFile) -> bool:
    """A file named ``.musicxml``/``.xml``/``.mxl``, or whose first 4 KB hold a score element."""
    return chart.path.is_file() and (chart.path.suffix.lower() in MUSICXML_SUFFIXES or chart.looks_like_xml())


def load(chart: ChartFile, failures: list[LoadFailure]) -> list[Tune]:
    """The one tune of the lead sheet (``failures`` unused: one tune loads or it is an InputError)."""
    return [load_leadsheet(chart.path)]
