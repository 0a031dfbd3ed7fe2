"""Benchmarks: each module has run() -> dict; `python -m benchmarks.run` writes benchmarks/RESULTS.md."""
