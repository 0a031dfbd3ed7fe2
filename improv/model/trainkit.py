"""Training helpers that need no TensorFlow: the n-gram baseline's conditions, honest NLL figures, the
progress lines of a run's stages, the run's metrics and its model card.

The baseline must see what the LSTM sees (the chord, the next chord, the beat), so its condition symbols are
built from the same hot conditioning positions the LSTM is fed (``improv.model.conditioning``).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import shlex
import sys
import time
from collections.abc import Sequence

import numpy as np

from improv.model import forward
from improv.model.cell import STEP as CELL_STEP
from improv.model.conditioning import GROUPS_V3

STAGES = ("corpus", "encode", "n-gram baselines", "fit", "validation", "export")  # of `improv train`
WJAZZD_ATTRIBUTION = (
    "Contains information from the Weimar Jazz Database (Jazzomat Research Project, HfM Weimar), "
    "which is made available under the ODbL v1.0 (https://opendatacommons.org/licenses/odbl/1.0/). "
    "Pfleiderer, Frieler, Abesser, Zaddach, Burkhart (eds.), Inside the Jazzomat, Schott Campus, 2017."
)

_GROUP = {name: i for i, (name, _) in enumerate(GROUPS_V3)}
# condition sets tried for the n-gram (version-2 groups; version 3 adds the previous pitch's degree over this
# chord, alone and with the chord and beat); version 1 has quality, beat, sub-beat only
NGRAM_CONDITIONS = {
    "chord+beat": ("quality", "beat", "sub_beat"),
    "chord+next+beat": ("quality", "next_root", "next_quality", "beat"),
    "chord+next+soon+beat": ("quality", "next_root", "next_quality", "next_in", "beat", "sub_beat"),
}
NGRAM_CONDITIONS_V3 = {
    **NGRAM_CONDITIONS,
    "prev": ("prev_degree",),
    "prev+chord": ("prev_degree", "quality"),
    "prev+chord+beat": ("prev_degree", "quality", "beat", "sub_beat"),
}


def ngram_conditions(
    train: Sequence[np.ndarray], val: Sequence[np.ndarray], version: int
) -> dict[str, tuple[list[list[int]], list[list[int]]]]:
    """Per condition set: integer condition symbols for every position of the train and val sequences.

    ``train``/``val`` are the per-line hot positions (n, k) of the sequences; symbols are numbered in order
    of first appearance (unseen combinations in validation get fresh numbers: the n-gram backs off).
    """
    sets = {2: NGRAM_CONDITIONS, 3: NGRAM_CONDITIONS_V3}.get(version, {"chord+beat": None})
    out = {}
    for name, groups in sets.items():
        cols = list(range(3)) if groups is None else [_GROUP[g] for g in groups]
        ids: dict[tuple[int, ...], int] = {}

        def symbols(lines: Sequence[np.ndarray], cols=cols, ids=ids) -> list[list[int]]:
            return [[ids.setdefault(tuple(row), len(ids)) for row in hot[:, cols].tolist()] for hot in lines]

        out[name] = (symbols(train), symbols(val))
    return out


def per_note(nll_per_token: float, tokens: int, notes: int) -> float:
    """Total NLL spread over the notes (rest tokens' NLL counts too): comparable across vocabularies."""
    return nll_per_token * tokens / max(notes, 1)


class Stages:
    """A training run's stages, in order, with a progress line as each starts, moves and ends.

    ``with stages.stage("n-gram baselines") as tick:`` times a stage (``seconds`` keeps every stage's
    time for the card); ``tick(done, total)`` prints a bar within it, at most every tenth. Lines go to
    ``stream`` (stderr by default). One thread.
    """

    def __init__(self, names: Sequence[str], stream=None) -> None:
        self.names = list(names)
        self.stream = stream if stream is not None else sys.stderr
        self.seconds: dict[str, float] = {}
        self.started = time.perf_counter()

    @contextlib.contextmanager
    def stage(self, name: str):
        """Time stage ``name`` (one of ``names``), yielding its ``tick(done, total)``."""
        number = self.names.index(name) + 1 if name in self.names else len(self.seconds) + 1
        head = f"stage {number}/{len(self.names)} {name}"
        began = time.perf_counter()
        shown = [-1]

        def tick(done: int, total: int) -> None:
            tenth = int(10 * done / max(total, 1))
            if tenth > shown[0]:
                shown[0] = tenth
                self._print(f"[{'#' * (3 * tenth):<30}] {head}: {done}/{total} ({self._since(began)})")

        self._print(f"{head} ...")
        yield tick
        self.seconds[name] = round(time.perf_counter() - began, 1)
        self._print(f"{head} done in {self._since(began)} (run {self._since(self.started)})")

    @staticmethod
    def _since(began: float) -> str:
        seconds = time.perf_counter() - began
        return f"{seconds:.1f} s" if seconds < 90 else f"{seconds / 60:.1f} min"

    def _print(self, text: str) -> None:
        print(text, file=self.stream, flush=True)


def is_chief() -> bool:
    """Whether this process writes the model (always, unless it is a non-chief worker of TF_CONFIG)."""
    try:
        task = json.loads(os.environ.get("TF_CONFIG") or "{}").get("task", {})
    except ValueError:
        return True
    return task.get("type", "worker") in ("chief", "worker") and (
        task.get("type") == "chief" or int(task.get("index", 0)) == 0
    )


def run_metrics(config, replicas, lines, vocab_rare, split, history, seconds, val_nlls, baseline, stages):
    """The card's figures of a training run: counts, the validation NLL (per value, per note, by
    position in the solo), the n-gram baselines, the stages' seconds, Keras' history."""
    vocab, rare = vocab_rare
    train_seqs, val_seqs = split
    ngram, scores = baseline
    rests = np.array([v.kind == "R" for v in vocab.values])
    val_notes = int(sum(int((~rests[v]).sum()) for v in val_seqs.values))
    val_nll, best = forward.mean_nll(val_nlls), min(scores.values())
    keras_val = history.get("val_loss")
    return {
        "distribute": {"strategy": config.distribute or "none", "replicas": replicas},
        "design": config.design,
        "layers": config.layers,
        "carry_state": config.carry_state,
        "pieces": {"train": len(train_seqs.values), "validation": len(val_seqs.values)},
        **({"train_share": config.train_share} if config.train_share < 1.0 else {}),
        "tokens": {"train": train_seqs.tokens, "validation": val_seqs.tokens},
        "validation_notes": val_notes,
        "notes": int(sum(len(line.notes) for line in lines)),
        "values": len(vocab),
        "rare_values_mapped": rare,
        "min_count": config.min_count,
        "epochs_run": len(history["loss"]),
        "train_seconds": round(seconds, 1),
        "validation": {
            "nll": val_nll,
            "nll_per_note": per_note(val_nll, val_seqs.tokens, val_notes),
            "nll_by_position": forward.by_position(val_nlls),
            "keras_val_loss": float(min(keras_val)) if keras_val else None,
        },
        "ngram_baseline": {
            "best": min(scores, key=scores.get),
            "best_order": ngram.order,
            "smoothing": ngram.smoothing,
            "nll_by_model": scores,
            "nll": best,
            "nll_per_note": per_note(best, val_seqs.tokens, val_notes),
        },
        "nll_improvement_over_ngram": 1.0 - val_nll / best,
        "stage_seconds": dict(stages),
        "history": {k: [float(x) for x in v] for k, v in history.items()},
    }


def model_card(name, config, cond, metrics, corpus, attribution) -> dict:
    """``card.json``: the settings, the exact command, the metrics, the attribution."""
    card = {
        "name": name,
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "command": " ".join(shlex.quote(a) for a in ["improv", *sys.argv[1:]])
        if sys.argv and sys.argv[0].endswith("improv")
        else " ".join(shlex.quote(a) for a in sys.argv),
        "corpus": list(corpus),
        "units": config.units,
        "layers": config.layers,
        "dropout": config.dropout.between,
        "output_dropout": config.dropout.output,
        "recurrent_dropout": config.dropout.recurrent,
        "lr_plateau": config.lr_plateau,
        "shared_features": config.shared_features,
        "vocabulary": config.design,
        "window": config.window,
        "batch_size": config.batch_size,
        "learning_rate": config.learning_rate,
        "seed": config.seed,
        "epochs": config.epochs,
        "conditioning": cond,
        "cell_step": CELL_STEP,  # the run-time arithmetic this model's logs are played with
        **{k: v for k, v in metrics.items() if k != "history"},
        "history": metrics.get("history", {}),
        **config.extra,
    }
    if attribution:
        card["attribution"] = attribution
        card["licence"] = "ODbL-1.0 (the model is a derived database of WJazzD)"
    return card
