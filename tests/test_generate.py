"""`improv generate` end to end: files, determinism, no TensorFlow, bad input."""

from __future__ import annotations

import subprocess
import sys

import mido
import pytest
from modelkit import random_model_dir, run_improv

from improv.generate import default_model_dir, load_model


def improv(*args: str, check: bool = False) -> subprocess.CompletedProcess:
    return run_improv(*args, timeout=120, check=check)


def test_the_shipped_model_loads_and_carries_its_attribution():
    model = load_model()
    assert model.path == default_model_dir()
    assert "Weimar Jazz Database" in model.card["attribution"]
    assert model.card["nll_improvement_over_ngram"] >= 0.10


def test_generate_writes_a_type1_file_with_solo_and_chords(tmp_path):
    out = tmp_path / "solo.mid"
    result = improv(
        "generate",
        "--out",
        str(out),
        "--changes",
        "Dm7 G7 | Cmaj7 | %",
        "--bars",
        "8",
        "--seed",
        "3",
        "--tempo",
        "150",
    )
    assert result.returncode == 0, result.stderr
    mid = mido.MidiFile(out)
    assert mid.type == 1
    names = [t.name for t in mid.tracks]
    assert names[1:] == ["improv", "chords", "bass", "drums"]
    solo_on = [m for m in mid.tracks[1] if m.type == "note_on" and m.velocity > 0]
    assert len(solo_on) >= 8
    assert mid.length == pytest.approx(8 * 4 * 60 / 150, abs=0.5)


def test_same_seed_gives_a_byte_identical_file_and_another_seed_does_not(tmp_path):
    files = []
    for name, seed in (("a", "5"), ("b", "5"), ("c", "6")):
        files.append(tmp_path / f"{name}.mid")
        improv("generate", "--out", str(files[-1]), "--tune", "Autumn Leaves", "--seed", seed, check=True)
    assert files[0].read_bytes() == files[1].read_bytes()
    assert files[0].read_bytes() != files[2].read_bytes()


def test_generate_never_imports_tensorflow(tmp_path):
    code = (
        "import sys; from improv.cli import main; "
        f"rc = main(['generate', '--out', r'{tmp_path / 'x.mid'}', '--bars', '4']); "
        "print(rc, 'tensorflow' in sys.modules, 'keras' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.split()[-3:] == ["0", "False", "False"]


def test_plot_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    out, png = tmp_path / "s.mid", tmp_path / "s.png"
    improv("generate", "--out", str(out), "--bars", "4", "--plot", str(png), check=True)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--changes", "Dm7 G7 | Cqq7"], "unknown chord symbol 'Cqq7' at bar 2"),
        (["--tune", "no such tune at all"], "no such tune"),
        (["--tempo", "0"], "--tempo"),
        (["--range", "C4..D4"], "at least an octave"),
        (["--temperature", "-1"], "--temperature"),
        (["--model", "/nonexistent/model"], "does not exist"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, args, message):
    result = improv("generate", "--out", str(tmp_path / "x.mid"), *args)
    assert result.returncode == 2
    assert message.lower() in result.stderr.lower()
    assert "Traceback" not in result.stderr


def test_a_model_dir_with_a_mismatched_vocabulary_is_refused(tmp_path):
    model = random_model_dir(tmp_path / "m")
    vocab = (model / "vocab.json").read_text().replace('"S,0.250', '"S,0.333', 1)
    (model / "vocab.json").write_text(vocab.replace('"C,0.500"', '"C,0.500", "C,4.000"', 1))
    result = improv("generate", "--out", str(tmp_path / "x.mid"), "--model", str(model))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    (model / "cell.npz").unlink()
    result = improv("generate", "--out", str(tmp_path / "x.mid"), "--model", str(model))
    assert result.returncode == 2 and "cell.npz" in result.stderr
