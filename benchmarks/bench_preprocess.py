"""Benchmark: read + encode the seed file in the seed-compatible mode (legacy import + grammar).

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


def run(repeats: int = REPEATS) -> dict:
    """Seconds for: importing music21 + the grammar, the cold first run, then medians of runs."""
    path = seed_midi_path()
    if not path.is_file():
        return {"skipped": f"seed MIDI file not found at {path}"}
    already = "music21" in sys.modules
    import_s, _ = _timed(lambda: __import__("improv.theory.seed_grammar"))
    from improv.corpus.legacy_midi import LegacyMidi
    from improv.theory import seed_grammar

    seed_grammar.clear_caches()
    cold_s, corpus = _timed(lambda: seed_grammar.seed_corpus(path))
    warm = [_timed(lambda: seed_grammar.seed_corpus(path))[0] for _ in range(repeats)]
    uncached = []
    for _ in range(repeats):
        seed_grammar.clear_caches()
        uncached.append(_timed(lambda: seed_grammar.seed_corpus(path))[0])

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


def main() -> int:
    """Print the figures, one per line."""
    for key, value in run().items():
        print(f"{key:>20}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
