"""A piano-roll picture of a solo with the chord symbols along the top (matplotlib, imported lazily)."""

from __future__ import annotations

from pathlib import Path

from improv.errors import InputError
from improv.improviser import TimedNote
from improv.theory.progression import Progression
from improv.theory.timing import TICKS_PER_BEAT


def piano_roll(
    notes: list[TimedNote], progression: Progression, bars: int, out: Path, title: str = ""
) -> Path:
    """Draw the notes as bars on a pitch/beat grid, bar lines, and each chord symbol where it starts."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise InputError("--plot needs matplotlib: pip install 'improv[plot]'") from exc
    beats = bars * progression.beats_per_bar
    fig, ax = plt.subplots(figsize=(max(8.0, beats * 0.18), 4.5), dpi=100)
    for n in notes:
        ax.broken_barh(
            [(n.onset, n.duration)], (n.pitch - 0.4, 0.8), color=(0.15, 0.35, 0.7, 0.3 + n.velocity / 200)
        )
    pitches = [n.pitch for n in notes] or [60]
    top = max(pitches) + 3
    for bar in range(bars + 1):
        ax.axvline(bar * progression.beats_per_bar, color="0.75", lw=0.8, zorder=0)
    offset, shown = 0, None
    while offset < beats * TICKS_PER_BEAT:
        for span in progression.spans:
            start = offset + span.start
            if start >= beats * TICKS_PER_BEAT:
                break
            if span.chord.symbol != shown:
                ax.text(start / TICKS_PER_BEAT, top, span.chord.symbol, fontsize=8, va="bottom")
                shown = span.chord.symbol
        offset += progression.length
    ax.set_xlim(0, beats)
    ax.set_ylim(min(pitches) - 3, top + 3)
    ax.set_xlabel("beats")
    ax.set_ylabel("MIDI pitch")
    ax.set_title(title)
    fig.tight_layout()
    try:
        fig.savefig(out)
    except OSError as exc:
        raise InputError(f"cannot write {out}: {exc}") from exc
    finally:
        plt.close(fig)
    return out
