"""The one exception type users see (a message and an exit code), and `excerpt` for quoting input."""

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


EXCERPT_CHARS = 60  # user input quoted in a message is cut to this many characters


def excerpt(text: object, limit: int = EXCERPT_CHARS) -> str:
    """``repr`` of user input for an error message, cut to ``limit`` characters with its length.

    ``excerpt("Dm7 G7")`` -> ``'Dm7 G7'``; a 100 kB string -> ``'Dm7 G7 ...'... (102400 characters)``.
    Every message that quotes a symbol, a line or a value the user gave goes through here, so no
    error echoes more than a short excerpt of its input. Other values (numbers, lists, exceptions
    read from a file) are shown as their ``repr``, cut the same way.
    """
    if not isinstance(text, str):
        shown = repr(text)
        return shown if len(shown) <= limit else shown[:limit] + "..."
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}... ({len(text)} characters)"


LISTING_CHARS = 200  # a list of choices longer than this is cut to the closest few


def closest(name: str, options: list[str], what: str = "titles", count: int = 5) -> str:
    """The choices for an error about an unknown ``name``: all of them in order when they fit in
    ``LISTING_CHARS`` (``titles: 'A', 'B'``), else ``the 5 closest of 1460 titles: ...`` (difflib's
    ratio on case-folded text, substrings first): never a whole long list."""
    import difflib

    unique = list(dict.fromkeys(options))
    everything = ", ".join(excerpt(option, 40) for option in unique)
    if len(everything) <= LISTING_CHARS:
        return f"{what}: {everything}"
    wanted = name.strip().casefold()[:100]

    def score(option: str) -> tuple[bool, float]:
        folded = option.casefold()
        return (bool(wanted) and wanted in folded, difflib.SequenceMatcher(None, wanted, folded).ratio())

    best = sorted(unique, key=score, reverse=True)[:count]
    return f"the {len(best)} closest of {len(unique)} {what}: {', '.join(excerpt(o, 40) for o in best)}"
