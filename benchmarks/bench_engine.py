"""The engine split (issue 10 step 4) against the engine before it, and the band's chord reaction (issue 11).

1. Split against the pre-split commit (``BASE``, default 8502073) in the same run: the base is exported
   with ``git archive`` into a temporary directory; ``bench_live``'s measurement (`improv play` through a
   JACK dummy server, the daemon's ``--json-events``, a separate receiver) runs on both trees, alternating
   base / split, ``RUNS`` times each (default 5) at one period (``BENCH_PERIOD``, default 64). Figures:
   send lateness (median and p99 of sent - scheduled, ms), launch -> first note-on (ms) and the CPU share
   of one core, each as the median over the runs, with the ratio split / base. The machine is shared and
   loaded: the runs alternate so both trees see the same load.
2. Chord following: an in-process session (the real engine threads, performer on the shipped model, the
   band) hears a chord played on a chords-only input each bar; the reaction time is from the chord's
   arrival (its input timestamp) to the band's re-made notes being queued (``band_reactions_ms``).

Run: ``python -m benchmarks.bench_engine`` (env RUNS, BENCH_SECONDS (default 10), BENCH_PERIOD, BASE, and
SPLIT: a commit to measure instead of this tree, e.g. the merge of the split before later work).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import tarfile
import tempfile
import threading
import time
from collections import deque
from io import BytesIO
from pathlib import Path

from benchmarks import bench_live

ROOT = Path(__file__).resolve().parents[1]
BASE = os.environ.get("BASE", "8502073")
SPLIT = os.environ.get("SPLIT")  # a commit to measure instead of this tree (e.g. the split alone)
MODEL = ROOT / "improv" / "models" / "default"


def _export(commit: str, into: Path) -> Path:
    """The tree of ``commit`` (tracked files only) under ``into``."""
    data = subprocess.run(["git", "-C", str(ROOT), "archive", commit], check=True, capture_output=True).stdout
    with tarfile.open(fileobj=BytesIO(data)) as archive:
        archive.extractall(into, filter="data")
    return into


def _measure(tree: Path, period: int, seconds: float, tmp: Path) -> dict:
    """One `improv play` session from ``tree`` (its improv package first on the path)."""
    cwd, path = os.getcwd(), os.environ.get("PYTHONPATH")
    os.chdir(tree)
    os.environ["PYTHONPATH"] = str(tree)
    try:
        figures = bench_live.run_period(period, seconds, str(MODEL), tmp, f"improvengine{os.getpid()}")
    finally:
        os.chdir(cwd)
        if path is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = path
    send = figures["send_error_ms"]
    return {"send_median_ms": send["median"], "send_p99_ms": send["p99"],
            "first_note_ms": figures["launch_to_first_note_on_ms"], "cpu": figures["cpu_share_of_one_core"],
            "lost": figures["lost"], "jackd": figures["jackd"]}


def split_against_base(runs: int, period: int, seconds: float) -> dict:
    keys = ("send_median_ms", "send_p99_ms", "first_note_ms", "cpu")
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        trees = {"base": _export(BASE, tmp / "base"),
                 "split": _export(SPLIT, tmp / "split") if SPLIT else ROOT}
        rows: dict[str, list[dict]] = {"base": [], "split": []}
        for _ in range(runs):
            for name, tree in trees.items():
                rows[name].append(_measure(tree, period, seconds, tmp))
    medians = {name: {k: statistics.median(r[k] for r in rows[name]) for k in keys} for name in rows}
    ratios = {k: round(medians["split"][k] / medians["base"][k], 3) if medians["base"][k] else None
              for k in keys}
    return {"base": BASE, "split": SPLIT or "this tree", "period": period, "seconds": seconds, "runs": runs,
            "medians": medians,
            "ratio_split_over_base": ratios, "per_run": rows, "load": os.getloadavg()}


class _Chords:
    """A chords-only input in memory: the chord's keys stamped with perf_counter when played."""

    label, connected = "chords", True

    def __init__(self) -> None:
        self._queue: deque = deque()

    def play(self, pitches: tuple[int, ...]) -> None:
        t = time.perf_counter()
        for pitch in pitches:
            self._queue.append((bytes((0x90, pitch, 80)), t))

    def release(self, pitches: tuple[int, ...]) -> None:
        t = time.perf_counter()
        for pitch in pitches:
            self._queue.append((bytes((0x80, pitch, 0)), t))

    def drain(self, limit: int | None = None) -> list:
        out = []
        while self._queue and (limit is None or len(out) < limit):
            out.append(self._queue.popleft())
        return out


class _Sink:
    def send(self, message) -> bool:
        return True


def chord_reaction(bars: int = 12, tempo: float = 180.0) -> dict:
    """Chords played a moment after each downbeat; the band's reaction times (ms)."""
    from improv.generate import ImproviserSettings, build_improviser
    from improv.live.build import build_engine
    from improv.live.engine import EngineOptions, InputSource, Listening
    from improv.live.listener import ChordFollower, ListenerConfig
    from improv.perform.band import Band, Feel
    from improv.perform.band.band import band_rng
    from improv.perform.performer import Performer
    from improv.theory.progression import parse_progression

    base = parse_progression("C7 | F7 | C7 | C7 | F7 | F7 | C7 | C7 | G7 | F7 | C7 | G7")
    follower = ChordFollower(base)
    imp = build_improviser(follower, ImproviserSettings(seed=1), model_dir=MODEL)
    performer = Performer(imp, chords=follower)
    chords = _Chords()
    listening = Listening([InputSource(chords, role="chords")], ListenerConfig(),
                          chord_config=ListenerConfig(chords_only=True))
    engine = build_engine(performer, _Sink(), EngineOptions(tempo=tempo, bars=bars, status=False),
                          listening=listening,
                          band=lambda: Band(follower, band_rng(1), feel=Feel(tempo, 0.5)))
    played = [(54, 58, 61, 64), (59, 63, 66, 69), (52, 56, 59, 62)]  # Gb7, B7, E7
    results: list = []
    thread = threading.Thread(target=lambda: results.append(engine.run()), daemon=True)
    thread.start()
    spb = 60.0 / tempo
    while not engine.clock.started:
        time.sleep(0.01)
    for bar in range(1, bars - 1):
        wait = engine.timeline.time_of(bar * 4 + 0.1) - time.perf_counter()
        time.sleep(max(0.0, wait))
        keys = played[bar % len(played)]
        chords.play(keys)
        time.sleep(2 * spb)
        chords.release(keys)
    thread.join(timeout=bars * 4 * spb + 10)
    reactions = results[0].band_reactions_ms if results else []
    remake = sorted(results[0].band_remake_ms) if results else []
    ordered = sorted(reactions)
    return {"tempo": tempo, "chords": bars - 2, "reactions": len(reactions),
            "median_ms": round(statistics.median(ordered), 3) if ordered else None,
            "p99_ms": round(bench_live._pct(ordered, 0.99), 3) if ordered else None,
            "max_ms": round(max(ordered), 3) if ordered else None,
            "remake_median_ms": round(statistics.median(remake), 3) if remake else None,
            "remake_max_ms": round(max(remake), 3) if remake else None, "load": os.getloadavg()}


def run() -> dict:
    runs = int(os.environ.get("RUNS", "5"))
    period = int(os.environ.get("BENCH_PERIOD", "64"))
    seconds = float(os.environ.get("BENCH_SECONDS", "10"))
    return {"chord_reaction": chord_reaction(), "split": split_against_base(runs, period, seconds)}


def markdown(results: dict) -> str:
    split, chord = results["split"], results["chord_reaction"]
    lines = [f"{split['split']} against {split['base']} (period {split['period']}, "
             f"{split['runs']} runs each, "
             f"{split['seconds']:g} s, alternating; load {', '.join(f'{x:.1f}' for x in split['load'])})", "",
             "| figure | base | split | split / base |", "|---|---|---|---|"]
    base, new = split["medians"]["base"], split["medians"]["split"]
    for key in ("send_median_ms", "send_p99_ms", "first_note_ms", "cpu"):
        lines.append(f"| {key} | {base[key]:.3f} | {new[key]:.3f} | {split['ratio_split_over_base'][key]} |")
    lines += ["", f"Band chord reaction (chord heard -> band re-made and queued), {chord['reactions']} "
              f"chords at {chord['tempo']:g} BPM: median {chord['median_ms']} ms, p99 {chord['p99_ms']} ms, "
              f"max {chord['max_ms']} ms (of which cutting and re-making: median "
              f"{chord['remake_median_ms']} ms, max {chord['remake_max_ms']} ms)"]
    return "\n".join(lines)


if __name__ == "__main__":
    import json

    figures = run()
    print(json.dumps(figures, indent=1, default=str))
    print(markdown(figures))
