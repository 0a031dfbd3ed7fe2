"""Run every benchmark, print the tables and write them to benchmarks/RESULTS.md.

Each benchmark measures the project and its baseline in the same run and reports the ratio. Usage:
``python -m benchmarks.run [NAME ...]`` (preprocess, model, music, musicianship, band, render,
synth, live, listen, engine); `make bench` runs all.
"""

from __future__ import annotations

import datetime as _dt
import importlib
import json
import platform
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHES = {
    "live": ("benchmarks.bench_live", "Live engine through JACK (issue 4)"),
    "listen": ("benchmarks.bench_listen", "Listening: answers, clock following, priming (issue 5)"),
    "preprocess": ("benchmarks.bench_preprocess", "Reading and encoding the seed file (issue 2)"),
    "model": ("benchmarks.bench_model", "Cell latency and training speed against baselines (issue 2)"),
    "music": ("benchmarks.bench_music", "Musical evaluation against baselines and real solos (issue 3)"),
    "musicianship": ("benchmarks.bench_musicianship",
                     "Musicianship: improv, previous default, n-gram and real solos (issue 9)"),
    "band": ("benchmarks.bench_band", "Rhythm section and audio rendering (issue 11)"),
    "render": ("benchmarks.bench_render", "`improv generate --audio` for 32 bars, stage by stage (issue 11)"),
    "synth": ("benchmarks.bench_synth",
              "Live sound through FluidSynth: first sound, CPU, attack latency (issue 11)"),
    "engine": ("benchmarks.bench_engine",
               "The engine split against the pre-split engine; band chord reaction (issues 10, 11)"),
}


def section(name: str) -> str:
    """Run one benchmark and return its markdown section."""
    module_name, title = BENCHES[name]
    started = time.perf_counter()
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        return f"## {title}\n\nnot available: {exc}\n"
    try:
        result = module.run()
    except Exception:  # a failing benchmark must not hide the others
        return f"## {title}\n\nfailed:\n```\n{traceback.format_exc()}```\n"
    seconds = time.perf_counter() - started
    body = module.markdown(result) if hasattr(module, "markdown") else _json_block(result)
    return f"## {title}\n\n{body}\n\n_{seconds:.0f} s_\n"


def _json_block(result: dict) -> str:
    return "```json\n" + json.dumps(result, indent=1, default=str) + "\n```"


def main(argv: list[str] | None = None) -> int:
    names = list(sys.argv[1:] if argv is None else argv) or list(BENCHES)
    unknown = [n for n in names if n not in BENCHES]
    if unknown:
        print(
            f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(BENCHES)}", file=sys.stderr
        )
        return 2
    header = (
        "# Benchmark results\n\n"
        f"Run {_dt.datetime.now(_dt.UTC).isoformat(timespec='seconds')} on {platform.machine()}, "
        f"Python {platform.python_version()}, {platform.system()} {platform.release()} "
        f"(`python -m benchmarks.run {' '.join(names)}`).\n"
    )
    sections = []
    for name in names:
        print(f"== {name}", file=sys.stderr, flush=True)
        text = section(name)
        print(text, flush=True)
        sections.append(text)
    (HERE / "RESULTS.md").write_text(header + "\n" + "\n".join(sections))
    print(f"wrote {HERE / 'RESULTS.md'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
