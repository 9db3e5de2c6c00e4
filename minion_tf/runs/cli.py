"""The command line of `experiments/run.py`: flags map onto `RunConfig`; errors print one line."""
from __future__ import annotations

import argparse
import sys

from minion_tf.errors import MinionError
from minion_tf.runs.config import DEFAULT_MAX_EXAMPLES, RunConfig
from minion_tf.runs.defaults import DATA_ENV


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="experiments/run.py", description="Train and test one model on tweets.")
    p.add_argument("--model", default="minion",
                   help="registered model: read, minion (side tuning), finetune (full fine-tuning), fasttext "
                        "(default minion)")
    p.add_argument("--hidden", type=int, default=64,
                   help="side-network GRU units h (default 64; read and minion only)")
    p.add_argument("--lr", type=float, default=None,
                   help="learning rate (default: the paper's; READ 1e-3, MINION 1e-3 for h < 64 else 3e-4, "
                        "finetune 2e-5, fasttext 0.1)")
    add_shared_args(p)
    p.add_argument("--describe", action="store_true",
                   help="print the parameter counts from the encoder's config and exit (no weights, no data)")
    return p


def add_shared_args(p: argparse.ArgumentParser) -> None:
    """The flags every tweet run shares (all but the model, h and lr); also used by the grid."""
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--encoder", default="minilm",
                   help="minilm (offline default), a local model directory, or a Hugging Face id")
    p.add_argument("--tokenizer", default=None, help="tokenizer JSON file or directory overriding the encoder's")
    p.add_argument("--data", default=None,
                   help=f"tweet folder (train_pos.txt/train_neg.txt), labelled CSV/TSV, or prepared folder; "
                        f"default ${DATA_ENV} or ../shared/data/tweets/sentiment140")
    p.add_argument("--max-examples", type=int, default=DEFAULT_MAX_EXAMPLES,
                   help=f"cap on tweets after dedupe, before the 80/10/10 split (default {DEFAULT_MAX_EXAMPLES}; "
                        "0 = all)")
    p.add_argument("--max-length", type=int, default=64, help="tokens per tweet (default 64)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="runs", help="folder for runs, prepared data and caches (default runs/)")
    p.add_argument("--cache-dir", default=None, help="hidden-state cache root (default OUT/cache)")
    p.add_argument("--no-cache", action="store_true", help="stream states from the encoder instead of caching")
    p.add_argument("--cache-budget-gb", type=float, default=20.0,
                   help="stream instead of caching when the cache would exceed this (default 20)")


def config_from_args(args) -> RunConfig:
    values = {k: v for k, v in vars(args).items() if k != "describe"}
    if values["max_examples"] == 0:
        values["max_examples"] = None
    return RunConfig(**values)


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    try:
        config = config_from_args(args)
        from minion_tf.runs.runner import describe, run

        if args.describe:
            describe(config)
        else:
            run(config)
    except MinionError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: rerun the same command to resume after the last finished epoch", file=sys.stderr)
        return 130
    return 0
