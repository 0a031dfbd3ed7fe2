"""Musicianship (issue 9): the issue's measures for improv, an n-gram and real solos, over 12 tunes.

12 tunes (6 built in, 6 from the iReal "Jazz 1460" playlist in ``$IMPROV_SHARED/data``; skipped with a note
when absent) x 2 seeds x 4 choruses, each at a fixed tempo chosen to cover the five tempo bins. Systems,
all through ``improv.improviser.Improviser`` at temperature 0.9:

- the model in ``improv/models/default`` (whatever is shipped now) with the shaping of ``improv.shaping``,
  the guidance of ``improv.guidance`` and the motif memory (improviser version 4), the same with the
  avoid-note nudges off (the b7 -> 3rd target is measured so), with the version-2 improviser (no
  guidance: before), unshaped (the version-1 improviser), and at temperatures 0.7 and 1.2, there also
  with the version-3 improviser (the guidance tempered with the model's odds, the rhythm not held: before
  version 4; at 0.9 both versions play the same notes);
- "previous default": the numbers recorded in ``benchmarks/previous_default.json`` (the model shipped
  before issue 9, unshaped), kept so a new model can be compared with it;
- the best Witten-Bell n-gram (order 2 or 3, by validation NLL on a 10 % split) over WJazzD values, shaped;
- any extra model directories given (``--model DIR``), shaped;
- real solos: WJazzD 4/4 swing and Impro-Visor transcriptions (``improv.reference``), their medians and
  a row with their p10-p90 bands.

Rows with "no motifs" are the same improviser without the motif memory (improviser version 2: the state
before issue 9 item 3). Answers (item 7): each tune x seed gets 6 calls cut from another improviser's
solo (1-1.5 bars, 3+ notes, a 1-beat gate); a respond performer answers each. Measured on the notes, not on
what the improviser says it did: the first answer note's delay after the gate (target: within a 16th),
and whether the answer's first notes restate a cell of the call (3+ notes, the same rhythm, the same or the
mirrored contour with each interval within a semitone, not at the same pitches), or echo the whole call.

Cells are medians over solos; b7 -> 3rd is pooled (resolved / qualifying changes over all solos), since
most solos have only a few qualifying changes. "280 vs 120" says whether one tune and seed give different
notes at 280 and 120 BPM. Extra models for `make bench`: ``IMPROV_BENCH_MODELS=dir1:dir2``. Run alone with
``python -m benchmarks.bench_musicianship [--model DIR ...] [--record]`` (``--record`` writes the
unshaped default's row as the previous default).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from benchmarks.bench_music import NGramCell, table
from improv.evaluate import line_from_timed
from improv.measures import MEASURES, TEMPO_BINS, measure_line, tempo_bin
from improv.model.ngram import NGram
from improv.reference import default_references, shared_dir
from improv.shaping import Shaping, for_version
from improv.theory import degrees
from improv.theory.timing import TICKS_PER_BEAT
from improv.theory.tunes import Tune, builtin_tunes
from improv.theory.values import encode

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
PREVIOUS = HERE / "previous_default.json"
BUILTIN = (("F Blues", 120), ("Autumn Leaves", 132), ("All the Things You Are", 160), ("Giant Steps", 240),
           ("Rhythm Changes in Bb", 200), ("Stella by Starlight", 144))
IREAL = (("Body And Soul", 70), ("Just Friends", 110), ("There Will Never Be Another You", 200),
         ("Cherokee", 280), ("Donna Lee", 260), ("Blue Monk", 140))
SEEDS = (0, 1)
CHORUSES = 4
TEMPERATURE = 0.9
KEYS = [key for key, _ in MEASURES if key != "density"]


def bench_tunes() -> tuple[list[tuple[Tune, float]], list[str]]:
    """(tune, tempo) of the benchmark, and notes on what is missing."""
    notes = []
    by_title = {t.title: t for t in builtin_tunes()}
    tunes = [(by_title[t], bpm) for t, bpm in BUILTIN if t in by_title]
    playlist = shared_dir() / "data" / "ireal-jazz1460" / "jazz1460.txt"
    if playlist.is_file():
        from improv.charts.library import load_library

        found = {t.title: t for t in load_library(playlist)}
        tunes += [(found[t], bpm) for t, bpm in IREAL if t in found]
        missing = [t for t, _ in IREAL if t not in found]
        if missing:
            notes.append(f"not in the iReal playlist: {', '.join(missing)}")
    else:
        notes.append(f"iReal playlist not found at {playlist}: built-in tunes only (none not built in)")
    return tunes, notes


def solos(make, tunes) -> list[dict]:
    """Measures of every tune x seed; ``make(progression, seed, tempo)`` builds the improviser."""
    out = []
    for tune, bpm in tunes:
        prog = tune.progression
        for seed in SEEDS:
            improviser = make(prog, seed, bpm)
            notes = improviser.notes_until(CHORUSES * prog.length / 12)
            line = line_from_timed(notes, prog.chord_at, prog.beats_per_bar)
            out.append({**measure_line(line, CHORUSES * prog.length), "tempo": bpm})
    return out


def tempo_differs(make, tunes) -> bool:
    """Whether the first tune gives different notes at 280 and 120 BPM (same seed)."""
    prog = tunes[0][0].progression
    a, b = (make(prog, 0, bpm).notes_until(prog.length / 12) for bpm in (120, 280))
    return [(n.onset, n.pitch) for n in a] != [(n.onset, n.pitch) for n in b]


def summarise(name: str, results: list[dict], differs: bool | None = None) -> dict:
    """One row: medians, pooled b7 -> 3rd, density median per tempo bin."""
    row: dict = {"system": name, "solos": len(results)}
    for key in KEYS:
        values = [r[key] for r in results if r.get(key) is not None]
        row[key] = round(float(np.median(values)), 3) if values else None
    changes = sum(r.get("b7_changes", 0) for r in results)
    row["b7_to_3rd"] = round(sum(r.get("b7_hits", 0) for r in results) / changes, 3) if changes else None
    for _, _, bin_name in TEMPO_BINS:
        values = [r["density"] for r in results if tempo_bin(r.get("tempo")) == bin_name]
        row[f"density {bin_name}"] = round(float(np.median(values)), 2) if values else None
    row["280 vs 120"] = differs
    return row


def bands_row(ref) -> dict:
    """A reference's p10-p90 band of every measure (and of the density in each tempo bin) as text."""
    row: dict = {"system": f"{ref.name} p10-p90"}
    for key in [*KEYS, *(f"density {name}" for _, _, name in TEMPO_BINS)]:
        found = ref.bands.get(key)
        row[key] = None if found is None else f"{found.p10:.3g}-{found.p90:.3g}"
    return row


def _makers(model, shaping_for, temperature: float = TEMPERATURE, motifs: bool = True):
    from improv.generate import ImproviserSettings, build_improviser
    from improv.motifs import MotifSettings

    def make(prog, seed, bpm):
        return build_improviser(prog, ImproviserSettings(seed=seed, temperature=temperature), model=model,
                                tempo=bpm, shaping=shaping_for(bpm),
                                motifs=None if motifs else MotifSettings.off())
    return make


def _ngram_maker(lines, vocab):
    """The best Witten-Bell n-gram (orders 2-3, 10 % validation) behind the improviser, shaped."""
    from improv.improviser import Improviser
    from improv.model.sampling import Sampler

    encoder = degrees.encode if isinstance(vocab, degrees.DegreeVocabulary) else encode  # the vocab's values
    seqs = [[vocab.index(t.value) for t in encoder(line)] for line in lines]
    split = len(seqs) // 10
    scores = {n: NGram(n, len(vocab)).fit(seqs[split:]).nll(seqs[:split]) for n in (2, 3)}
    order = min(scores, key=scores.get)
    ngram = NGram(order, len(vocab)).fit(seqs)

    def make(prog, seed, bpm):
        return Improviser(NGramCell(ngram), vocab, prog,
                          Sampler(np.random.default_rng(seed), temperature=TEMPERATURE),
                          shaping=replace(Shaping(arc_choruses=CHORUSES), tempo=bpm), tempo=bpm)
    return make, order, scores


def run(models: list[Path] | None = None, record: bool = False, only: list[str] | None = None,
        references: bool = True, answers: bool = True) -> dict:
    """Generate, measure and summarise; returns ``{"rows", "notes", "seconds"}``."""
    from improv.generate import default_model_dir, load_model

    started = time.perf_counter()
    if models is None:  # `make bench`: extra model directories from the environment
        models = [Path(p) for p in os.environ.get("IMPROV_BENCH_MODELS", "").split(os.pathsep) if p]
    tunes, notes = bench_tunes()
    default = load_model(default_model_dir())
    shaped = lambda bpm: replace(Shaping(arc_choruses=CHORUSES), tempo=bpm)  # noqa: E731
    version_3 = lambda bpm: replace(for_version(3, bpm), arc_choruses=CHORUSES)  # noqa: E731
    systems = [
        ("default, shaped", _makers(default, shaped)),
        ("default, shaped, no nudges", _makers(default, lambda bpm: replace(shaped(bpm), nudges=False))),
        ("default, version 2 (no guidance, no motifs)",
         _makers(default, lambda bpm: replace(shaped(bpm), steering=None), motifs=False)),
        ("default, version 2, no nudges",
         _makers(default, lambda bpm: replace(shaped(bpm), steering=None, nudges=False), motifs=False)),
        ("default, unshaped", _makers(default, lambda bpm: Shaping.off(), motifs=False)),
        ("default, shaped, no motifs", _makers(default, shaped, motifs=False)),
        ("default, shaped, T=0.7", _makers(default, shaped, 0.7)),
        ("default, shaped, T=1.2", _makers(default, shaped, 1.2)),
        ("default, version 3, T=0.7", _makers(default, version_3, 0.7)),
        ("default, version 3, T=1.2", _makers(default, version_3, 1.2)),
    ]
    if only:
        systems = [s for s in systems if s[0] in only]
    for path in models or []:
        systems.append((f"{path}, shaped", _makers(load_model(path), shaped)))
    refs, missing = default_references() if references else ([], [])
    notes += missing
    wjazzd = [r for r in refs if r.name == "WJazzD"]
    if wjazzd:
        from improv.corpus.loader import load

        make, order, scores = _ngram_maker(load(shared_dir() / "data" / "wjazzd").lines, default.vocab)
        systems.append((f"{order}-gram (WJazzD), shaped", make))
        notes.append("n-gram validation NLL (nats/value): "
                     + ", ".join(f"{n}-gram {s:.3f}" for n, s in scores.items()))
    rows = [summarise(name, solos(make, tunes), tempo_differs(make, tunes)) for name, make in systems]
    answers = [answer_row(name, _makers(default, shaped, motifs=motifs), tunes)
               for name, motifs in (("default (motifs)", True), ("default, no motifs", False)) if answers]
    if record and not only:
        PREVIOUS.write_text(json.dumps({**rows[4], "system": "previous default (recorded)",
                                        "model": str(default.path.name)}, indent=1) + "\n")
    if PREVIOUS.is_file():
        rows.insert(5, json.loads(PREVIOUS.read_text()))
    for ref in refs:
        rows += [summarise(f"{ref.name} ({len(ref.solos)} real solos)", ref.solos), bands_row(ref)]
    notes.append(f"tunes: {', '.join(f'{t.title} {bpm:g}' for t, bpm in tunes)}; {len(SEEDS)} seeds x "
                 f"{CHORUSES} choruses")
    return {"rows": rows, "answers": answers, "notes": notes,
            "seconds": round(time.perf_counter() - started, 1)}


# ---------------------------------------------------------------------------------- answers
CALLS = 6  # calls per tune x seed
GATE = TICKS_PER_BEAT  # a 1-beat gate
SIXTEENTH = 3


def calls_from(prog, seed: int, bpm: float) -> list[list[list[int]]]:
    """Calls cut from another improviser's solo: from a downbeat, 1-1.5 bars, at least 3 notes."""
    from improv.generate import ImproviserSettings, build_improviser
    from improv.motifs import MotifSettings

    bar = prog.beats_per_bar * TICKS_PER_BEAT
    caller = build_improviser(prog, ImproviserSettings(seed=1000 + seed, temperature=TEMPERATURE),
                              motifs=MotifSettings.off(), shaping=replace(Shaping(), tempo=bpm), tempo=bpm)
    notes = [(round(n.onset * TICKS_PER_BEAT), max(1, round(n.duration * TICKS_PER_BEAT)), n.pitch)
             for n in caller.notes_until(2 * CALLS * bar / TICKS_PER_BEAT)]
    out = []
    for k in range(CALLS):
        start = 2 * k * bar
        call = [[o, d, p, 90] for o, d, p in notes if start <= o < start + bar + bar // 2]
        if len(call) >= 3:
            out.append(call)
    return out


def answer_row(name: str, make, tunes) -> dict:
    """Answer timing and development over every call of every tune x seed."""
    from improv.perform.performer import Performer, PerformerSettings, answer_length, answer_start

    delays, reused, echoed, developed = [], 0, 0, 0
    for tune, bpm in tunes:
        prog = tune.progression
        for seed in SEEDS:
            perf = Performer(make(prog, seed, bpm), PerformerSettings(mode="respond"))
            perf.journal = lambda record: None
            for call in calls_from(prog, seed, bpm):
                gate = call[-1][0] + call[-1][1] + GATE
                start, length = answer_start(gate), answer_length(gate - GATE - call[0][0], None, 4)
                perf.apply({"type": "phrase", "notes": call, "answer": start, "length": length})
                answer = []
                while (note := perf.next_note()) is not None:
                    answer.append((round(note.onset * TICKS_PER_BEAT), note.pitch))
                if not answer:  # a silent answer: as late as it gets
                    delays.append(length)
                    continue
                delays.append(answer[0][0] - gate)
                kind = reuse_of(call, answer)
                reused += kind is not None
                echoed += kind == "echo"
            developed += perf.developed
    n = len(delays)
    return {"system": name, "answers": n,
            "within a 16th": round(sum(d <= SIXTEENTH for d in delays) / n, 3) if n else None,
            "median delay (16ths)": round(float(np.median(delays)) / SIXTEENTH, 2) if n else None,
            "max delay (16ths)": round(max(delays) / SIXTEENTH, 2) if n else None,
            "reuse a transformed cell": round((reused - echoed) / n, 3) if n else None,
            "echo the whole call": round(echoed / n, 3) if n else None,
            "developed (journal)": round(developed / n, 3) if n else None}


def reuse_of(call: list[list[int]], answer: list[tuple[int, int]], head: int = 8) -> str | None:
    """How the answer's first ``head`` notes restate a cell of the call: "echo" (the whole call's
    intervals and rhythm from the answer's start), "cell" (3+ notes: the same rhythm, the same or mirrored
    contour within a semitone, not at the same pitches), else None."""
    from improv.motifs.cells import shape_matches

    pitches, onsets = [n[2] for n in call], [n[0] for n in call]
    got_p, got_o = [p for _, p in answer[:head]], [o for o, _ in answer[:head]]
    if len(got_p) >= len(pitches) and shape_matches(pitches, got_p[: len(pitches)]) == "same" and \
            _rhythm(onsets) == _rhythm(got_o[: len(onsets)]):
        return "echo"
    for size in range(3, len(call)):
        for i in range(len(call) - size + 1):
            cell_p, cell_r = pitches[i : i + size], _rhythm(onsets[i : i + size])
            for j in range(len(got_p) - size + 1):
                if _rhythm(got_o[j : j + size]) == cell_r and got_p[j : j + size] != cell_p and \
                        shape_matches(cell_p, got_p[j : j + size], tolerance=1):
                    return "cell"
    return None


def _rhythm(onsets: list[int]) -> list[int]:
    return [b - a for a, b in zip(onsets, onsets[1:], strict=False)]


COLUMNS = [("system", "system"), ("solos", "solos"),
           *[(k, label) for k, label in MEASURES if k != "density"],
           *[(f"density {b}", f"notes/beat {b}") for _, _, b in TEMPO_BINS],
           ("280 vs 120", "280 vs 120 differ")]


ANSWER_COLUMNS = [(k, k) for k in ("system", "answers", "within a 16th", "median delay (16ths)",
                                    "max delay (16ths)", "reuse a transformed cell", "echo the whole call",
                                    "developed (journal)")]


def markdown(result: dict) -> str:
    """The rows as a markdown table (systems as rows), the notes under it, then the answers' table."""
    answers = {"rows": result.get("answers", []), "notes": [
        "answers: 6 calls per tune x seed cut from another improviser's solo, 1-beat gate; delay = first "
        "answer note after the gate; reuse judged on the notes (see the module doc)"],
               "seconds": result["seconds"]}
    if not answers["rows"]:  # --no-answers
        return table(result, COLUMNS, _cell)
    return table(result, COLUMNS, _cell) + "\n\n" + table(answers, ANSWER_COLUMNS, _cell)


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def main(argv: list[str] | None = None) -> int:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, action="append", help="an extra model directory to compare")
    parser.add_argument("--record", action="store_true", help="record the unshaped default as previous")
    parser.add_argument("--only", action="append", metavar="NAME",
                        help="only this row of the default (repeatable), e.g. 'default, shaped, no motifs'")
    parser.add_argument("--no-references", action="store_true", help="skip real solos and the n-gram")
    parser.add_argument("--no-answers", action="store_true", help="skip the answers' table")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    print(markdown(run(args.model, args.record, args.only, not args.no_references, not args.no_answers)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
