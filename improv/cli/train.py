"""`improv train`: fit the LSTM on corpus files and write a model directory (needs the [train] extra)."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from improv.errors import InputError

log = logging.getLogger(__name__)


def add_parser(subparsers) -> None:
    """Register `improv train`."""
    p = subparsers.add_parser(
        "train",
        help="train a model on corpus files",
        description="Encode corpus files as values, fit the LSTM (Keras) and export a model directory: "
        "model.keras, cell.npz (numpy weights for the live cell), vocab.json and card.json.",
        epilog="example:\n  improv train --corpus ../shared/data/wjazzd --out models/wjazzd --epochs 30",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
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
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Load the corpus, train, export, print a summary."""
    if args.epochs < 1 or args.units < 1:
        raise InputError("--epochs and --units must be positive")
    if not 0.0 < args.val_split < 0.9:
        raise InputError("--val-split must be within (0, 0.9)")
    from improv.corpus.loader import load_many

    results = load_many(args.corpus)
    lines = [line for result in results for line in result.lines]
    if len(lines) < 2:
        raise InputError("training needs at least two pieces (validation is split by piece)")
    try:
        from improv.model import train
    except ImportError as exc:
        raise InputError(f"training needs TensorFlow: pip install 'improv[train]' ({exc})") from exc
    config = train.TrainConfig(
        units=args.units,
        epochs=args.epochs,
        batch_size=args.batch_size,
        window=args.window,
        learning_rate=args.learning_rate,
        val_split=args.val_split,
        patience=args.patience,
        min_count=args.min_count,
        seed=args.seed,
        conditioning=not args.no_conditioning,
    )
    model, vocab, metrics = train.fit(lines, config)
    wjazzd = any(r.kind == "wjazzd" for r in results)
    train.export(
        model,
        vocab,
        args.out,
        config=config,
        metrics=metrics,
        corpus=[str(p) for p in args.corpus],
        attribution=train.WJAZZD_ATTRIBUTION if wjazzd else None,
    )
    summary = {k: metrics[k] for k in ("values", "epochs_run", "validation", "ngram_baseline")}
    summary["nll_improvement_over_ngram"] = round(metrics["nll_improvement_over_ngram"], 4)
    print(json.dumps(summary, indent=1))
    print(f"wrote {args.out}")
    return 0
