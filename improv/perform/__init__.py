"""Deterministic performance parts: no threads, no ports, no clocks; used by live play, files and replay."""
