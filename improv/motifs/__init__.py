"""Ideas: cells of a phrase and their transforms (``cells``), and the improviser's motif memory (``memory``).

At the improviser's level of the flow (theory <- corpus <- model <- shaping <- motifs/improviser); nothing
here imports the improviser at run time. Ticks inside; one thread (the improviser's).
"""

from improv.motifs.cells import TRANSFORMS, Cell, Placed, cells, place
from improv.motifs.memory import MotifMemory, MotifSettings, PlanStep, Restatement

__all__ = ["TRANSFORMS", "Cell", "MotifMemory", "MotifSettings", "Placed", "PlanStep", "Restatement", "cells",
           "place"]
