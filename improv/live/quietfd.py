"""Silence C-level stderr for a block: ALSA, JACK and FluidSynth print their own lines on a failed probe.

Standard library only (the audio probe uses it before numpy or mido are imported). Not thread-safe: fd 2
is process-wide, so use it at start-up or from the one thread that probes.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def quiet_stderr() -> Iterator[None]:
    """Point fd 2 at /dev/null for the block (a no-op when fd 2 cannot be duplicated)."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
