"""Musical evaluation: do the generated lines fit the changes, and are they varied and original?

For 10 built-in tunes, 8 choruses each, four systems generate solos through the same realisation path
(``improv.improviser.Improviser``): the default model (temperature 0.9, loop guard on), seed-style argmax
decoding (temperature 0, loop guard off), a Witten-Bell 3-gram over WJazzD values and uniformly random
values. They are measured with ``improv.evaluate`` against real WJazzD solos over the same tunes (matched
by title) and all WJazzD solos. The longest verbatim copy is measured against WJazzD, the training corpus
(a real solo is measured against the corpus without itself).

Run on its own with ``python -m benchmarks.bench_music [--model DIR]``; ``run()`` returns the rows.
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from improv.evaluate import CorpusIndex, Histograms, evaluate_line, line_from_timed
from improv.improviser import Improviser
from improv.model.ngram import NGram
from improv.model.sampling import Sampler
from improv.theory.tunes import Tune, builtin_tunes
from improv.theory.values import Line, encode

log = logging.getLogger(__name__)

TUNES = (
    "F Blues",
    "Bb Blues",
    "C Minor Blues",
    "Rhythm Changes in Bb",
    "Autumn Leaves",
    "All the Things You Are",
    "So What",
    "Giant Steps",
    "Footprints",
    "Blue Bossa",
)
CHORUSES = 8
SEED = 1000
TEMPERATURE = 0.9
JS_KEYS = ("js_pitch_class", "js_interval", "js_ioi")
COLUMNS = (
    ("system", "system"),
    ("solos", "solos"),
    ("notes", "notes"),
    ("chord_tone_strong", "chord tones on 1&3"),
    ("chord_tone", "chord tones"),
    ("scale_tone", "scale tones"),
    ("distinct_4gram", "distinct 4-grams"),
    ("longest_copy", "longest copy max (median)"),
    ("repeated_4bar", "repeated 4-bar phrases"),
    ("longest_repeat", "longest repeat"),
    ("js", "JS to WJazzD pc/int/ioi"),
    ("mean_abs_interval", "mean |interval|"),
    ("range", "range"),
)


def shared_dir() -> Path:
    """``$IMPROV_SHARED`` or ``../shared`` beside the checkout."""
    env = os.environ.get("IMPROV_SHARED")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared"


def bench_tunes() -> list[Tune]:
    """The 10 tunes of the benchmark (the first 10 built-ins if some title is missing)."""
    tunes = builtin_tunes()
    by_title = {t.title: t for t in tunes}
    chosen = [by_title[t] for t in TUNES if t in by_title]
    return chosen if len(chosen) == len(TUNES) else tunes[:10]


# -- stand-ins for the cell ------------------------------------------------------------------------
class NGramCell:
    """An n-gram model behind the cell's interface: ``step_logits(prev, cond)`` gives log-probabilities."""

    cond_size = 0

    def __init__(self, ngram: NGram) -> None:
        self.ngram = ngram
        self.history: list[int] = []
        total = sum(ngram.counts[0][()].values())
        unigram = np.ones(ngram.size)
        for sym, n in ngram.counts[0][()].items():
            unigram[sym] += n
        self._unigram = unigram / (total + ngram.size)
        self._cache: dict[tuple[int, ...], np.ndarray] = {}

    def reset(self) -> None:
        """Forget the context."""
        self.history = []

    @property
    def state(self) -> list[int]:
        """The context (a copy), as the numpy cell's (a, c): the motif memory scores from it."""
        return list(self.history)

    @state.setter
    def state(self, value: list[int]) -> None:
        self.history = list(value)

    def step_logits(self, prev: int | None, cond=None) -> np.ndarray:
        """Log P(next | the last order-1 values) (a fresh array: the sampler may modify it)."""
        if prev is not None:
            self.history.append(prev)
        context = tuple(self.history[len(self.history) - self.ngram.order + 1 :]) if self.ngram.order > 1 \
            else ()
        found = self._cache.get(context)
        if found is None:
            found = np.log(self._distribution(context))
            self._cache[context] = found
        return found.copy()

    def _distribution(self, context: tuple[int, ...]) -> np.ndarray:
        """The interpolated Witten-Bell distribution, as ``NGram.prob`` computes it, for every value."""
        p = self._unigram.copy()
        for k in range(1, self.ngram.order):
            if len(context) < k:
                break
            seen = self.ngram.counts[k].get(context[len(context) - k :])
            if not seen:
                continue
            total, types = sum(seen.values()), len(seen)
            lam = total / (total + types)
            counts = np.zeros(self.ngram.size)
            counts[list(seen)] = list(seen.values())
            p = lam * counts / total + (1 - lam) * p
        return p


class UniformCell:
    """Every value equally likely."""

    cond_size = 0

    def __init__(self, size: int) -> None:
        self.size = size

    def reset(self) -> None:
        """Nothing to forget."""

    def step_logits(self, prev: int | None, cond=None) -> np.ndarray:
        """Zero logits."""
        return np.zeros(self.size)


# -- generating ------------------------------------------------------------------------------------
def _solo(improviser: Improviser, tune: Tune, name: str) -> tuple[Line, int]:
    """``CHORUSES`` choruses of the improviser over the tune, as a Line, and its length in ticks."""
    progression = tune.progression
    beats = CHORUSES * progression.length / 12
    notes = improviser.notes_until(beats)
    line = line_from_timed(notes, progression.chord_at, progression.beats_per_bar, name)
    return line, CHORUSES * progression.length


def generate_all(model, ngram: NGram | None, tunes: Sequence[Tune]) -> dict[str, list[tuple[Line, int, int]]]:
    """system -> [(line, length, chorus ticks)] over every tune."""
    from improv.generate import ImproviserSettings, build_improviser

    systems: dict[str, list] = {"model T=0.9": [], "argmax, no loop guard": []}
    if ngram is not None:
        systems["3-gram (WJazzD)"] = []
    systems["uniform random values"] = []
    for i, tune in enumerate(tunes):
        prog = tune.progression
        seed = SEED + i
        made = {
            "model T=0.9": build_improviser(prog, ImproviserSettings(seed=seed, temperature=TEMPERATURE),
                                            model=model),
        }
        model.cell.reset()
        argmax = Improviser(
            model.cell, model.vocab, prog,
            Sampler(np.random.default_rng(seed), temperature=0, loop_guard=False),
        )
        made["argmax, no loop guard"] = argmax
        if ngram is not None:
            made["3-gram (WJazzD)"] = Improviser(
                NGramCell(ngram), model.vocab, prog,
                Sampler(np.random.default_rng(seed), temperature=1.0, loop_guard=False),
            )
        made["uniform random values"] = Improviser(
            UniformCell(len(model.vocab)), model.vocab, prog,
            Sampler(np.random.default_rng(seed), temperature=1.0, loop_guard=False),
        )
        for system, improviser in made.items():
            improviser.cell.reset()
            line, length = _solo(improviser, tune, f"{system}: {tune.title}")
            systems[system].append((line, length, prog.length))
    return systems


# -- measuring -------------------------------------------------------------------------------------
def summarise(system: str, results: list[dict]) -> dict:
    """One table row: means over solos; copy as max and median; repeated phrases summed."""

    def mean(key: str) -> float | None:
        values = [r[key] for r in results if r.get(key) is not None]
        return round(float(np.mean(values)), 3) if values else None

    copies = [r["longest_copy"] for r in results if r.get("longest_copy") is not None]
    return {
        "system": system,
        "solos": len(results),
        "notes": int(sum(r["notes"] for r in results)),
        "chord_tone_strong": mean("chord_tone_strong"),
        "chord_tone": mean("chord_tone"),
        "scale_tone": mean("scale_tone"),
        "distinct_4gram": mean("distinct_4gram"),
        "longest_copy": (int(max(copies)), float(np.median(copies))) if copies else None,
        "repeated_4bar": int(sum(r["repeated_4bar"] for r in results)),
        "longest_repeat": mean("longest_repeat"),
        "js": tuple(mean(k) for k in JS_KEYS) if all(mean(k) is not None for k in JS_KEYS) else None,
        "mean_abs_interval": mean("mean_abs_interval"),
        "range": mean("range"),
    }


def _wjazzd_lines(shared: Path) -> list[Line] | None:
    folder = shared / "data" / "wjazzd"
    if not (folder / "wjazzd_notes_with_chords.csv").is_file():
        return None
    from improv.corpus.loader import load

    return load(folder).lines


def _train_ngram(tokens: list[list], vocab) -> NGram:
    sequences = [[vocab.index(v) for v in seq] for seq in tokens]
    return NGram(3, len(vocab)).fit(sequences)


def run(model_dir: Path | str | None = None) -> dict:
    """Generate, measure and summarise; returns ``{"rows": [...], "notes": [...], "seconds": ...}``."""
    from improv.generate import default_model_dir, load_model

    started = time.perf_counter()
    path = Path(model_dir) if model_dir else default_model_dir()
    if not (path / "cell.npz").is_file():
        return {"skipped": f"no model at {path} (train one, or pass --model DIR)"}
    model = load_model(path)
    notes = [f"model: {path}"]
    tunes = bench_tunes()
    shared = shared_dir()
    lines = _wjazzd_lines(shared)
    index = ngram = reference = None
    tokens: list[list] = []
    if lines is None:
        notes.append(f"WJazzD not found under {shared}: no n-gram, no real solos, no copy lengths")
    else:
        tokens = [[t.value for t in encode(line)] for line in lines]
        index = CorpusIndex(tokens)
        reference = Histograms.of(lines)
        ngram = _train_ngram(tokens, model.vocab)
        notes.append(f"training corpus: {len(lines)} WJazzD solos, {index.tokens} values")
    rows = []
    for system, solos in generate_all(model, ngram, tunes).items():
        results = [
            evaluate_line(line, length=length, chorus_ticks=chorus, training=index, reference=reference)
            for line, length, chorus in solos
        ]
        rows.append(summarise(system, results))
    if lines is not None:
        titles = {t.title.casefold(): t for t in tunes}
        matched = [
            (i, titles[line.meta.get("title", "").casefold()])
            for i, line in enumerate(lines)
            if line.meta.get("title", "").casefold() in titles
        ]
        real = [
            evaluate_line(
                lines[i], chorus_ticks=tune.progression.length, training=index, exclude=i,
                reference=reference,
            )
            for i, tune in matched
        ]
        found = sorted({tune.title for _, tune in matched})
        notes.append(f"WJazzD solos over the same tunes: {len(real)} ({', '.join(found)})")
        rows.append(summarise("WJazzD, same tunes", real))
        everything = [
            evaluate_line(line, training=index, exclude=i, reference=reference)
            for i, line in enumerate(lines)
        ]
        rows.append(summarise("WJazzD, all solos", everything))
        notes.append("'WJazzD, all solos' counts repeated 4-bar phrases over the whole solo (form unknown);"
                     " real solos' JS distances include themselves in the reference")
    return {"rows": rows, "notes": notes, "seconds": round(time.perf_counter() - started, 1)}


def markdown(result: dict) -> str:
    """The rows as a markdown table, with the notes under it."""
    if "skipped" in result:
        return f"skipped: {result['skipped']}"
    return table(result, COLUMNS, _cell)


def table(result: dict, columns, cell) -> str:
    """``result["rows"]`` as a markdown table of ``columns`` (key, label), then its notes and seconds."""
    head = [label for _, label in columns]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in result["rows"]:
        out.append("| " + " | ".join(cell(row.get(key)) for key, _ in columns) + " |")
    out += ["", *(f"- {note}" for note in result["notes"]), f"- {result['seconds']} s"]
    return "\n".join(out)


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, tuple) and len(value) == 2:
        return f"{value[0]} ({value[1]:g})"
    if isinstance(value, tuple):
        return " / ".join(f"{v:.2f}" for v in value)
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def main(argv: list[str] | None = None) -> int:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="model directory (default: the shipped one)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    print(markdown(run(args.model)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
