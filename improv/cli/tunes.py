"""`improv tunes`: list the built-in tunes."""

from __future__ import annotations

import argparse
import json

from improv.theory.tunes import DEFAULT_TUNE, builtin_tunes

EPILOG = f"""examples:
  improv tunes            a table of the built-in tunes
  improv tunes --json     machine-readable

Pick one with `improv play --tune NAME` (a unique part of the title is enough; default
{DEFAULT_TUNE!r}) and see its changes with `improv changes --tune NAME`.
"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "tunes",
        help="list the built-in tunes",
        description="List the tunes that ship with improv: title, composer, key, form, default "
        "tempo, feel and length in bars.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    tunes = builtin_tunes()
    rows = [
        {
            "title": tune.title,
            "composer": tune.composer,
            "key": tune.key,
            "form": tune.form,
            "tempo": tune.tempo,
            "feel": tune.feel,
            "swing": tune.swing,
            "time": tune.time,
            "bars": tune.bars,
        }
        for tune in tunes
    ]
    if args.json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return 0
    title_width = max(len(row["title"]) for row in rows)
    composer_width = min(32, max(len(row["composer"]) for row in rows))
    print(
        f"{'title':<{title_width}}  {'composer':<{composer_width}}  {'key':<3}  {'time':<4}  "
        f"{'tempo':>5}  {'feel':<8}  {'bars':>4}  form"
    )
    for row in rows:
        composer = row["composer"][:composer_width]
        print(
            f"{row['title']:<{title_width}}  {composer:<{composer_width}}  {row['key']:<3}  "
            f"{row['time']:<4}  {row['tempo']:>5g}  {row['feel']:<8}  {row['bars']:>4}  "
            f"{row['form']}"
        )
    return 0
