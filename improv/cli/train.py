"""`improv train`: fit the LSTM on corpus files and write a model directory (needs the [train] extra)."""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

from improv.cli.option import command
from improv.errors import InputError

log = logging.getLogger(__name__)

DESCRIPTION = """Encode corpus files as values, fit the LSTM (Keras) and export a model directory:
model.keras, cell.npz (numpy weights for the live cell), vocab.json and card.json."""
EPILOG = """examples:
  improv train --corpus ../shared/data/wjazzd --out models/wjazzd --epochs 30
  improv train --corpus ../shared/data/wjazzd --out models/m --carry-state --fit-minutes 25
  improv train --corpus ../shared/data/wjazzd --out models/m --distribute mirrored
  TF_CONFIG='{...}' improv train --corpus ... --out models/m --distribute multiworker"""


def add_parser(subparsers) -> None:
    """Register `improv train`."""
    p = command(subparsers, "train", run=run, help="train a model on corpus files",
                description=DESCRIPTION, example=EPILOG)
    p.add_argument("--corpus", nargs="+", required=True, metavar="PATH", help="corpus files or folders")
    p.add_argument("--out", required=True, type=Path, metavar="DIR", help="model directory to write")
    p.add_argument("--epochs", type=int, default=30, help="maximum epochs (early stopping) (default 30)")
    p.add_argument("--units", type=int, default=64, help="LSTM units n_a (default 64)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--val-split", type=float, default=0.1, help="share of pieces for validation")
    p.add_argument("--window", type=int, default=64, help="training window in values (default 64)")
    p.add_argument("--batch-size", type=int, default=64, help="batch size (default 64)")
    p.add_argument("--learning-rate", type=float, default=0.005, help="Adam learning rate")
    p.add_argument("--min-count", type=int, default=3, help="rarer values map to their nearest")
    p.add_argument("--no-conditioning", action="store_true", help="no chord/beat conditioning input")
    p.add_argument("--patience", type=int, default=3, help="early-stopping patience in epochs")
    p.add_argument("--layers", type=int, default=1, help="stacked LSTM layers (default 1)")
    p.add_argument("--dropout", type=float, default=0.0, help="dropout between stacked layers (default 0)")
    p.add_argument(
        "--vocabulary", choices=("degree", "kind"), default="degree",
        help="values: chord degree + move (version 2, default) or kind + leap (version 1)",
    )
    p.add_argument(
        "--conditioning-version", type=int, choices=(1, 2, 3), default=2,
        help="1: chord quality and beat; 2 (default): also next chord, height, tempo, phrase, form; "
        "3: also the previous pitch's degree over this chord",
    )
    p.add_argument(
        "--distribute", choices=("mirrored", "multiworker"), default=None,
        help="train under tf.distribute: Mirrored over local devices, or MultiWorkerMirrored across the "
        "processes named by TF_CONFIG (default: one process, no strategy)",
    )
    p.add_argument(
        "--cpu-devices", type=int, default=0, metavar="N",
        help="split the CPU into N logical devices (to run Mirrored on a machine without GPUs)",
    )
    p.add_argument(
        "--carry-state", action="store_true",
        help="windows do not overlap and go on from the state their solo reached (refreshed every epoch), "
        "as the live cell keeps one state all session (default: each window from a zero state)",
    )
    p.add_argument(
        "--fit-minutes", type=float, default=0.0, metavar="M",
        help="stop fitting after the epoch that would let the next one end past M minutes (default: none)",
    )
    _add_regularisation(p)
    p.add_argument("--limit", type=int, default=0, metavar="N", help="use only the first N pieces (trials)")


def _add_regularisation(p) -> None:
    """The options that fight over-fitting and steer the fit (dropouts, the falling rate, shared features)."""
    p.add_argument(
        "--output-dropout", type=float, default=0.0, metavar="P",
        help="dropout on the last LSTM layer's output, before the dense layer (default 0)",
    )
    p.add_argument(
        "--recurrent-dropout", type=float, default=0.0, metavar="P",
        help="dropout on each LSTM layer's recurrent input, one mask per window (variational; default 0)",
    )
    p.add_argument(
        "--lr-plateau", type=float, default=0.0, metavar="F",
        help="multiply the learning rate by F after an epoch that did not improve the validation NLL "
        "(default 0: a fixed rate)",
    )
    p.add_argument(
        "--shared-features", action="store_true",
        help="degree values share the weights of their degree, duration and move (in and out; folded into "
        "the exported cell, which stays the same size)",
    )


def _check(args: argparse.Namespace) -> None:
    """Refuse settings out of range (exit 2)."""
    if args.epochs < 1 or args.units < 1:
        raise InputError("--epochs and --units must be positive")
    if not 0.0 < args.val_split < 0.9:
        raise InputError("--val-split must be within (0, 0.9)")
    if not 1 <= args.layers <= 4 or not 0.0 <= args.dropout < 1.0 or args.cpu_devices < 0 or args.limit < 0:
        raise InputError("--layers must be 1..4, --dropout within [0, 1), --cpu-devices and --limit >= 0")
    if args.fit_minutes < 0:
        raise InputError("--fit-minutes must be >= 0")
    if not all(0.0 <= x < 1.0 for x in (args.output_dropout, args.recurrent_dropout, args.lr_plateau)):
        raise InputError("--output-dropout, --recurrent-dropout and --lr-plateau must be within [0, 1)")
    if args.dropout and args.layers == 1:
        log.warning("--dropout %g does nothing with --layers 1: it applies between stacked layers "
                    "(--output-dropout acts on the single layer's output)", args.dropout)


def run(args: argparse.Namespace) -> int:
    """Load the corpus, train, export, print a summary."""
    _check(args)
    from improv.corpus.loader import load_many
    from improv.model.trainkit import STAGES, Stages

    stages = Stages(STAGES)
    with stages.stage("corpus"):
        results = load_many(args.corpus)
        lines = [line for result in results for line in result.lines]
    if args.limit:
        lines = lines[: args.limit]
    if len(lines) < 2:
        raise InputError("training needs at least two pieces (validation is split by piece)")
    try:
        from improv.model import train
    except ImportError as exc:
        raise InputError(f"training needs TensorFlow: pip install 'improv[train]' ({exc})") from exc
    if args.cpu_devices:
        train.split_cpu(args.cpu_devices)
    same = ("units", "epochs", "batch_size", "window", "learning_rate", "val_split", "patience", "min_count",
            "seed", "layers", "distribute", "carry_state", "fit_minutes", "lr_plateau",
            "shared_features")  # named as its fields
    config = train.TrainConfig(
        **{name: getattr(args, name) for name in same},
        cond_version=0 if args.no_conditioning else args.conditioning_version, design=args.vocabulary,
        dropout=train.Dropout(args.dropout, args.output_dropout, args.recurrent_dropout),
    )
    model, vocab, metrics = train.fit(lines, config, stages)
    if not train.is_chief():
        print("worker done (the chief writes the model)")
        return 0
    metrics["whole_run_minutes"] = round((time.perf_counter() - stages.started) / 60, 1)
    wjazzd = any(r.kind == "wjazzd" for r in results)
    with stages.stage("export"):
        train.export(model, vocab, args.out, config=config, metrics=metrics,
                     corpus=[str(p) for p in args.corpus],
                     attribution=train.WJAZZD_ATTRIBUTION if wjazzd else None)
    summary = {k: metrics[k] for k in ("values", "epochs_run", "validation", "ngram_baseline")}
    summary["nll_improvement_over_ngram"] = round(metrics["nll_improvement_over_ngram"], 4)
    print(json.dumps(summary, indent=1))
    print(f"wrote {args.out}")
    return 0
