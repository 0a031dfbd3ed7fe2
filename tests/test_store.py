"""Model directories: every file read and checked once, a corrupt one refused naming file and problem."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from modelkit import random_model_dir, run_improv

from improv.errors import InputError
from improv.generate import load_model
from improv.model import conditioning, store


def _weights(path: Path) -> dict[str, np.ndarray]:
    with np.load(path / "cell.npz") as data:
        return {name: data[name] for name in data.files}


def _vocab(path: Path) -> dict:
    return json.loads((path / "vocab.json").read_text())


def _truncate(path: Path) -> None:
    data = (path / "cell.npz").read_bytes()
    (path / "cell.npz").write_bytes(data[: len(data) // 2])


def _empty(path: Path) -> None:
    (path / "cell.npz").write_bytes(b"")


def _nan(path: Path) -> None:
    w = _weights(path)
    w["recurrent"][0, 0] = np.nan
    np.savez(path / "cell.npz", **w)


def _ints(path: Path) -> None:
    w = _weights(path)
    w["bias"] = w["bias"].astype(np.int32)
    np.savez(path / "cell.npz", **w)


def _short_kernel(path: Path) -> None:
    w = _weights(path)
    w["kernel"] = w["kernel"][:-1]
    np.savez(path / "cell.npz", **w)


def _no_dense(path: Path) -> None:
    w = _weights(path)
    del w["dense_b"]
    np.savez(path / "cell.npz", **w)


def _pickled(path: Path) -> None:
    w = _weights(path)
    w["bias"] = np.array([{"x": 1}], dtype=object)
    np.savez(path / "cell.npz", **w)


def _vocab_edit(edit):
    def change(path: Path) -> None:
        data = _vocab(path)
        data = edit(data)
        (path / "vocab.json").write_text(json.dumps(data))

    return change


def _drop(key):
    def edit(data):
        del data[key]
        return data

    return edit


def _set(key, value):
    def edit(data):
        data[key] = value
        return data

    return edit


def _one_value_less(data):
    data["values"] = data["values"][1:]
    return data


CORRUPTIONS = [
    (_truncate, r"cell.npz: not a readable npz archive"),
    (_empty, r"cell.npz: not a readable npz archive"),
    (_nan, r"cell.npz: recurrent has 1 NaN or infinite weights"),
    (_ints, r"cell.npz: bias has dtype int32, not a float type"),
    (_short_kernel, r"cell.npz: layer 1 kernel \(\d+, 64\) is not \(\d+, 64\) \(\d+ values \+ 24 cond"),
    (_no_dense, r"cell.npz: needs kernel, recurrent, bias, dense_w and dense_b; has bias, dense_w"),
    (_pickled, r"cell.npz: cannot read the weights"),
    (_vocab_edit(lambda data: data["values"]), r"vocab.json: expected a JSON object, found a list"),
    (_vocab_edit(_drop("values")), r"vocab.json: 'values' must be a non-empty list"),
    (_vocab_edit(_set("values", "C,0.500")), r"vocab.json: 'values' must be a non-empty list"),
    (_vocab_edit(_set("values", ["C,1e300"])), r"vocab.json: value 1 \('C,1e300'\) is not KIND,BEATS"),
    (_vocab_edit(_set("values", ["C,0.500", 7])), r"vocab.json: value 2 \(7\) is not KIND,BEATS"),
    (_vocab_edit(_set("values", ["C,0.500", "C,0.250"])), r"vocab.json: values are repeated"),
    (_vocab_edit(_set("version", 99)), r"vocab.json is not an improv vocabulary: .* version 99"),
    (_vocab_edit(_set("conditioning", {"size": 7})), r"vocab.json: conditioning .* is neither size 0"),
    (_vocab_edit(_one_value_less), r"cell.npz: layer 1 kernel .* \(\d+ values \+ 24 conditioning\)"),
]


@pytest.mark.parametrize(("corrupt", "message"), CORRUPTIONS, ids=[c[0].__name__ for c in CORRUPTIONS])
def test_a_corrupt_model_directory_says_which_file_and_what(tmp_path, corrupt, message):
    path = random_model_dir(tmp_path / "m")
    corrupt(path)
    with pytest.raises(InputError, match=message):
        load_model(path)


def test_vocab_that_is_not_json_and_a_card_that_is_a_list(tmp_path):
    path = random_model_dir(tmp_path / "m")
    (path / "card.json").write_text("[1, 2]")
    with pytest.raises(InputError, match=r"card.json: expected a JSON object, found a list"):
        load_model(path)
    (path / "vocab.json").write_bytes(b"\xff\xfe{")
    with pytest.raises(InputError, match=r"vocab.json: not UTF-8 text"):
        load_model(path)


def test_the_shipped_model_passes_every_check():
    model = load_model()
    expected = conditioning.describe(model.cond_version)["size"]
    assert len(model.vocab) == model.cell.n_values and model.cell.cond_size == expected


def test_layers_are_found_from_the_keys(tmp_path):
    """Stacked layers (``kernel_1``...) chain from the first layer's units: the checks extend."""
    weights = _weights(random_model_dir(tmp_path / "m", units=16))
    n_values = weights["dense_b"].shape[0]
    rng = np.random.default_rng(0)
    weights |= {"kernel_1": rng.normal(size=(16, 32)), "recurrent_1": rng.normal(size=(8, 32)),
                "bias_1": np.zeros(32), "dense_w": rng.normal(size=(8, n_values))}
    store.check_weights(weights, n_values, 24, tmp_path / "cell.npz")
    del weights["bias_1"]
    with pytest.raises(InputError, match="LSTM layer 2 needs kernel, recurrent and bias"):
        store.check_weights(weights, n_values, 24, tmp_path / "cell.npz")


def test_the_card_does_not_change_the_hash(tmp_path):
    path = random_model_dir(tmp_path / "m")  # one hash: improv.model.store (the session log uses it)
    before = store.model_hash(path)
    (path / "card.json").write_text("{}")  # the card does not decide the notes
    assert store.model_hash(path) == before


def test_generate_with_nan_weights_is_one_line_and_exit_2(tmp_path):
    path = random_model_dir(tmp_path / "m")
    _nan(path)
    result = run_improv("generate", "--model", str(path), "--out", str(tmp_path / "x.mid"), "--bars", "1")
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "cell.npz: recurrent has 1 NaN" in result.stderr
