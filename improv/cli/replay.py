"""`improv replay`: reproduce a live session's output from its session log, faster than real time."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from improv.errors import InputError

log = logging.getLogger(__name__)

EPILOG = """examples:
  improv replay ~/.cache/improv/sessions/session-20261124-201500-4242.jsonl --out jam.mid
  improv replay jam.jsonl --out jam.mid --model models/mine

Every `improv play` writes a session log (--session-log FILE, default under
$IMPROV_CACHE/sessions or ~/.cache/improv/sessions): the seed, the options that decide the notes,
the model and its hash, and what the player did, with beat times. Replay drives the same
improviser with the same events, with no MIDI ports, and writes the player (track 1) and improv
(track 2) note for note as they were played.
"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "replay",
        help="reproduce a live session from its log, to a MIDI file",
        description="Reproduce a live session's output from its session log, faster than real "
                    "time.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("log", metavar="LOG", help="a session log (.jsonl) written by `improv play`")
    p.add_argument("--out", metavar="FILE.mid", required=True, help="the MIDI file to write")
    p.add_argument("--model", metavar="DIR",
                   help="use this model directory instead of the logged one (same hash needed)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from improv.live.session import read_log, write_midi

    out = Path(args.out)
    if not out.parent.is_dir() if str(out.parent) else False:
        raise InputError(f"--out: directory {out.parent} does not exist")
    header, records = read_log(args.log)
    result = replay_log(header, records, model=args.model)
    write_midi(out, result.player, result.notes, tempo=float(header.get("tempo") or 120.0),
               beats_per_bar=int(header["progression"]["beats_per_bar"]))
    print(f"{len(result.notes)} notes (and {len(result.player)} player messages) written to {out}")
    return 0


def shipped_model_with_hash(digest: str) -> Path | None:
    """The shipped model directory whose weights and vocabulary hash to ``digest``.

    A log made with an older default model (``improv/models/v1``) replays with that model, which keeps
    its improviser path (kind/leap values are realised as before).
    """
    from improv.generate import shipped_models
    from improv.live.session import model_hash

    return next((p for p in shipped_models() if model_hash(p) == digest), None)


def replay_log(header: dict, records: list[dict], *, model: str | None = None):
    """Rebuild the session's improviser from the header and replay the logged events."""
    from improv.generate import build_improviser
    from improv.live.listener import ChordFollower
    from improv.live.session import model_hash, progression_from_record, replay

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
    opts = header["options"]
    kwargs = dict(model_dir=model_dir, seed=header["seed"], temperature=opts["temperature"],
                  low=opts["low"], high=opts["high"], swing=opts["swing"],
                  sections=header["progression"].get("sections"),
                  tempo=float(header.get("tempo") or 120.0))
    if opts.get("velocity") is not None:
        kwargs["velocity"] = opts["velocity"]
    improviser = build_improviser(chords or progression, **kwargs)
    return replay(header, records, improviser, chords=chords)
