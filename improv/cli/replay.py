"""`improv replay`: reproduce a live session's output from its session log, faster than real time."""

from __future__ import annotations

import argparse
import logging
import tempfile
from pathlib import Path

from improv.cli import table
from improv.cli.option import add_arguments, command, given
from improv.errors import InputError
from improv.theory.timing import DEFAULT_TEMPO

log = logging.getLogger(__name__)

DESCRIPTION = "Reproduce a live session's output from its session log, faster than real time."
EPILOG = """examples:
  improv replay ~/.cache/improv/sessions/session-20261124-201500-4242.jsonl --out jam.mid
  improv replay jam.jsonl --out jam.mid --model models/mine
  improv replay jam.jsonl --audio jam.wav            # render the jam through FluidSynth

Every `improv play` writes a session log (--session-log FILE, default under
$IMPROV_CACHE/sessions or ~/.cache/improv/sessions): the seed, the options that decide the notes,
the model and its hash, and what the player did, with beat times. Replay drives the same
improviser with the same events, with no MIDI ports, and writes the player (track 1) and improv
(track 2) note for note as they were played.
"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = command(subparsers, "replay", run=run, help="reproduce a live session from its log, to a MIDI file",
                description=DESCRIPTION, example=EPILOG)
    p.add_argument("log", metavar="LOG", help="a session log (.jsonl) written by `improv play`")
    add_arguments(p, table.rows(table.REPLAY), table.TITLES)


def run(args: argparse.Namespace) -> int:
    from improv.perform.log import read_log
    from improv.perform.played import write_midi

    opts = table.checked(table.REPLAY, given(args, table.rows(table.REPLAY)))
    if not opts["out"] and not opts["audio"]:
        raise InputError("give --out FILE.mid, --audio FILE.wav or both")
    out_file = opts["out"]
    header, records = read_log(args.log)
    result = replay_log(header, records, model=opts["model"], where=f"{args.log}: options")
    band = band_of(header, result.notes, records)
    with tempfile.TemporaryDirectory() as tmp:
        out = out_file or Path(tmp) / "replay.mid"
        write_midi(out, result.player, result.notes + band, tempo=float(header.get("tempo") or DEFAULT_TEMPO),
                   beats_per_bar=int(header["progression"]["beats_per_bar"]))
        if out_file:
            print(f"{len(result.notes)} notes (and {len(result.player)} player messages) written to {out}")
        if opts["audio"]:
            import mido

            from improv.synth import render_midi

            seconds = render_midi(mido.MidiFile(out), opts["audio"], opts["soundfont"])
            print(f"{seconds:.1f} s of audio written to {opts['audio']}")
    return 0


def band_of(header: dict, notes: list, records: list[dict] | None = None) -> list:
    """The session's band (from the log's seed and band record) as PlayedNotes, to the session's end.

    The band is deterministic from the seed; when it followed the played chords (``follow_chords``) it
    follows the logged chord events the same way (``records``: the log's records). What it played after
    a transport jump is not replayed."""
    record = header.get("band")
    if not record:
        return []
    from improv.perform.log import progression_from_record
    from improv.perform.played import PlayedNote

    progression = progression_from_record(header["progression"])
    end = header.get("end") or max((n.offset for n in notes), default=0.0)
    if end <= 0:
        return []
    if header.get("follow_chords"):
        return _followed_band(header, record, progression, records or [], float(end))
    from improv.generate import band_notes
    from improv.perform.band import BandChannels

    bars = max(1, -(-int(end) // progression.beats_per_bar))
    tempo = float(header.get("tempo") or DEFAULT_TEMPO)
    parts = band_notes(progression, bars, seed=header["seed"], tempo=tempo,
                       swing=float(record["swing"]), sections=header["progression"].get("sections"),
                       parts=record["parts"], channels=BandChannels(**record["channels"]),
                       groove=str(record.get("groove", "swing")))
    return [PlayedNote(n.onset, min(n.onset + n.duration, end), n.channel, n.pitch, n.velocity)
            for part in parts.values() for n in part if n.onset < end]


def _followed_band(header: dict, record: dict, progression, records: list[dict], end: float) -> list:
    """The band of a session that followed the played chords: the live feeder, offline, takes the logged
    chords at the beats the engine took them (``improv.live.bandfeed.replay_band``)."""
    from improv.generate import session_band
    from improv.live.bandfeed import replay_band
    from improv.live.listener import ChordFollower
    from improv.perform.band import BandChannels
    from improv.perform.replay import logged_chords

    follower = ChordFollower(progression, sticky=bool(header.get("chords_sticky")))

    def make():  # the band `improv play` made (improv.cli.sound.band_maker), reading the follower
        return session_band(follower, seed=header["seed"], tempo=float(header.get("tempo") or DEFAULT_TEMPO),
                            swing=float(record["swing"]), sections=header["progression"].get("sections"),
                            parts=record["parts"], channels=BandChannels(**record["channels"]),
                            groove=str(record.get("groove", "swing")))

    lookahead = header["options"].get("lookahead") or next(r.default for r in table.TABLE
                                                            if r.name == "lookahead")
    return replay_band(make, follower, logged_chords(records), end, lookahead=float(lookahead))


def shipped_model_with_hash(digest: str) -> Path | None:
    """The shipped model directory whose weights and vocabulary hash to ``digest``.

    A log made with an older default model (``improv/models/v1``) replays with that model, which keeps
    its improviser path (kind/leap values are realised as before).
    """
    from improv.generate import shipped_models
    from improv.model.store import model_hash

    return next((p for p in shipped_models() if model_hash(p) == digest), None)


def replay_log(header: dict, records: list[dict], *, model: Path | str | None = None, where: str = "options"):
    """Rebuild the session's improviser from the header and replay the logged events."""
    from improv.generate import build_improviser
    from improv.improviser import settings_for_version
    from improv.live.listener import ChordFollower
    from improv.model.store import model_hash
    from improv.perform.log import progression_from_record
    from improv.perform.replay import replay

    model_dir = Path(model or header["model"])
    if model is None and (not model_dir.is_dir() or model_hash(model_dir) != header["model_hash"]):
        # the log names a model that has since changed (a new default): a shipped one with its hash?
        model_dir = shipped_model_with_hash(header["model_hash"]) or model_dir
    if not model_dir.is_dir():
        raise InputError(f"model directory {model_dir} (from the session log) does not exist; "
                         "give it with --model DIR")
    if model_hash(model_dir) != header["model_hash"]:
        raise InputError(f"model directory {model_dir} is not the session's model (its hash "
                         "differs, and no shipped model has the logged hash); give the right one with "
                         "--model DIR")
    progression = progression_from_record(header["progression"])
    chords = None
    if header.get("follow_chords"):
        chords = ChordFollower(progression, sticky=bool(header.get("chords_sticky")))
    settings = table.logged_settings(header["options"], header["seed"], lambda key: f"{where} {key!r}")
    shaping, motifs = settings_for_version(int(header.get("improviser_version", 1)), header.get("tempo"))
    improviser = build_improviser(chords or progression, settings, model_dir=model_dir, shaping=shaping,
                                  sections=header["progression"].get("sections"), motifs=motifs,
                                  tempo=float(header.get("tempo") or DEFAULT_TEMPO))
    return replay(header, records, improviser, chords=chords)
