"""MIDI corpus reader: track detection, chord symbols, monophony, windows and every error case."""

from __future__ import annotations

import os
from pathlib import Path

import mido
import pytest

from improv.cli import main
from improv.corpus.loader import load
from improv.corpus.midi_reader import MidiNote, chord_symbol, read_midi, skyline
from improv.errors import InputError
from improv.theory.timing import TICKS_PER_BEAT

TPQ = 96

# (start beat, length in beats, pitches): a ii-V-I-I in C, one chord per bar
COMPING = [
    (0, 4, (62, 65, 69, 72)),  # Dm7
    (4, 4, (55, 59, 62, 65)),  # G7
    (8, 4, (60, 64, 67, 71)),  # Cmaj7
    (12, 4, (60, 64, 67, 71)),
]
MELODY = [(b * 0.5, 0.5, 72 + (b % 5)) for b in range(32)]  # eighths, 16 beats
BASS = [(0, 4, 38), (4, 4, 43), (8, 4, 36), (12, 4, 36)]
DRUMS = [(b, 0.25, 42) for b in range(16)]


def _track(name: str, channel: int, notes: list[tuple[float, float, int]], program: int = 0):
    """A mido track from (start beat, beats, pitch or pitches)."""
    events: list[tuple[int, int, mido.Message]] = []
    for start, length, pitches in notes:
        for pitch in pitches if isinstance(pitches, tuple) else (pitches,):
            on, off = round(start * TPQ), round((start + length) * TPQ)
            events.append((on, 1, mido.Message("note_on", channel=channel, note=pitch, velocity=80)))
            events.append((off, 0, mido.Message("note_off", channel=channel, note=pitch)))
    track = mido.MidiTrack([mido.MetaMessage("track_name", name=name, time=0)])
    track.append(mido.Message("program_change", channel=channel, program=program, time=0))
    now = 0
    for tick, _, msg in sorted(events, key=lambda e: (e[0], e[1])):
        track.append(msg.copy(time=tick - now))
        now = tick
    return track


def write_midi(path: Path, tracks: list[mido.MidiTrack], signature: tuple[int, int] = (4, 4)) -> Path:
    """A type-1 file: a conductor track, then ``tracks``."""
    mid = mido.MidiFile(type=1, ticks_per_beat=TPQ)
    conductor = mido.MidiTrack(
        [
            mido.MetaMessage("time_signature", numerator=signature[0], denominator=signature[1]),
            mido.MetaMessage("set_tempo", tempo=500000),
        ]
    )
    mid.tracks.append(conductor)
    mid.tracks.extend(tracks)
    mid.save(str(path))
    return path


@pytest.fixture
def band(tmp_path: Path) -> Path:
    """Piano comping (track 1), bass (2), drums (3), then the lead (4, named 'Sax')."""
    return write_midi(
        tmp_path / "band.mid",
        [
            _track("Piano", 0, COMPING),
            _track("Bass", 1, BASS, 32),
            _track("Drums", 9, DRUMS),
            _track("Sax", 3, MELODY, 65),
        ],
    )


@pytest.fixture(autouse=True)
def _private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMPROV_CACHE", str(tmp_path / "cache"))


def test_detects_melody_and_chords(band: Path) -> None:
    result = read_midi(band)
    (line,) = result.lines
    assert line.meta["melody"] == "4 'Sax' ch4"
    assert line.meta["chords"] == "1 'Piano' ch1"
    assert line.meta["bass"] == "2 'Bass' ch2"
    assert [n.pitch for n in line.notes] == [p for _, _, p in MELODY]
    assert [n.onset for n in line.notes] == [round(s * TICKS_PER_BEAT) for s, _, _ in MELODY]
    assert line.beats_per_bar == 4
    symbols = [line.chord_at(beat * TICKS_PER_BEAT).symbol for beat in (0, 3, 4, 7, 8, 15, 40)]
    assert symbols == ["D-7", "D-7", "G7", "G7", "Cj7", "Cj7", "Cj7"]
    g7 = line.chord_at(4 * TICKS_PER_BEAT)
    assert (g7.root, g7.quality) == (7, "dom")


@pytest.mark.parametrize("selector", ["Sax", "sax", "4", "ch4", "channel 4"])
def test_named_melody(band: Path, selector: str) -> None:
    (line,) = read_midi(band, melody=selector, chords="Piano").lines
    assert line.notes[0].pitch == 72 and len(line.notes) == len(MELODY)


def test_bass_as_melody_when_asked(band: Path) -> None:
    (line,) = read_midi(band, melody="Bass").lines
    assert [n.pitch for n in line.notes] == [38, 43, 36, 36]


def test_missing_track_lists_tracks(band: Path) -> None:
    with pytest.raises(InputError, match=r"no melody track 'Guitar'.*'1 Piano'.*'4 Sax'"):
        read_midi(band, melody="Guitar")
    with pytest.raises(InputError, match=r"no chord track 'Organ'"):
        read_midi(band, chords="Organ")


def test_window_moves_start_to_zero(band: Path) -> None:
    (line,) = read_midi(band, start=4, end=8).lines
    assert len(line.notes) == 8
    assert line.notes[0].onset == 0
    assert line.notes[0].pitch == MELODY[8][2]
    assert line.chord_at(0).symbol == "G7"


def test_empty_window_is_an_error(band: Path) -> None:
    with pytest.raises(InputError, match="no usable melody: no notes in 4 'Sax' ch4 in the window"):
        read_midi(band, start=100, end=104)


def test_skyline_keeps_highest() -> None:
    notes = [
        MidiNote(0, 96, 60, 80),  # cut at 48 by the higher note
        MidiNote(48, 144, 67, 80),
        MidiNote(96, 192, 64, 80),  # starts under the higher note: dropped
        MidiNote(192, 240, 62, 80),
        MidiNote(192, 240, 59, 80),  # same onset, lower: dropped
    ]
    assert skyline(notes) == [
        MidiNote(0, 48, 60, 80),
        MidiNote(48, 144, 67, 80),
        MidiNote(192, 240, 62, 80),
    ]


def test_overlapping_melody_is_monophonic(tmp_path: Path) -> None:
    lead = [(0, 2, 72), (1, 2, 76), (1, 1, 60), (4, 1, (79, 67))]
    path = write_midi(tmp_path / "overlap.mid", [_track("Lead", 0, lead)])
    result = read_midi(path, melody="Lead")
    assert [(n.onset, n.duration, n.pitch) for n in result.lines[0].notes] == [
        (0, 12, 72),
        (12, 24, 76),
        (48, 12, 79),
    ]
    assert result.skipped["under a higher note"] == 2
    assert result.lines[0].chord_at(0).quality == "nc"  # no chord track: N.C. with a warning


@pytest.mark.parametrize(
    ("pitches", "bass", "symbol"),
    [
        ((2, 5, 9, 0), 2, "D-7"),
        ((7, 11, 2, 5), 7, "G7"),
        ((0, 4, 7, 11), 0, "Cj7"),
        ((0, 3, 7), 0, "C-"),
        ((11, 2, 5, 9), 11, "Bm7b5"),
        ((9, 0, 4, 7), 0, "C6"),  # the bass decides between C6 and A-7
        ((9, 0, 4, 7), 9, "A-7"),
        ((7, 11, 5, 9), 7, "G7"),  # rootless-ish with a ninth
    ],
)
def test_chord_templates(pitches: tuple[int, ...], bass: int, symbol: str) -> None:
    weights = [0.0] * 12
    for pc in pitches:
        weights[pc] = 1.0
    assert chord_symbol(weights, bass) == symbol


def test_silence_has_no_symbol() -> None:
    assert chord_symbol([0.0] * 12, None) is None


def test_three_four_time(tmp_path: Path) -> None:
    path = write_midi(tmp_path / "waltz.mid", [_track("Flute", 0, MELODY[:6])], signature=(3, 4))
    assert read_midi(path).lines[0].beats_per_bar == 3


# --- errors ------------------------------------------------------------------------------------


def test_corrupt_bytes(tmp_path: Path) -> None:
    path = tmp_path / "noise.mid"
    path.write_bytes(os.urandom(50) + b"not midi at all")
    with pytest.raises(InputError, match=r"noise\.mid: corrupt or truncated MIDI"):
        read_midi(path)


def test_truncated_file(band: Path, tmp_path: Path) -> None:
    data = band.read_bytes()
    path = tmp_path / "cut.mid"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match=r"cut\.mid: corrupt or truncated MIDI"):
        read_midi(path)


def test_no_notes(tmp_path: Path) -> None:
    path = write_midi(tmp_path / "empty.mid", [_track("Nothing", 0, [])])
    with pytest.raises(InputError, match=r"empty\.mid: no notes"):
        read_midi(path)


def test_only_drums(tmp_path: Path) -> None:
    path = write_midi(tmp_path / "drums.mid", [_track("Kit", 9, DRUMS)])
    with pytest.raises(InputError, match=r"no usable melody: the file has only drum notes"):
        read_midi(path)


def test_only_chords(tmp_path: Path) -> None:
    path = write_midi(tmp_path / "pads.mid", [_track("Pads", 0, COMPING)])
    with pytest.raises(InputError, match=r"no usable melody: every non-drum track is polyphonic"):
        read_midi(path)


@pytest.mark.parametrize("case", ["corrupt", "truncated", "no notes", "missing track", "unknown"])
def test_cli_errors_exit_2(case: str, band: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args: list[str] = []
    if case == "corrupt":
        path = tmp_path / "bad.mid"
        path.write_bytes(b"MThd\x00\x00\x00\x06garbage")
    elif case == "truncated":
        path = tmp_path / "cut.mid"
        path.write_bytes(band.read_bytes()[:40])
    elif case == "no notes":
        path = write_midi(tmp_path / "empty.mid", [_track("Nothing", 0, [])])
    elif case == "missing track":
        path, args = band, ["--melody", "Tuba"]
    else:
        path = tmp_path / "notes.txt"
        path.write_text("C D E")
    assert main(["corpus", str(path), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("improv: error: ") and str(path) in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_cli_summary(band: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["corpus", str(band), "--json"]) == 0
    import json

    summary = json.loads(capsys.readouterr().out)
    assert summary["notes"] == len(MELODY)
    assert summary["bars"] == 4
    assert summary["tokens"] >= len(MELODY)
    assert 1 <= summary["values"] <= summary["tokens"]


def test_loader_caches_midi(band: Path) -> None:
    first = load(band)
    second = load(band)
    assert [n.pitch for n in second.lines[0].notes] == [n.pitch for n in first.lines[0].notes]
    assert second.lines[0].chord_at(4 * TICKS_PER_BEAT).symbol == "G7"
    assert any(Path(os.environ["IMPROV_CACHE"]).glob("corpus-*.pickle"))


# --- the seed file (shared data) -----------------------------------------------------------------


def _shared() -> Path:
    env = os.environ.get("IMPROV_SHARED")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared"


@pytest.mark.shared
def test_seed_compat_cli(capsys: pytest.CaptureFixture[str]) -> None:
    path = _shared() / "data" / "original_metheny.mid"
    if not path.is_file():
        pytest.skip(f"shared data not found at {path} (set IMPROV_SHARED)")
    assert main(["corpus", "--seed-compat", str(path)]) == 0
    out = capsys.readouterr().out
    assert "bars: 18\n" in out and "tokens: 193\n" in out and "distinct values: 78\n" in out


@pytest.mark.shared
def test_metheny_detection() -> None:
    path = _shared() / "data" / "original_metheny.mid"
    if not path.is_file():
        pytest.skip(f"shared data not found at {path} (set IMPROV_SHARED)")
    (line,) = read_midi(path).lines
    assert line.meta["melody"] == "11 'Guitar' ch6"
    assert "6 'Piano' ch1" in line.meta["chords"]
    assert "Bass" in line.meta["bass"]
