"""The option table: every option of ``improv play``, ``generate``, ``replay`` and ``train`` (and the
changes options of ``evaluate``), one row each. The rows generate the argparse arguments, the keys of
play's TOML config (``configs/default.toml`` documents each) and the checks; ``PlayOptions`` groups play's
by the row's ``group``; ``logged`` rows go into the session log; ``improviser`` rows build the
``ImproviserSettings``; ``TRAIN_ROWS`` are named as ``TrainConfig``'s fields where it has one.

**Adding an option is one row here** (and a line in ``configs/default.toml`` when play has it). A row
whose value needs more than its kind and bounds names a ``check(value, where)``. Modes come from the
registry (`improv.perform.modes`): ``--mode``'s help and check are the registry's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from improv.cli.option import Check, Option, check_all, flag_of, rows_for
from improv.cli.options import (
    DEFAULT_RANGE,
    MAX_SEED,
    parse_pitch,
    parse_range,
    seed_number,
    writable_dir,
    writable_file,
)
from improv.errors import InputError, excerpt
from improv.model.sampling import DEFAULT_TEMPERATURE, TEMPERATURES, TOP_P
from improv.perform.modes import DEFAULT_MODE, mode_help, parse_mode
from improv.perform.performer import PerformerSettings

PLAY, GENERATE, REPLAY, EVALUATE, TRAIN = "play", "generate", "replay", "evaluate", "train"
TITLES = {"output": "output", "music": "music", "session": "session", "listening": "listening",
          "sound": "sound, band and Link", "data": "data", "network": "network and values",
          "fit": "fitting", "regularisation": "regularisation", "distribution": "tf.distribute"}
# 0.7: the call steers the answer (its contour, register and rhythm come through in the state)
# while 30 % of the improviser's own line survives, so an answer is a reply, not an echo, and
# the solo keeps one thread through the whole session. 1.0 makes answers imitations.
DEFAULT_RESEED_WEIGHT = PerformerSettings.reseed_weight


def _on(*commands: str) -> frozenset[str]:
    return frozenset(commands)


def _model_dir(value: Path, where: str) -> Path:
    if not value.is_dir():
        raise InputError(f"{where}: model directory {value} does not exist")
    return value


def _band(value: str, where: str) -> tuple[str, ...]:
    from improv.perform.band import parse_parts

    return parse_parts(value, where)


def _band_ports(value: Any, where: str) -> dict[str, str]:
    from improv.perform.band import parse_band_ports

    return parse_band_ports(value, where)


def _name(value: str, where: str) -> str | None:
    return value or None  # --virtual "" / virtual = "": none


def _choice(*choices: str) -> Check:
    """A check that the value is one of ``choices``."""
    def check(value: str, where: str) -> str:
        if value not in choices:
            raise InputError(f"{where}: {excerpt(value, 30)} is not one of {', '.join(choices)}")
        return value
    return check


def _paths(value: list[str], where: str) -> tuple[Path, ...]:
    return tuple(Path(v) for v in value)


ONLY_PLAY, BOTH, ONLY_TRAIN = _on(PLAY), _on(PLAY, GENERATE), _on(TRAIN)
UNIT = (0.0, 0.95)  # a dropout or a factor: 0 is none
# improv train's rows (the seed is the shared row): named as ``TrainConfig``'s fields where there is one
TRAIN_ROWS: tuple[Option, ...] = (
    Option("corpus", "text", "corpus files or folders (MIDI, MusicXML, WJazzD, Impro-Visor)", "data",
           ONLY_TRAIN, metavar="PATH", nargs="+", action="extend", required=True, check=_paths),
    Option("out", "path", "the model directory to write (checked before training)", "data", ONLY_TRAIN,
           metavar="DIR", required=True, check=writable_dir),
    Option("val_split", "float", "share of pieces held out for validation (default 0.1)", "data", ONLY_TRAIN,
           default=0.1, bounds=(0.01, 0.5), metavar="SHARE"),
    Option("train_share", "float", "train on this share of the training solos, validate on the same ones "
           "(a learning curve; default 1: all)", "data", ONLY_TRAIN, default=1.0, bounds=(0.01, 1.0),
           metavar="SHARE"),
    Option("min_count", "int", "values seen fewer times map to their nearest (default 3)", "data",
           ONLY_TRAIN, default=3, bounds=(1, 1000), metavar="N"),
    Option("limit", "int", "use only the first N pieces (trials; default: all)", "data", ONLY_TRAIN,
           default=0, bounds=(0, 1_000_000), metavar="N"),
    Option("vocabulary", "text", "values: degree (chord degree + move, values version 2; default) or kind "
           "(kind + leap, version 1)", "network", ONLY_TRAIN, default="degree", metavar="NAME",
           check=_choice("degree", "kind")),
    Option("conditioning_version", "int", "1: chord quality and beat; 2 (default): also next chord, height, "
           "tempo, phrase, form; 3: also the previous pitch's degree over this chord", "network", ONLY_TRAIN,
           default=2, bounds=(1, 3), metavar="1..3"),
    Option("no_conditioning", "switch", "no chord/beat conditioning input (the seed's model)", "network",
           ONLY_TRAIN),
    Option("units", "int", "LSTM units n_a (default 64)", "network", ONLY_TRAIN, default=64,
           bounds=(1, 4096), metavar="N"),
    Option("layers", "int", "stacked LSTM layers (default 1)", "network", ONLY_TRAIN, default=1,
           bounds=(1, 4), metavar="1..4"),
    Option("shared_features", "switch", "degree values share the weights of their degree, duration and move "
           "(in and out; folded into the exported cell, which stays the same size)", "network", ONLY_TRAIN),
    Option("epochs", "int", "maximum epochs (early stopping) (default 30)", "fit", ONLY_TRAIN, default=30,
           bounds=(1, 10_000), metavar="N"),
    Option("patience", "int", "early-stopping patience in epochs (default 3)", "fit", ONLY_TRAIN, default=3,
           bounds=(1, 1000), metavar="EPOCHS"),
    Option("window", "int", "training window in values (default 64)", "fit", ONLY_TRAIN, default=64,
           bounds=(2, 100_000), metavar="VALUES"),
    Option("batch_size", "int", "batch size in windows (default 64)", "fit", ONLY_TRAIN, default=64,
           bounds=(1, 100_000), metavar="N"),
    Option("learning_rate", "float", "Adam learning rate (default 0.005)", "fit", ONLY_TRAIN, default=0.005,
           bounds=(1e-6, 1.0), metavar="RATE"),
    Option("lr_plateau", "float", "multiply the learning rate by F after an epoch that did not improve the "
           "validation NLL (default 0: a fixed rate)", "fit", ONLY_TRAIN, default=0.0, bounds=UNIT,
           metavar="F"),
    Option("carry_state", "switch", "windows do not overlap and go on from the state their solo reached "
           "(refreshed every epoch), as the live cell keeps one state all session (default: each window "
           "from a zero state)", "fit", ONLY_TRAIN),
    Option("fit_minutes", "float", "stop fitting after the epoch that would let the next one end past M "
           "minutes (default 0: no limit)", "fit", ONLY_TRAIN, default=0.0, bounds=(0, 100_000),
           metavar="M"),
    Option("dropout", "float", "dropout between stacked layers (default 0)", "regularisation", ONLY_TRAIN,
           default=0.0, bounds=UNIT, metavar="P"),
    Option("output_dropout", "float", "dropout on the last LSTM layer's output, before the dense layer "
           "(default 0)", "regularisation", ONLY_TRAIN, default=0.0, bounds=UNIT, metavar="P"),
    Option("recurrent_dropout", "float", "dropout on each LSTM layer's recurrent input, one mask per window "
           "(variational; default 0)", "regularisation", ONLY_TRAIN, default=0.0, bounds=UNIT, metavar="P"),
    Option("distribute", "text", "train under tf.distribute: mirrored (over local devices) or multiworker "
           "(across the processes TF_CONFIG names) (default: one process, no strategy)", "distribution",
           ONLY_TRAIN, metavar="NAME", check=_choice("mirrored", "multiworker")),
    Option("cpu_devices", "int", "split the CPU into N logical devices (to run mirrored on a machine without "
           "GPUs)", "distribution", ONLY_TRAIN, default=0, bounds=(0, 64), metavar="N"),
)
TABLE: tuple[Option, ...] = (
    Option("config", "path", "read options from a TOML file", "", ONLY_PLAY, metavar="FILE.toml",
           config=False),
    # output
    Option("port", "text", "open an existing MIDI output (part of its name)", "output", ONLY_PLAY,
           metavar="NAME"),
    Option("virtual", "text", "create a virtual output others connect to (default name: improv)", "output",
           ONLY_PLAY, metavar="NAME", nargs="?", const="improv", toml=(bool,), check=_name),
    Option("api", "text", "MIDI API: alsa, jack, coremidi, winmm (default: env IMPROV_MIDI_API)", "output",
           ONLY_PLAY, metavar="NAME"),
    Option("channel", "int", "MIDI channel (default 1)", "output", ONLY_PLAY, default=1, bounds=(1, 16),
           metavar="1..16", logged=("channel",)),
    Option("latency_offset", "float", "send every message MS milliseconds later (negative: earlier)",
           "output", ONLY_PLAY, default=0.0, bounds=(-500, 1000), metavar="MS"),
    Option("clock_out", "flag", "send MIDI clock, Start and Stop so hardware can follow", "output",
           ONLY_PLAY, default=False),
    Option("out", "path", "the MIDI file to write (--out or --audio needed)", "output", _on(GENERATE, REPLAY),
           metavar="FILE.mid", check=writable_file,
           per_command={GENERATE: {"help": "MIDI file to write", "required": True}}),
    Option("audio", "path", "also (or instead) render the replay to a WAV through FluidSynth", "output",
           _on(GENERATE, REPLAY), metavar="FILE.wav", check=writable_file,
           per_command={GENERATE: {"help": "also render the file to audio through FluidSynth (no audio "
                                           "device needed)"}}),
    Option("soundfont", "path", "General MIDI soundfont for --audio (default: the system's, e.g. FluidR3_GM)",
           "output", _on(GENERATE, REPLAY), metavar="FILE.sf2"),
    Option("plot", "path", "also draw a piano roll", "output", _on(GENERATE), metavar="FILE.png"),
    # music
    Option("tempo", "float", "tempo (default: the tune's, else 120)", "music", BOTH, bounds=(20, 400),
           metavar="BPM", logged=("tempo",)),
    Option("swing", "float", "swing the eighths: 0 straight, 0.5 triplet (the default with no amount), "
           "0.75 dotted (default: the tune's feel)", "music", BOTH, bounds=(0.0, 0.75), metavar="AMOUNT",
           nargs="?", const=0.5, toml=(bool,), logged=("swing",), improviser=True),
    Option("tune", "text", "a tune by title, exact or a unique part (default: F Blues)", "music",
           _on(PLAY, GENERATE, EVALUATE), metavar="NAME", logged=("tune",)),
    Option("changes", "text", 'chord changes, e.g. "Dm7 G7 | Cmaj7 %%", or a file of them', "music",
           _on(PLAY, GENERATE, EVALUATE), metavar="TEXT|FILE", logged=("changes",)),
    Option("library", "path", "tunes for --tune: an iReal Pro playlist, a JCPC song file or folder, a "
           "MusicXML lead sheet", "music", _on(PLAY, GENERATE, EVALUATE), metavar="FILE"),
    Option("model", "path", "model directory (default: the shipped one)", "music",
           _on(PLAY, GENERATE, REPLAY), metavar="DIR", check=_model_dir, per_command={REPLAY: {
               "help": "use this model directory instead of the logged one (same hash needed)"}}),
    Option("seed", "int", "random seed 0..2**63-1: the same seed replays the same notes (default: random, "
           "logged)", "music", _on(PLAY, GENERATE, TRAIN), bounds=(0, MAX_SEED), metavar="N",
           arg_type=seed_number, improviser=True, per_command={
               GENERATE: {"help": "random seed 0..2**63-1: same seed, same notes (default 0)"},
               TRAIN: {"help": "random seed: the split, the first weights, dropout and shuffling (default 0)",
                       "default": 0, "group": "fit"}}),
    Option("temperature", "float", f"sampling temperature {TEMPERATURES[0]:g}..{TEMPERATURES[1]:g} (default "
           f"{DEFAULT_TEMPERATURE})", "music", BOTH, default=DEFAULT_TEMPERATURE, bounds=TEMPERATURES,
           metavar="T", logged=("temperature",), improviser=True),
    Option("velocity", "int", "base velocity (default 90; accents are shaped around it)", "music", BOTH,
           bounds=(1, 127), metavar="1..127", logged=("velocity",), improviser=True),
    Option("top_p", "float", "nucleus sampling mass, 0.01..1 (default 1)", "music", _on(GENERATE),
           default=1.0, bounds=TOP_P, metavar="P", improviser=True),
    Option("range", "text", "register, note names or MIDI numbers, e.g. E3..C6 or 52..84 (default "
           f"{DEFAULT_RANGE})", "music", BOTH, default=DEFAULT_RANGE, metavar="LOW..HIGH",
           check=lambda value, where: parse_range(str(value), where), logged=("low", "high"),
           improviser=True),
    Option("no_shaping", "switch", "the version-1 improviser: hard register walls, no arc, no nudges, no "
           "rhythm biases", "music", _on(GENERATE)),
    Option("no_nudges", "switch", "keep the shaping but let avoid notes hang (to measure what the model "
           "chooses)", "music", _on(GENERATE)),
    Option("no_motifs", "switch", "no motif memory: never restate a recent cell (the improviser of "
           "version 2)", "music", _on(GENERATE)),
    # session
    Option("bars", "int", "stop after N bars (default: never)", "session", BOTH, bounds=(1, 1_000_000),
           metavar="N", logged=("bars",),
           per_command={GENERATE: {"help": "bars to play (default: one chorus)", "bounds": (1, 100_000)}}),
    Option("choruses", "int", "stop after N choruses of the form (instead of --bars)", "session", BOTH,
           bounds=(1, 100_000), metavar="N", per_command={GENERATE: {
               "help": "choruses of the form to play (instead of --bars)", "bounds": (1, 1000)}}),
    Option("count_in", "int", "bars of clicks (channel 10) before the first note", "session", ONLY_PLAY,
           default=0, bounds=(0, 16), metavar="BARS", logged=("count_in",)),
    Option("lookahead", "float", "how far generation runs ahead of playback (default 1 beat)", "session",
           ONLY_PLAY, default=1.0, bounds=(0.25, 8), metavar="BEATS", logged=("lookahead",)),
    Option("record", "path", "also write what was played", "session", ONLY_PLAY, metavar="FILE.mid",
           check=writable_file),
    Option("json_events", "path", "one JSON line per message sent (scheduled and actual time) and per "
           "parameter changed by a controller", "session", ONLY_PLAY, metavar="FILE", check=writable_file),
    Option("session_log", "path", "the session log for `improv replay` (default: a new file under "
           "$IMPROV_CACHE/sessions or ~/.cache/improv/sessions)", "session", ONLY_PLAY, metavar="FILE.jsonl",
           check=writable_file),
    # listening
    Option("input", "text", "the player's MIDI input (part of its name)", "listening", ONLY_PLAY,
           metavar="NAME"),
    Option("virtual_input", "text", "create a virtual input the player connects to (default name: in)",
           "listening", ONLY_PLAY, metavar="NAME", nargs="?", const="in", toml=(bool,), check=_name),
    Option("input_channel", "int", "only listen to this channel (default: all)", "listening", ONLY_PLAY,
           bounds=(1, 16), metavar="1..16"),
    Option("passthrough", "flag", "echo the player's notes to the output", "listening", ONLY_PLAY,
           default=False),
    Option("mode", "text", mode_help(), "listening", ONLY_PLAY, default=DEFAULT_MODE.name, metavar="MODE",
           nargs="+", check=lambda value, where: parse_mode(str(value or DEFAULT_MODE.name), where),
           logged=("mode",)),
    Option("gate", "float", "beats of silence that end a call (default 2)", "listening", ONLY_PLAY,
           default=2.0, bounds=(0.25, 32), metavar="BEATS", logged=("gate",)),
    Option("response_bars", "int", "answers last N bars (default: as long as the call)", "listening",
           ONLY_PLAY, bounds=(1, 64), metavar="N", logged=("response_bars",)),
    Option("reseed_weight", "float", "how much a call takes over the state (default "
           f"{DEFAULT_RESEED_WEIGHT})", "listening", ONLY_PLAY, default=DEFAULT_RESEED_WEIGHT,
           bounds=(0.0, 1.0), metavar="0..1", logged=("reseed_weight",)),
    Option("chords_from", "text", "follow the chords held on this MIDI input", "listening", ONLY_PLAY,
           metavar="NAME"),
    Option("split", "text", "keys of the main input below NOTE are chords (e.g. C4)", "listening", ONLY_PLAY,
           metavar="NOTE", toml=(int,), check=lambda value, where: parse_pitch(str(value), where),
           logged=("split",)),
    Option("chords_channel", "int", "notes of the main input on this channel are chords", "listening",
           ONLY_PLAY, bounds=(1, 16), metavar="1..16", logged=("chords_channel",)),
    Option("clock", "text", "follow MIDI clock from this input ('input': the --input port)", "listening",
           ONLY_PLAY, metavar="NAME"),
    Option("device", "text", "a device profile (`improv devices` lists them)", "listening", ONLY_PLAY,
           metavar="NAME"),
    Option("learn", "text", "map the next controller moved on the input to PARAM, save the --device "
           "profile, then play", "listening", ONLY_PLAY, metavar="PARAM", config=False),
    # sound, band and Link
    Option("synth", "text", "play through FluidSynth with a General MIDI soundfont (default: the system's, "
           "e.g. /usr/share/sounds/sf2/FluidR3_GM.sf2); alone it replaces the MIDI port", "sound", ONLY_PLAY,
           metavar="SF2", nargs="?", const=True, toml=(bool,), check=_name),
    Option("audio_driver", "text", "FluidSynth's audio driver: jack, pulseaudio, pipewire, alsa, coreaudio, "
           "... (default: FluidSynth's for the platform)", "sound", ONLY_PLAY, metavar="NAME"),
    Option("band", "text", "a rhythm section: bass, comp, drums (comma-separated), all or none (default: "
           "none)", "sound", BOTH, metavar="LIST", const="all", toml=(bool, list), check=_band,
           per_command={GENERATE: {"default": "all", "help": "rhythm-section parts: bass, comp, drums "
                                   "(comma-separated), all, none (default all)"}}),
    Option("no_comp", "switch", "solo track only (the same as --band none)", "sound", _on(GENERATE)),
    Option("band_channels", "text", "MIDI channels 1..16 of the band's parts (default bass=2,comp=3,"
           "drums=10; the solo's is --channel)", "sound", BOTH, metavar="PART=CH,...", toml=(dict,),
           per_command={GENERATE: {"help": "MIDI channels 1..16 per part (default solo=1,bass=2,comp=3,"
                                   "drums=10)"}}),
    Option("band_ports", "text", "send a band part (bass, comp, drums) to its own existing MIDI output (part "
           "of its name) instead of the main output; repeat for more parts", "sound", ONLY_PLAY,
           metavar="PART=NAME", action="append", flag_name="--band-port", toml=(dict, list),
           check=_band_ports),
    Option("link", "flag", "join an Ableton Link session: its tempo and bar phase (needs aalink)", "sound",
           ONLY_PLAY, default=False),
    *TRAIN_ROWS,
)


def rows(command: str) -> list[Option]:
    """The rows ``command`` uses, as it has them."""
    return rows_for(TABLE, command)


def checked(command: str, values: Mapping[str, Any], where: Callable[[str], str] = flag_of) -> dict[str, Any]:
    """Every option of ``command`` checked (``where(name)``: where a value came from, for messages)."""
    return check_all(rows(command), values, where)


def improviser_settings(values: Mapping[str, Any]):
    """The ``ImproviserSettings`` from checked values (the range as (low, high)); None keeps the default."""
    from improv.generate import ImproviserSettings

    kwargs: dict[str, Any] = {}
    for row in TABLE:
        value = values.get(row.name)
        if row.improviser and value is not None:
            kwargs.update(zip(row.logged, value, strict=True) if len(row.logged) > 1 else {row.name: value})
    return ImproviserSettings(**kwargs)


def logged_settings(options: Mapping[str, Any], seed: int, where: Callable[[str], str]):
    """The ``ImproviserSettings`` a session log's options record, checked by the same rows as play's."""
    raw: dict[str, Any] = {"seed": seed}
    for row in TABLE:
        if row.improviser and row.logged:
            parts = [options.get(key) for key in row.logged]
            raw[row.name] = parts[0] if len(parts) == 1 else "..".join(str(p) for p in parts)
    return improviser_settings(check_all([r for r in rows(PLAY) if r.improviser], raw, where))


def checked_value(command: str, name: str, value: Any, where: str | None = None) -> Any:
    """One option's value checked as ``command`` has it (e.g. a value the tune decided)."""
    row = next(row for row in rows(command) if row.name == name)
    return row.checked(value, where or row.flag)
