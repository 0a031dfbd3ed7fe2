"""A model directory on disk: its files, reading and validating them once, and its hash.

A model directory holds ``cell.npz`` (the numpy cell's weights, exported by ``improv.model.train``),
``vocab.json`` (the values the model knows and the conditioning it expects) and optionally
``card.json`` (what it was trained on). :func:`read_model_dir` reads and checks every file fully,
so a corrupt directory fails here with the file and what is wrong, never later in the live engine.
Each file has one check function (``check_weights``, ``check_vocab``, ``check_card``).

The checks are data-driven so a new format extends them: the LSTM layers are found from the npz
keys (``kernel``/``recurrent``/``bias``, then ``kernel_1``... for stacked layers), sizes come from
the vocabulary and the conditioning described in ``vocab.json``.

Units: weights are float arrays in Keras' layout (gates i, f, c, o); nothing here runs the cell.
No threads; called once per session before anything plays. Nothing here imports TensorFlow.
"""

from __future__ import annotations

import hashlib
import json
import re
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from improv.errors import InputError, excerpt
from improv.model import conditioning
from improv.theory import degrees
from improv.theory.timing import TICKS_PER_BEAT
from improv.theory.values import DURATIONS, KINDS, MAX_LEAP, VOCAB_FORMAT, VOCAB_VERSION, Value, Vocabulary

WEIGHTS, VOCAB, CARD = "cell.npz", "vocab.json", "card.json"
MODEL_FILES = (WEIGHTS, VOCAB, CARD)
REQUIRED_FILES = (WEIGHTS, VOCAB)  # card.json is optional
HASHED_FILES = (WEIGHTS, VOCAB)  # the files that decide the notes
MAX_WEIGHT_BYTES = 512 * 2**20  # uncompressed; the shipped model is 2.5 MB
MAX_JSON_BYTES = 16 * 2**20
_LAYER_KEY = re.compile(r"(kernel|recurrent|bias)(?:_(\d+))?")
_DENSE_KEYS = ("dense_w", "dense_b")
_VALUE_RE = re.compile(r"([A-Z]),(\d{1,3}\.\d{3})(?:,([+-]\d{1,2}))?")


@dataclass
class ModelFiles:
    """A model directory read and checked: weights by npz key, the vocabulary, vocab.json, the card."""

    path: Path
    weights: dict[str, np.ndarray]
    vocab: Vocabulary  # values.Vocabulary (kind/leap, version 1) or degrees.DegreeVocabulary (version 2)
    meta: dict
    card: dict

    @property
    def cell_weights(self) -> dict[str, np.ndarray]:
        """The weights as the single-layer cell takes them (``Cell(**cell_weights, n_values=...)``)."""
        return {name: self.weights[name] for name in ("kernel", "recurrent", "bias", *_DENSE_KEYS)}


def read_model_dir(model_dir: Path | str) -> ModelFiles:
    """Read and check every file of a model directory; InputError naming the file and the problem."""
    path = Path(model_dir)
    if not path.is_dir():
        raise InputError(f"model directory {path} does not exist")
    missing = [name for name in REQUIRED_FILES if not (path / name).is_file()]
    if missing:
        raise InputError(f"model directory {path} is missing {', '.join(missing)}")
    vocab, meta = read_vocab(path / VOCAB)
    weights = read_weights(path / WEIGHTS)
    check_weights(weights, len(vocab), _conditioning_size(meta), path / WEIGHTS)
    card = read_card(path / CARD) if (path / CARD).is_file() else {}
    return ModelFiles(path, weights, vocab, meta, card)


def model_hash(model_dir: Path | str) -> str:
    """sha256 of what decides the notes: the cell weights, the vocabulary and the card's ``cell_step`` when
    it is not 1 (so the hashes of models from before step 2, which their logs name, stay as they were)."""
    digest = hashlib.sha256()
    for name in HASHED_FILES:
        path = Path(model_dir) / name
        if path.is_file():
            digest.update(path.read_bytes())
    card = Path(model_dir) / CARD
    step = read_card(card).get("cell_step", 1) if card.is_file() else 1
    if step != 1:
        digest.update(f"cell_step={step}".encode())
    return digest.hexdigest()


# ------------------------------------------------------------------------------------ cell.npz


def read_weights(path: Path) -> dict[str, np.ndarray]:
    """Every array of ``cell.npz`` (no pickles), refusing archives that inflate past the bound."""
    try:
        with zipfile.ZipFile(path) as archive:
            size = sum(info.file_size for info in archive.infolist())
        if size > MAX_WEIGHT_BYTES:
            raise InputError(f"{path}: {size} bytes uncompressed, more than {MAX_WEIGHT_BYTES}")
        with np.load(path, allow_pickle=False) as data:
            return {name: np.asarray(data[name]) for name in data.files}
    except FileNotFoundError:
        raise InputError(f"{path} does not exist") from None
    except (zipfile.BadZipFile, EOFError, zlib.error) as exc:
        raise InputError(f"{path}: not a readable npz archive (truncated or corrupt: {exc})") from None
    except (ValueError, KeyError, OSError) as exc:
        raise InputError(f"{path}: cannot read the weights ({str(exc)[:120]})") from None


def check_weights(weights: Mapping[str, np.ndarray], n_values: int, cond_size: int, path: Path) -> None:
    """Every array float and finite; the layers (from the keys) chained from the input (``n_values``
    one-hot plus ``cond_size``) to the dense layer over the vocabulary."""
    names = ", ".join(sorted(weights)) or "nothing"
    layers = _layers(weights, path)
    if not layers or any(name not in weights for name in _DENSE_KEYS):
        raise InputError(f"{path}: needs kernel, recurrent, bias, dense_w and dense_b; has {names}")
    for name, array in weights.items():
        if array.dtype.kind != "f":
            raise InputError(f"{path}: {name} has dtype {array.dtype}, not a float type")
        if not np.isfinite(array).all():
            raise InputError(f"{path}: {name} has {int((~np.isfinite(array)).sum())} NaN or infinite weights")
    inputs = n_values + cond_size
    for index, (kernel, recurrent, bias) in enumerate(layers):
        layer = f"layer {index + 1}"
        units = recurrent.shape[0] if recurrent.ndim == 2 else -1
        if units < 1 or recurrent.shape != (units, 4 * units):
            raise InputError(f"{path}: {layer} recurrent {recurrent.shape} is not (units, 4 x units)")
        if kernel.shape != (inputs, 4 * units):
            raise InputError(f"{path}: {layer} kernel {kernel.shape} is not ({inputs}, {4 * units})"
                             + (f" ({n_values} values + {cond_size} conditioning)" if index == 0 else ""))
        if bias.shape != (4 * units,):
            raise InputError(f"{path}: {layer} bias {bias.shape} is not ({4 * units},)")
        inputs = units
    if weights["dense_w"].shape != (inputs, n_values) or weights["dense_b"].shape != (n_values,):
        raise InputError(f"{path}: dense {weights['dense_w'].shape}/{weights['dense_b'].shape} is not "
                         f"({inputs}, {n_values})/({n_values},) for {n_values} values")


def _layers(weights: Mapping[str, np.ndarray], path: Path) -> list[tuple[np.ndarray, ...]]:
    """(kernel, recurrent, bias) per LSTM layer: no suffix is layer 1, ``_1`` layer 2, and so on."""
    found: dict[int, dict[str, np.ndarray]] = {}
    for name, array in weights.items():
        match = _LAYER_KEY.fullmatch(name)
        if match:
            index = int(match.group(2)) if match.group(2) else 0
            found.setdefault(index, {})[match.group(1)] = array
    layers = []
    for index in range(len(found)):
        parts = found.get(index, {})
        if len(parts) != 3:
            raise InputError(f"{path}: LSTM layer {index + 1} needs kernel, recurrent and bias "
                             f"(found {', '.join(sorted(parts)) or 'none'})")
        layers.append((parts["kernel"], parts["recurrent"], parts["bias"]))
    return layers


# ------------------------------------------------------------------------------------ vocab.json


# the value designs a vocab.json may hold: (format, version) -> (vocabulary class, value type)
DESIGNS = {
    (VOCAB_FORMAT, VOCAB_VERSION): (Vocabulary, Value),
    (degrees.VOCAB_FORMAT, degrees.VOCAB_VERSION): (degrees.DegreeVocabulary, degrees.Degree),
}


def read_vocab(path: Path) -> tuple[Vocabulary, dict]:
    """The vocabulary and the whole of ``vocab.json`` (for its conditioning), checked."""
    data = _read_json(path)
    check_vocab(data, path)
    vocab_type, value_type = DESIGNS[(data["format"], data["version"])]
    return vocab_type(value_type.parse(text) for text in data["values"]), data


def check_vocab(data: object, path: Path) -> None:
    """``vocab.json``: an object of a known format and version on this grid, with ``values`` a
    non-empty list of distinct value strings in sorted order, and a conditioning this code knows."""
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a JSON object, found a {type(data).__name__}")
    design = (data.get("format"), data.get("version"))
    if not all(isinstance(part, str | int) for part in design) or design not in DESIGNS:
        known = " or ".join(f"{f} version {v}" for f, v in DESIGNS)
        raise InputError(f"{path} is not an improv vocabulary: format {excerpt(data.get('format'), 30)} "
                         f"version {excerpt(data.get('version'), 10)} (expected {known})")
    if data.get("ticks_per_beat") != TICKS_PER_BEAT:
        raise InputError(f"{path}: ticks_per_beat {excerpt(data.get('ticks_per_beat'), 20)} is not "
                         f"{TICKS_PER_BEAT}")
    values = data.get("values")
    if not isinstance(values, list) or not values:
        raise InputError(f"{path}: 'values' must be a non-empty list of values like \"C,0.500,+2\"")
    if design != (VOCAB_FORMAT, VOCAB_VERSION):
        _check_degree_values(values, path)
        _conditioning_size(data, path)
        return
    for number, text in enumerate(values, 1):
        if not isinstance(text, str) or not _valid_value(text):
            raise InputError(f"{path}: value {number} ({excerpt(text, 30)}) is not KIND,BEATS[,LEAP] "
                             f"with KIND in {''.join(KINDS)}, a grid duration and a leap within "
                             f"{MAX_LEAP}")
    keys = [Value.parse(text).sort_key for text in values]
    if len(set(keys)) != len(keys) or keys != sorted(keys):
        raise InputError(f"{path}: values are repeated or not in sorted order")
    _conditioning_size(data, path)


def _check_degree_values(values: list, path: Path) -> None:
    """Degree values (``3,0.250,+``): each parses, on the grid, distinct and sorted."""
    keys = []
    for number, text in enumerate(values, 1):
        try:
            value = degrees.Degree.parse(text) if isinstance(text, str) else None
        except InputError:
            value = None
        if value is None or value.duration not in DURATIONS:
            raise InputError(f"{path}: value {number} ({excerpt(text, 30)}) is not DEGREE,BEATS[,MOVE] "
                             f"with DEGREE in {' '.join(degrees.DEGREE_NAMES)} or R, a grid duration and a "
                             f"move in {' '.join(degrees.MOVES)}")
        keys.append(value.sort_key)
    if len(set(keys)) != len(keys) or keys != sorted(keys):
        raise InputError(f"{path}: values are repeated or not in sorted order")


def _valid_value(text: str) -> bool:
    match = _VALUE_RE.fullmatch(text)
    if not match or match.group(1) not in KINDS:
        return False
    ticks = float(match.group(2)) * TICKS_PER_BEAT
    if abs(ticks - round(ticks)) > 0.01 or round(ticks) not in DURATIONS:  # 3 decimals: 0.333 = 4 ticks
        return False
    return match.group(3) is None or abs(int(match.group(3))) <= MAX_LEAP


def _conditioning_size(meta: dict, path: Path | None = None) -> int:
    """The conditioning inputs ``vocab.json`` declares: none, or exactly the layout this code builds."""
    cond = meta.get("conditioning", {"size": 0})
    size = cond.get("size") if isinstance(cond, dict) else None
    if size == 0:
        return 0
    version = cond.get("version", 1) if isinstance(cond, dict) else 1
    expected = conditioning.describe(version if version in (1, *conditioning.GROUPS) else 1)
    if not isinstance(cond, dict) or any(cond.get(key, value) != value for key, value in expected.items()):
        where = path or VOCAB
        raise InputError(f"{where}: conditioning {excerpt(json.dumps(cond), 80)} is neither size 0 "
                         f"nor this version's layout {excerpt(json.dumps(expected), 80)}")
    return int(expected["size"])


# ------------------------------------------------------------------------------------ card.json


def read_card(path: Path) -> dict:
    """``card.json``, checked (it only describes the model: any JSON object will do)."""
    data = _read_json(path)
    check_card(data, path)
    return data


CELL_STEPS = (1, 2)  # the step arithmetics ``cell_step`` may name (``improv.model.cell``); absent: 1


def check_card(data: object, path: Path) -> None:
    """A model card is a JSON object; the one key the run time reads, ``cell_step``, is 1 or 2."""
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a JSON object, found a {type(data).__name__}")
    step = data.get("cell_step", 1)
    if type(step) is not int or step not in CELL_STEPS:
        raise InputError(f"{path}: cell_step must be 1 or 2, not {str(step)[:20]!r} (newer improv?)")


def _read_json(path: Path) -> object:
    try:
        if path.stat().st_size > MAX_JSON_BYTES:
            raise InputError(f"{path}: larger than {MAX_JSON_BYTES} bytes")
        return json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text (offset {exc.start})") from None
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    except ValueError as exc:  # json.JSONDecodeError
        raise InputError(f"{path} is not valid JSON: {str(exc)[:120]}") from None
