"""A solo drawn as a musician reads it: a piano roll wrapped in systems of bars, like a lead sheet.

Each system holds 4-8 bars (one phrase of the form: 8 for 16- and 32-bar tunes, 4 for the blues);
above it the chord symbols where they change (and again at the start of each system), never
overlapping: two chords sharing a bar shrink and, if they still collide, alternate between two rows.
Bar numbers sit over the bar lines; the y-axis names pitches (C4 = middle C, E♭5) with the black
keys shaded; optional lanes under each system show the comping and the bass.

Units: note onsets and durations in beats from bar 1 (``TimedNote``); layout in pixels at
``DPI`` (the picture is meant to be read at 100 %). matplotlib is imported lazily and used with
the Agg backend only; nothing here is shared between threads.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from improv.errors import InputError
from improv.theory.pitch import pitch_name
from improv.theory.progression import Progression
from improv.theory.timing import TICKS_PER_BEAT

DPI = 100
BEAT_PX = 44  # a 4/4 bar is 176 px: about a lead sheet's bar at 100 %
SEMITONE_PX = 7
LEFT_PX, RIGHT_PX, TOP_PX, BOTTOM_PX = 64, 24, 84, 24
CHORD_ROW_PX = 22
BAR_NUMBER_PX = 14
LANE_PX = 46
GAP_PX = 26
MAX_BARS = 256  # 64 systems of 4 bars: a long page already (and far below Agg's 65,536 px limit)
CHORD_SIZES = (12.0, 11.0, 10.0, 9.0, 8.0)  # points: try the largest that fits, then a second row
LABEL_PAD_PX = 6
SOLO_COLOR = (0.12, 0.30, 0.68)
LANE_COLORS = ((0.55, 0.35, 0.10), (0.15, 0.50, 0.30), (0.50, 0.20, 0.50))
_BLACK_KEYS = {1, 3, 6, 8, 10}
_PITCH_TICKS = {0: True, 4: False, 7: False}  # C (bold, with a grid line), E, G


class NoteLike(Protocol):
    onset: float
    duration: float
    pitch: int
    velocity: int


@dataclass(frozen=True)
class Lane:
    """An accompaniment track drawn under each system: a name and its notes (beats, like the solo)."""

    name: str
    notes: Sequence[NoteLike]


@dataclass(frozen=True)
class ChordLabel:
    """Where one chord symbol goes: its beat, text, row (0 = top) and size in points."""

    beat: float
    text: str
    row: int
    size: float


def piano_roll(notes: Sequence[NoteLike], progression: Progression, bars: int, out: Path, title: str = "",
               **layout: Any) -> Path:
    """Draw the solo (and the optional lanes) over ``bars`` bars of the progression into a PNG: the figure
    of :func:`render`, whose keywords ``layout`` passes on (``lanes``, ``bars_per_system``, ``subtitle``,
    ``sections``)."""
    plt = _pyplot()
    fig = render(notes, progression, bars, title, **layout)
    try:
        fig.savefig(out, dpi=DPI)
    except OSError as exc:
        raise InputError(f"cannot write {out}: {exc.strerror or exc}") from None
    except ValueError as exc:  # an unknown image suffix
        raise InputError(f"cannot write {out}: {exc}") from None
    finally:
        plt.close(fig)
    return out


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise InputError("--plot needs matplotlib: pip install 'improv[plot]'") from None
    return plt


# ---------------------------------------------------------------------------------- layout (pure)


def system_size(progression: Progression) -> int:
    """Bars per system: a phrase of the form (8 for 16/32-bar forms, 4 for the blues, 6 in 3/4)."""
    count = progression.bar_count
    if progression.beats_per_bar <= 3:
        return 8 if count % 8 == 0 else 6 if count % 6 == 0 else 4
    if count % 8 == 0 and count >= 16:
        return 8
    return 4


def chord_marks(progression: Progression, bars: int, per_system: int) -> list[tuple[float, str]]:
    """(beat, symbol) for each chord change in ``bars`` bars (the form loops), and at the start of
    every system the chord sounding there, so each line reads on its own."""
    end = bars * progression.bar_ticks
    system_ticks = per_system * progression.bar_ticks
    marks: list[tuple[float, str]] = []
    shown: str | None = None
    offset = 0
    while offset < end:
        for span in progression.spans:
            start = offset + span.start
            if start >= end:
                break
            for tick in _system_starts(start, start + span.length, system_ticks):
                if tick != start or span.chord.symbol != shown:
                    marks.append((tick / TICKS_PER_BEAT, span.chord.symbol))
            if start % system_ticks and span.chord.symbol != shown:
                marks.append((start / TICKS_PER_BEAT, span.chord.symbol))
            shown = span.chord.symbol
        offset += progression.length
    return sorted(set(marks))


def _system_starts(start: int, end: int, system_ticks: int) -> list[int]:
    """System starts inside [start, end): where a held chord is written again."""
    first = -(-start // system_ticks) * system_ticks
    return list(range(first, end, system_ticks))


def display_symbol(symbol: str) -> str:
    """A chord symbol as printed on a lead sheet: ♭ ♯, Δ for ^ (iReal), ø for h, ° for o."""
    if symbol in ("N.C.", "NC"):
        return "N.C."
    root, body = symbol[:1], symbol[1:]
    if body[:1] in ("b", "#"):
        root, body = root + body[0], body[1:]
    body = body.replace("^", "Δ")
    if body.startswith("h"):
        body = "ø" + body[1:]
    elif body.startswith("o"):
        body = "°" + body[1:]
    text = root + body
    return text.replace("b", "♭").replace("#", "♯")


def place_chords(
    marks: Sequence[tuple[float, str]],
    beat_px: float,
    system_beats: float,
    width: Callable[[str, float], float],
) -> list[ChordLabel]:
    """Rows and sizes for one system's chord symbols so that no two overlap.

    ``marks`` are (beat within the system, text); ``width(text, size)`` is a label's width in px.
    A label takes the first row at the largest size that ends before the next chord starts; else
    the row that is free at its beat (the next chord then takes the other one), at the largest size
    that ends before the chord after next; when neither row is free (long symbols on every beat) it
    goes, at the smallest size, on the row free first, just after the label before it. A symbol is
    never cut short (``Dbm…`` would read as another chord) and labels of one row never overlap.
    """
    row_ends = [float("-inf"), float("-inf")]
    placed: list[ChordLabel] = []
    edge = system_beats * beat_px + RIGHT_PX
    for index, (beat, text) in enumerate(marks):
        ahead = [marks[k][0] * beat_px for k in (index + 1, index + 2) if k < len(marks)]
        following, after = (ahead + [edge, edge])[:2]
        x, row, size = _fit(text, beat * beat_px, following, after, row_ends, width)
        row_ends[row] = x + width(text, size) + LABEL_PAD_PX
        placed.append(ChordLabel(x / beat_px, text, row, size))
    return placed


def _fit(text: str, x: float, following: float, after: float, row_ends: list[float],
         width: Callable[[str, float], float]) -> tuple[float, int, float]:
    """(x in px, row, size) of one label."""
    if row_ends[0] <= x:
        for size in CHORD_SIZES:
            if x + width(text, size) + LABEL_PAD_PX <= following:
                return x, 0, size
    for row in (0, 1):
        if row_ends[row] <= x:
            fits = [size for size in CHORD_SIZES if x + width(text, size) + LABEL_PAD_PX <= after]
            return x, row, fits[0] if fits else CHORD_SIZES[-1]
    row = 0 if row_ends[0] <= row_ends[1] else 1
    return row_ends[row], row, CHORD_SIZES[-1]


def pitch_span(notes: Sequence[NoteLike], pad: int = 2) -> tuple[int, int]:
    """The lowest and highest row to draw: the notes' range, padded, at least an octave."""
    if not notes:
        return 55, 79
    low = min(n.pitch for n in notes) - pad
    high = max(n.pitch for n in notes) + pad
    if high - low < 12:
        middle = (low + high) // 2
        low, high = middle - 6, middle + 6
    return max(0, low), min(127, high)


def pitch_ticks(low: int, high: int, every: int = 1) -> list[int]:
    """The pitches the y-axis names: each C, E and G (only the Cs when rows are tight)."""
    names = {0} if every > 1 else set(_PITCH_TICKS)
    return [p for p in range(low, high + 1) if p % 12 in names]


# ---------------------------------------------------------------------------------- drawing


@dataclass(frozen=True)
class _Page:
    """The page's geometry in pixels (from the top-left corner) and what every system shares."""

    progression: Progression
    bars: int
    per_system: int
    low: int
    high: int
    lanes: tuple[Lane, ...]
    chord_rows: tuple[int, ...]  # 1 or 2 rows of chord symbols, per system

    @property
    def solo_px(self) -> int:
        return max(120, (self.high - self.low + 1) * SEMITONE_PX)

    def head_px(self, k: int) -> int:
        return BAR_NUMBER_PX + self.chord_rows[k] * CHORD_ROW_PX

    def system_px(self, k: int) -> int:
        return self.head_px(k) + self.solo_px + len(self.lanes) * LANE_PX + GAP_PX

    def top(self, k: int) -> int:
        return TOP_PX + sum(self.system_px(j) for j in range(k))

    @property
    def width_px(self) -> int:
        return LEFT_PX + self.per_system * self.progression.beats_per_bar * BEAT_PX + RIGHT_PX

    @property
    def height_px(self) -> int:
        return self.top(len(self.chord_rows)) + BOTTOM_PX

    def box(self, top: float, height: float, beats: float) -> list[float]:
        """A figure-fraction rectangle [left, bottom, width, height] from pixels."""
        return [LEFT_PX / self.width_px, 1 - (top + height) / self.height_px,
                beats * BEAT_PX / self.width_px, height / self.height_px]


def render(
    notes: Sequence[NoteLike],
    progression: Progression,
    bars: int,
    title: str = "",
    *,
    lanes: Sequence[Lane] | None = None,
    bars_per_system: int | None = None,
    subtitle: str = "",
    sections: Sequence[str] | None = None,
):
    """The matplotlib Figure of the solo over ``bars`` bars of the progression (the caller closes it).

    ``lanes``: accompaniment tracks (e.g. comping and bass) drawn under each system; ``sections``: a
    form-section label per bar of the form (``A1 A2 B A3``) for rehearsal marks."""
    plt = _pyplot()
    if not 1 <= bars <= MAX_BARS:
        raise InputError(f"--plot draws 1..{MAX_BARS} bars, not {bars} (plot a shorter solo)")
    per = max(1, min(bars_per_system or system_size(progression), bars))
    fig = plt.figure(dpi=DPI)
    width = _text_width(fig)
    marks = chord_marks(progression, bars, per)
    beats = per * progression.beats_per_bar
    labels = []
    for first in range(0, bars * progression.beats_per_bar, beats):
        mine = [(beat - first, text) for beat, text in marks if first <= beat < first + beats]
        labels.append(place_chords(mine, BEAT_PX, beats, width))
    rows = tuple(2 if any(label.row for label in system) else 1 for system in labels)
    kept = tuple(lane for lane in lanes or () if lane.notes)
    page = _Page(progression, bars, per, *pitch_span(notes), kept, rows)
    fig.set_size_inches(page.width_px / DPI, page.height_px / DPI)
    fig.text(LEFT_PX / page.width_px, 1 - 30 / page.height_px, title or progression.title or "improv solo",
             fontsize=17, fontweight="bold", va="baseline")
    if subtitle:
        fig.text(LEFT_PX / page.width_px, 1 - 54 / page.height_px, subtitle, fontsize=10, color="0.35",
                 va="baseline")
    marks_of = _rehearsal_marks(sections, progression.bar_count)
    for k, system in enumerate(labels):
        _system(fig, page, k, notes, system, marks_of)
    return fig


def _rehearsal_marks(sections: Sequence[str] | None, form_bars: int) -> dict[int, str]:
    """Form bar (0-based) -> section letter where a section starts (A A B A), when there are two."""
    if not sections or len(set(sections)) < 2 or len(sections) != form_bars:
        return {}
    starts = {}
    for bar, label in enumerate(sections):
        if bar == 0 or label != sections[bar - 1]:
            starts[bar] = label.rstrip("0123456789") or label
    return starts


def _text_width(fig) -> Callable[[str, float], float]:
    """Width in px of a chord label as drawn (measured once per text and size)."""
    renderer = fig.canvas.get_renderer()
    cache: dict[tuple[str, float], float] = {}

    def width(text: str, size: float) -> float:
        key = (text, size)
        if key not in cache:
            probe = fig.text(0, 0, display_symbol(text), fontsize=size, fontweight="bold")
            cache[key] = probe.get_window_extent(renderer).width
            probe.remove()
        return cache[key]

    return width


def _system(fig, page: _Page, k: int, notes: Sequence[NoteLike], labels: list[ChordLabel],
            rehearsal: dict[int, str]) -> None:
    """One line of the page: bar numbers, chord rows, the solo roll and the lanes."""
    bpb = page.progression.beats_per_bar
    first_bar = k * page.per_system
    count = min(page.per_system, page.bars - first_bar)
    beat0, beats = first_bar * bpb, count * bpb
    top, head_px = page.top(k), page.head_px(k)
    head = fig.add_axes(page.box(top, head_px, beats))
    head.set_axis_off()
    head.set_xlim(0, beats)
    head.set_ylim(0, head_px)
    _bar_numbers(head, first_bar, count, bpb, head_px, rehearsal, page.progression.bar_count)
    for label in labels:
        y = label.row * CHORD_ROW_PX + 5  # the first row sits on the roll, the second above it
        head.text(label.beat + LABEL_PAD_PX / 2 / BEAT_PX, y, display_symbol(label.text),
                  fontsize=label.size, fontweight="bold", va="baseline", ha="left", clip_on=False)
    solo = fig.add_axes(page.box(top + head_px, page.solo_px, beats))
    _roll(solo, notes, beat0, beats, bpb, (page.low, page.high), SOLO_COLOR)
    _pitch_axis(solo, page.low, page.high)
    lane_top = top + head_px + page.solo_px
    for index, lane in enumerate(page.lanes):
        ax = fig.add_axes(page.box(lane_top + index * LANE_PX + 4, LANE_PX - 6, beats))
        _roll(ax, lane.notes, beat0, beats, bpb, pitch_span(lane.notes, pad=1),
              LANE_COLORS[index % len(LANE_COLORS)], shade=False)
        ax.set_yticks([])
        ax.set_ylabel(lane.name, rotation=0, ha="right", va="center", fontsize=9, color="0.3")


def _bar_numbers(head, first_bar: int, count: int, bpb: int, head_px: int,
                 rehearsal: dict[int, str], form_bars: int) -> None:
    """Each bar's number over its bar line (with the chorus where one starts); a boxed section
    letter where a section starts."""
    for bar in range(count):
        number = first_bar + bar + 1
        x = bar * bpb
        letter = rehearsal.get((number - 1) % form_bars)
        if letter:
            head.text(x, head_px - 1, letter, fontsize=9, fontweight="bold", va="top", ha="left",
                      bbox={"boxstyle": "square,pad=0.15", "fc": "white", "ec": "0.2", "lw": 0.8})
            x += 0.42
        chorus = (number - 1) // form_bars + 1
        text = f"{number}  chorus {chorus}" if chorus > 1 and (number - 1) % form_bars == 0 else str(number)
        head.text(x, head_px - 1, text, fontsize=9 if bar == 0 else 8,
                  fontweight="bold" if bar == 0 else "normal", color="0.45", va="top", ha="left")


def _roll(ax, notes: Sequence[NoteLike], beat0: float, beats: float, bpb: int,
          span: tuple[int, int], color: tuple[float, float, float], shade: bool = True) -> None:
    """Notes as bars on the pitch rows of [beat0, beat0 + beats), with bar and beat lines (drawn as
    collections: one artist per kind, not one per row or note)."""
    from matplotlib.collections import LineCollection, PolyCollection

    low, high = span
    ax.set_xlim(0, beats)
    ax.set_ylim(low - 0.5, high + 0.5)
    ax.set_xticks([])
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    if shade:
        keys = [_box(0, p - 0.5, beats, 1.0) for p in range(low, high + 1) if p % 12 in _BLACK_KEYS]
        ax.add_collection(PolyCollection(keys, facecolors="0.94", linewidths=0, zorder=0), autolim=False)
        octaves = [[(0, p - 0.5), (beats, p - 0.5)] for p in range(low, high + 1) if p % 12 == 0]
        ax.add_collection(LineCollection(octaves, colors="0.80", linewidths=0.6, zorder=0), autolim=False)
    strong = [b for b in range(int(beats) + 1) if b % bpb == 0]
    weak = [b for b in range(int(beats) + 1) if b % bpb]
    for where, shade_of, width in ((weak, "0.85", 0.5), (strong, "0.35", 1.1)):
        lines = [[(b, low - 0.5), (b, high + 0.5)] for b in where]
        ax.add_collection(LineCollection(lines, colors=shade_of, linewidths=width, zorder=1), autolim=False)
    shown = [n for n in notes if n.onset < beat0 + beats and n.onset + n.duration > beat0]
    if not shown:
        return
    boxes = [_box(n.onset - beat0, n.pitch - 0.4, max(n.duration, 0.06), 0.8) for n in shown]
    fills = [(*color, 0.45 + 0.55 * min(max(n.velocity, 1), 127) / 127) for n in shown]
    ax.add_collection(PolyCollection(boxes, facecolors=fills, edgecolors=[(*color, 1.0)], linewidths=0.5,
                                     zorder=2), autolim=False)


def _box(x: float, y: float, width: float, height: float) -> list[tuple[float, float]]:
    return [(x, y), (x + width, y), (x + width, y + height), (x, y + height)]


def _pitch_axis(ax, low: int, high: int) -> None:
    """Note names on the y-axis: every C (bold), E and G."""
    tight = SEMITONE_PX < 6
    ticks = pitch_ticks(low, high, every=2 if tight else 1)
    ax.set_yticks(ticks)
    ax.set_yticklabels([pitch_name(p, pretty=True) for p in ticks], fontsize=8.5)
    for label, pitch in zip(ax.get_yticklabels(), ticks, strict=True):
        if pitch % 12 == 0:
            label.set_fontweight("bold")
        else:
            label.set_color("0.4")
    ax.tick_params(axis="y", length=2, pad=2)
