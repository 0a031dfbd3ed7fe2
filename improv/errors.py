"""The one exception type users see: a message and an exit code."""

from __future__ import annotations


class ImprovError(Exception):
    """An error the CLI reports as one line; ``exit_code`` 2 = usage/input, 1 = runtime."""

    exit_code: int = 2

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class InputError(ImprovError):
    """Bad input from the user: a file, a symbol, an option, a config key. Exit code 2."""

    exit_code = 2


class RuntimeFailure(ImprovError):
    """Something failed while running (a port died, the server vanished). Exit code 1."""

    exit_code = 1
