"""A rhythm section (walking bass, comping, swing drums) over a progression, as timed notes.

Everything here is deterministic and thread-free: given a progression, its form sections, the feel and one
seeded ``numpy.random.Generator``, the parts make the same notes every time. Time inside is integer ticks
(``improv.theory.timing``, 12 per beat); what comes out (``BandNote``) is in beats from bar 1 of the form,
with its MIDI channel (0-based). The live engine, ``improv generate`` and the audio renderer all take these.
"""

from improv.perform.band.band import (
    PARTS,
    Band,
    BandChannels,
    parse_band_channels,
    parse_band_ports,
    parse_parts,
)
from improv.perform.band.form import GROOVES, BandNote, Feel, Form, groove_of

__all__ = ["GROOVES", "PARTS", "Band", "BandChannels", "BandNote", "Feel", "Form", "groove_of",
           "parse_band_channels", "parse_band_ports", "parse_parts"]
