"""Benchmark: read + encode the seed file (seed-compatible mode) against the seed's own way of reading it
(music21 ``converter.parse`` of the whole score), and read + encode the whole WJazzD, cold and cached.

Run on its own with ``python -m benchmarks.bench_preprocess``; ``run()`` returns the figures.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

REPEATS = 5


def seed_midi_path() -> Path:
    """``original_metheny.mid`` in the shared data folder (``$IMPROV_SHARED`` or ``../shared``)."""
    env = os.environ.get("IMPROV_SHARED")
    shared = Path(env) if env else Path(__file__).resolve().parents[2] / "shared"
    return shared / "data" / "original_metheny.mid"


def _timed(fn) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def seed_figures(repeats: int = REPEATS) -> dict:
    """Seconds for: importing music21 + the grammar, the cold first run, then medians of runs."""
    path = seed_midi_path()
    if not path.is_file():
        return {"skipped": f"seed MIDI file not found at {path}"}
    already = "music21" in sys.modules
    import_s, _ = _timed(lambda: __import__("improv.theory.seed_grammar"))
    from improv.corpus.legacy_midi import LegacyMidi
    from improv.corpus.seed import seed_corpus
    from improv.theory import seed_grammar

    seed_grammar.clear_caches()
    cold_s, corpus = _timed(lambda: seed_corpus(path))
    warm = [_timed(lambda: seed_corpus(path))[0] for _ in range(repeats)]
    uncached = []
    for _ in range(repeats):
        seed_grammar.clear_caches()
        uncached.append(_timed(lambda: seed_corpus(path))[0])

    def read_only() -> None:
        midi = LegacyMidi.open(path)
        midi.track("Guitar")
        midi.track("Piano")

    read = [_timed(read_only)[0] for _ in range(repeats)]
    return {
        "tokens": len(corpus.tokens),
        "values": len(corpus.values),
        "import_s": None if already else round(import_s, 4),
        "cold_s": round(cold_s, 4),
        "warm_median_s": round(statistics.median(warm), 4),
        "uncached_median_s": round(statistics.median(uncached), 4),
        "read_median_s": round(statistics.median(read), 4),
        "repeats": repeats,
    }


def baseline_parse_s(path: Path) -> float:
    """The seed's import: music21 parses the whole 25-track score (no parse cache)."""
    from music21 import converter

    return _timed(lambda: converter.parse(str(path), forceSource=True))[0]


def wjazzd(shared: Path) -> dict:
    """Read + encode all of WJazzD with an empty cache, then from the cache."""
    import tempfile

    from improv.corpus.loader import load
    from improv.theory.values import encode

    folder = shared / "data" / "wjazzd"
    if not folder.is_dir():
        return {"skipped": f"WJazzD not found at {folder}"}
    saved = os.environ.get("IMPROV_CACHE")
    with tempfile.TemporaryDirectory() as cache:
        os.environ["IMPROV_CACHE"] = cache
        try:
            cold_s, result = _timed(lambda: load(folder))
            encode_s, tokens = _timed(lambda: [encode(line) for line in result.lines])
            cached_s, _ = _timed(lambda: load(folder))
        finally:
            if saved is None:
                os.environ.pop("IMPROV_CACHE", None)
            else:
                os.environ["IMPROV_CACHE"] = saved
    return {
        "solos": len(result.lines),
        "notes": result.notes_read,
        "tokens": sum(len(t) for t in tokens),
        "read_cold_s": round(cold_s, 2),
        "encode_s": round(encode_s, 2),
        "read_cached_s": round(cached_s, 2),
    }


def run() -> dict:
    """Everything this module measures."""
    seed = seed_figures()
    if "skipped" not in seed:
        seed["baseline_music21_parse_s"] = round(baseline_parse_s(seed_midi_path()), 3)
        seed["speedup_vs_baseline"] = round(seed["baseline_music21_parse_s"] / seed["uncached_median_s"], 1)
    return {"seed": seed, "wjazzd": wjazzd(seed_midi_path().parents[1])}


def markdown(result: dict) -> str:
    """Tables for RESULTS.md."""
    seed, wj = result["seed"], result["wjazzd"]
    out = []
    if "skipped" in seed:
        out.append(f"Seed file: skipped ({seed['skipped']}).")
    else:
        out += [
            "| seed file `original_metheny.mid` | seconds |",
            "|---|---|",
            f"| baseline: music21 `converter.parse` of the score (the seed's import, no cache) "
            f"| {seed['baseline_music21_parse_s']} |",
            f"| improv seed-compat: legacy import + grammar, {seed['tokens']} tokens / "
            f"{seed['values']} values (median, caches cleared) | {seed['uncached_median_s']} |",
            f"| improv seed-compat, first run in the process | {seed['cold_s']} |",
            f"| **speed-up** | **{seed['speedup_vs_baseline']}x** |",
        ]
    out.append("")
    if "skipped" in wj:
        out.append(f"WJazzD: skipped ({wj['skipped']}).")
    else:
        out += [
            f"| WJazzD: {wj['solos']} solos, {wj['notes']:,} notes, {wj['tokens']:,} tokens | seconds |",
            "|---|---|",
            f"| read, empty cache | {wj['read_cold_s']} |",
            f"| encode as values | {wj['encode_s']} |",
            f"| read from the cache | {wj['read_cached_s']} |",
        ]
    return "\n".join(out)


def main() -> int:
    """Print the tables."""
    print(markdown(run()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
