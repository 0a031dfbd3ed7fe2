"""improv: a real-time MIDI jazz improviser driven by a stateful LSTM cell."""

import os as _os
import sys as _sys

__version__ = "0.1.0"


def _is_the_command() -> bool:
    """Whether this process is the `improv` command (console script or `python -m improv`)."""
    return _os.path.basename(_sys.argv[0]) == "improv" or getattr(_sys, "orig_argv", [])[1:3] == [
        "-m", "improv"]


if _is_the_command():  # first of all: a stop signal while improv starts ends it silently
    from improv.live import stopsignals as _stopsignals

    _stopsignals.install()
