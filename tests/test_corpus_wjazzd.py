"""WJazzD reader: metrical quantisation on hand-made rows, a tiny CSV, the cache, the full database."""

from __future__ import annotations

import csv
import os
import time
from collections import Counter
from pathlib import Path

import pytest

from improv.cli import main
from improv.corpus.loader import kind_of, load
from improv.corpus.wjazzd import (
    NoteRow,
    bar_starts,
    duration_ticks,
    position_ticks,
    quantise_solo,
    read_wjazzd,
)
from improv.errors import InputError
from improv.theory.harmony import NO_CHORD
from improv.theory.values import encode

HEADER = (
    "melid,onset,duration,pitch,bar,beat,tatum,subtatum,division,num,denom,period,beatdur,"
    "chord,form,chorus_id,phrase_id"
).split(",")


def row(bar: int, beat: int, tatum: int = 1, division: int = 1, **kw: object) -> NoteRow:
    """A NoteRow at 120 bpm (beatdur 0.5 s) lasting an eighth, on a C7 chord."""
    values = dict(
        seconds=bar * 2.0 + beat * 0.5 + tatum * 0.01,
        duration=0.25,
        pitch=60,
        bar=bar,
        beat=beat,
        tatum=tatum,
        division=division,
        period=4,
        beatdur=0.5,
        chord="C7",
    )
    values.update(kw)
    return NoteRow(**values)  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def _private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMPROV_CACHE", str(tmp_path / "cache"))


# --- quantisation -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("beat", "tatum", "division", "ticks"),
    [
        (1, 1, 1, 0),
        (2, 1, 1, 12),
        (1, 2, 2, 6),  # eighth
        (1, 2, 4, 3),  # 16th
        (1, 4, 4, 9),
        (1, 2, 3, 4),  # eighth triplet
        (1, 3, 3, 8),
        (1, 2, 6, 2),
        (1, 2, 8, 2),  # 1.5 ticks: halves round up
        (1, 4, 5, 7),  # 3/5 beat = 7.2 ticks
        (4, 3, 4, 42),
    ],
)
def test_position_ticks(beat: int, tatum: int, division: int, ticks: int) -> None:
    assert position_ticks(0, beat, tatum, division) == ticks
    assert position_ticks(48, beat, tatum, division) == 48 + ticks


def test_bar_starts_with_pickup_meter_change_and_gap() -> None:
    # pickup bar 0 in 4/4, bar 1 in 4/4, bar 2 in 3/4, bar 3 has no notes, bar 4 in 4/4
    starts = bar_starts({0: 4, 1: 4, 2: 3, 4: 4})
    assert starts == {0: 0, 1: 48, 2: 96, 3: 132, 4: 168}
    assert bar_starts({-2: 4, 1: 4})[-2] == 0


def test_duration_ticks() -> None:
    assert duration_ticks(0.25, 0.5) == 6
    assert duration_ticks(0.01, 0.5) == 1  # at least a tick
    assert duration_ticks(1.5, 0.5) == 36


def test_quantise_solo_shifts_pickup_and_clips() -> None:
    rows = [
        row(0, 4, 2, 2, pitch=62, chord="NC"),  # pickup eighth
        row(1, 1, pitch=64, duration=2.0),  # a long note, clipped by the next onset
        row(1, 2, 2, 3, pitch=65),  # triplet
        row(2, 1, pitch=67, duration=0.24),
    ]
    skipped: Counter[str] = Counter()
    notes = quantise_solo(list(reversed(rows)), skipped)
    assert [(n.onset, n.duration, n.pitch, n.chord) for n in notes] == [
        (42, 6, 62, "NC"),
        (48, 16, 64, "C7"),
        (64, 6, 65, "C7"),
        (96, 6, 67, "C7"),
    ]
    assert not skipped


def test_quantise_solo_skips_and_counts() -> None:
    rows = [
        row(1, 1, pitch=60),
        row(1, 1, 2, 32, pitch=61, seconds=2.6),  # 0.375 tick: snaps onto the first note
        row(1, 2, duration=0.0),
        row(1, 5),  # beat outside a 4-beat bar
        row(1, 3, 4, 3),  # tatum outside the division
        row(1, 4, beatdur=0.0),
        row(2, 1, pitch=70),
    ]
    skipped: Counter[str] = Counter()
    notes = quantise_solo(rows, skipped)
    assert [(n.onset, n.pitch) for n in notes] == [(0, 61), (48, 70)]
    assert skipped == Counter({"same onset": 1, "zero duration": 1, "bad position": 2, "bad tempo": 1})


def test_quantise_solo_uses_local_period() -> None:
    rows = [row(1, 1), row(2, 3, period=3), row(3, 1, period=3), row(4, 5, period=5)]
    notes = quantise_solo(rows, Counter())
    assert [n.onset for n in notes] == [0, 48 + 24, 48 + 36, 48 + 72 + 48]


# --- a tiny CSV ---------------------------------------------------------------------------------


def _write_csv(folder: Path, rows: list[list[object]], solos: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "wjazzd_notes_with_chords.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        writer.writerows(rows)
    if solos:
        with (folder / "wjazzd_solos.csv").open("w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["melid", "id", "performer", "title", "signature"])
            writer.writerow([7, "Tester_Blues", "A. Tester", "Test Blues", "4/4"])
    return folder


def _csv_row(melid, onset, pitch, bar, beat, tatum=1, division=1, chord="C7", dur=0.25):
    return [melid, onset, dur, pitch, bar, beat, tatum, 0, division, 4, 4, 4, 0.5, chord, "A1", 1, 1]


TINY = [
    _csv_row(7, 1.0, 60, 1, 1, chord="NC"),
    _csv_row(7, 1.5, 62, 1, 2, chord="F7"),
    _csv_row(7, 2.0, 64, 1, 3, 2, 2, chord="F7"),
    _csv_row(7, 3.0, 65, 2, 1, chord="Bb-7"),
    _csv_row(8, 0.5, 70, 0, 4, chord="Dj7"),
    _csv_row(8, 1.0, 71, 1, 1, chord="Dj7"),
    _csv_row(8, 1.1, 71, 1, 1, chord="Dj7", dur=0.0),
]


def test_read_tiny_csv(tmp_path: Path) -> None:
    folder = _write_csv(tmp_path / "wjd", TINY)
    result = read_wjazzd(folder)
    assert result.notes_read == 7
    assert result.skipped == Counter({"zero duration": 1})
    first, second = result.lines
    assert first.name == "Tester_Blues"
    assert first.meta["performer"] == "A. Tester" and first.meta["melid"] == 7
    assert second.name == "melid 8"
    assert [(n.onset, n.pitch) for n in first.notes] == [(0, 60), (12, 62), (30, 64), (48, 65)]
    assert first.chord_at(0) is NO_CHORD
    assert first.chord_at(11) is NO_CHORD
    assert first.chord_at(12).symbol == "F7"
    assert first.chord_at(47).symbol == "F7"
    assert first.chord_at(48).root == 10 and first.chord_at(48).quality == "min"
    assert first.chord_at(10_000).symbol == "Bb-7"
    assert [(n.onset, n.pitch) for n in second.notes] == [(36, 70), (48, 71)]
    assert second.chord_at(0).symbol == "Dj7"  # before the first note: the first chord
    assert len(encode(first)) >= 4


def test_notes_csv_path_and_missing_solos(tmp_path: Path) -> None:
    folder = _write_csv(tmp_path / "wjd", TINY, solos=False)
    result = load(folder / "wjazzd_notes_with_chords.csv")
    assert result.kind == "wjazzd"
    assert [line.name for line in result.lines] == ["melid 7", "melid 8"]


def test_unparsable_row_is_counted(tmp_path: Path) -> None:
    bad = list(TINY[0])
    bad[4] = "x"
    folder = _write_csv(tmp_path / "wjd", [*TINY, bad])
    assert read_wjazzd(folder).skipped["unparsable row"] == 1


def test_not_a_wjazzd_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "wjd"
    folder.mkdir()
    (folder / "wjazzd_notes_with_chords.csv").write_text("melid,onset\n1,2.0\n")
    with pytest.raises(InputError, match="missing columns: duration, pitch"):
        read_wjazzd(folder)
    assert main(["corpus", str(folder)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("improv: error: ") and "Traceback" not in err


def test_empty_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="directory without wjazzd_notes_with_chords.csv"):
        kind_of(tmp_path)


def test_cache_hit_and_invalidation(tmp_path: Path) -> None:
    folder = _write_csv(tmp_path / "wjd", TINY)
    first = load(folder)
    assert list((tmp_path / "cache").glob("corpus-*.pickle"))
    again = load(folder)
    assert [len(line.notes) for line in again.lines] == [len(line.notes) for line in first.lines]
    assert again.lines[0].chord_at(12).symbol == "F7"
    _write_csv(folder, TINY[:4])  # different content, newer mtime
    stat = (folder / "wjazzd_notes_with_chords.csv").stat()
    os.utime(folder / "wjazzd_notes_with_chords.csv", ns=(stat.st_atime_ns, time.time_ns() + 10**9))
    assert len(load(folder).lines) == 1
    assert len(list((tmp_path / "cache").glob("corpus-*.pickle"))) == 1  # the stale entry is gone


def test_cli_counts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = _write_csv(tmp_path / "wjd", TINY)
    assert main(["corpus", str(folder), "--min-count", "2"]) == 0
    out = capsys.readouterr().out
    assert "notes: 6\n" in out and "bars: 4\n" in out
    assert "rare values (count < 2)" in out


def test_cli_rejects_bad_min_count(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = _write_csv(tmp_path / "wjd", TINY)
    assert main(["corpus", str(folder), "--min-count", "0"]) == 2
    assert "--min-count" in capsys.readouterr().err


# --- the whole database (shared data) -----------------------------------------------------------


def _wjazzd() -> Path:
    env = os.environ.get("IMPROV_SHARED")
    root = Path(env) if env else Path(__file__).resolve().parents[2] / "shared"
    folder = root / "data" / "wjazzd"
    if not (folder / "wjazzd_notes_with_chords.csv").is_file():
        pytest.skip(f"WJazzD not found under {root} (set IMPROV_SHARED)")
    return folder


@pytest.mark.shared
def test_full_database() -> None:
    result = load(_wjazzd())
    assert result.kind == "wjazzd"
    assert len(result.lines) == 456
    assert result.notes_read == 200_814
    assert result.notes_kept + sum(result.skipped.values()) == 200_814
    assert result.notes_kept > 200_000
    assert not result.unparsed_chords  # every one of the 410 symbols parses
    names = {line.name for line in result.lines}
    assert "ArtPepper_Anthropology" in names
    for line in result.lines:
        onsets = [n.onset for n in line.notes]
        assert onsets[0] >= 0 and onsets == sorted(set(onsets))
        assert all(n.onset + n.duration <= m.onset for n, m in zip(line.notes, line.notes[1:], strict=False))
    cached = load(_wjazzd())
    assert cached.notes_kept == result.notes_kept
