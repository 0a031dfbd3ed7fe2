"""`improv train`: fit the LSTM on corpus files and write a model directory (needs the [train] extra)."""

from __future__ import annotations

import argparse
import json
import logging
import time

from improv.cli import table
from improv.cli.option import add_arguments, command, given
from improv.errors import InputError

log = logging.getLogger(__name__)

DESCRIPTION = """Encode corpus files as values, fit the LSTM (Keras) and export a model directory:
model.keras, cell.npz (numpy weights for the live cell), vocab.json and card.json."""
EPILOG = """examples:
  improv train --corpus ../shared/data/wjazzd --out models/wjazzd --epochs 30
  improv train --corpus ../shared/data/wjazzd --out models/m --carry-state --fit-minutes 25
  improv train --corpus ../shared/data/wjazzd --out models/m --distribute mirrored
  TF_CONFIG='{...}' improv train --corpus ... --out models/m --distribute multiworker"""


# the rows named as TrainConfig's fields (the others are read by name in `_config` and `run`)
CONFIG_FIELDS = ("units", "epochs", "batch_size", "window", "learning_rate", "val_split", "train_share",
                 "patience", "min_count", "seed", "layers", "distribute", "carry_state", "fit_minutes",
                 "lr_plateau", "shared_features")


def add_parser(subparsers) -> None:
    """Register `improv train` (its options are rows of `improv.cli.table`)."""
    p = command(subparsers, "train", run=run, help="train a model on corpus files",
                description=DESCRIPTION, example=EPILOG)
    order = list(table.TITLES)  # data first; the shared seed row sits with the fitting options
    add_arguments(p, sorted(table.rows(table.TRAIN), key=lambda row: order.index(row.group)), table.TITLES)


def _options(args: argparse.Namespace) -> dict:
    """The checked options (exit 2 on a value out of its row's bounds)."""
    opts = table.checked(table.TRAIN, given(args, table.rows(table.TRAIN)))
    if opts["dropout"] and opts["layers"] == 1:
        log.warning("--dropout %g does nothing with --layers 1: it applies between stacked layers "
                    "(--output-dropout acts on the single layer's output)", opts["dropout"])
    return opts


def _config(opts: dict, train):
    """The ``TrainConfig`` the options describe (most rows are named as its fields)."""
    return train.TrainConfig(
        **{name: opts[name] for name in CONFIG_FIELDS},
        cond_version=0 if opts["no_conditioning"] else opts["conditioning_version"],
        design=opts["vocabulary"],
        dropout=train.Dropout(opts["dropout"], opts["output_dropout"], opts["recurrent_dropout"]),
    )


def run(args: argparse.Namespace) -> int:
    """Load the corpus, train, export, print a summary."""
    opts = _options(args)
    from improv.corpus.loader import load_many
    from improv.model.trainkit import STAGES, Stages

    stages = Stages(STAGES)
    with stages.stage("corpus"):
        results = load_many(opts["corpus"])
        lines = [line for result in results for line in result.lines]
    if opts["limit"]:
        lines = lines[: opts["limit"]]
    if len(lines) < 2:
        raise InputError("training needs at least two pieces (validation is split by piece)")
    try:
        from improv.model import train
    except ImportError as exc:
        raise InputError(f"training needs TensorFlow: pip install 'improv[train]' ({exc})") from exc
    if opts["cpu_devices"]:
        train.split_cpu(opts["cpu_devices"])
    config = _config(opts, train)
    model, vocab, metrics = train.fit(lines, config, stages)
    if not train.is_chief():
        print("worker done (the chief writes the model)")
        return 0
    metrics["whole_run_minutes"] = round((time.perf_counter() - stages.started) / 60, 1)
    wjazzd = any(r.kind == "wjazzd" for r in results)
    with stages.stage("export"):
        train.export(model, vocab, opts["out"], config=config, metrics=metrics,
                     corpus=[str(p) for p in opts["corpus"]],
                     attribution=train.WJAZZD_ATTRIBUTION if wjazzd else None)
    summary = {k: metrics[k] for k in ("values", "epochs_run", "validation", "ngram_baseline")}
    summary["nll_improvement_over_ngram"] = round(metrics["nll_improvement_over_ngram"], 4)
    print(json.dumps(summary, indent=1))
    print(f"wrote {opts['out']}")
    return 0
