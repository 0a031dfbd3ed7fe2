"""`improv evaluate`: musical metrics of solos in MIDI files, over the changes they were played on."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from improv.cli import table
from improv.cli.option import add_arguments, command
from improv.cli.options import check_number, resolve_changes
from improv.errors import InputError
from improv.theory.timing import DEFAULT_TEMPO, TICKS_PER_BEAT
from improv.theory.values import Line, Note

log = logging.getLogger(__name__)
SOLO_TRACK = "improv"

DESCRIPTION = """Read the solo track of MIDI files (the track named 'improv', as `improv generate` writes it,
else the first track with notes) and measure it against the changes: chord-tone and scale-tone ratios, range,
intervals, rests, density, repetition, and optionally the longest run copied from a training corpus and
histogram distances to a reference corpus. Then the musicianship measures (issue 9: recurring ideas, guide
tones, register, clashes, tuplets, density by tempo) beside the median and p10-p90 band of real solos (WJazzD
4/4 swing, Impro-Visor transcriptions), computed by improv's own readers and cached."""
EPILOG = """examples:
  improv evaluate solo.mid --tune "Autumn Leaves"
  improv evaluate a.mid b.mid --changes "Dm7 G7 | Cmaj7 %" --json
  improv evaluate solo.mid --reference ../shared/data/wjazzd --training ../shared/data/wjazzd"""


def add_parser(subparsers) -> None:
    """Register `improv evaluate`."""
    p = command(subparsers, "evaluate", run=run, help="measure how solos in MIDI files fit the changes",
                description=DESCRIPTION, example=EPILOG)
    p.add_argument("files", nargs="+", type=Path, metavar="FILE.mid", help="MIDI files to measure")
    add_arguments(p, table.rows(table.EVALUATE), {"music": "changes (default: the tune 'F Blues')"})
    p.add_argument("--reference", metavar="CORPUS", type=Path,
                   help="a corpus (e.g. a WJazzD folder) to compare histograms with")
    p.add_argument("--training", metavar="CORPUS", type=Path,
                   help="the training corpus, to find the longest run copied from it verbatim")
    p.add_argument("--swing", type=float, default=0.0,
                   help="undo this swing (0..0.75, as given to `improv generate`) before measuring; "
                   "default 0: onsets as written")
    p.add_argument("--tempo", type=float, metavar="BPM",
                   help="tempo for the notes-per-beat band (default: the file's first set_tempo, else 120)")
    p.add_argument("--no-bands", action="store_true",
                   help="skip the musicianship table against WJazzD and Impro-Visor (found through "
                   "$IMPROV_SHARED, default ../shared beside the checkout)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")


def read_solo(path: Path, swing: float = 0.0) -> list[Note]:
    """The solo notes (ticks, 12 per beat) of a MIDI file: track 'improv', else the first with notes.

    ``swing`` is undone (see ``improv.theory.timing.swing_beats``) before snapping to the grid.
    """
    from improv.corpus.loader import bound_rests
    from improv.corpus.midi_reader import read_midi_file

    mid = read_midi_file(path)
    tracks = [_track_notes(track, mid.ticks_per_beat, swing) for track in mid.tracks]
    named = [notes for track, notes in zip(mid.tracks, tracks, strict=True) if track.name == SOLO_TRACK]
    for notes in named + tracks:
        if notes:
            return bound_rests(notes, str(path))
    raise InputError(f"{path}: no notes in any track")


def midi_tempo(path: Path) -> float:
    """The first set_tempo of a MIDI file in BPM (120 without one)."""
    import mido

    from improv.corpus.midi_reader import read_midi_file

    for track in read_midi_file(path).tracks:
        for msg in track:
            if msg.type == "set_tempo":
                return float(mido.tempo2bpm(msg.tempo))
    return DEFAULT_TEMPO


def unswing_beats(beats: float, amount: float) -> float:
    """The inverse of ``swing_beats``: a swung time in beats back to straight time."""
    if amount <= 0.0:
        return beats
    whole = float(int(beats // 1))
    frac = beats - whole
    offbeat = 0.5 + amount / 3.0
    if frac <= offbeat:
        return whole + frac / (2.0 * offbeat)
    return whole + 0.5 + (frac - offbeat) / (2.0 * (1.0 - offbeat))


def _track_notes(track, ticks_per_beat: int, swing: float = 0.0) -> list[Note]:
    """Notes of one track, onsets/durations converted to our 12-tick grid (at least one tick long)."""
    now = 0
    sounding: dict[tuple[int, int], tuple[int, int]] = {}  # (channel, pitch) -> (start, velocity)
    notes: list[Note] = []

    def close(key: tuple[int, int], end: int) -> None:
        start, velocity = sounding.pop(key)
        onset = round(unswing_beats(start / ticks_per_beat, swing) * TICKS_PER_BEAT)
        stop = round(unswing_beats(end / ticks_per_beat, swing) * TICKS_PER_BEAT)
        notes.append(Note(onset, max(1, stop - onset), key[1], velocity))

    for msg in track:
        now += msg.time
        if msg.type not in ("note_on", "note_off"):
            continue
        key = (msg.channel, msg.note)
        if key in sounding:
            close(key, now)
        if msg.type == "note_on" and msg.velocity > 0:
            sounding[key] = (now, msg.velocity)
    for key in list(sounding):
        close(key, now)
    notes.sort(key=lambda n: (n.onset, n.pitch))
    return notes


def _load_lines(path: Path, what: str) -> list[Line]:
    from improv.corpus.loader import load

    result = load(path)
    if not result.lines:
        raise InputError(f"{what} {path}: no solos in it")
    return result.lines


def run(args: argparse.Namespace) -> int:
    """Measure every file and print a table (metric rows, file columns) or JSON."""
    from improv.evaluate import METRICS, CorpusIndex, Histograms, evaluate_line
    from improv.theory.values import encode

    check_number("--swing", args.swing, 0.0, 0.75)
    changes = resolve_changes(args)
    progression = changes.progression
    solos = [(path, read_solo(path, args.swing)) for path in args.files]
    reference = training = None
    if args.reference:
        reference = Histograms.of(_load_lines(args.reference, "--reference"))
    if args.training:
        lines = _load_lines(args.training, "--training")
        training = CorpusIndex([[t.value for t in encode(line)] for line in lines])
    results, lines = [], []
    for path, notes in solos:
        line = Line(path.stem, notes, progression.chord_at, progression.beats_per_bar)
        lines.append((line, args.tempo or midi_tempo(path)))
        metrics = evaluate_line(
            line, chorus_ticks=progression.length, training=training, reference=reference
        )
        results.append({"file": str(path), "changes": changes.title, **metrics})
    bands = None if args.no_bands else musicianship(lines)
    if args.json:
        for result, solo in zip(results, bands["solos"] if bands else [], strict=False):
            result["musicianship"] = solo
            result["bands"] = bands["bands"]
        print(json.dumps(results, indent=1))
        return 0
    print(f"changes: {changes.title} ({progression.bar_count} bars)")
    print(_table(results, METRICS))
    if bands:
        print()
        print(musicianship_table(bands))
    return 0


def musicianship(lines: list[tuple[Line, float]]) -> dict:
    """The issue-9 measures of each solo and the reference bands (WJazzD, Impro-Visor) found."""
    from improv.measures import measure_line, tempo_bin
    from improv.reference import default_references

    refs, notes = default_references()
    solos = [{"name": line.name, "tempo": tempo, "tempo_bin": tempo_bin(tempo), **measure_line(line)}
             for line, tempo in lines]
    bands = {ref.name: {k: vars(b) for k, b in ref.bands.items()} for ref in refs}
    counts = {ref.name: len(ref.solos) for ref in refs}
    for ref in refs:  # b7 -> 3rd pooled over the solos: most have only a few qualifying changes
        changes = sum(s.get("b7_changes", 0) for s in ref.solos)
        if changes and "b7_to_3rd" in bands[ref.name]:
            bands[ref.name]["b7_to_3rd"]["pooled"] = sum(s.get("b7_hits", 0) for s in ref.solos) / changes
    return {"solos": solos, "bands": bands, "reference_solos": counts, "notes": notes}


def musicianship_table(data: dict) -> str:
    """Measure rows: each solo's value, then each reference's median [p10-p90]."""
    from improv.measures import MEASURES

    solos, bands = data["solos"], data["bands"]
    heads = ["measure", *(s["name"] for s in solos),
             *(f"{name} ({data['reference_solos'][name]} solos)" for name in bands)]
    rows = []
    for key, label in MEASURES:
        band_key = key
        if key == "density" and solos:
            band_key = f"density {solos[0]['tempo_bin']}"
            label = f"{label} ({solos[0]['tempo_bin']} BPM)"
        cells = [_cell(s.get(key)) for s in solos]
        if key == "b7_to_3rd":  # few changes qualify: say how many
            cells = [f"{c} ({s['b7_hits']}/{s['b7_changes']})" for c, s in zip(cells, solos, strict=True)]
        rows.append([label, *cells,
                     *(_band(ref.get(band_key)) for ref in bands.values())])
    widths = [max(len(str(x)) for x in col) for col in zip(heads, *rows, strict=True)]
    out = ["  ".join(h.ljust(w) for h, w in zip(heads, widths, strict=True))]
    out += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(out + [f"note: {note}" for note in data["notes"]])


def _band(b: dict | None) -> str:
    if not b:
        return "-"
    pooled = f"{b['pooled']:.2f} pooled, " if "pooled" in b else ""
    return f"{pooled}{b['median']:.3g} [{b['p10']:.3g}-{b['p90']:.3g}]"


def _table(results: list[dict], metrics) -> str:
    """Metric rows, one column per file."""
    heads = [Path(r["file"]).name for r in results]
    rows = [
        [label, *(_cell(r.get(key)) for r in results)]
        for key, label in metrics
        if any(key in r for r in results)
    ]
    widths = [max(len(str(x)) for x in col) for col in zip(["metric", *heads], *rows, strict=True)]
    lines = ["  ".join(h.ljust(w) if i == 0 else h.rjust(w)
                       for i, (h, w) in enumerate(zip(["metric", *heads], widths, strict=True)))]
    for row in rows:
        lines.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                               for i, (c, w) in enumerate(zip(row, widths, strict=True))))
    return "\n".join(lines)


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)
