"""Chord scales: the scale an improviser uses for scale (S) tones over a chord, as intervals.

``chord_scale`` takes the intervals ``improv.theory.harmony`` read from a chord symbol (its third,
fifth, seventh, tensions, alt) and the quality, and picks the first candidate scale of that quality
that holds every chord tone and tension (see the choices in ``improv.theory.harmony``'s docstring).
Pure functions, no state.
"""

from __future__ import annotations

# Chord scales as intervals above the root.
SCALES: dict[str, tuple[int, ...]] = {
    "ionian": (0, 2, 4, 5, 7, 9, 11),
    "lydian": (0, 2, 4, 6, 7, 9, 11),
    "lydian augmented": (0, 2, 4, 6, 8, 9, 11),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
    "lydian dominant": (0, 2, 4, 6, 7, 9, 10),
    "mixolydian b6": (0, 2, 4, 5, 7, 8, 10),
    "phrygian dominant": (0, 1, 4, 5, 7, 8, 10),
    "altered": (0, 1, 3, 4, 6, 8, 10),
    "half-whole diminished": (0, 1, 3, 4, 6, 7, 9, 10),
    "whole tone": (0, 2, 4, 6, 8, 10),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "aeolian": (0, 2, 3, 5, 7, 8, 10),
    "phrygian": (0, 1, 3, 5, 7, 8, 10),
    "melodic minor": (0, 2, 3, 5, 7, 9, 11),
    "harmonic minor": (0, 2, 3, 5, 7, 8, 11),
    "locrian": (0, 1, 3, 5, 6, 8, 10),
    "locrian natural 2": (0, 2, 3, 5, 6, 8, 10),
    "whole-half diminished": (0, 2, 3, 5, 6, 8, 9, 11),
}


def chord_scale(shape, quality: str) -> tuple[int, ...]:
    """The scale (intervals above the root) for a chord read into ``shape`` with ``quality``: the
    first of the quality's candidate scales that holds every chord tone and tension, else the first
    one with them added."""
    t = shape.tensions
    fifth = shape.fifth
    if quality == "maj":
        names = ["ionian", "lydian", "lydian augmented"]
        if 6 in t or fifth == 6:
            names = ["lydian", "ionian"]
    elif quality == "min":
        names = ["dorian", "aeolian", "phrygian", "melodic minor", "harmonic minor"]
        if shape.seventh == 11:
            names = ["melodic minor", "harmonic minor"]
        elif 8 in t or fifth == 8:
            names = ["aeolian", "harmonic minor", "phrygian"]
        elif 1 in t:
            names = ["phrygian", "aeolian"]
    elif quality == "dom":
        names = _dominant_scales(shape)
    elif quality == "hdim":
        names = ["locrian natural 2", "locrian"] if 2 in t else ["locrian", "locrian natural 2"]
    elif quality == "dim":
        names = ["whole-half diminished"]
    elif quality == "aug":
        names = ["lydian augmented"] if shape.seventh == 11 else ["whole tone", "lydian augmented"]
    else:  # sus
        names = ["mixolydian", "ionian", "phrygian", "dorian"]
        if 1 in t or 8 in t:
            names = ["phrygian", "phrygian dominant", "mixolydian"]
    needed = shape.tone_intervals() | t
    for name in names:
        if needed <= set(SCALES[name]):
            return SCALES[name]
    return tuple(sorted(set(SCALES[names[0]]) | needed))


def _dominant_scales(shape) -> list[str]:
    """Candidate scales of a dominant chord, by its alterations."""
    t = shape.tensions
    sharp5 = shape.fifth == 8 or 8 in t
    flat9, sharp9 = 1 in t, 3 in t
    sharp11 = 6 in t or shape.fifth == 6
    if shape.alt or (sharp9 and sharp5) or (flat9 and sharp5 and sharp11):
        return ["altered", "half-whole diminished"]
    if flat9 and sharp5:
        return ["phrygian dominant", "altered"]
    if flat9 or sharp9:
        return ["half-whole diminished", "altered", "phrygian dominant"]
    if sharp11:
        return ["lydian dominant", "whole tone", "altered"]
    if shape.fifth == 8:
        return ["whole tone", "altered"]
    if 8 in t:
        return ["mixolydian b6", "altered"]
    return ["mixolydian", "lydian dominant"]


def scale_name(chord) -> str:
    """The name of a chord's scale ('dorian', 'altered', ...), 'custom' if not a named one."""
    if chord.root is None:
        return "none"
    intervals = tuple(sorted((pc - chord.root) % 12 for pc in chord.scale))
    for name, steps in SCALES.items():
        if steps == intervals:
            return name
    return "custom"
